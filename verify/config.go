package verify

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/internal/yamlfield"
	"github.com/nines-sre/nines/spec"
)

// Mode says where a verifier's objects come from.
type Mode int

const (
	// ModeWrite: nines writes synthetic objects of its own at a steady rate,
	// reads them back and deletes them after the last read.
	ModeWrite Mode = iota
	// ModeReported: the application reports the objects it wrote (POST
	// /api/v1/verifiers/{name}/objects); nines samples a share of them by a
	// hash of the key and only ever reads them.
	ModeReported
)

func (m Mode) String() string {
	if m == ModeReported {
		return "reported"
	}
	return "write"
}

// Kinds of target.
const (
	KindBlob = "blob"
	KindS3   = "s3"
)

// TargetSpec is where a verifier's objects live.
type TargetSpec struct {
	Kind string
	// BaseURL (blob): objects are PUT, GET and DELETE at BaseURL + key.
	BaseURL string
	// Headers (blob) are sent with every request (an API key, a tenant).
	Headers map[string]string
	// S3: the endpoint (https://s3.eu-west-1.amazonaws.com, a MinIO
	// URL), the bucket, the region signed for, the names of the
	// environment variables holding the keys (never the keys), and
	// whether the bucket goes in the path rather than the host name.
	Endpoint     string
	Bucket       string
	Region       string
	AccessKeyEnv string
	SecretKeyEnv string
	PathStyle    bool
}

// Definition is one verifier as verifiers.yaml defines it
// (docs/verifiers.md).
type Definition struct {
	Name   string
	Target TargetSpec
	Mode   Mode
	// SampleRate (reported) is the share of reported objects verified,
	// in (0, 1].
	SampleRate float64
	// WritesPerMinute and ObjectSize (write) are how many synthetic
	// objects nines writes and how large each is.
	WritesPerMinute float64
	ObjectSize      int64
	// KeyPrefix starts the keys of every object nines writes itself
	// (synthetic ones and canaries).
	KeyPrefix string
	// ReadAfter are the ages at which each object is read back,
	// ascending.
	ReadAfter []time.Duration
	// CanaryEvery is how often a known-corrupt canary is planted;
	// CanaryDeadline is how long after planting its verdict must be in.
	CanaryEvery    time.Duration
	CanaryDeadline time.Duration
	// Heartbeat is how often the verifier reports that it runs.
	Heartbeat time.Duration
	// ReadsPerSecond, Concurrency and Timeout bound what the verifier
	// asks of the target: reads per second, requests at once, and how
	// long one request may take.
	ReadsPerSecond float64
	Concurrency    int
	Timeout        time.Duration
	// MaxObjectSize is the largest object read back whole; reported
	// objects above it are refused.
	MaxObjectSize int64
	// MaxPending bounds the objects whose reads are pending: past it
	// reports are refused and synthetic writes pause.
	MaxPending int64
	// Objective is the durability SLO's objective, in (0, 1).
	Objective float64
	File      string
}

// DefaultReadAfter is the Dropbox verifier's schedule: a minute, an hour,
// a day, a week and a month (30 days) after the write. Each call returns
// a slice of its own.
func DefaultReadAfter() []time.Duration {
	return []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}
}

// Defaults of a verifier that does not say otherwise.

const (
	DefaultCanaryEvery     = time.Hour
	DefaultHeartbeat       = time.Minute
	DefaultObjectSize      = 4 << 10
	DefaultReadsPerSecond  = 20
	DefaultConcurrency     = 4
	DefaultTimeout         = 30 * time.Second
	DefaultMaxObjectSize   = 16 << 20
	DefaultMaxPending      = 1_000_000
	DefaultObjective       = 0.9999
	defaultCanaryGrace     = 10 * time.Minute
	maxVerifiers           = 256
	maxReadAges            = 16
	maxFileSize            = 1 << 20
	maxHeaders             = 32
	largestObjectSizeLimit = 1 << 30
)

var (
	fileFields   = []string{"verifiers"}
	verFields    = []string{"name", "target", "mode", "sampleRate", "writesPerMinute", "objectSize", "keyPrefix", "readAfter", "canaryEvery", "canaryDeadline", "heartbeat", "readsPerSecond", "concurrency", "timeout", "maxObjectSize", "maxPending", "objective"}
	targetFields = []string{"kind", "baseURL", "headers", "endpoint", "bucket", "region", "accessKeyEnv", "secretKeyEnv", "pathStyle"}
	blobFields   = []string{"kind", "baseURL", "headers"}
	s3Fields     = []string{"kind", "endpoint", "bucket", "region", "accessKeyEnv", "secretKeyEnv", "pathStyle"}
	// envName is a POSIX environment variable name.
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// bucketName is an S3 bucket name (3 to 63 lower-case letters, digits,
	// dots and hyphens, starting and ending with a letter or digit).
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionName = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// Load reads a verifiers.yaml file.
func Load(path string) ([]*Definition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verifiers: %w", err)
	}
	return Parse(path, data)
}

