package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/probe"
	"github.com/nines-sre/nines/probe/consensus"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store"
	"gopkg.in/yaml.v3"
)

// A spec SLO with sli.probes: NAME is fed by the consensus of probe NAME
// across its locations (docs/probes.md). Each location's results are an
// SLO of their own, named probe.LocationSLO, so they are stored, exact
// and visible like any SLI; the consensus SLO's quanta are computed from
// them once they are final and written once. An HTTPS probe's
// certificate is an SLO of its own too (probe.CertSLO).

// probeSet is what the probes file and the specs make together.
type probeSet struct {
	// bySLO is the probe of each consensus SLO.
	bySLO map[string]*probe.Probe
	// all is every probe of the file, by name; fed is the SLO each probe
	// feeds, "" for none.
	all map[string]*probe.Probe
	fed map[string]string
	// text is the probes file as read, for agents (probe.Text); inline
	// are the probes specs define in place, as YAML mappings, added to it
	// for them.
	text   []byte
	inline []*yaml.Node
}

// running are the probes of the set that feed an SLO, in name order:
// those nines serve runs.
func (s *probeSet) running() []*probe.Probe {
	out := make([]*probe.Probe, 0, len(s.bySLO))
	for _, name := range slices.Sorted(maps.Keys(s.all)) {
		if s.fed[name] != "" {
			out = append(out, s.all[name])
		}
	}
	return out
}

// withProbes adds to the spec files the location and certificate SLOs of
// every probe an SLO is fed by, and says which probe feeds which SLO. An
// SLO naming a probe the file does not define is refused, as is a probe
// that feeds two SLOs (its location SLOs would be two things at once).
func withProbes(files map[string][]byte, probes []*probe.Probe) (map[string][]byte, *probeSet, error) {
	set := &probeSet{bySLO: map[string]*probe.Probe{}, all: map[string]*probe.Probe{}, fed: map[string]string{}}
	for _, p := range probes {
		set.all[p.Name] = p
	}
	b, err := spec.LoadAllData(files)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]*slo.SLO{}
	for _, s := range b.SLOs {
		byName[s.Name] = s
	}
	extra := map[string][]byte{}
	var inline inlineDefs // read only when a spec defines a probe in place
	for _, s := range b.SLOs {
		if s.SLI.Probe == nil {
			continue
		}
		name := s.SLI.Probe.Name
		p := set.all[name]
		if s.SLI.Probe.Inline {
			if p != nil {
				return nil, nil, fmt.Errorf("SLO %s: sli.probes: defines probe %s in place, and the probes file defines one of that name at %s:%d:%d; rename one", s.Name, name, p.Pos.File, p.Pos.Line, p.Pos.Column)
			}
			if inline == nil {
				inline = inlineIndex(files)
			}
			ip, node, err := inline.probe(s)
			if err != nil {
				return nil, nil, err
			}
			p = ip
			set.all[name] = p
			set.inline = append(set.inline, node)
		}
		switch {
		case p == nil && len(probes) == 0:
			return nil, nil, fmt.Errorf("SLO %s: sli.probes: %s: no probes file is loaded; start nines serve with --probes FILE that defines it", s.Name, spec.Quote(name))
		case p == nil:
			msg := fmt.Sprintf("SLO %s: sli.probes: no probe is named %s in the probes file", s.Name, spec.Quote(name))
			if sug := spec.Suggest(name, slices.Sorted(maps.Keys(set.all))); sug != "" {
				msg += "; did you mean " + spec.Quote(sug) + "?"
			}
			return nil, nil, errors.New(msg)
		case set.fed[name] != "":
			return nil, nil, fmt.Errorf("SLO %s: sli.probes: probe %s feeds SLO %s already; a probe feeds one SLO (define a second probe for a second objective)", s.Name, name, set.fed[name])
		}
		set.fed[name] = s.Name
		set.bySLO[s.Name] = p
		docs, err := probeSpecs(s, p)
		if err != nil {
			return nil, nil, err
		}
		for file, doc := range docs {
			extra[file] = doc
		}
	}
	out := make(map[string][]byte, len(files)+len(extra))
	maps.Copy(out, files)
	for file, doc := range extra {
		if _, ok := out[file]; ok {
			return nil, nil, fmt.Errorf("spec file %s clashes with a probe's location SLO; rename it", file)
		}
		out[file] = doc
	}
	// A generated name may not be an SLO of the specs.
	for _, p := range set.bySLO {
		for _, n := range probeSLONames(p) {
			if o := byName[n]; o != nil {
				return nil, nil, fmt.Errorf("probe %s measures its results as SLO %s, which a spec defines; rename the probe, the location or that SLO", p.Name, n)
			}
		}
	}
	return out, set, nil
}

