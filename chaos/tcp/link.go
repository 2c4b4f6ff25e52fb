package tcp

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// chunkSize is what one read takes from a socket, as io.Copy's buffer in
// Toxiproxy, so toxics see chunks of the same sizes.
const chunkSize = 32 << 10

// inFlight is how many read chunks may wait for the toxics of a link. A
// latency toxic delays each chunk from the time it was read, so reading
// must go on while earlier chunks wait; Toxiproxy buffers 1,024 chunks in
// its latency toxic for the same reason.
const inFlight = 1024

var bufPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

type chunk struct {
	buf  *[]byte // the pooled buffer data lies in, or nil for a copied small read
	data []byte
	at   time.Time // when the chunk was read, so latency counts from there
}

func (c chunk) release() {
	if c.buf != nil {
		bufPool.Put(c.buf)
	}
}

// chain is one immutable snapshot of a proxy's toxics. A change stores a
// new snapshot and closes replaced, which wakes every link to pick it up.
type chain struct {
	toxics   [numDirections][]*Toxic
	replaced chan struct{}
}

// conn is one proxied connection: the client's socket and the upstream's.
type conn struct {
	client, server net.Conn
	quit           chan struct{} // closed when the proxy stops
	stopOnce       sync.Once
	links          sync.WaitGroup
}

// reset aborts both sockets with RST instead of FIN, as reset_peer asks.
func (c *conn) reset() {
	for _, s := range []net.Conn{c.client, c.server} {
		if tc, ok := s.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = s.Close()
	}
}

// toxicState is what a link remembers about one toxic.
type toxicState struct {
	typ      string
	version  uint64
	active   bool          // toxicity drawn for this connection
	debt     time.Duration // bandwidth: sending time owed
	sent     int64         // limit_data: bytes passed so far, kept across updates
	deadline time.Time     // timeout: when the link closes unless data comes
}

// link moves one direction of a connection through the toxics of that
// direction, one chunk at a time, in the order the toxics were added.
type link struct {
	p        *Proxy
	dir      Direction
	c        *conn
	src, dst net.Conn
	in       chan chunk
	done     chan struct{} // closed when the link ends, so the reader stops
	snap     *chain
	states   map[uint64]*toxicState
}

func startLink(p *Proxy, c *conn, dir Direction, src, dst net.Conn) {
	l := &link{p: p, dir: dir, c: c, src: src, dst: dst, in: make(chan chunk, inFlight), done: make(chan struct{}), states: map[uint64]*toxicState{}}
	c.links.Add(1)
	go l.read()
	go l.run()
}

func (l *link) read() {
	for {
		b := bufPool.Get().(*[]byte)
		n, err := l.src.Read(*b)
		c := chunk{buf: b, data: (*b)[:n], at: time.Now()}
		if n < chunkSize/8 {
			// A small read waiting behind a latency toxic should not hold a
			// whole buffer: up to inFlight chunks may wait.
			c.data = append([]byte(nil), c.data...)
			c.buf = nil
			bufPool.Put(b)
		}
		if n > 0 {
			select {
			case l.in <- c:
			case <-l.done:
				c.release()
				return
			}
		} else {
			c.release()
		}
		if err != nil {
			close(l.in)
			return
		}
	}
}

