package ship

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// stateVersion is the layout of the state file this nines writes.
const stateVersion = 1

// fpMax is how many first bytes of a file its fingerprint (its head)
// covers at most.
const fpMax = 1024

// stateDoc is the checkpoint: what was read from each file, what was
// acknowledged, and the batches that were on their way.
type stateDoc struct {
	// Nonce is random and fixed for the life of the state file; it makes
	// the idempotency keys of two shippers differ even when their files
	// and offsets are alike.
	Nonce string `json:"nonce"`
	// Target names where the lines go ("slo=checkout"); a state file
	// shipped to one target is refused for another.
	Target string `json:"target"`
	// NextID numbers the contents as they are found.
	NextID  uint64         `json:"next_id"`
	Files   []fileState    `json:"files"`
	Pending []pendingState `json:"pending"`
}

// fileState is one content: a file, followed through renames, copies and
// compression.
type fileState struct {
	ID string `json:"id"`
	// Path is where it was last seen, for messages.
	Path string `json:"path"`
	// Dev and Ino are the inode it is read from while it is a plain
	// file, or was first found in.
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	// Head is its first bytes, up to fpMax: the fingerprint that
	// recognises it in a copy. Kept whole rather than hashed, so that a
	// copy taken while the file was shorter than its head is now is
	// still recognised.
	Head []byte `json:"head"`
	// Offset ends what was put into batches, Acked what the server
	// acknowledged; the pending batches cover [Acked, Offset).
	Offset int64 `json:"offset"`
	Acked  int64 `json:"acked"`
	// Done marks a content read to its end in a compressed copy, or
	// skipped at the first start: nothing more is read of it.
	Done bool `json:"done,omitempty"`
	// Seen is the last time a file carrying it was found; contents not
	// seen for a while are forgotten.
	Seen time.Time `json:"seen"`
}

// pendingState is a batch that may or may not have reached the server.
type pendingState struct {
	Key    string       `json:"key"`
	Ranges []rangeState `json:"ranges"`
}

