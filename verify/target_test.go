package verify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// s3Server is an S3 bucket API on loopback that refuses any request whose
// SigV4 signature it cannot reproduce from the request as received.
type s3Server struct {
	mu      sync.Mutex
	objects map[string][]byte
	signer  Signer
	refused int
}

func (s *s3Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	got := r.Header.Get("Authorization")
	at, err := time.Parse(amzDate, r.Header.Get("X-Amz-Date"))
	check := r.Clone(context.Background())
	check.Header.Del("Authorization")
	check.Header.Del("User-Agent")
	check.Header.Del("Accept-Encoding")
	if err == nil {
		s.signer.Sign(check, r.Header.Get("X-Amz-Content-Sha256"), at)
	}
	sum := sha256Hex(body)
	if err != nil || got == "" || check.Header.Get("Authorization") != got || r.Header.Get("X-Amz-Content-Sha256") != sum {
		s.mu.Lock()
		s.refused++
		s.mu.Unlock()
		http.Error(w, "<Error><Code>SignatureDoesNotMatch</Code></Error>", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.URL.Path
	switch r.Method {
	case http.MethodPut:
		s.objects[key] = body
	case http.MethodGet:
		b, ok := s.objects[key]
		if !ok {
			http.Error(w, "<Error><Code>NoSuchKey</Code></Error>", http.StatusNotFound)
			return
		}
		w.Write(b)
	case http.MethodDelete:
		delete(s.objects, key)
		w.WriteHeader(http.StatusNoContent)
	}
}

func TestTheS3TargetSignsWhatItSendsAndReadsBackWhatItWrote(t *testing.T) {
	srv := &s3Server{objects: map[string][]byte{}, signer: Signer{AccessKey: "AKID", SecretKey: "secret", Region: "eu-west-1", Service: "s3"}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	env := map[string]string{"AK": "AKID", "SK": "secret"}
	tgt, err := NewTarget(TargetSpec{Kind: KindS3, Endpoint: hs.URL, Bucket: "bkt", Region: "eu-west-1", AccessKeyEnv: "AK", SecretKeyEnv: "SK", PathStyle: true},
		func(k string) string { return env[k] }, hs.Client(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := "user 7/photos/ü ber$1.jpg"
	if err := tgt.Put(ctx, key, []byte("jpeg bytes")); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.objects["/bkt/"+key]; !ok {
		t.Errorf("stored under %v; want /bkt/%s", srv.objects, key)
	}
	b, err := tgt.Get(ctx, key)
	if err != nil || string(b) != "jpeg bytes" {
		t.Fatalf("get: %q, %v", b, err)
	}
	if err := tgt.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := tgt.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v; want ErrNotFound", err)
	}
	if srv.refused != 0 {
		t.Errorf("%d requests refused for their signature", srv.refused)
	}
	// A wrong secret is an error reaching the target, not a lost object.
	bad, _ := NewTarget(TargetSpec{Kind: KindS3, Endpoint: hs.URL, Bucket: "bkt", Region: "eu-west-1", AccessKeyEnv: "AK", SecretKeyEnv: "AK", PathStyle: true},
		func(k string) string { return env[k] }, hs.Client(), 1<<20)
	if _, err := bad.Get(ctx, key); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "403") {
		t.Errorf("get with a wrong secret: %v; want a 403 that is not ErrNotFound", err)
	}
}

func TestAnS3TargetWithoutItsKeysIsRefusedAtStart(t *testing.T) {
	_, err := NewTarget(TargetSpec{Kind: KindS3, Endpoint: "https://s3", Bucket: "bkt", Region: "us-east-1", AccessKeyEnv: "NINES_TEST_UNSET_AK", SecretKeyEnv: "NINES_TEST_UNSET_SK"},
		func(string) string { return "" }, nil, 0)
	if err == nil || !strings.Contains(err.Error(), "NINES_TEST_UNSET_AK") {
		t.Errorf("%v; want an error naming the variables", err)
	}
}

func TestVirtualHostedS3PutsTheBucketInTheHostName(t *testing.T) {
	u, _ := url.Parse("https://s3.eu-west-1.amazonaws.com")
	s := &S3Target{Endpoint: u, Bucket: "bkt"}
	if got := s.url("a b/c").String(); got != "https://bkt.s3.eu-west-1.amazonaws.com/a%20b/c" {
		t.Errorf("got %s", got)
	}
}

func TestBlobTargetSendsItsHeadersAndTellsMissingFromUnreachable(t *testing.T) {
	var seen http.Header
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		switch r.URL.Path {
		case "/base/gone":
			http.NotFound(w, r)
		case "/base/denied":
			http.Error(w, "no", http.StatusForbidden)
		case "/base/big":
			w.Write(make([]byte, 100))
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer hs.Close()
	tgt, err := NewTarget(TargetSpec{Kind: KindBlob, BaseURL: hs.URL + "/base/", Headers: map[string]string{"X-Api-Key": "k"}}, nil, hs.Client(), 10)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if b, err := tgt.Get(ctx, "fine"); err != nil || string(b) != "ok" || seen.Get("X-Api-Key") != "k" {
		t.Errorf("get: %q, %v, headers %v", b, err, seen)
	}
	if _, err := tgt.Get(ctx, "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("404: %v", err)
	}
	if _, err := tgt.Get(ctx, "denied"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("403: %v; want an error that is not ErrNotFound", err)
	}
	if _, err := tgt.Get(ctx, "big"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("100 bytes past a limit of 10: %v", err)
	}
}