func (l *link) run() {
	defer l.c.links.Done()
	defer close(l.done)
	if !l.refresh() {
		return
	}
	for {
		var expire <-chan time.Time
		var timer *time.Timer
		if d, ok := l.timeoutDeadline(); ok {
			timer = time.NewTimer(time.Until(d))
			expire = timer.C
		}
		select {
		case c, ok := <-l.in:
			if !ok {
				l.closeSlowly()
				return
			}
			alive := l.pass(0, l.snap.toxics[l.dir], c.data, c.at)
			c.release()
			if !alive {
				_ = l.dst.Close()
				return
			}
		case <-l.snap.replaced:
			if !l.refresh() {
				_ = l.dst.Close()
				return
			}
		case <-expire:
			_ = l.dst.Close()
			return
		case <-l.c.quit:
			return
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// refresh takes the proxy's current toxics, drawing toxicity for every
// toxic that is new or updated. It reports false when the link must end: a
// timeout toxic that held this connection was removed, and Toxiproxy closes
// such connections rather than let them resume half-way.
func (l *link) refresh() bool {
	l.snap = l.p.chain.Load()
	now := time.Now()
	cur := l.snap.toxics[l.dir]
	for _, t := range cur {
		st, ok := l.states[t.id]
		if !ok {
			st = &toxicState{typ: t.Type}
			l.states[t.id] = st
		}
		if ok && st.version == t.version {
			continue
		}
		st.version = t.version
		st.active = rand.Float64() < t.Toxicity
		st.debt = 0
		st.deadline = now.Add(ms(t.Attrs.Timeout))
	}
	alive := true
	for id, st := range l.states {
		if find(cur, id) == nil {
			if st.active && st.typ == "timeout" {
				alive = false
			}
			delete(l.states, id)
		}
	}
	return alive
}

func find(ts []*Toxic, id uint64) *Toxic {
	for _, t := range ts {
		if t.id == id {
			return t
		}
	}
	return nil
}

// state is the link's state for t, or nil when t does not apply to this
// connection (toxicity not drawn, or t changed since this chunk started).
func (l *link) state(t *Toxic) *toxicState {
	st := l.states[t.id]
	if st == nil || !st.active || st.version != t.version {
		return nil
	}
	return st
}

// timeoutDeadline is when the first timeout toxic holding this link closes
// it; chunks never pass that toxic, so later ones cannot act.
func (l *link) timeoutDeadline() (time.Time, bool) {
	for _, t := range l.snap.toxics[l.dir] {
		if t.Type != "timeout" {
			continue
		}
		if st := l.state(t); st != nil {
			return st.deadline, t.Attrs.Timeout > 0
		}
	}
	return time.Time{}, false
}

// pass sends data through toxics[i:] and writes what comes out. It reports
// false when the link must end (a toxic closed it, or the write failed).
func (l *link) pass(i int, toxics []*Toxic, data []byte, at time.Time) bool {
	for ; i < len(toxics); i++ {
		t := toxics[i]
		st := l.state(t)
		if st == nil {
			continue
		}
		a := &t.Attrs
		switch t.Type {
		case "latency":
			d := ms(a.Latency)
			if a.Jitter > 0 {
				d += ms(rand.Int64N(2*a.Jitter) - a.Jitter)
			}
			wait := d - time.Since(at)
			if !l.wait(wait, t) {
				return false
			}
			at = at.Add(wait)
		case "bandwidth":
			return l.throttle(i, toxics, st, data, at)
		case "timeout":
			// Data is swallowed; each chunk restarts the timer, as in Toxiproxy.
			st.deadline = time.Now().Add(ms(a.Timeout))
			return true
		case "reset_peer":
			if !l.sleep(ms(a.Timeout)) {
				return false
			}
			l.c.reset()
			return false
		case "slicer":
			for _, piece := range slices(a, data) {
				if !l.pass(i+1, toxics, piece, at) {
					return false
				}
				if !l.wait(us(a.Delay), t) {
					return false
				}
			}
			return true
		case "limit_data":
			left := a.Bytes - st.sent
			if left < int64(len(data)) {
				data = data[:max(left, 0)]
			}
			if len(data) > 0 {
				st.sent += int64(len(data))
				if !l.pass(i+1, toxics, data, at) {
					return false
				}
			}
			return a.Bytes-st.sent > 0
		}
	}
	if len(data) == 0 {
		return true
	}
	_, err := l.dst.Write(data)
	return err == nil
}

// throttle is Toxiproxy's bandwidth toxic: a chunk owes len/rate of
// sending time; chunks longer than 100 ms worth go out in 100 ms pieces.
func (l *link) throttle(i int, toxics []*Toxic, st *toxicState, data []byte, at time.Time) bool {
	t := toxics[i]
	rate := t.Attrs.Rate // KB/s is bytes per ms
	st.debt += time.Duration(len(data)) * time.Millisecond / time.Duration(rate)
	step := int(min(rate*100, int64(chunkSize)*inFlight))
	for len(data) > step {
		if !l.wait(100*time.Millisecond, t) {
			return false
		}
		if !l.pass(i+1, toxics, data[:step], at) {
			return false
		}
		data = data[step:]
		st.debt -= 100 * time.Millisecond
	}
	start := time.Now()
	if !l.wait(st.debt, t) {
		return false
	}
	st.debt -= time.Since(start)
	return l.pass(i+1, toxics, data, at)
}

// slices is Toxiproxy's slicer: halve the chunk, moved by up to ±variation,
// until pieces are within average+variation.
func slices(a *Attributes, data []byte) [][]byte {
	var out [][]byte
	var cut func(lo, hi int)
	avg, vari := int(a.AverageSize), int(a.SizeVariation)
	cut = func(lo, hi int) {
		if (hi-lo)-avg <= vari {
			if hi > lo {
				out = append(out, data[lo:hi])
			}
			return
		}
		mid := lo + (hi-lo)/2
		if vari > 0 {
			mid += rand.IntN(2*vari) - vari
		}
		cut(lo, mid)
		cut(mid, hi)
	}
	cut(0, len(data))
	return out
}

// wait sleeps for d on behalf of toxic t. When t is removed or updated
// meanwhile the wait ends early and the data goes on, so no byte is
// dropped, as Toxiproxy's interrupted toxics do. It reports false when the
// proxy stopped.
func (l *link) wait(d time.Duration, t *Toxic) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return true
		case <-l.c.quit:
			return false
		case <-l.snap.replaced:
			if !l.refresh() {
				return false
			}
			if l.state(t) == nil || find(l.snap.toxics[l.dir], t.id) != t {
				return true
			}
		}
	}
}

// sleep waits d, ending early only when the proxy stops.
func (l *link) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-l.c.quit:
		return false
	}
}

// closeSlowly closes the far side once the near side closed, after the
// delays of the slow_close toxics on the way (they add, as chained stubs do).
func (l *link) closeSlowly() {
	var d time.Duration
	for _, t := range l.snap.toxics[l.dir] {
		if t.Type == "slow_close" && l.state(t) != nil {
			d += ms(t.Attrs.Delay)
		}
	}
	if l.sleep(d) {
		_ = l.dst.Close()
	}
}
