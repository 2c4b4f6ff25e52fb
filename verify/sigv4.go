package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Signer signs requests with AWS Signature Version 4 in the
// Authorization header, as AWS documents it ("Signature Calculations for
// the Authorization Header: Transferring Payload in a Single Chunk",
// Amazon S3 API Reference). nines writes its own rather than take the
// SDK: the verifier needs PUT, GET and DELETE of one object, and the
// published test vectors prove the signature (sigv4_test.go).
type Signer struct {
	AccessKey, SecretKey string
	// SessionToken, when set, is sent as X-Amz-Security-Token (temporary
	// credentials).
	SessionToken string
	Region       string
	// Service is "s3" for S3; the signature test suite uses "service".
	Service string
}

// EmptySHA256 is the hex SHA-256 of no bytes, the payload hash of a GET.
const EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

const amzDate = "20060102T150405Z"

// unsignedHeaders are headers a proxy or the transport may change on the
// way, so signing them would break the signature.
var unsignedHeaders = map[string]bool{
	"authorization": true, "user-agent": true, "content-length": true, "connection": true,
	"expect": true, "accept-encoding": true, "transfer-encoding": true, "x-amzn-trace-id": true,
}

// Sign sets X-Amz-Date (and, for S3, X-Amz-Content-Sha256) and the
// Authorization header of req. payloadHash is the hex SHA-256 of the
// body. Every header req holds is signed but those a transport may
// change (User-Agent, Content-Length, …), and the host.
func (s Signer) Sign(req *http.Request, payloadHash string, now time.Time) {
	now = now.UTC()
	req.Header.Set("X-Amz-Date", now.Format(amzDate))
	if s.Service == "s3" {
		req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	if s.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", s.SessionToken)
	}
	creq, signed := s.canonicalRequest(req, payloadHash)
	day := now.Format("20060102")
	scope := day + "/" + s.Region + "/" + s.Service + "/aws4_request"
	sum := sha256.Sum256([]byte(creq))
	sts := "AWS4-HMAC-SHA256\n" + now.Format(amzDate) + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+s.SecretKey), day)
	key = hmacSHA256(key, s.Region)
	key = hmacSHA256(key, s.Service)
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, sts))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.AccessKey+"/"+scope+", SignedHeaders="+signed+", Signature="+sig)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalRequest is the canonical request of req and its signed
// headers' names.
func (s Signer) canonicalRequest(req *http.Request, payloadHash string) (string, string) {
	var b strings.Builder
	b.WriteString(req.Method)
	b.WriteByte('\n')
	path := req.URL.Path
	if path == "" {
		path = "/"
	}
	b.WriteString(uriEncode(path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(req.URL.Query()))
	b.WriteByte('\n')
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	headers := map[string][]string{"host": {host}}
	for k, vs := range req.Header {
		lk := strings.ToLower(k)
		if unsignedHeaders[lk] || lk == "host" {
			continue
		}
		headers[lk] = append(headers[lk], vs...)
	}
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		vals := make([]string, len(headers[k]))
		for i, v := range headers[k] {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(k + ":" + strings.Join(vals, ",") + "\n")
	}
	b.WriteByte('\n')
	signed := strings.Join(names, ";")
	b.WriteString(signed)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String(), signed
}

func canonicalQuery(q url.Values) string {
	type kv struct{ k, v string }
	var all []kv
	for k, vs := range q {
		for _, v := range vs {
			all = append(all, kv{uriEncode(k, true), uriEncode(v, true)})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].k != all[j].k {
			return all[i].k < all[j].k
		}
		return all[i].v < all[j].v
	})
	parts := make([]string, len(all))
	for i, p := range all {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// uriEncode is SigV4's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ as
// %XX with upper-case hex, and the slash too when encodeSlash (query
// parts) but not in a path.
func uriEncode(s string, encodeSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
		}
	}
	return b.String()
}
