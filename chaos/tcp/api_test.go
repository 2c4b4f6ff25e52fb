package tcp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// call sends one request to h and returns the status and body.
func call(t *testing.T, h http.Handler, method, path, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestAPIRefusesBadInputWithToxiproxysErrorBody(t *testing.T) {
	s := NewServer()
	t.Cleanup(s.Close)
	h := Handler(s)
	if code, body := call(t, h, "POST", "/proxies", `{"name":"db","listen":"127.0.0.1:0","upstream":"127.0.0.1:5432","enabled":false}`); code != 201 {
		t.Fatalf("creating db: %d %s", code, body)
	}
	long := strings.Repeat("n", MaxNameBytes+1)
	tests := []struct {
		name, method, path, body string
		status                   int
		says                     string
	}{
		{"A body that is not JSON is refused", "POST", "/proxies", `{`, 400, "bad request body"},
		{"A proxy without a name is refused", "POST", "/proxies", `{"listen":"127.0.0.1:0","upstream":"a:1"}`, 400, "missing required field: name"},
		{"A proxy without an upstream is refused", "POST", "/proxies", `{"name":"x","listen":"127.0.0.1:0"}`, 400, "missing required field: upstream"},
		{"An upstream without a port is refused", "POST", "/proxies", `{"name":"x","listen":"127.0.0.1:0","upstream":"db"}`, 400, "not host:port"},
		{"An upstream port out of range is refused", "POST", "/proxies", `{"name":"x","listen":"127.0.0.1:0","upstream":"db:70000"}`, 400, "1 to 65535"},
		{"A name with a slash is refused", "POST", "/proxies", `{"name":"a/b","listen":"127.0.0.1:0","upstream":"db:1"}`, 400, "slashes"},
		{"A name over the limit is refused", "POST", "/proxies", `{"name":"` + long + `","listen":"127.0.0.1:0","upstream":"db:1"}`, 400, "limit"},
		{"A second proxy with a taken name is a conflict", "POST", "/proxies", `{"name":"db","listen":"127.0.0.1:0","upstream":"db:1"}`, 409, "proxy already exists"},
		{"A missing proxy is not found", "GET", "/proxies/nope", ``, 404, "proxy not found"},
		{"Deleting a missing proxy is not found", "DELETE", "/proxies/nope", ``, 404, "proxy not found"},
		{"A toxic of an unknown type is refused", "POST", "/proxies/db/toxics", `{"type":"lag"}`, 400, "invalid toxic type"},
		{"A toxic on an unknown stream is refused", "POST", "/proxies/db/toxics", `{"type":"latency","stream":"both"}`, 400, "stream was invalid"},
		{"A toxicity above 1 is refused", "POST", "/proxies/db/toxics", `{"type":"latency","toxicity":1.5}`, 400, "toxicity"},
		{"A negative latency is refused", "POST", "/proxies/db/toxics", `{"type":"latency","attributes":{"latency":-1}}`, 400, "between 0 and 3600000"},
		{"A fractional latency is refused", "POST", "/proxies/db/toxics", `{"type":"latency","attributes":{"latency":1.5}}`, 400, "whole number"},
		{"A latency given as a string is refused", "POST", "/proxies/db/toxics", `{"type":"latency","attributes":{"latency":"5"}}`, 400, "not a number"},
		{"An attribute the type does not take is refused", "POST", "/proxies/db/toxics", `{"type":"latency","attributes":{"rate":5}}`, 400, "no attribute"},
		{"A bandwidth of 0 is refused", "POST", "/proxies/db/toxics", `{"type":"bandwidth","attributes":{"rate":0}}`, 400, "between 1"},
		{"A slicer without an average size is refused", "POST", "/proxies/db/toxics", `{"type":"slicer","attributes":{"average_size":0}}`, 400, "between 1"},
		{"A slicer varying more than its average is refused", "POST", "/proxies/db/toxics", `{"type":"slicer","attributes":{"average_size":5,"size_variation":6}}`, 400, "at most the average"},
		{"A toxic on a missing proxy is not found", "POST", "/proxies/nope/toxics", `{"type":"latency"}`, 404, "proxy not found"},
		{"A missing toxic is not found", "GET", "/proxies/db/toxics/nope", ``, 404, "toxic not found"},
		{"Updating a missing toxic is not found", "POST", "/proxies/db/toxics/nope", `{}`, 404, "toxic not found"},
		{"A populate body that is not a list is refused", "POST", "/populate", `{"name":"x"}`, 400, "bad request body"},
		{"A populate list naming a proxy twice is refused", "POST", "/populate", `[{"name":"a","listen":"127.0.0.1:0","upstream":"a:1"},{"name":"a","listen":"127.0.0.1:0","upstream":"a:1"}]`, 409, "twice"},
		{"A populate entry without an upstream says which entry", "POST", "/populate", `[{"name":"a","listen":"127.0.0.1:0","upstream":"a:1"},{"name":"b","listen":"127.0.0.1:0"}]`, 400, "at proxy 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, h, tc.method, tc.path, tc.body)
			var e APIError
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("body %q is not Toxiproxy's error shape: %v", body, err)
			}
			if code != tc.status || e.Status != tc.status || !strings.Contains(e.Message, tc.says) {
				t.Errorf("got %d %q, want %d saying %q", code, body, tc.status, tc.says)
			}
		})
	}
}

