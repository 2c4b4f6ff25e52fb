package tcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
)

// Server holds the proxies the API manages. It is safe for concurrent use.
type Server struct {
	mu      sync.Mutex
	proxies map[string]*Proxy
	// nextID is atomic so adding a toxic, which holds a proxy's lock, never
	// takes s.mu after it (Delete takes them the other way round).
	nextID atomic.Uint64
}

// NewServer returns a server with no proxies.
func NewServer() *Server { return &Server{proxies: map[string]*Proxy{}} }

// Close stops every proxy and its connections.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.proxies {
		p.mu.Lock()
		p.stop()
		p.mu.Unlock()
	}
}

// ProxyConfig is one proxy in Toxiproxy's JSON (API bodies and the
// populate file). Toxics is accepted and ignored on input, because
// Toxiproxy's clients send the proxy's toxics back when they save it.
type ProxyConfig struct {
	Name     string            `json:"name"`
	Listen   string            `json:"listen"`
	Upstream string            `json:"upstream"`
	Enabled  *bool             `json:"enabled,omitempty"`
	Toxics   []json.RawMessage `json:"toxics,omitempty"`
}

func (c *ProxyConfig) check() error {
	if err := checkName("proxy name", c.Name); err != nil {
		return err
	}
	if err := checkAddr("upstream", c.Upstream, false); err != nil {
		return err
	}
	return checkAddr("listen", c.Listen, true)
}

// proxyView is Toxiproxy's JSON of a proxy with its toxics.
type proxyView struct {
	Name     string   `json:"name"`
	Listen   string   `json:"listen"`
	Upstream string   `json:"upstream"`
	Enabled  bool     `json:"enabled"`
	Toxics   []*Toxic `json:"toxics"`
}

func (p *Proxy) view() proxyView {
	ts := p.toxics()
	all := append(append([]*Toxic{}, ts[Upstream]...), ts[Downstream]...)
	return proxyView{Name: p.name, Listen: p.listen, Upstream: p.upstream, Enabled: p.enabled, Toxics: all}
}

func (s *Server) get(name string) (*Proxy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.proxies[name]
	if !ok {
		return nil, apiErrorf(errProxyNotFound, "%q", clip(name))
	}
	return p, nil
}

