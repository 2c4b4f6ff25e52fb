package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
	"net/http/httptest"
)

// TestAnnotateAgainstServe records deploys through a real server and store.
func TestAnnotateAgainstServe(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	specs, err := os.ReadFile("../../examples/checkout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, map[string][]byte{"checkout.yaml": specs}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{SLOs: eng, Writes: eng, Annotations: db, Size: db, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	name := eng.SLOs()[0].Name

	for _, c := range []struct {
		args string
		code int
		out  string
	}{
		{"annotate --slo " + name + " --title v1.2.3 --label version=1.2.3 --url https://ci.example/7 --at 2026-11-25T09:30:00Z --token-file " + tokenFile + " --server " + hs.URL, 0, "annotation 1 recorded"},
		{"annotate --kind note --title drill --token-file " + tokenFile + " --server " + hs.URL, 0, "annotation 2 recorded"},
		{"annotate --title x --server " + hs.URL, 2, "bearer token"},
		{"annotate --slo nope --title x --token-file " + tokenFile + " --server " + hs.URL, 2, `unknown SLO "nope"`},
		{"annotate --title x --label novalue --server " + hs.URL, 2, "want key=value"},
		{"annotate --title x --at yesterday", 2, "want RFC 3339"},
		{"annotate --slo " + name, 2, "--title is required"},
	} {
		t.Run(c.args, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := Run(ctx, strings.Fields(c.args), strings.NewReader(""), &stdout, &stderr)
			if got := exitOf(err); got != c.code {
				t.Fatalf("exit %d, want %d (%v) %s", got, c.code, err, stderr.String())
			}
			all := stdout.String() + stderr.String()
			if err != nil {
				all += err.Error()
			}
			if !strings.Contains(all, c.out) {
				t.Fatalf("output %q does not say %q", all, c.out)
			}
		})
	}
	as, err := db.Annotations(ctx, store.AnnotationQuery{From: now.Add(-time.Hour), To: now.Add(time.Minute), SLO: name})
	if err != nil || len(as) != 2 {
		t.Fatalf("stored annotations = %+v, %v", as, err)
	}
	if a := as[0]; a.Title != "v1.2.3" || a.Kind != "deploy" || a.Labels["version"] != "1.2.3" || !a.At.Equal(now.Add(-30*time.Minute)) {
		t.Errorf("deploy = %+v", a)
	}
}
