package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The expected Authorization headers are AWS's published ones: the
// Signature Version 4 test suite (get-vanilla and its neighbours,
// credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service
// "service") and the worked examples of the Amazon S3 API Reference,
// "Signature Calculations for the Authorization Header: Transferring
// Payload in a Single Chunk" (examplebucket, 2013-05-24).
func TestSignatureMatchesAWSPublishedExamples(t *testing.T) {
	suite := Signer{AccessKey: "AKIDEXAMPLE", SecretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", Region: "us-east-1", Service: "service"}
	s3 := Signer{AccessKey: "AKIAIOSFODNN7EXAMPLE", SecretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Region: "us-east-1", Service: "s3"}
	suiteAt := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	s3At := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	hash := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	cases := []struct {
		name    string
		signer  Signer
		at      time.Time
		method  string
		url     string
		headers [][2]string
		payload string
		want    string
	}{
		{"get-vanilla from the test suite", suite, suiteAt, "GET", "https://example.amazonaws.com/", nil, "",
			"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case sorts the query", suite, suiteAt, "GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", nil, "",
			"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"post-vanilla from the test suite", suite, suiteAt, "POST", "https://example.amazonaws.com/", nil, "",
			"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{"get-utf8 encodes a non-ASCII path", suite, suiteAt, "GET", "https://example.amazonaws.com/\u1234", nil, "",
			"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
		{"the S3 GET Object example signs a range", s3, s3At, "GET", "https://examplebucket.s3.amazonaws.com/test.txt", [][2]string{{"Range", "bytes=0-9"}}, "",
			"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
		{"the S3 PUT Object example signs a body, a $ in the key and a Date", s3, s3At, "PUT", "https://examplebucket.s3.amazonaws.com/test$file.text",
			[][2]string{{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"X-Amz-Storage-Class", "REDUCED_REDUNDANCY"}}, "Welcome to Amazon S3.",
			"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, c.url, strings.NewReader(c.payload))
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range c.headers {
				req.Header.Set(h[0], h[1])
			}
			c.signer.Sign(req, hash(c.payload), c.at)
			if got := req.Header.Get("Authorization"); got != c.want {
				creq, _ := c.signer.canonicalRequest(req, hash(c.payload))
				t.Errorf("Authorization\n got %s\nwant %s\ncanonical request:\n%s", got, c.want, creq)
			}
		})
	}
}