// Parse reads the verifiers of one file; every problem is reported, each
// with file:line:column and field.
func Parse(file string, data []byte) ([]*Definition, error) {
	r := &yamlfield.Reader{File: file}
	if len(data) > maxFileSize {
		r.Errorf(nil, "", "the file is %d bytes; a verifiers file holds at most %d", len(data), maxFileSize)
		return nil, r.Err()
	}
	docs, err := spec.Decode(file, data)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		r.Errorf(nil, "", "want one YAML document with a verifiers list; found %d", len(docs))
		return nil, r.Err()
	}
	root := docs[0]
	fs := r.Fields(root, "", fileFields...)
	if fs == nil {
		return nil, r.Err()
	}
	list, ok := r.Require(root, fs, "", "verifiers", "a list of verifiers")
	if !ok {
		return nil, r.Err()
	}
	var out []*Definition
	seen := map[string]int{}
	r.List(list, "verifiers", "verifiers", func(it *yaml.Node, path string) {
		if len(out) >= maxVerifiers {
			if len(out) == maxVerifiers {
				r.Errorf(it, path, "more than %d verifiers in one file", maxVerifiers)
			}
			out = append(out, nil)
			return
		}
		d := parseVerifier(r, it, path)
		d.File = file
		if d.Name != "" {
			if line, dup := seen[d.Name]; dup {
				r.Errorf(it, yamlfield.Join(path, "name"), "verifier %s is also defined at line %d; give each a name of its own", d.Name, line)
			}
			seen[d.Name] = it.Line
		}
		out = append(out, d)
	})
	if r.Failed() {
		return nil, r.Err()
	}
	return out, nil
}

