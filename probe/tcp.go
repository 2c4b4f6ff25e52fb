package probe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"
)

// maxTCPRead bounds what a TCP probe reads while it waits for Expect.
const maxTCPRead = 64 << 10

func (c *Checker) checkTCP(ctx context.Context, p *TCP, res *Result) {
	t := newTracker(nil, nil, res)
	defer t.stop()
	t.start("connect")
	conn, err := c.dialer.DialContext(ctx, network(p.IP), p.Address)
	t.end("connect")
	if err != nil {
		res.Reason = reason(ctx, t, err)
		return
	}
	defer conn.Close()
	// The connection does not watch ctx; its deadline does.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if p.Send != "" {
		t.start("send")
		_, err := io.WriteString(conn, p.Send)
		t.end("send")
		if err != nil {
			res.Reason = reason(ctx, t, err)
			return
		}
	}
	if p.Expect != "" {
		t.start("expect")
		got, err := readUntil(conn, []byte(p.Expect))
		t.end("expect")
		if !got {
			if err == nil || err == io.EOF {
				res.Reason = fmt.Sprintf("answer did not contain %q", p.Expect)
			} else {
				res.Reason = reason(ctx, t, err)
			}
			return
		}
	}
	res.OK = true
}

// readUntil reads from r until want appears, the reader ends or
// maxTCPRead bytes came without it.
func readUntil(r io.Reader, want []byte) (bool, error) {
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	for len(buf) < maxTCPRead {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.Contains(buf, want) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}
