package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Target is the storage a verifier watches. Implementations are safe for
// concurrent use.
type Target interface {
	// Put stores data under key.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the bytes stored under key: an error wrapping
	// ErrNotFound when the target says there is no such object, and any
	// other error when it could not answer (the object's fate is then
	// unknown, not lost).
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; deleting a key that is not there is no error.
	Delete(ctx context.Context, key string) error
}

var (
	// ErrNotFound says the target answered that the object is not there:
	// proof of loss, unlike an error reaching it.
	ErrNotFound = errors.New("verify: no such object")
	// ErrTooLarge says the object is larger than the largest object the
	// verifier reads whole; since no object recorded is that large, its
	// bytes do not match.
	ErrTooLarge = errors.New("verify: object larger than the verifier reads")
)

// NewTarget builds the target ts describes. getenv reads the environment
// variables an S3 target names (os.Getenv in nines serve); a variable
// that is unset or empty is an error here, at start, not at the first
// request. client nil means a client of its own; maxObject bounds what
// Get reads.
func NewTarget(ts TargetSpec, getenv func(string) string, client *http.Client, maxObject int64) (Target, error) {
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if maxObject <= 0 {
		maxObject = DefaultMaxObjectSize
	}
	switch ts.Kind {
	case KindBlob:
		u, err := url.Parse(ts.BaseURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("verify: blob target: base URL %q is not a URL", ts.BaseURL)
		}
		return &BlobTarget{Base: ts.BaseURL, Headers: ts.Headers, Client: client, MaxObject: maxObject}, nil
	case KindS3:
		ak, sk := getenv(ts.AccessKeyEnv), getenv(ts.SecretKeyEnv)
		if ak == "" || sk == "" {
			return nil, fmt.Errorf("verify: s3 target %s: set the environment variables %s and %s to the access key and the secret key", ts.Bucket, ts.AccessKeyEnv, ts.SecretKeyEnv)
		}
		u, err := url.Parse(ts.Endpoint)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("verify: s3 target: endpoint %q is not a URL", ts.Endpoint)
		}
		return &S3Target{Endpoint: u, Bucket: ts.Bucket, PathStyle: ts.PathStyle, Client: client, MaxObject: maxObject,
			Signer: Signer{AccessKey: ak, SecretKey: sk, Region: ts.Region, Service: "s3"}, Now: time.Now}, nil
	}
	return nil, fmt.Errorf("verify: target kind %q: want blob or s3", ts.Kind)
}

// BlobTarget is a generic HTTP blob API: PUT, GET and DELETE of Base +
// key, with Headers on every request. 404 and 410 mean the object is not
// there; any other status but 2xx is an error reaching it.
type BlobTarget struct {
	Base      string
	Headers   map[string]string
	Client    *http.Client
	MaxObject int64
}

func (b *BlobTarget) url(key string) string { return b.Base + escapeKey(key) }

func (b *BlobTarget) do(ctx context.Context, method, key string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.url(key), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("verify: %s %s: %w", method, key, err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range b.Headers {
		req.Header.Set(k, v)
	}
	return roundTrip(b.Client, req, b.MaxObject)
}

func (b *BlobTarget) Put(ctx context.Context, key string, data []byte) error {
	_, err := b.do(ctx, http.MethodPut, key, data)
	return err
}

func (b *BlobTarget) Get(ctx context.Context, key string) ([]byte, error) {
	return b.do(ctx, http.MethodGet, key, nil)
}

func (b *BlobTarget) Delete(ctx context.Context, key string) error {
	_, err := b.do(ctx, http.MethodDelete, key, nil)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// S3Target is an S3-compatible API (AWS S3, MinIO, Ceph RGW, R2),
// signed with SigV4.
type S3Target struct {
	Endpoint  *url.URL
	Bucket    string
	PathStyle bool
	Signer    Signer
	Client    *http.Client
	MaxObject int64
	// Now is the clock the signature's date comes from: the real one,
	// since S3 refuses requests more than 15 minutes off.
	Now func() time.Time
}

func (s *S3Target) url(key string) *url.URL {
	u := *s.Endpoint
	base := strings.TrimSuffix(u.Path, "/")
	if s.PathStyle {
		base += "/" + s.Bucket
	} else {
		u.Host = s.Bucket + "." + u.Host
	}
	u.Path = base + "/" + key
	u.RawPath = uriEncode(u.Path, false)
	return &u
}

func (s *S3Target) do(ctx context.Context, method, key string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.url(key).String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("verify: %s %s: %w", method, key, err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	s.Signer.Sign(req, sha256Hex(body), s.Now())
	return roundTrip(s.Client, req, s.MaxObject)
}

func (s *S3Target) Put(ctx context.Context, key string, data []byte) error {
	_, err := s.do(ctx, http.MethodPut, key, data)
	return err
}

func (s *S3Target) Get(ctx context.Context, key string) ([]byte, error) {
	return s.do(ctx, http.MethodGet, key, nil)
}

func (s *S3Target) Delete(ctx context.Context, key string) error {
	_, err := s.do(ctx, http.MethodDelete, key, nil)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// roundTrip sends req and reads at most limit bytes of a 2xx answer.
func roundTrip(c *http.Client, req *http.Request, limit int64) ([]byte, error) {
	res, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("verify: %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusGone:
		io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return nil, fmt.Errorf("verify: %s %s: %s: %w", req.Method, req.URL.Redacted(), res.Status, ErrNotFound)
	case res.StatusCode < 200 || res.StatusCode > 299:
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return nil, fmt.Errorf("verify: %s %s: %s: %s", req.Method, req.URL.Redacted(), res.Status, bytes.TrimSpace(msg))
	}
	if req.Method != http.MethodGet {
		io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return nil, nil
	}
	if res.ContentLength > limit {
		return nil, fmt.Errorf("verify: GET %s: %d bytes: %w", req.URL.Redacted(), res.ContentLength, ErrTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("verify: GET %s: reading the body: %w", req.URL.Redacted(), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("verify: GET %s: %w", req.URL.Redacted(), ErrTooLarge)
	}
	return data, nil
}

// escapeKey escapes a key for a URL path, keeping its slashes.
func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
