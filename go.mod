module github.com/nines-sre/nines

go 1.26

require (
	github.com/openhistogram/circonusllhist v0.4.1
	gopkg.in/yaml.v3 v3.0.1
)
