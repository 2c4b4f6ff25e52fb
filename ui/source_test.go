package ui

import (
	"github.com/nines-sre/nines/ui/snapshot"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// notes gives one SLO's source line.
type notes struct {
	slo, note string
	failing   bool
}

func (n notes) SourceNote(name string) (string, bool) {
	if name != n.slo {
		return "", false
	}
	return n.note, n.failing
}

// An SLO read from a query API says on its page how that goes, in the
// warning colour when the source fails; other SLOs' pages say nothing.
func TestTheSLOPageSaysHowItsSourceIsRead(t *testing.T) {
	f := newFixture(t, 1)
	name := f.eng.SLOs()[0].Name
	other := f.eng.SLOs()[1].Name
	shelf, err := snapshot.New(f.db, snapshot.DefaultMax)
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Config{SLOs: f.eng, Rollups: f.db, Snapshots: shelf, Sources: notes{name, "Read from http://prometheus:9090: failing since 2026-11-25 09:58:00 UTC <b>", true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Wait)
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	get := func(slo string) string {
		resp, err := http.Get(srv.URL + "/slos/" + slo)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /slos/%s: %s", slo, resp.Status)
		}
		return string(b)
	}
	page := get(name)
	if want := `<p class="source source-failing">Read from http://prometheus:9090: failing since 2026-11-25 09:58:00 UTC &lt;b&gt;</p>`; !strings.Contains(page, want) {
		t.Errorf("the page of %s lacks %s", name, want)
	}
	if page := get(other); strings.Contains(page, `class="source`) {
		t.Errorf("the page of %s, read from no API, has a source line", other)
	}
}
