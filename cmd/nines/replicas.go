package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/leader"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/store/postgres"
)

// replication is nines serve's part among several replicas on one
// PostgreSQL (docs/replicas.md): the lease that makes one the leader and
// the feed of what the others commit. On SQLite, which one process opens
// at a time, the process is alone and leads.
type replication struct {
	elector *leader.Elector // nil when alone
	pg      *postgres.DB
	// eng is handed over to when this replica becomes the leader, in
	// the order of changes; both are set by run.
	eng     *engine.Engine
	changes chan bool
	logger  *slog.Logger
}

// changesKept is how long the change feed keeps what a replica
// committed: a replica further behind reads its trackers again.
const changesKept = 10 * time.Minute

// newReplication names this process in the lease and the feed, by the
// URL the other replicas reach it at (advertise).
func newReplication(db servingStore, advertise string, logger *slog.Logger) (*replication, error) {
	pg, ok := db.(*postgres.DB)
	if !ok {
		return &replication{}, nil
	}
	holder := leader.HolderName(advertise, hostname(), os.Getpid())
	r := &replication{pg: pg, logger: logger}
	el, err := leader.New(pg, leader.Options{Holder: holder, Logger: logger, OnChange: r.changed})
	if err != nil {
		return nil, err
	}
	r.elector = el
	pg.SetOrigin(holder)
	return r, nil
}

// role is the engine's role: nil when alone, which the engine takes as
// always leading.
func (r *replication) role() engine.Role {
	if r.elector == nil {
		return nil
	}
	return r.elector
}

// leading reports whether this process leads: always when alone.
func (r *replication) leading() bool { return r.elector == nil || r.elector.Leading() }

// holder is this process's name in the lease, "" when alone.
func (r *replication) holder() string {
	if r.elector == nil {
		return ""
	}
	return r.elector.Holder()
}

// feed is what the engine follows, nil when alone.
func (r *replication) feed() engine.Feed {
	if r.pg == nil {
		return nil
	}
	return r.pg
}

// claimer claims outbox records among replicas, nil when alone.
func (r *replication) claimer() notify.Claimer {
	if r.pg == nil {
		return nil
	}
	return r.pg
}

// replica is what the server reports the role of, nil when alone.
func (r *replication) replica() server.Replica {
	if r.elector == nil {
		return nil
	}
	return r.elector
}

// run takes part in the election until ctx ends, handing eng over when
// this replica becomes the leader.
func (r *replication) run(ctx context.Context, eng *engine.Engine) {
	if r.elector == nil {
		return
	}
	r.eng = eng
	// Role changes are applied in order, off the elector's goroutine: a
	// take-over reads the state of every SLO, which must not delay the
	// renewals of the lease it was won with.
	r.changes = make(chan bool, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		for leading := range r.changes {
			r.apply(leading)
		}
	})
	r.elector.Run(ctx)
	close(r.changes)
	wg.Wait()
}

// changed is the elector's OnChange.
func (r *replication) changed(leading bool) {
	if r.changes != nil {
		r.changes <- leading
	}
}

// apply makes the engine follow, or lead once it has read what the last
// leader left (alert state, metric collectors).
func (r *replication) apply(leading bool) {
	if !leading {
		r.eng.StepDown()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.eng.TakeOver(ctx); err != nil {
		r.logger.Error("taking over as leader (what was read of the alerts and collectors may be incomplete)", "err", err)
	}
}

// follow folds in what other replicas commit, every second, and on the
// leader prunes the feed now and then.
func (r *replication) follow(ctx context.Context, eng *engine.Engine, logger *slog.Logger) {
	if r.pg == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	lastPrune := time.Now()
	var failingSince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			// An outage is logged when it starts and when it ends, not
			// each second of it.
			switch err := eng.Follow(ctx); {
			case err != nil && ctx.Err() == nil && failingSince.IsZero():
				failingSince = now
				logger.Error("reading what other replicas committed (logged again when it works)", "err", err)
			case err == nil && !failingSince.IsZero():
				logger.Info("reading what other replicas committed works again", "failed_for", now.Sub(failingSince).Round(time.Second))
				failingSince = time.Time{}
			}
			if now.Sub(lastPrune) >= time.Minute && r.elector.Leading() {
				lastPrune = now
				if _, err := r.pg.PruneChanges(ctx, changesKept); err != nil && ctx.Err() == nil {
					logger.Warn("pruning the change feed", "err", err)
				}
			}
		}
	}
}

// run delivers notifications: alone, always; among replicas, while this
// one leads.
func (n *notifier) run(ctx context.Context, r *replication) {
	if r.elector == nil {
		n.Run(ctx)
		return
	}
	n.RunReplica(ctx, r.elector)
}

func hostname() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "localhost"
	}
	return host
}

// advertiseURL is --advertise-url, checked, or by default http:// and the
// address the server listens on, where a wildcard address (0.0.0.0, ::)
// becomes the host name: the URL a follower sends the leader's share of
// the writes to.
func advertiseURL(flag string, bound net.Addr) (string, error) {
	if flag != "" {
		u, err := url.Parse(flag)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", usageError("serve: --advertise-url %q: want the scheme and address another replica reaches this one at, such as http://10.0.0.7:9797", flag)
		}
		return u.Scheme + "://" + u.Host, nil
	}
	host, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "", fmt.Errorf("serve: listen address %s: %w", bound, err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = hostname()
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// hostOf is the host of an advertised URL, which the server must answer
// to: a follower sends requests there.
func hostOf(advertise string) string {
	u, err := url.Parse(advertise)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
