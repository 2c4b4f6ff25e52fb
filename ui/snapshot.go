package ui

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/ui/snapshot"
)

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
	shelf := u.cfg.Snapshots
	if shelf.Max() == 0 {
		u.fail(w, r, &pageError{status: http.StatusForbidden, msg: "This nines keeps no snapshots (--ui.max-snapshots 0).",
			hints: []string{"Link to the live page with its ?from=&to= instead."}})
		return
	}
	// Freezing needs no token while reads are open: a bound per client
	// keeps one script from filling the cap in a moment.
	if ok, wait := u.freezes.allow(clientOf(r), u.cfg.SLOs.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		u.fail(w, r, &pageError{status: http.StatusTooManyRequests,
			msg:   fmt.Sprintf("Too many snapshots frozen from your address: %d at once, then one every %s.", u.cfg.FreezeBurst, formatDuration(u.cfg.FreezeEvery)),
			hints: []string{fmt.Sprintf("Try again in %s.", formatDuration(wait.Round(time.Second)))}})
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
	meta := snapshot.Meta{SLO: v.Head.Name, Taken: u.cfg.SLOs.Now().UTC(), From: v.Range.From, To: v.Range.To,
		Live: "/slos/" + url.PathEscape(v.Head.Name) + "?" + abs.Encode()}
	var body bytes.Buffer
	l := &layout{Title: v.Head.Name, Snapshot: &meta, Page: v}
	if err := u.pages["slo"].ExecuteTemplate(&body, "content", l); err != nil {
		u.fail(w, r, fmt.Errorf("rendering the snapshot: %w", err))
		return
	}
	meta, err = shelf.Put(r.Context(), meta, body.String())
	if errors.Is(err, snapshot.ErrFull) {
		u.fail(w, r, &pageError{status: http.StatusInsufficientStorage, msg: fmt.Sprintf("nines keeps at most %s, and has them.", plural(shelf.Max(), "snapshot")),
			hints: []string{"Delete snapshots no longer needed on the snapshots page (/snapshots), or link to the live page with its ?from=&to= instead."}})
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/snapshots/"+meta.ID, http.StatusSeeOther)
}

// snapshot serves GET /snapshots/{id}.
func (u *UI) snapshot(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	doc, err := u.cfg.Snapshots.Get(r.Context(), id)
	if err != nil {
		u.fail(w, r, snapshotErr(id, err))
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

// snapshotErr gives an unknown snapshot its page.
func snapshotErr(id string, err error) error {
	var pe *pageError
	if errors.As(err, &pe) || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return &pageError{status: http.StatusNotFound, msg: "There is no snapshot " + quote(id) + ".",
		hints: []string{"The snapshots page (/snapshots) lists those kept; they are made with the Freeze button of an SLO page."}}
}

type snapshotsView struct {
	Rows []snapshot.Meta
	Max  int
	// Token says whether deleting asks for the write token.
	Token bool
}

// snapshots serves GET /snapshots: every kept snapshot, with a button to
// delete each.
func (u *UI) snapshots(w http.ResponseWriter, r *http.Request) {
	list, err := u.cfg.Snapshots.List(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "snapshots", &layout{Title: "Snapshots", Nav: "slos", Generated: u.cfg.SLOs.Now().UTC(),
		Page: snapshotsView{Rows: list, Max: u.cfg.Snapshots.Max(), Token: u.cfg.Token != ""}})
}

// deleteSnapshot serves POST /snapshots/{id}/delete, the form of the
// snapshots page. It is a write: with a token configured the form must
// carry it (or the request its Authorization header), as the API's
// DELETE /api/v1/snapshots/{id} must.
func (u *UI) deleteSnapshot(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		u.fail(w, r, &pageError{status: http.StatusForbidden, msg: "A snapshot can only be deleted from nines' own pages."})
		return
	}
	if !u.writeAllowed(r) {
		u.fail(w, r, &pageError{status: http.StatusUnauthorized, msg: "Deleting a snapshot needs the write token of this nines.",
			hints: []string{"Enter the token in the field beside the Delete button: the contents of the file given to nines serve --token-file."}})
		return
	}
	id := r.PathValue("id")
	if err := u.cfg.Snapshots.Delete(r.Context(), id); err != nil {
		u.fail(w, r, snapshotErr(id, err))
		return
	}
	http.Redirect(w, r, "/snapshots", http.StatusSeeOther)
}

// writeAllowed reports whether r may change state: always when no token is
// configured (writes are open, as in the API), else when it carries the
// token in its form or as a bearer token.
func (u *UI) writeAllowed(r *http.Request) bool {
	if u.cfg.Token == "" {
		return true
	}
	got := r.PostFormValue("token")
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		got = tok
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(u.cfg.Token)) == 1
}

// sameOrigin refuses cross-site form posts: a browser sends Origin (or
// Sec-Fetch-Site) with a POST, and another site's page must not be able
// to fill the store with snapshots or delete them. The check is
// net/http's, the one nines serve's server applies to every request that
// changes something.
func sameOrigin(r *http.Request) bool {
	var c http.CrossOriginProtection
	return c.Check(r) == nil
}

// clientOf names who a request comes from, for the freeze limit: its
// address, and for IPv6 its /64, which one host can fill. Behind a
// reverse proxy every request comes from the proxy and shares one limit;
// a forwarded-for header is not trusted, since any client can write it.
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if a = a.Unmap(); a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// maxClients bounds the buckets a limiter keeps: past it, idle ones (full
// again) are forgotten.
const maxClients = 10_000

// limiter is a token bucket per client: burst freezes at once, then one
// every interval.
type limiter struct {
	burst int
	every time.Duration

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// allow takes a token of client's bucket at now, or says how long until
// one is there.
func (l *limiter) allow(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients == nil {
		l.clients = map[string]*bucket{}
	}
	b := l.clients[client]
	if b == nil {
		if len(l.clients) >= maxClients {
			l.forgetIdle(now)
		}
		b = &bucket{tokens: float64(l.burst), at: now}
		l.clients[client] = b
	}
	if el := now.Sub(b.at); el > 0 {
		b.tokens = math.Min(float64(l.burst), b.tokens+float64(el)/float64(l.every))
	}
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.every))
	}
	b.tokens--
	return true, 0
}

// forgetIdle drops the buckets that have refilled: forgetting them
// changes nothing. If every client is still limited, all are forgotten
// rather than refusing newcomers: the cap on snapshots still holds.
func (l *limiter) forgetIdle(now time.Time) {
	for k, b := range l.clients {
		if b.tokens+float64(now.Sub(b.at))/float64(l.every) >= float64(l.burst) {
			delete(l.clients, k)
		}
	}
	if len(l.clients) >= maxClients {
		clear(l.clients)
	}
}

// plural writes a count with its noun, singular for one.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return figure(n) + " " + noun + "s"
}
