package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// KindEmail sends notifications as e-mail through an SMTP relay.
const KindEmail = "email"

// Email is the SMTP side of an e-mail receiver. The relay is asked for
// STARTTLS whenever it offers it; RequireTLS refuses to send in the clear
// when it does not. A password is only ever sent over TLS (or to a relay
// on localhost), which net/smtp enforces.
type Email struct {
	// Smarthost is the relay, host:port.
	Smarthost string
	From      string
	To        []string
	// Hello is the name given in EHLO (default "localhost").
	Hello string
	// Username and Password authenticate with AUTH PLAIN when Username
	// is set.
	Username, Password string
	RequireTLS         bool
	// RootCAs verify the relay's certificate; nil uses the system's.
	RootCAs *x509.CertPool
}

// emailMessage is the outbox body of an e-mail: what is sent, without
// the credentials, which stay in the receiver's configuration.
type emailMessage struct {
	From    string   `json:"from"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
}

// emailReceiver reads the email: section of a receiver.
func (p *parser) emailReceiver(r *Receiver, n *yaml.Node, path string) {
	e := &Email{Hello: "localhost"}
	r.Email = e
	var hostNode, fromNode, toNode, passNode, passFileNode, caNode *yaml.Node
	p.fields(n, path, func(key string, k, v *yaml.Node) bool {
		switch key {
		case "smarthost":
			hostNode = v
		case "from":
			fromNode = v
		case "to":
			toNode = v
		case "hello":
			e.Hello, _ = p.scalar(v, path+".hello")
			if e.Hello == "" || strings.ContainsAny(e.Hello, " \r\n") {
				p.errorf(v, path+".hello", "%q: want a host name", e.Hello)
			}
		case "auth_username":
			e.Username, _ = p.scalar(v, path+".auth_username")
		case "auth_password":
			passNode = v
		case "auth_password_file":
			passFileNode = v
		case "require_tls":
			e.RequireTLS = p.boolean(v, path+".require_tls")
		case "ca_file":
			caNode = v
		default:
			return false
		}
		return true
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if hostNode == nil {
		p.errorf(n, path+".smarthost", "missing: give the relay as host:port, such as smtp.example.com:587")
	} else if s, ok := p.scalar(hostNode, path+".smarthost"); ok {
		host, port, err := net.SplitHostPort(s)
		pn, perr := strconv.Atoi(port)
		switch {
		case err != nil || host == "":
			p.errorf(hostNode, path+".smarthost", "%q: want host:port, such as smtp.example.com:587", s)
		case perr != nil || pn < 1 || pn > 65535:
			p.errorf(hostNode, path+".smarthost", "%q: port out of range", s)
		default:
			e.Smarthost = s
		}
	}
	if fromNode == nil {
		p.errorf(n, path+".from", "missing: give the sender's address")
	} else {
		e.From = p.address(fromNode, path+".from")
	}
	switch {
	case toNode == nil:
		p.errorf(n, path+".to", "missing: give an address or a list of them")
	case toNode.Kind == yaml.SequenceNode:
		for i, an := range toNode.Content {
			if a := p.address(an, fmt.Sprintf("%s.to[%d]", path, i)); a != "" {
				e.To = append(e.To, a)
			}
		}
		if len(toNode.Content) == 0 {
			p.errorf(toNode, path+".to", "empty: give at least one address")
		}
	default:
		if a := p.address(toNode, path+".to"); a != "" {
			e.To = []string{a}
		}
	}
	switch {
	case e.Username != "" && passNode == nil && passFileNode == nil:
		p.errorf(n, path+".auth_password", "missing: auth_username needs auth_password or auth_password_file")
	case e.Username == "" && (passNode != nil || passFileNode != nil):
		p.errorf(n, path+".auth_username", "missing: a password needs its user name")
	case e.Username != "":
		e.Password, _ = p.secret(n, path+".auth_password", passNode, passFileNode)
	}
	if caNode != nil {
		name, ok := p.scalar(caNode, path+".ca_file")
		if ok && p.readFile == nil {
			p.errorf(caNode, path+".ca_file", "files cannot be read here")
		} else if ok {
			b, err := p.readFile(name)
			pool := x509.NewCertPool()
			switch {
			case err != nil:
				p.errorf(caNode, path+".ca_file", "%v", err)
			case !pool.AppendCertsFromPEM(b):
				p.errorf(caNode, path+".ca_file", "%s holds no PEM certificate", name)
			default:
				e.RootCAs = pool
			}
		}
	}
	r.URL = "smtp://" + e.Smarthost
}

// address reads one e-mail address, bare (ops@example.com) or with a name.
func (p *parser) address(n *yaml.Node, field string) string {
	s, ok := p.scalar(n, field)
	if !ok {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		p.errorf(n, field, "%q: %v: want an address such as ops@example.com", s, err)
		return ""
	}
	return a.String()
}

// renderEmail writes a notification as one e-mail: the group as the
// subject, each alert's summary, description and labels in the text.
func renderEmail(r *Receiver, n *Notification, externalURL string) (Request, error) {
	if r.Email == nil {
		return Request{}, fmt.Errorf("receiver %s: no e-mail settings", r.Name)
	}
	var subject string
	firing := 0
	for i := range n.Alerts {
		if !n.Alerts[i].Resolved() {
			firing++
		}
	}
	if s := n.commonAnnotation("subject"); s != "" {
		subject = s
	} else if firing > 0 {
		subject = fmt.Sprintf("[FIRING:%d] %s", firing, groupTitle(n))
	} else {
		subject = "[RESOLVED] " + groupTitle(n)
	}
	// A header holds one line: a label value cannot add headers.
	subject = strings.Join(strings.Fields(subject), " ")
	var b strings.Builder
	for i, a := range n.Alerts {
		if i > 0 {
			b.WriteString("\n")
		}
		// Alerts say whether they fire; a report (no severity) does not.
		if a.Labels["severity"] != "" {
			fmt.Fprintf(&b, "%s (%s)\n", a.Annotations["summary"], a.Status())
		} else {
			fmt.Fprintf(&b, "%s\n", a.Annotations["summary"])
		}
		if d := a.Annotations["description"]; d != "" {
			fmt.Fprintf(&b, "\n%s\n", d)
		}
		b.WriteString("\n")
		for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
			fmt.Fprintf(&b, "  %s = %s\n", k, a.Labels[k])
		}
		if a.GeneratorURL != "" {
			fmt.Fprintf(&b, "\n%s\n", a.GeneratorURL)
		}
	}
	if externalURL != "" {
		fmt.Fprintf(&b, "\n-- \nnines at %s\n", externalURL)
	}
	body, err := json.Marshal(emailMessage{From: r.Email.From, To: r.Email.To, Subject: subject, Text: b.String()})
	if err != nil {
		return Request{}, fmt.Errorf("receiver %s: %w", r.Name, err)
	}
	return Request{URL: r.URL, Body: body}, nil
}

// commonAnnotation is the value of annotation k when every alert has the
// same one.
func (n *Notification) commonAnnotation(k string) string {
	if len(n.Alerts) == 0 {
		return ""
	}
	v := n.Alerts[0].Annotations[k]
	for _, a := range n.Alerts[1:] {
		if a.Annotations[k] != v {
			return ""
		}
	}
	return v
}

// smtpError is a relay's refusal: a 5xx reply is permanent (a dead
// letter at once), a 4xx one transient (retried).
type smtpError struct {
	code int
	msg  string
}

func (e *smtpError) Error() string { return fmt.Sprintf("SMTP %d %s", e.code, e.msg) }

func (e *smtpError) permanent() bool { return e.code >= 500 }

// sendEmail delivers an e-mail outbox request through the receiver's
// relay. It returns 250, the SMTP reply for a message taken, when the
// relay accepted it; a refusal is an *smtpError.
func sendEmail(ctx context.Context, timeout time.Duration, r *Receiver, req *Request, now time.Time) (int, error) {
	if r == nil || r.Email == nil {
		return 0, errors.New("the e-mail receiver is no longer configured")
	}
	var m emailMessage
	if err := json.Unmarshal(req.Body, &m); err != nil {
		return 0, fmt.Errorf("reading the e-mail to send: %w", err)
	}
	e := r.Email
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", e.Smarthost)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	// The deadline bounds a relay that stops answering mid-dialogue; the
	// context closes the connection when the caller gives up.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	host, _, _ := net.SplitHostPort(e.Smarthost)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return 0, smtpFailure(ctx, timeout, err)
	}
	defer c.Close()
	if err := c.Hello(e.Hello); err != nil {
		return 0, smtpFailure(ctx, timeout, err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, RootCAs: e.RootCAs, MinVersion: tls.VersionTLS12}); err != nil {
			return 0, smtpFailure(ctx, timeout, fmt.Errorf("STARTTLS: %w", err))
		}
	} else if e.RequireTLS {
		return 0, &smtpError{code: 530, msg: "the relay offers no STARTTLS and require_tls is set"}
	}
	if e.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return 0, &smtpError{code: 530, msg: "the relay offers no AUTH but auth_username is set"}
		}
		if err := c.Auth(smtp.PlainAuth("", e.Username, e.Password, host)); err != nil {
			return 0, smtpFailure(ctx, timeout, fmt.Errorf("AUTH: %w", err))
		}
	}
	if err := c.Mail(addrSpec(m.From)); err != nil {
		return 0, smtpFailure(ctx, timeout, err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(addrSpec(to)); err != nil {
			return 0, smtpFailure(ctx, timeout, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return 0, smtpFailure(ctx, timeout, err)
	}
	if _, err := w.Write(emailBytes(&m, now)); err != nil {
		return 0, smtpFailure(ctx, timeout, err)
	}
	if err := w.Close(); err != nil {
		return 0, smtpFailure(ctx, timeout, err)
	}
	_ = c.Quit() // the message is taken once DATA is answered
	return 250, nil
}

// smtpFailure turns a relay's reply into an *smtpError and a timeout
// into one the outbox retries.
func smtpFailure(ctx context.Context, timeout time.Duration, err error) error {
	var te *textproto.Error
	switch {
	case errors.As(err, &te):
		return &smtpError{code: te.Code, msg: te.Msg}
	case ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("no answer within %s: %w", timeout, context.DeadlineExceeded)
	}
	return err
}

// addrSpec is the bare address of a parsed one, for MAIL FROM and RCPT TO.
func addrSpec(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

// emailBytes is the message as RFC 5322 text: UTF-8, quoted-printable,
// CRLF line ends (the SMTP client dot-stuffs it).
func emailBytes(m *emailMessage, now time.Time) []byte {
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", m.From)
	hdr("To", strings.Join(m.To, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(m.Text, "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}
