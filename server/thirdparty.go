package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/thirdparty"
)

// ThirdParties answers the vendor states, their history and SLA months
// (thirdparty.Board; docs/thirdparties.md).
type ThirdParties interface {
	Vendors(ctx context.Context, now time.Time) ([]thirdparty.View, error)
	Vendor(ctx context.Context, name string, now time.Time, months int) (*thirdparty.View, error)
}

var _ ThirdParties = (*thirdparty.Board)(nil)

// defaultSLAMonths is how many months of SLA a vendor's answer holds
// unless months= says otherwise: a year.
const defaultSLAMonths = 12

// thirdPartyRoutes serves the third parties; without a thirdparties file
// they answer 404 saying how to give one. Among replicas they are the
// leader's (atLeader): the tracker whose changes are notified, and its
// history, live there.
func (s *Server) thirdPartyRoutes(read func(http.Handler) http.Handler) {
	s.mux.Handle("GET /api/v1/thirdparties", read(s.atLeader(s.api(s.thirdParties))))
	s.mux.Handle("GET /api/v1/thirdparties/{vendor}", read(s.atLeader(s.api(s.thirdParty))))
}

func (s *Server) thirdPartiesOn() (ThirdParties, error) {
	if s.cfg.ThirdParties == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "no third parties in this nines serve: give --thirdparties FILE (docs/thirdparties.md)")
	}
	return s.cfg.ThirdParties, nil
}

func (s *Server) thirdParties(r *http.Request) (any, error) {
	tp, err := s.thirdPartiesOn()
	if err != nil {
		return nil, err
	}
	vs, err := tp.Vendors(r.Context(), s.cfg.SLOs.Now())
	if err != nil {
		return nil, err
	}
	return map[string]any{"vendors": vs}, nil
}

func (s *Server) thirdParty(r *http.Request) (any, error) {
	tp, err := s.thirdPartiesOn()
	if err != nil {
		return nil, err
	}
	months := defaultSLAMonths
	if v := r.URL.Query().Get("months"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > thirdparty.MaxMonths {
			return nil, httpx.BadRequest("months=%q: want a whole number of months from 1 to %d", v, thirdparty.MaxMonths)
		}
		months = n
	}
	name := r.PathValue("vendor")
	v, err := tp.Vendor(r.Context(), name, s.cfg.SLOs.Now(), months)
	if errors.Is(err, thirdparty.ErrNoVendor) {
		return nil, httpx.Errorf(http.StatusNotFound, "no vendor %q among the third parties (GET /api/v1/thirdparties lists them)", name)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}
