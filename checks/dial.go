package checks

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"time"
)

// net/http dials on a context detached from the request's cancellation
// (a later request may use the connection), and its own TLS handshake has
// no deadline unless TLSHandshakeTimeout is set. A port that accepts TCP
// and never answers the ClientHello then keeps a socket and goroutines of
// every run for ever. The engine's dials and handshakes therefore end with
// the step that started them: the step's context rides along as a value,
// which the detached context keeps.

// stepKey is the context key of the step context that bounds dials.
type stepKey struct{}

// requestContext is the context of a step's request: the step's context,
// which the dials of the request find under stepKey, and the request's
// phase timer, in one allocation.
type requestContext struct {
	context.Context
	timer phaseTimer
}

// Value returns the step's context for stepKey.
func (c *requestContext) Value(key any) any {
	if key == (stepKey{}) {
		return c.Context
	}
	return c.Context.Value(key)
}

// boundByStep returns ctx, cancelled also when the step that started the
// dial ends (its deadline passed, the run was interrupted or it finished
// with another connection).
func boundByStep(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	step, _ := ctx.Value(stepKey{}).(context.Context)
	if step == nil {
		return ctx, cancel
	}
	stop := context.AfterFunc(step, cancel)
	return ctx, func() { stop(); cancel() }
}

// handshakeBackstop bounds a TLS handshake whatever the step's deadline
// (net/http's DefaultTransport uses the same): a real handshake takes
// milliseconds, and it also bounds the handshake after a proxy's CONNECT,
// which net/http does itself.
const handshakeBackstop = 10 * time.Second

// boundedDialer dials TCP and TLS within the step's context.
type boundedDialer struct {
	net.Dialer
	// tr is the transport whose TLS configuration the handshake uses (as
	// net/http completes it: "h2" in NextProtos).
	tr *http.Transport
}

// DialContext dials TCP; a cancelled dial closes its socket (net.Dialer).
func (d *boundedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := boundByStep(ctx)
	defer cancel()
	return d.Dialer.DialContext(ctx, network, addr)
}

// DialTLSContext dials TCP and completes the TLS handshake within the
// step's context and handshakeBackstop, closing the socket when either
// ends first. It reports the handshake to the request's trace, as net/http
// does for its own.
func (d *boundedDialer) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := boundByStep(ctx)
	defer cancel()
	raw, err := d.Dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := d.tr.TLSClientConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	conn := tls.Client(raw, cfg)
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.TLSHandshakeStart != nil {
		trace.TLSHandshakeStart()
	}
	hctx, hcancel := context.WithTimeout(ctx, handshakeBackstop)
	defer hcancel()
	err = conn.HandshakeContext(hctx)
	if trace != nil && trace.TLSHandshakeDone != nil {
		var cs tls.ConnectionState
		if err == nil {
			cs = conn.ConnectionState()
		}
		trace.TLSHandshakeDone(cs, err)
	}
	if err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

// newTransport returns the transport of a client: dials and handshakes
// bounded by the step (see boundedDialer). There is no
// ResponseHeaderTimeout: the request's own context bounds the wait for a
// response and closes the connection, and transports are shared by checks
// of every timeout, so a fixed one would cut the long ones short.
func newTransport(tlsConfig *tls.Config) *http.Transport {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   handshakeBackstop,
		ExpectContinueTimeout: time.Second,
		// A monitor should see the bytes on the wire, not a transparently
		// decompressed body with Content-Length removed.
		DisableCompression: true,
		TLSClientConfig:    tlsConfig,
	}
	d := &boundedDialer{Dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}, tr: tr}
	tr.DialContext = d.DialContext
	tr.DialTLSContext = d.DialTLSContext
	return tr
}