// withProbesFile is withProbes for the probes file at path (none when
// empty), with the file's text kept for agents.
func withProbesFile(files map[string][]byte, path string) (map[string][]byte, *probeSet, error) {
	var probes []*probe.Probe
	var text []byte
	if path != "" {
		var err error
		if probes, err = probe.Load(path); err != nil {
			return nil, nil, fmt.Errorf("--probes: %w", err)
		}
		if text, err = probe.Text(path); err != nil {
			return nil, nil, fmt.Errorf("--probes: %w", err)
		}
	}
	out, set, err := withProbes(files, probes)
	if err != nil {
		return nil, nil, err
	}
	set.text = text
	if len(set.inline) > 0 {
		doc, err := yaml.Marshal(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "probes"}, {Kind: yaml.SequenceNode, Content: set.inline}}})
		if err != nil {
			return nil, nil, fmt.Errorf("the probes specs define in place: %w", err)
		}
		if len(set.text) > 0 {
			set.text = append(append(slices.Clip(set.text), "\n---\n"...), doc...)
		} else {
			set.text = doc
		}
	}
	return out, set, nil
}

// inlineDefs are the probes specs define in place, by SLO name: where
// each is, read once from the spec files' text.
type inlineDefs map[string]inlineDef

type inlineDef struct {
	file string
	node *yaml.Node
}

// inlineIndex decodes the spec files once and keeps the sli.probes
// mappings of their native documents.
func inlineIndex(files map[string][]byte) inlineDefs {
	idx := inlineDefs{}
	for _, file := range slices.Sorted(maps.Keys(files)) {
		docs, err := spec.Decode(file, files[file])
		if err != nil {
			continue // the spec loader has said so
		}
		for _, doc := range docs {
			name, node := field(doc, "name"), field(field(doc, "sli"), "probes")
			if name != nil && node != nil && node.Kind == yaml.MappingNode {
				if _, dup := idx[name.Value]; !dup { // a duplicate SLO name is the spec loader's to refuse
					idx[name.Value] = inlineDef{file, node}
				}
			}
		}
	}
	return idx
}

// probe reads the probe SLO s defines in place (sli.probes: {...}) from
// the spec's own text, so that its problems are told at their line and
// column. Its name is the SLO's unless it gives one. The node is
// returned, named, for the agents that read their probes from nines
// serve.
func (idx inlineDefs) probe(s *slo.SLO) (*probe.Probe, *yaml.Node, error) {
	d, ok := idx[s.Name]
	if !ok {
		return nil, nil, fmt.Errorf("SLO %s: sli.probes: its probe is defined in place, but no spec file holds it (only the native format defines probes in place)", s.Name)
	}
	node := d.node
	if field(node, "name") == nil {
		named := *node
		named.Content = append([]*yaml.Node{{Kind: yaml.ScalarNode, Value: "name"}, {Kind: yaml.ScalarNode, Value: s.Name}}, node.Content...)
		node = &named
	}
	p, err := probe.ParseProbe(d.file, "sli.probes", node)
	if err != nil {
		return nil, nil, err
	}
	return p, node, nil
}

// field is the value of key in the mapping n, nil when there is none.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// probeSLONames are the SLOs a probe's results are measured as.
func probeSLONames(p *probe.Probe) []string {
	var out []string
	for _, l := range p.Locations {
		out = append(out, probe.LocationSLO(p.Name, l))
	}
	if p.HasCert() {
		out = append(out, probe.CertSLO(p.Name))
	}
	return out
}

