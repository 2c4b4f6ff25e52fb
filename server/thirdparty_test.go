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

	"github.com/nines-sre/nines/thirdparty"
)

// latestOf answers every SLO's latest quantum as good, but the ones named
// bad.
type latestOf map[string]bool

func (l latestOf) Latest(_ context.Context, name string, at time.Time) (thirdparty.Quantum, error) {
	return thirdparty.Quantum{Start: at.Add(-time.Minute), Measured: true, Good: !l[name], Attempted: 1}, nil
}

func TestThirdPartyAPI(t *testing.T) {
	f := newFixture(t, "")
	cfg, err := thirdparty.Parse("tp.yaml", []byte("thirdParties:\n  - vendor: edgecdn\n    regions: [eu, us]\n    dataPlane:\n      regions: {eu: [fetch-eu], us: [fetch-us]}\n    configAPI: [api]\n"))
	if err != nil {
		t.Fatal(err)
	}
	board, err := thirdparty.NewBoard(cfg, latestOf{"fetch-eu": true}, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := board.Tick(context.Background(), f.eng.Now()); err != nil {
		t.Fatal(err)
	}
	get := func(tp ThirdParties, path string) (int, string) {
		t.Helper()
		s, err := New(Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db, ThirdParties: tp})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(s)
		defer hs.Close()
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("The list shows each vendor's state with the region named.", func(t *testing.T) {
		code, body := get(board, "/api/v1/thirdparties")
		var list struct {
			Vendors []struct{ Vendor, State, Summary string }
		}
		if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || len(list.Vendors) != 1 {
			t.Fatalf("%d %v %s", code, err, body)
		}
		if v := list.Vendors[0]; v.State != "down" || v.Summary != "down in eu" {
			t.Errorf("vendor = %+v", v)
		}
	})
	t.Run("A vendor shows its regions and history.", func(t *testing.T) {
		code, body := get(board, "/api/v1/thirdparties/edgecdn?months=3")
		var v struct {
			Regions []struct{ Region, State string }
			History []struct{ Region, State string }
		}
		if err := json.Unmarshal([]byte(body), &v); code != 200 || err != nil || len(v.Regions) != 2 || len(v.History) != 2 || v.Regions[1].State != "operational" {
			t.Fatalf("%d %v %s", code, err, body)
		}
	})
	t.Run("An unknown vendor is a 404 that says where the list is.", func(t *testing.T) {
		if code, body := get(board, "/api/v1/thirdparties/nope"); code != 404 || !strings.Contains(body, "GET /api/v1/thirdparties") {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("A bad months parameter is a 400.", func(t *testing.T) {
		if code, body := get(board, "/api/v1/thirdparties/edgecdn?months=0"); code != 400 || !strings.Contains(body, "from 1 to") {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("Without third parties the endpoints say how to give them.", func(t *testing.T) {
		if code, body := get(nil, "/api/v1/thirdparties"); code != 404 || !strings.Contains(body, "--thirdparties") {
			t.Fatalf("%d %s", code, body)
		}
	})
}