func TestAPIRefusesBrowsers(t *testing.T) {
	s := NewServer()
	t.Cleanup(s.Close)
	r := httptest.NewRequest("POST", "/reset", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0")
	w := httptest.NewRecorder()
	Handler(s).ServeHTTP(w, r)
	if w.Code != 403 {
		t.Errorf("a browser's request got %d, want 403", w.Code)
	}
}

func TestToxicUpdateKeepsAbsentAttributes(t *testing.T) {
	s := NewServer()
	t.Cleanup(s.Close)
	h := Handler(s)
	call(t, h, "POST", "/proxies", `{"name":"db","listen":"127.0.0.1:0","upstream":"127.0.0.1:5432","enabled":false}`)
	if code, body := call(t, h, "POST", "/proxies/db/toxics", `{"name":"lag","type":"latency","stream":"upstream","toxicity":0.5,"attributes":{"latency":100,"jitter":10}}`); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	code, body := call(t, h, "PATCH", "/proxies/db/toxics/lag", `{"attributes":{"jitter":20}}`)
	want := `{"attributes":{"jitter":20,"latency":100},"name":"lag","type":"latency","stream":"upstream","toxicity":0.5}`
	if code != 200 || body != want {
		t.Errorf("got %d %s\nwant %s", code, body, want)
	}
}

func TestLimitsOnCounts(t *testing.T) {
	s := NewServer()
	t.Cleanup(s.Close)
	h := Handler(s)
	call(t, h, "POST", "/proxies", `{"name":"db","listen":"127.0.0.1:0","upstream":"127.0.0.1:5432","enabled":false}`)
	for i := range MaxToxicsPerProxy {
		if code, body := call(t, h, "POST", "/proxies/db/toxics", `{"name":"t`+string(rune('a'+i%26))+string(rune('a'+i/26))+`","type":"latency"}`); code != 200 {
			t.Fatalf("toxic %d: %d %s", i, code, body)
		}
	}
	if code, _ := call(t, h, "POST", "/proxies/db/toxics", `{"name":"one-more","type":"latency"}`); code != 400 {
		t.Errorf("toxic %d got %d, want 400", MaxToxicsPerProxy+1, code)
	}
}

func TestSlicesCoverTheChunk(t *testing.T) {
	tests := []struct {
		name            string
		size, avg, vari int64
	}{
		{"Pieces without variation are at most the average", 1000, 10, 0},
		{"Pieces with variation stay inside the chunk", 32768, 100, 100},
		{"A chunk smaller than the average is one piece", 5, 10, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			total := 0
			for _, p := range slices(&Attributes{AverageSize: tc.avg, SizeVariation: tc.vari}, data) {
				if int64(len(p)) > tc.avg+tc.vari {
					t.Errorf("a piece of %d bytes, over %d", len(p), tc.avg+tc.vari)
				}
				total += len(p)
			}
			if int64(total) != tc.size {
				t.Errorf("pieces hold %d bytes of %d", total, tc.size)
			}
		})
	}
}

// FuzzAPI sends arbitrary bodies to every JSON handler: nothing may panic,
// and every answer is either success or Toxiproxy's error shape.
func FuzzAPI(f *testing.F) {
	f.Add(0, `{"name":"x","listen":"127.0.0.1:0","upstream":"a:1","enabled":false}`)
	f.Add(1, `[{"name":"y","listen":"127.0.0.1:0","upstream":"a:1","enabled":false}]`)
	f.Add(2, `{"type":"slicer","attributes":{"average_size":3,"size_variation":1,"delay":5}}`)
	f.Add(3, `{"toxicity":0.3,"attributes":{"latency":5}}`)
	f.Add(4, `{"listen":"127.0.0.1:0","enabled":false}`)
	s := NewServer()
	f.Cleanup(s.Close)
	h := Handler(s)
	call(&testing.T{}, h, "POST", "/proxies", `{"name":"db","listen":"127.0.0.1:0","upstream":"127.0.0.1:5432","enabled":false}`)
	call(&testing.T{}, h, "POST", "/proxies/db/toxics", `{"name":"lag","type":"latency"}`)
	paths := []string{"/proxies", "/populate", "/proxies/db/toxics", "/proxies/db/toxics/lag", "/proxies/db"}
	f.Fuzz(func(t *testing.T, route int, body string) {
		if route < 0 {
			route = -route
		}
		path := paths[route%len(paths)]
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 400 {
			var e APIError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Status != w.Code || e.Message == "" {
				t.Fatalf("%s %q: %d %q is not Toxiproxy's error shape", path, body, w.Code, w.Body.String())
			}
		}
		// Keep the server small so the fuzzer explores rather than fills it.
		if len(s.Proxies()) > 50 {
			_ = s.Reset()
			for name := range s.Proxies() {
				if name != "db" {
					_ = s.Delete(name)
				}
			}
		}
	})
}

