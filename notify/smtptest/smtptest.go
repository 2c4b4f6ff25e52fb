// Package smtptest is a small SMTP relay for tests: it takes mail on a
// local port, offers STARTTLS and AUTH PLAIN when asked to, and keeps
// what it received.
package smtptest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one mail the relay took.
type Message struct {
	From    string
	To      []string
	Subject string
	Header  mail.Header
	// Text is the body, quoted-printable decoded.
	Text string
	// TLS: the mail came over STARTTLS; User: the AUTH PLAIN user.
	TLS  bool
	User string
}

// Server is a running relay.
type Server struct {
	Addr string
	// CAPEM is the certificate the relay presents, to trust it.
	CAPEM []byte
	// RejectRcpt refuses these recipients with 550.
	RejectRcpt map[string]bool

	ln       net.Listener
	tlsConf  *tls.Config
	startTLS bool
	password string // AUTH PLAIN is offered when set

	mu   sync.Mutex
	msgs []Message
	wg   sync.WaitGroup
}

// Options choose what the relay offers.
type Options struct {
	StartTLS bool
	// User and Password enable AUTH PLAIN with these credentials.
	User, Password string
}

// Start runs a relay on 127.0.0.1 until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, startTLS: o.StartTLS, RejectRcpt: map[string]bool{}}
	if o.Password != "" {
		s.password = "\x00" + o.User + "\x00" + o.Password
	}
	if o.StartTLS {
		cert, caPEM, err := selfSigned()
		if err != nil {
			t.Fatal(err)
		}
		s.tlsConf, s.CAPEM = &tls.Config{Certificates: []tls.Certificate{cert}}, caPEM
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// Messages returns what the relay took so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			s.session(c)
		}()
	}
}

func (s *Server) session(c net.Conn) {
	r, w := bufio.NewReader(c), c
	reply := func(format string, args ...any) { fmt.Fprintf(w, format+"\r\n", args...) }
	reply("220 smtptest ready")
	var m Message
	secure := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			fmt.Fprintf(w, "250-smtptest\r\n")
			if s.startTLS && !secure {
				fmt.Fprintf(w, "250-STARTTLS\r\n")
			}
			if s.password != "" {
				fmt.Fprintf(w, "250-AUTH PLAIN\r\n")
			}
			reply("250 8BITMIME")
		case "STARTTLS":
			reply("220 go ahead")
			tc := tls.Server(c, s.tlsConf)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, r, w, secure = tc, bufio.NewReader(tc), tc, true
		case "AUTH":
			f := strings.Fields(arg)
			if len(f) != 2 || f[0] != "PLAIN" {
				reply("504 only AUTH PLAIN with an initial response")
				continue
			}
			b, _ := base64.StdEncoding.DecodeString(f[1])
			if string(b) != s.password {
				reply("535 authentication failed")
				continue
			}
			m.User = strings.Split(string(b), "\x00")[1]
			reply("235 ok")
		case "MAIL":
			m.From = path(arg)
			reply("250 ok")
		case "RCPT":
			to := path(arg)
			if s.RejectRcpt[to] {
				reply("550 5.1.1 no such user")
				continue
			}
			m.To = append(m.To, to)
			reply("250 ok")
		case "DATA":
			reply("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.TLS = secure
			if msg, err := mail.ReadMessage(strings.NewReader(b.String())); err == nil {
				m.Header = msg.Header
				m.Subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
				text, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
				m.Text = strings.ReplaceAll(string(text), "\r\n", "\n")
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			m = Message{User: m.User}
			reply("250 queued")
		case "RSET":
			m = Message{User: m.User}
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// path is the address of "FROM:<a@b> BODY=8BITMIME" or "TO:<a@b>".
func path(arg string) string {
	_, p, _ := strings.Cut(arg, "<")
	p, _, _ = strings.Cut(p, ">")
	return p
}
