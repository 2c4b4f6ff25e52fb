package server

import (
	"net/http"

	"github.com/nines-sre/nines/ui/snapshot"
)

// snapshotRoutes serves the web UI's frozen pages over the API: a list to
// read, and a delete that is a write (token-protected like every other).
func (s *Server) snapshotRoutes(read func(http.Handler) http.Handler, write func(mediaTypes, http.Handler) http.Handler) {
	if s.cfg.Snapshots == nil {
		return
	}
	s.mux.Handle("GET /api/v1/snapshots", read(s.api(s.listSnapshots)))
	s.mux.Handle("DELETE /api/v1/snapshots/{id}", write(noBody, s.api(s.deleteSnapshot)))
}

type snapshotItem struct {
	snapshot.Meta
	// URL is the snapshot's page.
	URL string `json:"url"`
}

func (s *Server) listSnapshots(r *http.Request) (any, error) {
	list, err := s.cfg.Snapshots.List(r.Context())
	if err != nil {
		return nil, err
	}
	items := make([]snapshotItem, len(list))
	for i, m := range list {
		items[i] = snapshotItem{Meta: m, URL: "/snapshots/" + m.ID}
	}
	return map[string]any{"snapshots": items, "max": s.cfg.Snapshots.Max()}, nil
}

func (s *Server) deleteSnapshot(r *http.Request) (any, error) {
	id := r.PathValue("id")
	if err := s.cfg.Snapshots.Delete(r.Context(), id); err != nil {
		return nil, err
	}
	return map[string]string{"deleted": id}, nil
}