func parseVerifier(r *yamlfield.Reader, n *yaml.Node, path string) *Definition {
	d := &Definition{
		ReadAfter: DefaultReadAfter(), CanaryEvery: DefaultCanaryEvery, Heartbeat: DefaultHeartbeat,
		ObjectSize: DefaultObjectSize, ReadsPerSecond: DefaultReadsPerSecond, Concurrency: DefaultConcurrency,
		Timeout: DefaultTimeout, MaxObjectSize: DefaultMaxObjectSize, MaxPending: DefaultMaxPending, Objective: DefaultObjective,
	}
	fs := r.Fields(n, path, verFields...)
	if fs == nil {
		return d
	}
	at := func(k string) string { return yamlfield.Join(path, k) }
	if v, ok := r.Require(n, fs, path, "name", "a name such as backups (letters, digits, -, _ and .)"); ok {
		d.Name, _ = r.Name(v, at("name"), "a verifier name")
	}
	if v, ok := r.Require(n, fs, path, "target", "where the objects live: {kind: blob, baseURL: ...} or {kind: s3, endpoint: ..., bucket: ..., region: ...}"); ok {
		d.Target = parseTarget(r, v, at("target"))
	}
	if v, ok := fs["mode"]; ok {
		if s, ok := r.Text(v, at("mode")); ok {
			switch s {
			case "write":
				d.Mode = ModeWrite
			case "reported":
				d.Mode = ModeReported
			default:
				r.Errorf(v, at("mode"), "%s is not a mode; want write (nines writes objects of its own) or reported (the application reports what it wrote)", spec.Quote(s))
			}
		}
	}
	if v, ok := fs["sampleRate"]; ok {
		if d.Mode == ModeWrite {
			r.Errorf(v, at("sampleRate"), "a write verifier reads back every object it writes; set writesPerMinute instead, or mode: reported")
		} else {
			d.SampleRate, _ = r.Percent(v, at("sampleRate"), 1)
		}
	} else if d.Mode == ModeReported {
		r.Errorf(n, at("sampleRate"), "missing; want the share of reported objects to verify, such as 1%%")
	}
	if v, ok := fs["writesPerMinute"]; ok {
		if d.Mode == ModeReported {
			r.Errorf(v, at("writesPerMinute"), "a reported verifier writes nothing; remove it, or set mode: write")
		} else {
			d.WritesPerMinute, _ = r.Float(v, at("writesPerMinute"), 0, 10_001, "synthetic objects written per minute")
		}
	} else if d.Mode == ModeWrite {
		r.Errorf(n, at("writesPerMinute"), "missing; want how many synthetic objects to write per minute, such as 10")
	}
	if v, ok := fs["objectSize"]; ok {
		d.ObjectSize, _ = readSize(r, v, at("objectSize"), 1, 64<<20)
	}
	if v, ok := fs["maxObjectSize"]; ok {
		d.MaxObjectSize, _ = readSize(r, v, at("maxObjectSize"), 1, largestObjectSizeLimit)
	}
	if d.Mode == ModeWrite && d.ObjectSize > d.MaxObjectSize {
		r.Errorf(fs["objectSize"], at("objectSize"), "%d bytes is above maxObjectSize (%d bytes), so the objects could not be read back", d.ObjectSize, d.MaxObjectSize)
	}
	d.KeyPrefix = "nines-verify/" + d.Name + "/"
	if v, ok := fs["keyPrefix"]; ok {
		if s, ok := r.Text(v, at("keyPrefix")); ok {
			if err := checkKey(s); err != nil || s == "" {
				r.Errorf(v, at("keyPrefix"), "%s is not a key prefix: %v", spec.Quote(s), errOr(err, "it is empty"))
			} else {
				d.KeyPrefix = s
			}
		}
	}
	if v, ok := fs["readAfter"]; ok {
		d.ReadAfter = nil
		r.List(v, at("readAfter"), "ages such as 1m, 1h, 1d", func(it *yaml.Node, p string) {
			a, ok := r.Duration(it, p, time.Second, 400*24*time.Hour)
			switch {
			case !ok:
			case len(d.ReadAfter) >= maxReadAges:
				r.Errorf(it, p, "more than %d read ages", maxReadAges)
			case len(d.ReadAfter) > 0 && a <= d.ReadAfter[len(d.ReadAfter)-1]:
				r.Errorf(it, p, "%s is not after the age before it (%s); list the ages in ascending order", it.Value, formatAge(d.ReadAfter[len(d.ReadAfter)-1]))
			default:
				d.ReadAfter = append(d.ReadAfter, a)
			}
		})
		if len(d.ReadAfter) == 0 && !r.Failed() {
			r.Errorf(v, at("readAfter"), "empty; want at least one age, such as [1m, 1h, 1d]")
		}
	}
	dur := func(key string, dst *time.Duration, lo, hi time.Duration) {
		if v, ok := fs[key]; ok {
			if x, ok := r.Duration(v, at(key), lo, hi); ok {
				*dst = x
			}
		}
	}
	dur("canaryEvery", &d.CanaryEvery, time.Minute, 30*24*time.Hour)
	dur("heartbeat", &d.Heartbeat, 10*time.Second, 24*time.Hour)
	dur("timeout", &d.Timeout, 10*time.Millisecond, 10*time.Minute)
	first := time.Minute
	if len(d.ReadAfter) > 0 {
		first = d.ReadAfter[0]
	}
	d.CanaryDeadline = first + defaultCanaryGrace
	if v, ok := fs["canaryDeadline"]; ok {
		if x, ok := r.Duration(v, at("canaryDeadline"), time.Second, 30*24*time.Hour); ok {
			if x <= first {
				r.Errorf(v, at("canaryDeadline"), "%s leaves no time to read the canary, which is read at the first age (%s); want a longer deadline", v.Value, first)
			}
			d.CanaryDeadline = x
		}
	}
	if v, ok := fs["readsPerSecond"]; ok {
		d.ReadsPerSecond, _ = r.Float(v, at("readsPerSecond"), 0, 100_001, "reads per second")
	}
	if v, ok := fs["concurrency"]; ok {
		c, _ := r.Int(v, at("concurrency"), 1, 256, "requests to the target at once")
		d.Concurrency = int(c)
	}
	if v, ok := fs["maxPending"]; ok {
		d.MaxPending, _ = r.Int(v, at("maxPending"), 1, 100_000_000, "objects with reads pending")
	}
	if v, ok := fs["objective"]; ok {
		d.Objective, _ = r.Percent(v, at("objective"), 0.999999)
	}
	return d
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

func parseTarget(r *yamlfield.Reader, n *yaml.Node, path string) TargetSpec {
	var t TargetSpec
	fs := r.Fields(n, path, targetFields...)
	if fs == nil {
		return t
	}
	at := func(k string) string { return yamlfield.Join(path, k) }
	kn, ok := r.Require(n, fs, path, "kind", "blob (HTTP PUT/GET/DELETE) or s3")
	if !ok {
		return t
	}
	t.Kind, _ = r.Text(kn, at("kind"))
	var allowed []string
	switch t.Kind {
	case KindBlob:
		allowed = blobFields
		if v, ok := r.Require(n, fs, path, "baseURL", "the URL objects' keys are appended to, such as http://blobs:9000/bucket/"); ok {
			t.BaseURL, _ = readURL(r, v, at("baseURL"))
		}
		if v, ok := fs["headers"]; ok {
			t.Headers = map[string]string{}
			hs := r.Fields(v, at("headers"), mapKeys(v)...)
			for k, hv := range hs {
				p := yamlfield.Join(at("headers"), k)
				if !headerName.MatchString(k) || len(t.Headers) >= maxHeaders {
					r.Errorf(hv, p, "%s is not an HTTP header name, or there are more than %d headers", spec.Quote(k), maxHeaders)
					continue
				}
				if s, ok := r.Text(hv, p); ok {
					if strings.ContainsAny(s, "\r\n\x00") {
						r.Errorf(hv, p, "a header value holds no line breaks")
						continue
					}
					t.Headers[k] = s
				}
			}
		}
	case KindS3:
		allowed = s3Fields
		if v, ok := r.Require(n, fs, path, "endpoint", "the S3 API's URL, such as https://s3.eu-west-1.amazonaws.com"); ok {
			t.Endpoint, _ = readURL(r, v, at("endpoint"))
		}
		if v, ok := r.Require(n, fs, path, "bucket", "the bucket's name"); ok {
			if s, ok := r.Text(v, at("bucket")); ok {
				if !bucketName.MatchString(s) {
					r.Errorf(v, at("bucket"), "%s is not a bucket name; want 3 to 63 lower-case letters, digits, dots and hyphens", spec.Quote(s))
				}
				t.Bucket = s
			}
		}
		if v, ok := r.Require(n, fs, path, "region", "the region requests are signed for, such as us-east-1"); ok {
			if s, ok := r.Text(v, at("region")); ok {
				if !regionName.MatchString(s) {
					r.Errorf(v, at("region"), "%s is not a region; want one such as us-east-1", spec.Quote(s))
				}
				t.Region = s
			}
		}
		for key, dst := range map[string]*string{"accessKeyEnv": &t.AccessKeyEnv, "secretKeyEnv": &t.SecretKeyEnv} {
			v, ok := r.Require(n, fs, path, key, "the name of the environment variable that holds the key, such as AWS_ACCESS_KEY_ID")
			if !ok {
				continue
			}
			if s, ok := r.Text(v, at(key)); ok {
				if !envName.MatchString(s) {
					r.Errorf(v, at(key), "%s is not an environment variable name; name the variable that holds the key, never the key itself", spec.Quote(s))
				}
				*dst = s
			}
		}
		if v, ok := fs["pathStyle"]; ok {
			if s, ok := r.Text(v, at("pathStyle")); ok {
				b, err := strconv.ParseBool(s)
				if err != nil {
					r.Errorf(v, at("pathStyle"), "%s is not true or false", spec.Quote(s))
				}
				t.PathStyle = b
			}
		}
	default:
		r.Errorf(kn, at("kind"), "%s is not a target kind; want blob (HTTP PUT/GET/DELETE) or s3", spec.Quote(t.Kind))
		return t
	}
	for k, v := range fs {
		if !slices.Contains(allowed, k) {
			r.Errorf(v, at(k), "not a field of a %s target; want %s", t.Kind, strings.Join(allowed, ", "))
		}
	}
	return t
}

func mapKeys(n *yaml.Node) []string {
	n = spec.Resolve(n)
	var out []string
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}

func readURL(r *yamlfield.Reader, n *yaml.Node, field string) (string, bool) {
	s, ok := r.Text(n, field)
	if !ok {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		r.Errorf(n, field, "%s is not an http or https URL without query, fragment or password", spec.Quote(s))
		return "", false
	}
	return s, true
}

// readSize reads a size in bytes, written as a whole number with an
// optional unit (B, KiB, MiB, GiB; KB, MB, GB are powers of ten).
func readSize(r *yamlfield.Reader, n *yaml.Node, field string, lo, hi int64) (int64, bool) {
	s, ok := r.Text(n, field)
	if !ok {
		return 0, false
	}
	v, err := parseSize(s)
	if err != nil || v < lo || v > hi {
		r.Errorf(n, field, "%s is not a size from %d bytes to %d bytes; write one such as 4KiB or 1MiB", spec.Quote(s), lo, hi)
		return 0, false
	}
	return v, true
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range sizeUnits {
		if t, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(t), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("not a size")
	}
	return v * mult, nil
}

// checkKey refuses keys no target stores alike: empty or longer than
// 1,024 bytes (S3's limit), invalid UTF-8, control characters, or a
// leading slash.
func checkKey(k string) error {
	switch {
	case len(k) > 1024:
		return fmt.Errorf("%d bytes long; a key is at most 1,024 bytes", len(k))
	case strings.HasPrefix(k, "/"):
		return fmt.Errorf("it starts with /; keys are relative to the target's base")
	case !validText(k):
		return fmt.Errorf("it holds invalid UTF-8 or a control character")
	}
	return nil
}

func validText(s string) bool {
	for _, c := range s {
		if c == 0xFFFD || c < 0x20 || c == 0x7F {
			return false
		}
	}
	return true
}
