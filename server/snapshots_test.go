package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/ui/snapshot"
)

// TestSnapshotsAPI: GET /api/v1/snapshots lists the UI's frozen pages and
// DELETE /api/v1/snapshots/{id} removes one, with the write token.
func TestSnapshotsAPI(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	shelf, err := snapshot.New(f.db, 10)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 2 {
		m, err := shelf.Put(ctx, snapshot.Meta{SLO: "checkout-availability", Taken: t0.Add(time.Duration(i) * time.Minute), From: t0.Add(-time.Hour), To: t0}, "<p>page</p>")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	s, err := New(Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db, Size: f.db, Token: "s3cret", Snapshots: shelf})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	call := func(method, path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := call("GET", "/api/v1/snapshots", "")
	var list struct {
		Snapshots []struct{ ID, SLO, URL string }
		Max       int
	}
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil {
		t.Fatalf("list: %d %v %s", code, err, body)
	}
	if list.Max != 10 || len(list.Snapshots) != 2 || list.Snapshots[0].ID != ids[1] || list.Snapshots[0].URL != "/snapshots/"+ids[1] || list.Snapshots[1].SLO != "checkout-availability" {
		t.Fatalf("list: %s", body)
	}
	if code, body := call("DELETE", "/api/v1/snapshots/"+ids[0], ""); code != http.StatusUnauthorized {
		t.Errorf("delete without the token: %d %s", code, body)
	}
	if code, body := call("DELETE", "/api/v1/snapshots/"+ids[0], "s3cret"); code != 200 || !strings.Contains(body, ids[0]) {
		t.Fatalf("delete: %d %s", code, body)
	}
	for _, id := range []string{ids[0], "not-an-id"} {
		if code, body := call("DELETE", "/api/v1/snapshots/"+id, "s3cret"); code != http.StatusNotFound {
			t.Errorf("delete %s: %d %s", id, code, body)
		}
	}
	if _, body := call("GET", "/api/v1/snapshots", ""); strings.Contains(body, ids[0]) || !strings.Contains(body, ids[1]) {
		t.Errorf("list after the delete: %s", body)
	}
}
