package ui

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/nines-sre/nines/thirdparty"
)

// ThirdPartyBoard answers the third-party pages (thirdparty.Board; the
// API takes the same, server.ThirdParties).
type ThirdPartyBoard interface {
	Vendors(ctx context.Context, now time.Time) ([]thirdparty.View, error)
	Vendor(ctx context.Context, name string, now time.Time, months int) (*thirdparty.View, error)
}

var _ ThirdPartyBoard = (*thirdparty.Board)(nil)

// vendorPageMonths is how many SLA months a vendor's own page shows.
const vendorPageMonths = 12

type thirdPartiesView struct {
	// One is set on a vendor's own page: its history is shown.
	One     bool
	Vendors []vendorView
}

type vendorView struct {
	thirdparty.View
	URL string
	// Bad marks a state worse than operational.
	Bad bool
}

func (u *UI) thirdPartiesOn(w http.ResponseWriter, r *http.Request) bool {
	if u.cfg.ThirdParties == nil {
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: "Third parties are not tracked here.",
			hints: []string{"Start nines serve with --thirdparties thirdparties.yaml (docs/thirdparties.md) to see each vendor's state and SLA."}})
		return false
	}
	return true
}

func newVendorView(v thirdparty.View) vendorView {
	return vendorView{View: v, URL: "/thirdparties/" + v.Vendor, Bad: v.State != thirdparty.Operational && v.State != thirdparty.Unknown}
}

// thirdParties serves /thirdparties: every vendor's state, since when,
// per region, and the SLA of the last two months.
func (u *UI) thirdParties(w http.ResponseWriter, r *http.Request) {
	if !u.thirdPartiesOn(w, r) {
		return
	}
	now := u.cfg.SLOs.Now()
	vs, err := u.cfg.ThirdParties.Vendors(r.Context(), now)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := &thirdPartiesView{}
	for _, x := range vs {
		v.Vendors = append(v.Vendors, newVendorView(x))
	}
	u.render(w, r, http.StatusOK, "thirdparties", &layout{Title: "Third parties", Nav: "thirdparties", Generated: now.UTC(), Page: v})
}

// thirdParty serves /thirdparties/{vendor}: one vendor with its history
// and a year of SLA months.
func (u *UI) thirdParty(w http.ResponseWriter, r *http.Request) {
	if !u.thirdPartiesOn(w, r) {
		return
	}
	now := u.cfg.SLOs.Now()
	name := r.PathValue("vendor")
	x, err := u.cfg.ThirdParties.Vendor(r.Context(), name, now, vendorPageMonths)
	if errors.Is(err, thirdparty.ErrNoVendor) {
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: "There is no vendor called " + quote(name) + " among the third parties.",
			hints: []string{"The list at /thirdparties shows every vendor of the thirdparties file."}})
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := &thirdPartiesView{One: true, Vendors: []vendorView{newVendorView(*x)}}
	u.render(w, r, http.StatusOK, "thirdparties", &layout{Title: name + " – third party", Nav: "thirdparties", Generated: now.UTC(), Page: v})
}

// joinStates writes states as a list for a table cell.
func joinStates(ss []thirdparty.State) string {
	if len(ss) == 0 {
		return "–"
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}
