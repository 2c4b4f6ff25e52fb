package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/leader"
	"github.com/nines-sre/nines/verify"
	"github.com/nines-sre/nines/verify/blobtest"
)

type eventSink struct{ events []verify.Event }

func (s *eventSink) Record(_ context.Context, evs []verify.Event) error {
	s.events = append(s.events, evs...)
	return nil
}

// TestVerifiersAPI reports objects to a verifier kept in the store, and
// reads its status after a step.
func TestVerifiersAPI(t *testing.T) {
	ctx := context.Background()
	db, c := newStore(t)
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	blob := blobtest.New(c.Now)
	defer blob.Close()
	defs, err := verify.Parse("verifiers.yaml", []byte(`verifiers:
  - name: uploads
    mode: reported
    sampleRate: 100%
    maxPending: 20
    target: {kind: blob, baseURL: "`+blob.URL+`/"}
  - name: backups
    target: {kind: blob, baseURL: "`+blob.URL+`/"}
    writesPerMinute: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	var vs []*verify.Verifier
	for _, d := range defs {
		tgt, err := verify.NewTarget(d.Target, nil, blob.Client(), d.MaxObjectSize)
		if err != nil {
			t.Fatal(err)
		}
		v, err := verify.New(d, verify.Options{Target: tgt, State: db, Sink: &eventSink{}, Clock: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	set, err := verify.NewSet(vs...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{SLOs: eng, Writes: eng, Annotations: db, Verifiers: set})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(path, ctype, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	line := func(key string) string {
		return fmt.Sprintf(`{"key":%q,"sha256":%q,"size":%d}`, key, sum(key), len(key))
	}

	cases := []struct {
		name, path, ctype, body string
		status                  int
		want                    string
	}{
		{"JSON lines are taken", "/api/v1/verifiers/uploads/objects", "application/x-ndjson", line("a") + "\n" + line("b") + "\n",
			200, `"sampled": 2`},
		{"a JSON array is taken and a key reported again is known", "/api/v1/verifiers/uploads/objects", "application/json", "[" + line("b") + "," + line("c") + "]",
			200, `"known": 1`},
		{"an unknown verifier is a 404", "/api/v1/verifiers/nope/objects", "application/json", "[" + line("a") + "]",
			404, `no such verifier: \"nope\"`},
		{"a write verifier takes no reports", "/api/v1/verifiers/backups/objects", "application/json", "[" + line("a") + "]",
			409, "mode: write"},
		{"a bad checksum names its object and takes nothing", "/api/v1/verifiers/uploads/objects", "application/x-ndjson", line("d") + "\n" + `{"key":"e","sha256":"xyz"}`,
			400, "object 2 of 2"},
		{"an unknown field is refused with its line", "/api/v1/verifiers/uploads/objects", "application/x-ndjson", line("d") + "\n" + `{"key":"e","sha":"x"}`,
			400, "line 2"},
		{"an empty body is refused", "/api/v1/verifiers/uploads/objects", "application/json", " ",
			400, "the body is empty"},
		{"text is not JSON", "/api/v1/verifiers/uploads/objects", "text/plain", line("a"),
			415, ""},
		{"too many objects at once", "/api/v1/verifiers/uploads/objects", "application/x-ndjson", strings.Repeat(line("k")+"\n", 10_001),
			413, "more than 10000 objects"},
		{"past maxPending the rest is refused with 429", "/api/v1/verifiers/uploads/objects", "application/x-ndjson", manyLines(line, 30),
			429, "maxPending"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.path, tc.ctype, tc.body)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("%d %s; want %d saying %q", status, body, tc.status, tc.want)
			}
		})
	}

	c.Set(c.Now().Add(61 * time.Second))
	for _, v := range vs {
		if err := v.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	res, err := srv.Client().Get(srv.URL + "/api/v1/verifiers")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct {
		Verifiers []verify.Status `json:"verifiers"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil || res.StatusCode != 200 {
		t.Fatalf("%d, %v", res.StatusCode, err)
	}
	if len(got.Verifiers) != 2 || got.Verifiers[1].Name != "uploads" {
		t.Fatalf("%+v", got.Verifiers)
	}
	up := got.Verifiers[1]
	// a, b, c and 17 of the 30: the 1m reads ran (found missing: the test
	// never stored them), the heartbeat was sent.
	if up.Sampled != 20 || up.Ages[0].Missing != 20 || up.Ages[1].Pending != 20 || up.Stale || up.LastHeartbeat == nil {
		t.Errorf("uploads: %+v", up)
	}
}

func manyLines(line func(string) string, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(line(fmt.Sprintf("many/%d", i)) + "\n")
	}
	return b.String()
}

func TestVerifiersAPIWithoutVerifiersSaysHowToHaveThem(t *testing.T) {
	f := newFixture(t, "")
	status, _, body := f.roundTrip(http.MethodGet, "/api/v1/verifiers", "", nil)
	if status != 404 || !strings.Contains(string(body), "--verifiers") {
		t.Errorf("%d %s", status, body)
	}
}

func FuzzDecodeReported(f *testing.F) {
	f.Add([]byte(`[{"key":"a","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0}]`))
	f.Add([]byte("{\"key\":\"a\",\"sha256\":\"x\"}\n{\"key\":\"b\"}\n"))
	f.Add([]byte("[]"))
	f.Fuzz(func(t *testing.T, body []byte) {
		objs, err := decodeReported(body)
		if err == nil && (len(objs) == 0 || len(objs) > maxReportObjects) {
			t.Fatalf("%d objects accepted", len(objs))
		}
	})
}

func TestAFollowerSendsVerifierRequestsOnToTheLeaderWithTheirMethod(t *testing.T) {
	db, c := newStore(t)
	eng, err := engine.New(context.Background(), engine.Config{Store: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	lead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.Path+" "+string(b))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"verifiers": []}`))
	}))
	defer lead.Close()
	self := leader.HolderName("http://127.0.0.1:1", "b", 2)
	st := &replicaStub{leader.Status{Role: leader.RoleFollower, Holder: self, Leader: leader.HolderName(lead.URL, "a", 1)}}
	s, err := New(Config{SLOs: eng, Writes: eng, Annotations: db, Replica: st, Verifiers: &verify.Set{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	if res, err := srv.Client().Get(srv.URL + "/api/v1/verifiers"); err != nil || res.StatusCode != 200 {
		t.Fatalf("%v %v", res, err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/verifiers/uploads/objects", strings.NewReader(`[{"key":"a"}]`))
	req.Header.Set("Content-Type", "application/json")
	if res, err := srv.Client().Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("%v %v", res, err)
	}
	want := []string{"GET /api/v1/verifiers ", `POST /api/v1/verifiers/uploads/objects [{"key":"a"}]`}
	if !slices.Equal(seen, want) {
		t.Errorf("the leader saw %q; want %q", seen, want)
	}
}
