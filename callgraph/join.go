package callgraph

// spanKey identifies a span: span ids are unique within a trace only.
type spanKey struct {
	trace [16]byte
	span  [8]byte
}

// seenSpan is a span kept as a possible parent: its service, by index.
type seenSpan struct {
	key spanKey
	svc uint32
	// counted marks a span already taken as a child: a retried request
	// brings it again and must not count its call twice.
	counted bool
}

// seenRing keeps the last cap spans by key, oldest evicted first.
type seenRing struct {
	idx   map[spanKey]uint32
	slots []seenSpan
	next  uint32
	full  bool
	// evicted counts spans pushed out by newer ones.
	evicted uint64
}

func newSeenRing(n int) seenRing {
	return seenRing{idx: make(map[spanKey]uint32, n), slots: make([]seenSpan, n)}
}

func (r *seenRing) get(k spanKey) (*seenSpan, bool) {
	i, ok := r.idx[k]
	if !ok {
		return nil, false
	}
	return &r.slots[i], true
}

// put stores s and returns its slot.
func (r *seenRing) put(s seenSpan) uint32 {
	i := r.next
	if r.full {
		old := &r.slots[i]
		if j, ok := r.idx[old.key]; ok && j == i {
			delete(r.idx, old.key)
			r.evicted++
		}
	}
	r.slots[i] = s
	r.idx[s.key] = i
	r.next++
	if int(r.next) == len(r.slots) {
		r.next, r.full = 0, true
	}
	return i
}

// remove forgets the span stored in slot i under k, if it is still there.
func (r *seenRing) remove(k spanKey, i uint32) {
	if j, ok := r.idx[k]; ok && j == i {
		delete(r.idx, k)
	}
}

// pendingSpan is a child whose parent has not been seen yet: what its call
// needs once the parent comes.
type pendingSpan struct {
	parent     spanKey
	self       spanKey
	svc        uint32
	start, end int64
	status     int16
	failed     bool
	server     bool
	live       bool
	// sibling is the next slot waiting for the same parent, or -1.
	sibling int32
}

// pendingRing keeps the last cap children waiting for their parent,
// chained by parent; the oldest is evicted first and its call is lost
// (counted).
type pendingRing struct {
	heads map[spanKey]int32
	slots []pendingSpan
	next  int32
	// lost counts children evicted before their parent came; waiting
	// those in the ring now.
	lost    uint64
	waiting int
}

func newPendingRing(n int) pendingRing {
	return pendingRing{heads: make(map[spanKey]int32, n/4), slots: make([]pendingSpan, n)}
}

func (r *pendingRing) put(p pendingSpan) {
	i := r.next
	if r.slots[i].live {
		r.unlink(i)
		r.lost++
	}
	p.live = true
	r.waiting++
	p.sibling = -1
	if h, ok := r.heads[p.parent]; ok {
		p.sibling = h
	}
	r.slots[i] = p
	r.heads[p.parent] = i
	r.next++
	if int(r.next) == len(r.slots) {
		r.next = 0
	}
}

// unlink takes slot i out of its parent's chain. Chains are short (the
// children of one span), so walking one is cheap.
func (r *pendingRing) unlink(i int32) {
	s := &r.slots[i]
	s.live = false
	r.waiting--
	h := r.heads[s.parent]
	if h == i {
		if s.sibling < 0 {
			delete(r.heads, s.parent)
		} else {
			r.heads[s.parent] = s.sibling
		}
		return
	}
	for j := h; j >= 0; j = r.slots[j].sibling {
		if r.slots[j].sibling == i {
			r.slots[j].sibling = s.sibling
			return
		}
	}
}

// take removes and returns the children waiting for parent k.
func (r *pendingRing) take(k spanKey, dst []pendingSpan) []pendingSpan {
	h, ok := r.heads[k]
	if !ok {
		return dst
	}
	delete(r.heads, k)
	for j := h; j >= 0; {
		s := &r.slots[j]
		s.live = false
		r.waiting--
		dst = append(dst, *s)
		j = s.sibling
	}
	return dst
}
