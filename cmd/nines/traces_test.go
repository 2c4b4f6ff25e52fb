package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestServeRefusesTraceBuffersOutOfRange(t *testing.T) {
	for _, tc := range []struct{ flag, v, want string }{
		{"--traces.span-buffer", "-1", "the span buffer is -1; want 1 to"},
		{"--traces.pending-buffer", "2000000000", "the pending buffer is 2000000000; want 1 to"},
	} {
		err := Run(context.Background(), []string{"serve", "--data", t.TempDir(), tc.flag, tc.v}, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want %q", tc.flag, tc.v, err, tc.want)
		}
	}
}
