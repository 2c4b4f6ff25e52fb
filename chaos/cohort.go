// Package chaos runs chaos experiments judged by the SLIs: a proxy in
// front of a service assigns each request, by a sticky key, to a small
// control cohort, an equal experiment cohort, or neither; faults go to
// the experiment cohort only; both cohorts are measured by the
// experiment's SLI, and package verdict compares them (docs/chaos.md).
package chaos

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
)

// Cohort is where a request falls in an experiment.
type Cohort uint8

const (
	// Outside requests are neither faulted nor measured as a cohort:
	// only counted.
	Outside Cohort = iota
	Control
	Experiment
)

var cohortNames = [...]string{"outside", "control", "experiment"}

func (c Cohort) String() string { return cohortNames[c] }

// KeySource says what makes a request's sticky key: a header, a cookie,
// or the client's address (without its port). Exactly one is set.
type KeySource struct {
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	Cookie string `yaml:"cookie,omitempty" json:"cookie,omitempty"`
	Client bool   `yaml:"client,omitempty" json:"client,omitempty"`
}

// Check refuses a source that names none or several keys.
func (k KeySource) Check() error {
	n := 0
	for _, set := range []bool{k.Header != "", k.Cookie != "", k.Client} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("cohort key: name exactly one of header, cookie or client (the client's address); got %d", n)
	}
	return nil
}

// key is the request's sticky key, "" when it has none.
func (k KeySource) key(r *http.Request) string {
	switch {
	case k.Header != "":
		return r.Header.Get(k.Header)
	case k.Cookie != "":
		if c, err := r.Cookie(k.Cookie); err == nil {
			return c.Value
		}
		return ""
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Assigner puts requests into cohorts. The same key always lands in the
// same cohort of one experiment (the salt names the experiment's run),
// whichever proxy replica sees it, and a new salt draws new cohorts, so
// the same users are not the experiment cohort of every run.
type Assigner struct {
	Key  KeySource
	Salt string
	// Share is each cohort's fraction of the keys (0.01: 1 % control and
	// 1 % experiment); at most 0.5.
	Share float64
}

// Check refuses an assigner that cannot assign.
func (a Assigner) Check() error {
	if err := a.Key.Check(); err != nil {
		return err
	}
	if !(a.Share > 0 && a.Share <= 0.5) {
		return fmt.Errorf("cohort share %g: want a fraction above 0 and at most 0.5 for each of control and experiment, such as 0.01", a.Share)
	}
	return nil
}

// Assign returns the request's cohort, and false when it has no key (it
// is then Outside).
func (a Assigner) Assign(r *http.Request) (Cohort, bool) {
	k := a.Key.key(r)
	if k == "" {
		return Outside, false
	}
	return a.AssignKey(k), true
}

// AssignKey returns the cohort of a key: its hash with the salt, as a
// number u uniform in [0, 1), is control below Share, experiment below
// twice Share, and outside above.
func (a Assigner) AssignKey(key string) Cohort {
	u := unitHash(a.Salt, key)
	switch {
	case u < a.Share:
		return Control
	case u < 2*a.Share:
		return Experiment
	}
	return Outside
}

// unitHash maps (salt, key) to [0, 1): FNV-1a, then the SplitMix64
// finaliser, whose avalanche makes keys that differ in one character
// land far apart; stable across processes and versions, unlike
// hash/maphash.
func unitHash(salt, key string) float64 {
	h := fnv.New64a()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(salt)))
	h.Write(n[:])
	h.Write([]byte(salt))
	h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}
