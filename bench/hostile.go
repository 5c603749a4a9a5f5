package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// The hostile targets of the soak: loopback servers that misbehave the
// way real ones do, in a child process of their own (role "hostile") so
// that their goroutines and sockets are never counted against the
// daemon. Every connection ends by itself (hostileConnLife) even if the
// client never closes it.

// hostileKind is one way of misbehaving.
type hostileKind struct {
	name string
	// scheme is how a check reaches it: https for the TLS stall.
	scheme string
	serve  func(net.Conn)
}

// hostileKinds are the misbehaving targets, in the order the soak spreads
// its hostile checks over them.
var hostileKinds = []hostileKind{
	{name: "hang", scheme: "http", serve: serveHang},
	{name: "reset", scheme: "http", serve: serveReset},
	{name: "slowbody", scheme: "http", serve: serveSlowBody},
	{name: "tlsstall", scheme: "https", serve: serveHang},
	{name: "lielong", scheme: "http", serve: serveLie(1<<20, `{"id":1`)},
	{name: "lieshort", scheme: "http", serve: serveLie(2, `{"id":1,"title":"more than announced"}`)},
}

const (
	// hostileConnLife bounds every connection of a hostile server.
	hostileConnLife = 60 * time.Second
	// hostileMaxConns bounds the connections a hostile server holds at
	// once; more are closed as they arrive.
	hostileMaxConns = 4096
	// maxRequestHead bounds the request head a hostile server reads.
	maxRequestHead = 16 << 10
	// slowBodyEvery is the pace of the slow body: one byte per tick.
	slowBodyEvery = 300 * time.Millisecond
)

// serveHostile is the child side: one listener per kind on 127.0.0.1,
// their addresses as one line of JSON ({"hang": "127.0.0.1:port", ...}),
// then serve until stdin closes or the child's life ends.
func serveHostile() error {
	addrs := map[string]string{}
	for _, k := range hostileKinds {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		addrs[k.name] = l.Addr().String()
		go acceptHostile(l, k.serve)
	}
	if err := json.NewEncoder(os.Stdout).Encode(addrs); err != nil {
		return err
	}
	// Until the parent closes stdin, or childLife if it never does.
	ctx, cancel := stdinContext(childLife())
	defer cancel()
	<-ctx.Done()
	return nil
}

// acceptHostile serves each connection of l with serve, under
// hostileConnLife and hostileMaxConns, until l is closed.
func acceptHostile(l net.Listener, serve func(net.Conn)) {
	var open atomic.Int64
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if open.Add(1) > hostileMaxConns {
			open.Add(-1)
			c.Close()
			continue
		}
		go func() {
			defer open.Add(-1)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(hostileConnLife))
			serve(c)
		}()
	}
}

// serveHang accepts and never answers: it reads whatever comes (a
// request, or a TLS ClientHello) until the client goes away.
func serveHang(c net.Conn) {
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<20))
}

// serveReset reads the request and resets the connection (SO_LINGER 0:
// close sends RST instead of FIN).
func serveReset(c net.Conn) {
	if readRequestHead(c) != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// serveSlowBody sends the headers at once and the body one byte every
// slowBodyEvery: about 20 s for all of it, far past any check's timeout.
func serveSlowBody(c net.Conn) {
	if readRequestHead(c) != nil {
		return
	}
	body := `{"id":1,"title":"a body that takes its time to arrive......"}`
	if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body)); err != nil {
		return
	}
	t := time.NewTicker(slowBodyEvery)
	defer t.Stop()
	for i := range len(body) {
		<-t.C
		if _, err := c.Write([]byte{body[i]}); err != nil {
			return
		}
	}
}

// serveLie announces a Content-Length of length, sends body (shorter or
// longer than announced) and closes the connection.
func serveLie(length int, body string) func(net.Conn) {
	return func(c net.Conn) {
		if readRequestHead(c) != nil {
			return
		}
		_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", length, body)
	}
}

// readRequestHead reads up to the blank line that ends a request's head,
// at most maxRequestHead bytes.
func readRequestHead(c net.Conn) error {
	r := bufio.NewReader(io.LimitReader(c, maxRequestHead))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" || line == "\n" {
			return nil
		}
	}
}

// startHostile starts the hostile targets in a child and returns their
// addresses by kind.
func startHostile(life time.Duration) (map[string]string, *child, error) {
	c, err := startChild(nil, "-role=hostile", "-life="+life.String())
	if err != nil {
		return nil, nil, err
	}
	line, err := c.line(30 * time.Second)
	addrs := map[string]string{}
	if err == nil {
		err = json.Unmarshal([]byte(line), &addrs)
	}
	if err == nil && len(addrs) != len(hostileKinds) {
		err = fmt.Errorf("%d addresses, want %d", len(addrs), len(hostileKinds))
	}
	if err != nil {
		c.stop()
		return nil, nil, fmt.Errorf("hostile targets: %q: %w", line, err)
	}
	return addrs, c, nil
}
