module github.com/nines-sre/nines/hist/testdata/hdrbench

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/nines-sre/nines v0.0.0
)

replace github.com/nines-sre/nines => ../../..