// probeSpecs writes the location SLOs and the certificate SLO of probe p,
// which feeds SLO s: copies of s (objective, window, quantum, method) in
// the pseudo-service SERVICE.probes, so the service's
// scorecard and reports count the probe once, through s. Location SLOs
// never alert (the consensus is what alerts) and have no no-data alert
// (an agent that stops is seen on the consensus); the certificate SLO
// keeps its ticket tiers and no page: an expiring certificate is work to
// plan, not a page.
func probeSpecs(s *slo.SLO, p *probe.Probe) (map[string][]byte, error) {
	table, err := alert.DefaultTable()
	if err != nil {
		return nil, err
	}
	var off, pagesOff []slo.AlertTier
	for _, t := range table.Tiers {
		off = append(off, slo.AlertTier{Name: t.Name, Disabled: true})
		if t.Severity == alert.Page {
			pagesOff = append(pagesOff, slo.AlertTier{Name: t.Name, Disabled: true})
		}
	}
	out := map[string][]byte{}
	write := func(name, desc string, labels map[string]string, alerting *slo.AlertOverrides) error {
		cp := *s
		cp.Name = name
		cp.Service = s.Service + ".probes"
		cp.Description = desc
		cp.Labels = maps.Clone(s.Labels)
		if cp.Labels == nil {
			cp.Labels = map[string]string{}
		}
		maps.Copy(cp.Labels, labels)
		cp.SLI = slo.SLI{} // each event carries the probe's own verdict
		cp.Since = time.Time{}
		cp.BudgetPolicy = nil
		cp.Alerting = alerting
		doc, err := spec.Convert(spec.Native, &cp)
		if err != nil {
			return fmt.Errorf("probe %s: %w", p.Name, err)
		}
		out["probes/"+name+".yaml"] = doc
		return nil
	}
	for _, l := range p.Locations {
		desc := fmt.Sprintf("Probe %s as seen from %s, one of the locations whose consensus feeds SLO %s.", p.Name, l, s.Name)
		labels := map[string]string{"probe": p.Name, "probe_location": l, "probe_slo": s.Name}
		if err := write(probe.LocationSLO(p.Name, l), desc, labels, &slo.AlertOverrides{Tiers: off, NoDataAfter: -1}); err != nil {
			return nil, err
		}
	}
	if p.HasCert() {
		desc := fmt.Sprintf("The TLS certificate of probe %s's target: good while it expires no sooner than %d days ahead.", p.Name, p.CertMinDays)
		labels := map[string]string{"probe": p.Name, "probe_slo": s.Name, "probe_check": "certificate"}
		if err := write(probe.CertSLO(p.Name), desc, labels, &slo.AlertOverrides{Tiers: pagesOff, NoDataAfter: -1}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// probeRuntime is the probes inside nines serve: it runs the probes of
// its own location (a probe.Sink), writes the consensus SLOs' quanta, and
// answers GET /api/v1/probes. Only the leader stores: every replica may
// probe, but a follower's results would count a location twice.
type probeRuntime struct {
	eng      *engine.Engine
	state    store.State
	sink     eventSink
	leading  func() bool
	location string
	logger   *slog.Logger
	// maxPerStep bounds the quanta one step writes per SLO, so that a
	// leader catching up after a long stop takes the store in bites.
	maxPerStep int

	set     atomic.Pointer[probeSet]
	changed chan struct{} // a load changed the probes: restart the schedule
	mu      sync.Mutex
	last    map[[2]string]probe.Result // (probe, location) → latest check here
}

func newProbeRuntime(eng *engine.Engine, state store.State, leading func() bool, location string, logger *slog.Logger) *probeRuntime {
	r := &probeRuntime{eng: eng, state: state, sink: eventSink{eng: eng, source: "probes"}, leading: leading, location: location,
		logger: logger.With("component", "probes"), maxPerStep: 60, last: map[[2]string]probe.Result{}, changed: make(chan struct{}, 1)}
	r.set.Store(&probeSet{bySLO: map[string]*probe.Probe{}, all: map[string]*probe.Probe{}, fed: map[string]string{}})
	return r
}

// use puts the set of a successful load in force, and says which probes
// of the file no SLO names: they are not run.
func (r *probeRuntime) use(set *probeSet) {
	for _, name := range slices.Sorted(maps.Keys(set.all)) {
		if set.fed[name] == "" {
			r.logger.Warn("a probe of the probes file feeds no SLO, so it is not run; name it in an SLO's sli.probes", "probe", name)
		}
	}
	if old := r.set.Swap(set); !bytes.Equal(old.text, set.text) || !maps.Equal(old.fed, set.fed) {
		select {
		case r.changed <- struct{}{}:
		default: // a restart is pending already
		}
	}
}

// Results stores the checks of this server's location as events of their
// location and certificate SLOs, in one transaction.
func (r *probeRuntime) Results(ctx context.Context, rs []probe.Result) {
	set := r.set.Load()
	lines := map[string][]byte{}
	r.mu.Lock()
	for i := range rs {
		res := &rs[i]
		p := set.all[res.Probe]
		if p == nil || set.fed[p.Name] == "" {
			continue
		}
		r.last[[2]string{res.Probe, res.Location}] = *res
		name := probe.LocationSLO(res.Probe, res.Location)
		lines[name] = append(res.EventLine(lines[name]), '\n')
		if p.HasCert() {
			if line := res.CertLine(nil); len(line) > 0 {
				lines[probe.CertSLO(p.Name)] = append(append(lines[probe.CertSLO(p.Name)], line...), '\n')
			}
		}
	}
	r.mu.Unlock()
	if len(lines) == 0 {
		return
	}
	if !r.leading() {
		return // the leader's checks count for this location
	}
	if _, err := r.sink.Commit(ctx, lines, ""); err != nil && ctx.Err() == nil {
		r.logger.Error("probe results not stored", "results", len(rs), "err", err)
	}
}

// run probes from this server's location, when it has one, anew after
// each load that changed the probes, and writes the consensus on the
// leader, until ctx ends.
func (r *probeRuntime) run(ctx context.Context) {
	select {
	case <-r.changed: // the first load: the schedule starts with it
	default:
	}
	var writer sync.WaitGroup
	defer writer.Wait() // no write after nines serve closes the store
	writer.Go(func() {
		every(ctx, consensusEvery, func(now time.Time) {
			if r.leading() {
				r.step(ctx, now)
			}
		})
	})
	for {
		sctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); r.probe(sctx) }()
		select {
		case <-ctx.Done():
		case <-r.changed:
		}
		stop()
		<-done
		if ctx.Err() != nil {
			return
		}
	}
}

// probe runs the probes of this server's location that feed an SLO,
// until ctx ends.
func (r *probeRuntime) probe(ctx context.Context) {
	probes := r.set.Load().running()
	if r.location == "" || len(probes) == 0 {
		return
	}
	sched, err := probe.NewScheduler(probe.SchedulerConfig{Location: r.location, Probes: probes, Sink: r, Logger: r.logger})
	if err != nil {
		r.logger.Error("probes not run", "err", err)
		return
	}
	r.logger.Info("probing", "location", r.location, "probes", len(sched.Probes()))
	sched.Run(ctx)
}

// consensusEvery is how often the consensus writer looks for quanta that
// became final: well within the settle delay, which is how long the
// engine waits after that before judging them.
const consensusEvery = 10 * time.Second

func consensusKey(sloName string) string { return "probes/consensus/" + sloName }

// step writes, for every consensus SLO, the quanta whose locations'
// results are final at now and that are not written yet.
func (w *probeRuntime) step(ctx context.Context, now time.Time) {
	set := w.set.Load()
	for _, name := range slices.Sorted(maps.Keys(set.bySLO)) {
		if err := w.write(ctx, set.bySLO[name], name, now); err != nil && ctx.Err() == nil {
			w.logger.Warn("probes: the consensus of an SLO's quanta is not stored yet (tried again at the next step)", "slo", name, "err", err)
		}
	}
}

func (w *probeRuntime) write(ctx context.Context, p *probe.Probe, name string, now time.Time) error {
	s, err := w.eng.SLO(name)
	if err != nil {
		return err
	}
	// The consensus of q reads its locations' quanta up to q: it is
	// written once they are final.
	loc, err := w.eng.SLO(probe.LocationSLO(p.Name, p.Locations[0]))
	if err != nil {
		return err
	}
	_, final, _, _ := w.eng.Settled(loc, now)
	next, err := w.cursor(ctx, name, final, s.Quantum)
	if err != nil {
		return err
	}
	if !next.Before(final) {
		return nil
	}
	end := final
	if limit := next.Add(time.Duration(w.maxPerStep) * s.Quantum); w.maxPerStep > 0 && end.After(limit) {
		end = limit
	}
	rule := consensus.Rule{K: p.Consensus.K, N: len(p.Locations), Window: p.Consensus.Window, Quantum: s.Quantum}
	locations := make(consensus.Locations, len(p.Locations))
	for _, l := range p.Locations {
		_, series, err := w.eng.Series(ctx, probe.LocationSLO(p.Name, l), next.Add(-rule.Window), end)
		if err != nil {
			return err
		}
		locations[l] = series.Rollups
	}
	rollups, _, err := consensus.Series(rule, locations, next, end)
	if err != nil {
		return err
	}
	batch := &engine.Batch{Source: "probes", Series: map[string]*slo.Series{name: {Quantum: s.Quantum, Rollups: rollups}},
		State: map[string][]byte{consensusKey(name): strconv.AppendInt(nil, end.UnixNano(), 10)}}
	_, err = w.eng.CommitBackfill(ctx, batch)
	return err
}

// cursor is the first quantum of name not written yet. Without one (a
// new SLO, or the first start), writing starts at the quantum that
// becomes final now: the locations have no results before.
func (w *probeRuntime) cursor(ctx context.Context, name string, final time.Time, quantum time.Duration) (time.Time, error) {
	v, err := w.state.GetState(ctx, consensusKey(name))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return final.Add(-quantum), nil
	case err != nil:
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("the consensus cursor of %s reads %q: %w", name, v, err)
	}
	return time.Unix(0, ns).UTC(), nil
}

