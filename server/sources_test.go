package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/nines-sre/nines/engine"
)

// reporter answers for one SLO's source.
type reporter struct {
	slo    string
	status any
}

func (r reporter) SourceStatus(name string) (any, bool) {
	if name != r.slo {
		return nil, false
	}
	return r.status, true
}

// An SLO read from a query API says in its document how its source
// fares; one without such a source has no "source".
func TestTheSLODocumentCarriesItsSourceStatus(t *testing.T) {
	ctx := context.Background()
	db, c := newStore(t)
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, map[string][]byte{"checkout.yaml": []byte(testSpec)}); err != nil {
		t.Fatal(err)
	}
	name := eng.SLOs()[0].Name
	for _, tc := range []struct {
		name    string
		sources SourceReporter
		want    string // the source's state, "" for none
	}{
		{"a failing pull source is shown", reporter{name, map[string]string{"state": "failing", "error": "query x failed after 3 attempt(s): 503"}}, "failing"},
		{"another SLO's source is not", reporter{"other", map[string]string{"state": "live"}}, ""},
		{"no reporter, no source", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{SLOs: eng, Writes: eng, Annotations: db, Size: db, Sources: tc.sources})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(s)
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/api/v1/slos/" + name)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var doc struct {
				Source *struct {
					State string `json:"state"`
				} `json:"source"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				t.Fatal(err)
			}
			got := ""
			if doc.Source != nil {
				got = doc.Source.State
			}
			if got != tc.want {
				t.Errorf("source state %q; want %q", got, tc.want)
			}
		})
	}
}