func TestToxicDefaultsAndShapes(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"A latency toxic defaults to downstream, toxicity 1 and a name from type and stream",
			`{"type":"latency","attributes":{"latency":5}}`,
			`{"attributes":{"jitter":0,"latency":5},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}`},
		{"A bandwidth toxic shows its rate",
			`{"type":"bandwidth","stream":"upstream","attributes":{"rate":100}}`,
			`{"attributes":{"rate":100},"name":"bandwidth_upstream","type":"bandwidth","stream":"upstream","toxicity":1}`},
		{"A slow_close toxic shows its delay",
			`{"name":"sc","type":"slow_close","attributes":{"delay":10}}`,
			`{"attributes":{"delay":10},"name":"sc","type":"slow_close","stream":"downstream","toxicity":1}`},
		{"A timeout toxic of 0 holds forever",
			`{"type":"timeout","toxicity":0.25}`,
			`{"attributes":{"timeout":0},"name":"timeout_downstream","type":"timeout","stream":"downstream","toxicity":0.25}`},
		{"A reset_peer toxic shows its timeout",
			`{"type":"reset_peer","stream":"UPSTREAM","attributes":{"timeout":7}}`,
			`{"attributes":{"timeout":7},"name":"reset_peer_upstream","type":"reset_peer","stream":"upstream","toxicity":1}`},
		{"A slicer toxic shows its three attributes, a float that is whole accepted",
			`{"type":"slicer","attributes":{"average_size":64.0,"size_variation":8,"delay":100}}`,
			`{"attributes":{"average_size":64,"delay":100,"size_variation":8},"name":"slicer_downstream","type":"slicer","stream":"downstream","toxicity":1}`},
		{"A limit_data toxic shows its bytes",
			`{"type":"limit_data","attributes":{"bytes":1000}}`,
			`{"attributes":{"bytes":1000},"name":"limit_data_downstream","type":"limit_data","stream":"downstream","toxicity":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := newToxic([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(tx)
			if err != nil || string(got) != tc.want {
				t.Errorf("got  %s (%v)\nwant %s", got, err, tc.want)
			}
		})
	}
}

func TestPopulateKeepsUnchangedProxiesAndReplacesChangedOnes(t *testing.T) {
	s := NewServer()
	t.Cleanup(s.Close)
	h := Handler(s)
	list := `[{"name":"a","listen":"127.0.0.1:0","upstream":"10.0.0.1:1","enabled":false},{"name":"b","listen":"127.0.0.1:0","upstream":"10.0.0.1:2","enabled":false}]`
	if code, body := call(t, h, "POST", "/populate", list); code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	call(t, h, "POST", "/proxies/a/toxics", `{"type":"latency"}`)
	call(t, h, "POST", "/proxies/b/toxics", `{"type":"latency"}`)
	list = `[{"name":"a","listen":"127.0.0.1:0","upstream":"10.0.0.1:1","enabled":false},{"name":"b","listen":"127.0.0.1:0","upstream":"10.0.0.1:3","enabled":false}]`
	code, body := call(t, h, "POST", "/populate", list)
	if code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	all := s.Proxies()
	if len(all["a"].Toxics) != 1 {
		t.Errorf("unchanged proxy a lost its toxics: %+v", all["a"])
	}
	if len(all["b"].Toxics) != 0 || all["b"].Upstream != "10.0.0.1:3" {
		t.Errorf("changed proxy b was not replaced: %+v", all["b"])
	}
}

func TestProxyUpdateKeepsAbsentFields(t *testing.T) {
	s := NewServer()
	t.Cleanup(s.Close)
	h := Handler(s)
	call(t, h, "POST", "/proxies", `{"name":"db","listen":"127.0.0.1:0","upstream":"10.0.0.1:5432","enabled":false}`)
	code, body := call(t, h, "PATCH", "/proxies/db", `{"upstream":"10.0.0.2:5432","enabled":null}`)
	want := `{"name":"db","listen":"127.0.0.1:0","upstream":"10.0.0.2:5432","enabled":false,"toxics":[]}`
	if code != 200 || body != want {
		t.Errorf("got %d %s\nwant %s", code, body, want)
	}
}
