// Package hdrbench times hist against HdrHistogram-go on the workload of
// hist's own benchmarks. It is a module of its own under testdata, so that
// nines itself does not depend on HdrHistogram and `go test ./...` in the
// repository does not build it:
//
//	cd hist/testdata/hdrbench
//	go test -run '^$' -bench . -count 10 > /tmp/hdr.bench
//	benchstat -col /impl /tmp/hdr.bench
package hdrbench
