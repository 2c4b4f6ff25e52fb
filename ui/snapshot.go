package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/nines-sre/nines/store"
)

// snapshotPrefix is where frozen pages live in the store's state.
const snapshotPrefix = "ui/snapshot/"

// snapshotMeta says what a frozen page shows.
type snapshotMeta struct {
	ID    string    `json:"id"`
	SLO   string    `json:"slo"`
	Taken time.Time `json:"taken"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	// Live is the link to the same range of the live page.
	Live string `json:"live"`
}

// snapshotDoc is what the store keeps: the page's content as rendered
// when frozen. Keeping the rendered charts rather than the rollups means a
// postmortem link shows exactly what the author saw, even after retention
// has compacted the quanta or the SLO was changed.
type snapshotDoc struct {
	Meta snapshotMeta `json:"meta"`
	Body string       `json:"body"`
}

type snapshotView struct {
	Body template.HTML
}

// freeze serves POST /slos/{name}/freeze: it renders the page for the
// range asked, stores it and redirects to its permanent URL.
func (u *UI) freeze(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		u.fail(w, r, &pageError{status: http.StatusForbidden, msg: "A snapshot can only be frozen from nines' own pages."})
		return
	}
	// Snapshots are kept forever and freezing one needs no token when
	// reads are open: a bound keeps a script from filling the disk.
	maxSnapshots := u.cfg.MaxSnapshots
	n := 0
	if err := u.cfg.Store.RangeState(r.Context(), snapshotPrefix, func(string, []byte) error { n++; return nil }); err != nil {
		u.fail(w, r, err)
		return
	}
	if n >= maxSnapshots {
		u.fail(w, r, &pageError{status: http.StatusInsufficientStorage, msg: fmt.Sprintf("nines keeps at most %d snapshots, and has them.", maxSnapshots),
			hints: []string{"Link to the live page with its ?from=&to= instead, or remove old snapshots from the store (keys ui/snapshot/…)."}})
		return
	}
	v, err := u.buildSLO(r.Context(), r.PathValue("name"), r.URL.Query())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	// Freeze the range as absolute times: "the last 7 days" must mean the
	// same 7 days next month.
	abs := url.Values{"from": {v.Range.From.Format(time.RFC3339)}, "to": {v.Range.To.Format(time.RFC3339)}}
	meta := snapshotMeta{SLO: v.Head.Name, Taken: u.cfg.Engine.Now().UTC(), From: v.Range.From, To: v.Range.To,
		Live: "/slos/" + url.PathEscape(v.Head.Name) + "?" + abs.Encode()}
	var body bytes.Buffer
	l := &layout{Title: v.Head.Name, Snapshot: &meta, Page: v}
	if err := u.pages["slo"].ExecuteTemplate(&body, "content", l); err != nil {
		u.fail(w, r, fmt.Errorf("rendering the snapshot: %w", err))
		return
	}
	sum := sha256.Sum256(append([]byte(meta.SLO+"\x00"+meta.Taken.Format(time.RFC3339Nano)+"\x00"), body.Bytes()...))
	meta.ID = hex.EncodeToString(sum[:8])
	doc, err := json.Marshal(snapshotDoc{Meta: meta, Body: body.String()})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if err := u.cfg.Store.PutState(r.Context(), snapshotPrefix+meta.ID, doc); err != nil {
		u.fail(w, r, fmt.Errorf("storing the snapshot: %w", err))
		return
	}
	http.Redirect(w, r, "/snapshots/"+meta.ID, http.StatusSeeOther)
}

// snapshot serves GET /snapshots/{id}.
func (u *UI) snapshot(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	notFound := &pageError{status: http.StatusNotFound, msg: "There is no snapshot " + quote(id) + ".",
		hints: []string{"Snapshots are made with the Freeze button of an SLO page; their links look like /snapshots/0123456789abcdef."}}
	if len(id) != 16 || !isHex(id) {
		u.fail(w, r, notFound)
		return
	}
	raw, err := u.cfg.Store.GetState(r.Context(), snapshotPrefix+id)
	if errors.Is(err, store.ErrNotFound) {
		u.fail(w, r, notFound)
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	var doc snapshotDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		u.fail(w, r, fmt.Errorf("snapshot %s: %w", id, err))
		return
	}
	// private: with protected reads the request carries the token, and
	// "public" would let a shared cache hand the page to anyone.
	w.Header().Set("Cache-Control", "private, max-age=86400, immutable")
	// The body is HTML that this package's own templates escaped when the
	// snapshot was frozen; the store is the server's, not user input.
	u.render(w, r, http.StatusOK, "snapshot", &layout{Title: doc.Meta.SLO + " (snapshot)", Nav: "slos", Generated: doc.Meta.Taken,
		Snapshot: &doc.Meta, Page: snapshotView{Body: template.HTML(doc.Body)}})
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// sameOrigin refuses cross-site form posts: another site's page must not
// be able to fill the store with snapshots. The check is net/http's, the
// one nines serve's server applies to every request that changes
// something: a browser says where a POST comes from in Sec-Fetch-Site,
// or else in Origin.
func sameOrigin(r *http.Request) bool {
	var c http.CrossOriginProtection
	return c.Check(r) == nil
}
