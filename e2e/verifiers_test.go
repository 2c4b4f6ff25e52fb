package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/verify/blobtest"
)

// TestVerifiersFindCorruption runs nines serve with two durability
// verifiers against a blob server in the test that corrupts every object
// once it is 4 seconds old: one writes its own objects, the other
// verifies those an application reports through the API. The first read
// (at 2 s) finds the bytes intact, the second (at 6 s) finds them
// corrupt; each read is an event of the verifier's durability SLO, and
// the heartbeat SLO hears from both.
func TestVerifiersFindCorruption(t *testing.T) {
	blob := blobtest.New(time.Now)
	defer blob.Close()
	blob.Fault(blobtest.Corrupt, func(string) bool { return true }, 4*time.Second)

	dir := t.TempDir()
	file := filepath.Join(dir, "verifiers.yaml")
	os.WriteFile(file, []byte(`verifiers:
  - name: backups
    target: {kind: blob, baseURL: "`+blob.URL+`/backups/"}
    writesPerMinute: 60
    objectSize: 1KiB
    readAfter: [2s, 6s]
    heartbeat: 10s
  - name: uploads
    mode: reported
    sampleRate: 100%
    target: {kind: blob, baseURL: "`+blob.URL+`/uploads/"}
    readAfter: [2s, 6s]
    heartbeat: 10s
`), 0o644)
	n := startNines(t, t.TempDir(), writeSpecs(t, map[string]string{}), "--verifiers", file)

	// The application writes an object and reports it.
	body := []byte("an upload of the application")
	req, _ := http.NewRequest(http.MethodPut, blob.URL+"/uploads/u1", strings.NewReader(string(body)))
	if resp, err := client.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("PUT the upload: %v %v", resp, err)
	}
	sum := sha256.Sum256(body)
	report, _ := json.Marshal([]map[string]any{{"key": "u1", "sha256": hex.EncodeToString(sum[:]), "size": len(body)}})
	resp, err := client.Post(n.url+"/api/v1/verifiers/uploads/objects", "application/json", strings.NewReader(string(report)))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST the report: %v %v", resp, err)
	}
	resp.Body.Close()

	type age struct {
		Age                    string
		Good, Missing, Corrupt int64
	}
	type status struct {
		Name          string     `json:"name"`
		LastHeartbeat *time.Time `json:"last_heartbeat"`
		Ages          []age      `json:"ages"`
	}
	waitFor(t, 60*time.Second, "both verifiers to read good at 2s and corrupt at 6s", func() (bool, string) {
		var doc struct {
			Verifiers []status `json:"verifiers"`
		}
		getJSON(t, n.url+"/api/v1/verifiers", &doc)
		b, _ := json.Marshal(doc)
		if len(doc.Verifiers) != 2 {
			return false, string(b)
		}
		for _, v := range doc.Verifiers {
			if v.LastHeartbeat == nil || len(v.Ages) != 2 || v.Ages[0].Good == 0 || v.Ages[0].Corrupt != 0 || v.Ages[1].Corrupt == 0 {
				return false, string(b)
			}
		}
		return true, ""
	}, n.proc)

	// Read from the stored quanta: the minute is not settled yet.
	from, to := time.Now().Add(-5*time.Minute).Truncate(time.Minute), time.Now().Add(time.Minute).Truncate(time.Minute)
	counts := func(slo string) (attempted, good uint64) {
		for _, q := range n.quanta(t, slo, from, to) {
			attempted, good = attempted+q.Attempted, good+q.Good
		}
		return attempted, good
	}
	for _, name := range []string{"backups", "uploads"} {
		if a, g := counts(name + ".durability"); g == 0 || a == g {
			t.Errorf("%s.durability: %d reads, %d good; want the intact reads good and the corrupt ones failed", name, a, g)
		}
		if a, _ := counts(name + ".heartbeat"); a == 0 {
			t.Errorf("%s.heartbeat: no heartbeat counted", name)
		}
	}
}
