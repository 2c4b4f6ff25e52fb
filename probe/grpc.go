package probe

import (
	"context"
	"crypto/tls"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func (c *Checker) checkGRPC(ctx context.Context, p *GRPC, res *Result) {
	t := newTracker(nil, nil, res)
	defer t.stop()
	creds := insecure.NewCredentials()
	if p.TLS {
		cfg := &tls.Config{RootCAs: p.roots, InsecureSkipVerify: p.TLSInsecure, ServerName: p.ServerName, MinVersion: tls.VersionTLS12}
		creds = credentials.NewTLS(cfg)
	}
	// A connection per check, as for HTTP: the check measures a new
	// client's connect, and holds nothing between checks.
	conn, err := grpc.NewClient("passthrough:///"+p.Address, grpc.WithTransportCredentials(creds))
	if err != nil {
		res.Reason = shortError(err)
		return
	}
	defer conn.Close()
	t.start("rpc")
	out, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: p.Service})
	t.end("rpc")
	if err != nil {
		if ctx.Err() != nil {
			res.Reason = reason(ctx, t, err)
		} else {
			st := status.Convert(err)
			res.Reason = st.Code().String() + ": " + st.Message()
		}
		return
	}
	if out.Status != healthpb.HealthCheckResponse_SERVING {
		res.Reason = "status " + out.Status.String()
		return
	}
	res.OK = true
}