// rangeState is the bytes [Start, End) of the content ID.
type rangeState struct {
	ID    string `json:"id"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
}

// envelope is the file as written: the state with a checksum of its
// bytes, so that a damaged file is told from a valid one.
type envelope struct {
	Version int             `json:"version"`
	SHA256  string          `json:"sha256"`
	State   json.RawMessage `json:"state"`
}

// CorruptStateError is a state file that cannot be trusted. Nothing is
// sent: resetting it is the user's call, and Error says how.
type CorruptStateError struct {
	Path   string
	Reason string
}

func (e *CorruptStateError) Error() string {
	return fmt.Sprintf("state file %s is corrupt (%s); nothing was sent, since guessing would send lines again or lose them. "+
		"To start over, move it away (mv %s %s.corrupt) and start nines ship again: it then reads the files from their end "+
		"(--read-from end), so lines written since the last checkpoint are not sent; --read-from beginning sends all that the files hold, "+
		"and what the server already has counts twice", e.Path, e.Reason, e.Path, e.Path)
}

// loadState reads the state file at path; ok is false when there is none.
func loadState(path, target string) (doc *stateDoc, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading state file: %w", err)
	}
	doc, err = decodeState(b)
	if err != nil {
		return nil, false, &CorruptStateError{Path: path, Reason: err.Error()}
	}
	if doc.Target != target {
		return nil, false, fmt.Errorf("state file %s records what was shipped to %s, not to %s: give each target its own --state file",
			path, doc.Target, target)
	}
	return doc, true, nil
}

// decodeState checks and decodes a state file's bytes.
func decodeState(b []byte) (*stateDoc, error) {
	var env envelope
	if err := strictJSON(b, &env); err != nil {
		return nil, err
	}
	switch {
	case env.Version != stateVersion:
		return nil, fmt.Errorf("version %d; this nines writes version %d", env.Version, stateVersion)
	case len(env.State) == 0:
		return nil, errors.New("no state")
	}
	sum := sha256.Sum256(env.State)
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return nil, errors.New("its checksum does not match its content")
	}
	var doc stateDoc
	if err := strictJSON(env.State, &doc); err != nil {
		return nil, err
	}
	if err := doc.check(); err != nil {
		return nil, err
	}
	return &doc, nil
}

// strictJSON decodes exactly one JSON value with no unknown fields.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if dec.More() {
		return errors.New("data after its end")
	}
	return nil
}

// check verifies everything the shipper relies on: distinct IDs, sane
// fingerprints and offsets, and pending batches that tile exactly the
// bytes each content has read but not had acknowledged.
func (d *stateDoc) check() error {
	if len(d.Nonce) != 16 || !isHex(d.Nonce) {
		return fmt.Errorf("nonce %q: want 16 hex digits", d.Nonce)
	}
	files := make(map[string]*fileState, len(d.Files))
	next := make(map[string]int64, len(d.Files))
	for i := range d.Files {
		f := &d.Files[i]
		switch {
		case f.ID == "":
			return fmt.Errorf("files[%d]: no id", i)
		case files[f.ID] != nil:
			return fmt.Errorf("files[%d]: id %q twice", i, f.ID)
		case len(f.Head) > fpMax:
			return fmt.Errorf("file %s: head of %d bytes: want at most %d", f.ID, len(f.Head), fpMax)
		case f.Acked < 0 || f.Offset < f.Acked:
			return fmt.Errorf("file %s: want 0 ≤ acked (%d) ≤ offset (%d)", f.ID, f.Acked, f.Offset)
		}
		files[f.ID] = f
		next[f.ID] = f.Acked
	}
	for i, p := range d.Pending {
		if len(p.Ranges) == 0 {
			return fmt.Errorf("pending[%d]: no ranges", i)
		}
		for _, r := range p.Ranges {
			at, ok := next[r.ID]
			switch {
			case !ok:
				return fmt.Errorf("pending[%d]: unknown file %q", i, r.ID)
			case r.Start != at || r.End <= r.Start:
				return fmt.Errorf("pending[%d]: file %s bytes %d-%d do not follow byte %d", i, r.ID, r.Start, r.End, at)
			}
			next[r.ID] = r.End
		}
		if want := batchKey(d.Nonce, p.Ranges); p.Key != want {
			return fmt.Errorf("pending[%d]: key %q is not the one of its ranges", i, p.Key)
		}
	}
	for id, at := range next {
		if f := files[id]; at != f.Offset {
			return fmt.Errorf("file %s: pending batches end at byte %d, its offset is %d", id, at, f.Offset)
		}
	}
	return nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// encodeState returns the bytes of the state file for d.
func encodeState(d *stateDoc) ([]byte, error) {
	inner, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encoding state: %w", err)
	}
	sum := sha256.Sum256(inner)
	b, err := json.Marshal(envelope{Version: stateVersion, SHA256: hex.EncodeToString(sum[:]), State: inner})
	if err != nil {
		return nil, fmt.Errorf("encoding state: %w", err)
	}
	return append(b, '\n'), nil
}

// writeFileAtomic replaces path with b so that a crash at any moment
// leaves the old file or the new one whole: a temporary file in the same
// directory, fsync, rename over path, fsync of the directory so the
// rename itself is durable.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("writing state %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("writing state %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("writing state %s: syncing its directory: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("writing state %s: syncing its directory: %w", path, err)
	}
	return nil
}

// batchKey is the idempotency key of a batch: the state's nonce and a
// hash of the ranges it covers. A batch rebuilt from the same ranges,
// after a restart, has the same key; any other batch has another.
func batchKey(nonce string, ranges []rangeState) string {
	h := sha256.New()
	for _, r := range ranges {
		fmt.Fprintf(h, "%s %d %d\n", r.ID, r.Start, r.End)
	}
	return "nines-ship-" + nonce + "-" + hex.EncodeToString(h.Sum(nil)[:12])
}