// Create adds a proxy and starts it when enabled (the default).
func (s *Server) Create(c ProxyConfig) (proxyView, error) {
	if err := c.check(); err != nil {
		return proxyView{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.proxies[c.Name]; ok {
		return proxyView{}, apiErrorf(errProxyAlreadyExists, "%q", c.Name)
	}
	if len(s.proxies) >= MaxProxies {
		return proxyView{}, apiErrorf(errTooMany, "this server holds %d proxies already; delete one first", MaxProxies)
	}
	p := newProxy(c.Name, c.Listen, c.Upstream)
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.Enabled == nil || *c.Enabled {
		if err := p.start(); err != nil {
			return proxyView{}, err
		}
	}
	s.proxies[c.Name] = p
	return p.view(), nil
}

// Populate creates or replaces the proxies of a populate body, checking all
// of them before it changes any. A proxy whose listen and upstream are
// unchanged is kept with its toxics and connections, as in Toxiproxy.
func (s *Server) Populate(cs []ProxyConfig) ([]proxyView, error) {
	seen := map[string]bool{}
	for i := range cs {
		if err := cs[i].check(); err != nil {
			return nil, atProxy(err, i+1)
		}
		if seen[cs[i].Name] {
			return nil, apiErrorf(errProxyAlreadyExists, "%q appears twice in the list", cs[i].Name)
		}
		seen[cs[i].Name] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	added := 0
	for _, c := range cs {
		if _, ok := s.proxies[c.Name]; !ok {
			added++
		}
	}
	if len(s.proxies)+added > MaxProxies {
		return nil, apiErrorf(errTooMany, "%d proxies would exceed the limit of %d", len(s.proxies)+added, MaxProxies)
	}
	views := make([]proxyView, 0, len(cs))
	for _, c := range cs {
		if old, ok := s.proxies[c.Name]; ok {
			old.mu.Lock()
			same := old.upstream == c.Upstream && sameAddr(old.listen, c.Listen)
			if same {
				views = append(views, old.view())
				old.mu.Unlock()
				continue
			}
			old.stop()
			old.mu.Unlock()
			delete(s.proxies, c.Name)
		}
		p := newProxy(c.Name, c.Listen, c.Upstream)
		p.mu.Lock()
		if c.Enabled == nil || *c.Enabled {
			if err := p.start(); err != nil {
				p.mu.Unlock()
				return views, err
			}
		}
		s.proxies[c.Name] = p
		views = append(views, p.view())
		p.mu.Unlock()
	}
	return views, nil
}

// sameAddr compares a bound address with a requested one as Toxiproxy's
// Differs does: the request is resolved first.
func sameAddr(bound, asked string) bool {
	if bound == asked {
		return true
	}
	a, err := net.ResolveTCPAddr("tcp", asked)
	return err == nil && a.String() == bound
}

// Update changes a proxy. Absent fields keep their values; a new listen or
// upstream restarts the proxy, closing its connections, as in Toxiproxy.
func (s *Server) Update(name string, body []byte) (proxyView, error) {
	p, err := s.get(name)
	if err != nil {
		return proxyView{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	on := p.enabled
	c := ProxyConfig{Name: p.name, Listen: p.listen, Upstream: p.upstream, Enabled: &on}
	if err := decodeStrict(body, &c); err != nil {
		return proxyView{}, badBody(err)
	}
	c.Name = p.name // the name is the proxy's key; Toxiproxy ignores a new one too
	if err := c.check(); err != nil {
		return proxyView{}, err
	}
	if c.Upstream != p.upstream || !sameAddr(p.listen, c.Listen) {
		p.stop()
		p.listen, p.upstream = c.Listen, c.Upstream
	}
	if c.Enabled == nil { // "enabled": null leaves it as it is
		c.Enabled = &on
	}
	if *c.Enabled {
		if err := p.start(); err != nil {
			return proxyView{}, err
		}
	} else {
		p.stop()
	}
	return p.view(), nil
}

// Delete stops a proxy and forgets it.
func (s *Server) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.proxies[name]
	if !ok {
		return apiErrorf(errProxyNotFound, "%q", clip(name))
	}
	p.mu.Lock()
	p.stop()
	p.mu.Unlock()
	delete(s.proxies, name)
	return nil
}

// Reset enables every proxy and removes every toxic.
func (s *Server) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.sorted() {
		p.mu.Lock()
		err := p.start()
		p.setToxics([numDirections][]*Toxic{})
		p.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) sorted() []*Proxy {
	out := make([]*Proxy, 0, len(s.proxies))
	for _, p := range s.proxies {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Proxies returns every proxy by name.
func (s *Server) Proxies() map[string]proxyView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]proxyView, len(s.proxies))
	for name, p := range s.proxies {
		p.mu.Lock()
		out[name] = p.view()
		p.mu.Unlock()
	}
	return out
}

// Proxy returns one proxy.
func (s *Server) Proxy(name string) (proxyView, error) {
	p, err := s.get(name)
	if err != nil {
		return proxyView{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.view(), nil
}

// AddToxic adds a toxic at the end of its direction's chain; live
// connections take it from their next chunk.
func (s *Server) AddToxic(proxy string, body []byte) (*Toxic, error) {
	p, err := s.get(proxy)
	if err != nil {
		return nil, err
	}
	t, err := newToxic(body)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, _, _ := p.findToxic(t.Name); old != nil {
		return nil, apiErrorf(errToxicAlreadyExists, "%q", t.Name)
	}
	if p.toxicCount() >= MaxToxicsPerProxy {
		return nil, apiErrorf(errTooMany, "proxy %s holds %d toxics already; remove one first", p.name, MaxToxicsPerProxy)
	}
	t.id = s.nextID.Add(1)
	ts := p.toxics()
	ts[t.Stream] = append(append([]*Toxic{}, ts[t.Stream]...), t)
	p.setToxics(ts)
	return t, nil
}

// Toxic returns one toxic of a proxy.
func (s *Server) Toxic(proxy, name string) (*Toxic, error) {
	p, err := s.get(proxy)
	if err != nil {
		return nil, err
	}
	t, _, _ := p.findToxic(name)
	if t == nil {
		return nil, apiErrorf(errToxicNotFound, "%q on proxy %s", clip(name), proxy)
	}
	return t, nil
}

// Toxics returns a proxy's toxics, upstream first, each in chain order.
func (s *Server) Toxics(proxy string) ([]*Toxic, error) {
	p, err := s.get(proxy)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.view().Toxics, nil
}

// UpdateToxic changes a toxic's toxicity or attributes in place in its chain.
func (s *Server) UpdateToxic(proxy, name string, body []byte) (*Toxic, error) {
	p, err := s.get(proxy)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t, d, i := p.findToxic(name)
	if t == nil {
		return nil, apiErrorf(errToxicNotFound, "%q on proxy %s", clip(name), proxy)
	}
	n, err := t.updated(body)
	if err != nil {
		return nil, err
	}
	ts := p.toxics()
	ts[d] = append([]*Toxic{}, ts[d]...)
	ts[d][i] = n
	p.setToxics(ts)
	return n, nil
}

// RemoveToxic takes a toxic out of its chain.
func (s *Server) RemoveToxic(proxy, name string) error {
	p, err := s.get(proxy)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t, d, i := p.findToxic(name)
	if t == nil {
		return apiErrorf(errToxicNotFound, "%q on proxy %s", clip(name), proxy)
	}
	ts := p.toxics()
	ts[d] = append(append([]*Toxic{}, ts[d][:i]...), ts[d][i+1:]...)
	p.setToxics(ts)
	return nil
}

// ParsePopulate reads Toxiproxy's populate format: a JSON array of proxies.
func ParsePopulate(body []byte) ([]ProxyConfig, error) {
	var cs []ProxyConfig
	if err := decodeStrict(body, &cs); err != nil {
		return nil, badBody(err)
	}
	if len(cs) > MaxProxies {
		return nil, apiErrorf(errTooMany, "%d proxies in the list; the limit is %d", len(cs), MaxProxies)
	}
	return cs, nil
}

// atProxy says which proxy of a list a refusal is about, keeping its status.
func atProxy(err error, n int) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return &APIError{Message: fmt.Sprintf("%s at proxy %d", ae.Message, n), Status: ae.Status}
	}
	return fmt.Errorf("at proxy %d: %w", n, err)
}