// Text is the probes file as last loaded, for agents.
func (r *probeRuntime) Text() []byte { return r.set.Load().text }

// probeLookback is how far back GET /api/v1/probes looks for a probe
// SLO's latest quantum.
const probeLookback = time.Hour

// Probes answers GET /api/v1/probes: every probe that feeds an SLO, its
// consensus with the verdict of the latest quantum written, each
// location's latest quantum, and this server's own last checks.
func (r *probeRuntime) Probes(ctx context.Context, now time.Time) ([]probe.View, error) {
	set := r.set.Load()
	out := make([]probe.View, 0, len(set.bySLO))
	for _, name := range slices.Sorted(maps.Keys(set.bySLO)) {
		p := set.bySLO[name]
		s, err := r.eng.SLO(name)
		if err != nil {
			return nil, err
		}
		v := probe.View{Name: p.Name, Kind: string(p.Kind), Target: p.Target(), Interval: slo.FormatDuration(p.Interval),
			Timeout: slo.FormatDuration(p.Timeout), SLO: name,
			Consensus: probe.ConsensusView{K: p.Consensus.K, N: len(p.Locations), Window: slo.FormatDuration(p.Consensus.Window)}}
		from := now.Add(-probeLookback - p.Consensus.Window)
		locs := make(consensus.Locations, len(p.Locations))
		for _, l := range p.Locations {
			lv := probe.LocationView{Name: l, SLO: probe.LocationSLO(p.Name, l)}
			_, series, err := r.eng.Series(ctx, lv.SLO, from, now)
			if err != nil {
				return nil, err
			}
			locs[l] = series.Rollups
			lv.Latest = latestQuantum(series.Rollups)
			r.mu.Lock()
			if res, ok := r.last[[2]string{p.Name, l}]; ok {
				lv.LastCheck = checkView(&res)
			}
			r.mu.Unlock()
			v.Locations = append(v.Locations, lv)
		}
		_, series, err := r.eng.Series(ctx, name, from, now)
		if err != nil {
			return nil, err
		}
		if q := latestQuantum(series.Rollups); q != nil {
			v.Consensus.Latest = q
			rule := consensus.Rule{K: p.Consensus.K, N: len(p.Locations), Window: p.Consensus.Window, Quantum: s.Quantum}
			if vd, err := consensus.Judge(rule, locs, q.Start); err == nil {
				v.Consensus.Failing, v.Consensus.Reporting, v.Consensus.Silent, v.Consensus.Reason = vd.Failing, vd.Reporting, vd.Silent, vd.Reason
			}
		}
		if p.HasCert() {
			v.Cert = &probe.CertView{SLO: probe.CertSLO(p.Name), MinDays: p.CertMinDays}
			r.mu.Lock()
			for _, l := range p.Locations {
				if res, ok := r.last[[2]string{p.Name, l}]; ok && !res.CertExpiry.IsZero() {
					v.Cert.ExpiresAt = res.CertExpiry.UTC()
				}
			}
			r.mu.Unlock()
		}
		out = append(out, v)
	}
	return out, nil
}

// latestQuantum is the last measured rollup of rs, nil without one.
func latestQuantum(rs []slo.Rollup) *probe.Quantum {
	for i := len(rs) - 1; i >= 0; i-- {
		if r := &rs[i]; r.Measured {
			return &probe.Quantum{Start: time.Unix(0, r.Start).UTC(), Attempted: r.Attempted, Good: r.Good}
		}
	}
	return nil
}

func checkView(res *probe.Result) *probe.CheckView {
	cv := &probe.CheckView{Start: res.Start.UTC(), OK: res.OK, LatencyMS: float64(res.Latency) / float64(time.Millisecond),
		Status: res.Status, Reason: res.Reason}
	if len(res.Phases) > 0 {
		cv.PhasesMS = make(map[string]float64, len(res.Phases))
		for _, ph := range res.Phases {
			cv.PhasesMS[ph.Name] = float64(ph.Duration) / float64(time.Millisecond)
		}
	}
	return cv
}
