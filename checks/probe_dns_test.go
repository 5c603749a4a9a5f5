package checks

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsTestServer is miekg/dns's own server on one loopback port, over UDP
// and TCP; it records the queries it gets.
type dnsTestServer struct {
	addr    string
	mu      sync.Mutex
	queries []dnsQuery
}

type dnsQuery struct {
	net string
	msg *dns.Msg
}

// startDNS serves h on 127.0.0.1, UDP and TCP on the same port, until the
// test ends.
func startDNS(t *testing.T, h func(w dns.ResponseWriter, q *dns.Msg)) *dnsTestServer {
	t.Helper()
	ts := &dnsTestServer{}
	record := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		ts.mu.Lock()
		ts.queries = append(ts.queries, dnsQuery{w.RemoteAddr().Network(), q.Copy()})
		ts.mu.Unlock()
		h(w, q)
	})
	var pc net.PacketConn
	var ln net.Listener
	for attempt := 0; ln == nil; attempt++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			pc.Close()
			if attempt == 20 {
				t.Fatalf("no port free for both UDP and TCP: %v", err)
			}
		}
	}
	ts.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: record}, {Listener: ln, Handler: record}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("the dns test server did not start")
		}
		t.Cleanup(func() { srv.Shutdown() })
	}
	return ts
}

func (ts *dnsTestServer) last() dnsQuery {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.queries[len(ts.queries)-1]
}

func (ts *dnsTestServer) nets() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var ns []string
	for _, q := range ts.queries {
		ns = append(ns, q.net)
	}
	return strings.Join(ns, ",")
}

// testZone answers for a few names, as an authoritative server would.
func testZone(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	name, qt := strings.ToLower(q.Question[0].Name), q.Question[0].Qtype
	rr := func(s string) {
		r, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		if r.Header().Rrtype == qt || r.Header().Rrtype == dns.TypeCNAME {
			m.Answer = append(m.Answer, r)
		}
	}
	switch name {
	case "probe.test.":
		rr("probe.test. 300 IN A 127.0.0.42")
		rr("probe.test. 300 IN A 127.0.0.43")
		rr("probe.test. 300 IN AAAA ::42")
		rr("probe.test. 300 IN MX 10 mail.probe.test.")
		rr(`probe.test. 300 IN TXT "v=spf1 " "ip4:127.0.0.0/8 -all"`)
		rr("probe.test. 300 IN NS ns1.probe.test.")
		rr(`probe.test. 300 IN CAA 0 issue "letsencrypt.org"`)
	case "_imap._tcp.probe.test.":
		rr("_imap._tcp.probe.test. 300 IN SRV 10 5 143 mail.probe.test.")
	case "www.probe.test.":
		rr("www.probe.test. 300 IN CNAME probe.test.")
		if qt == dns.TypeA {
			rr("probe.test. 300 IN A 127.0.0.42")
		}
	case "txt.probe.test.":
		rr(`txt.probe.test. 300 IN TXT "a \"quoted\" \\ word" "; ok\033"`)
	case "signed.test.":
		m.AuthenticatedData = true
		rr("signed.test. 300 IN A 127.0.0.7")
	case "big.test.":
		for i := range 100 {
			rr(fmt.Sprintf("big.test. 300 IN A 127.0.1.%d", i))
		}
	default:
		m.Rcode = dns.RcodeNameError
		soa, _ := dns.NewRR("test. 300 IN SOA ns1.test. admin.test. 1 3600 600 86400 300")
		m.Ns = append(m.Ns, soa)
	}
	if w.RemoteAddr().Network() == "udp" {
		size := dns.MinMsgSize
		if o := q.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// Rule: a dns step asks its server for the name and type it sets; each
// type's record data is what answers compare (an address, a target,
// "pref host", the TXT strings joined, "prio weight port target",
// "flag tag value"), and the answer is the body as JSON.
func TestDNSProbeAnswersByType(t *testing.T) {
	ts := startDNS(t, testZone)
	for _, tc := range []struct{ name, typ, want string }{
		{"probe.test", "A", "127.0.0.42"},
		{"probe.test", "AAAA", "::42"},
		{"probe.test", "MX", "10 mail.probe.test."},
		{"probe.test", "TXT", "v=spf1 ip4:127.0.0.0/8 -all"},
		{"probe.test", "NS", "ns1.probe.test."},
		{"probe.test", "CAA", "0 issue letsencrypt.org"},
		{"_imap._tcp.probe.test", "SRV", "10 5 143 mail.probe.test."},
		{"www.probe.test", "CNAME", "probe.test."},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			c := loadCheck(t, `
checks:
  - name: d
    steps:
      - name: q
        dns: { name: `+tc.name+`, type: `+tc.typ+`, server: "`+ts.addr+`", timeout: 5s }
        expect: { rcode: NOERROR, answers: { includes: "`+tc.want+`", count: 1 } }
`)
			res := runCheck(t, c)
			if tc.typ == "A" {
				// Two A records.
				if res.Passed || !strings.Contains(res.Message, "dns answers count: expected 1, got 2") {
					t.Fatalf("got %v %q", res.Passed, res.Message)
				}
				return
			}
			if !res.Passed {
				t.Fatalf("failed: %s %s", res.Reason, res.Message)
			}
			s := res.Steps()[0]
			if s.Kind != "dns" || s.Request.Method != "DNS" || s.Request.URL != "dns://"+ts.addr+"/"+tc.name+"?type="+tc.typ {
				t.Errorf("request: %q %+v", s.Kind, s.Request)
			}
			if s.Response == nil || s.Response.Proto != "DNS/UDP" || s.Response.Line != "NOERROR, 1 answer" {
				t.Errorf("response: %+v", s.Response)
			}
			var body dnsAnswer
			if err := json.Unmarshal([]byte(s.Response.Body), &body); err != nil {
				t.Fatalf("body %q: %v", s.Response.Body, err)
			}
			if body.Rcode != "NOERROR" || len(body.Answers) != 1 || body.Answers[0] != tc.want || body.Question.Type != tc.typ ||
				len(body.Records) != 1 || body.Records[0].TTL != 300 || body.Records[0].Type != tc.typ {
				t.Errorf("body: %s", s.Response.Body)
			}
			if s.Timings.Total <= 0 || s.Timings.FirstByte <= 0 || s.Timings.FirstByte > s.Timings.Total {
				t.Errorf("timings: %+v", s.Timings)
			}
		})
	}
}

// Rule: a TXT record's data is the text it holds: its strings joined, the
// escapes of the presentation format undone.
func TestDNSProbeTXTIsTheRecordsText(t *testing.T) {
	ts := startDNS(t, testZone)
	c := loadCheck(t, `
checks:
  - name: d
    steps:
      - dns: { name: txt.probe.test, type: TXT, server: "`+ts.addr+`" }
        expect: { answers: { equals: ['a "quoted" \ word; ok!'] } }
`)
	if res := runCheck(t, c); !res.Passed {
		t.Fatalf("%s %s", res.Reason, res.Message)
	}
}

// Rule: answers holds the data of the records of the asked type only;
// the body's records hold the whole answer section (the CNAME too).
func TestDNSProbeAnswersAreOfTheAskedType(t *testing.T) {
	ts := startDNS(t, testZone)
	c := loadCheck(t, `
checks:
  - name: d
    steps:
      - dns: { name: www.probe.test, server: "`+ts.addr+`" }
        expect:
          answers: { equals: ["127.0.0.42"] }
          json: { "$.records[0].type": CNAME, "$.records[0].data": probe.test., "$.records[1].type": A }
`)
	if res := runCheck(t, c); !res.Passed {
		t.Fatalf("failed: %s %s\n%s", res.Reason, res.Message, res.Steps()[0].Response.Body)
	}
}

// Rule: the query sets RD, AD and (in EDNS) DO, so that a validating
// resolver says whether it validated; authenticated asserts the AD bit of
// the answer.
func TestDNSProbeAuthenticated(t *testing.T) {
	ts := startDNS(t, testZone)
	c := loadChecks(t, `
checks:
  - name: signed
    steps:
      - dns: { name: signed.test, server: "`+ts.addr+`" }
        expect: { authenticated: true }
  - name: unsigned
    steps:
      - dns: { name: probe.test, server: "`+ts.addr+`" }
        expect: { authenticated: true }
`)
	res := runCheck(t, c[0])
	if !res.Passed || res.Steps()[0].Response.Line != "NOERROR, 1 answer, authenticated" {
		t.Fatalf("signed: %s %s %+v", res.Reason, res.Message, res.Steps()[0].Response)
	}
	q := ts.last().msg
	if !q.RecursionDesired || !q.AuthenticatedData || q.IsEdns0() == nil || !q.IsEdns0().Do() {
		t.Errorf("query flags: rd %v ad %v edns %v", q.RecursionDesired, q.AuthenticatedData, q.IsEdns0())
	}
	res = runCheck(t, c[1])
	if res.Passed || res.Reason != ReasonAssertion || res.Steps()[0].Message != "dns authenticated: expected true, got false" {
		t.Fatalf("unsigned: %v %s %q", res.Passed, res.Reason, res.Message)
	}
}

// Rule: an NXDOMAIN is an answer, not a failure to get one: a step that
// sets no rcode expects NOERROR and fails its assertion (reason
// assertion, never dns); one that sets rcode NXDOMAIN passes.
func TestDNSProbeRcode(t *testing.T) {
	ts := startDNS(t, testZone)
	cs := loadChecks(t, `
checks:
  - name: default
    steps:
      - dns: { name: missing.test, server: "`+ts.addr+`" }
  - name: nxdomain
    steps:
      - dns: { name: missing.test, server: "`+ts.addr+`" }
        expect: { rcode: NXDOMAIN, answers: { count: 0 }, json: { "$.authority[0].type": SOA } }
  - name: in
    steps:
      - dns: { name: probe.test, server: "`+ts.addr+`" }
        expect: { rcode: { in: [NXDOMAIN, SERVFAIL] } }
`)
	res := runCheck(t, cs[0])
	if res.Passed || res.Reason != ReasonAssertion || res.Steps()[0].Message != `dns rcode: expected "NOERROR", got "NXDOMAIN"` {
		t.Errorf("default: %v %s %q", res.Passed, res.Reason, res.Message)
	}
	if l := res.Steps()[0].Response.Line; l != "NXDOMAIN, 0 answers" {
		t.Errorf("line %q", l)
	}
	if res := runCheck(t, cs[1]); !res.Passed {
		t.Errorf("nxdomain: %s %s", res.Reason, res.Message)
	}
	if res := runCheck(t, cs[2]); res.Passed || !strings.Contains(res.Message, `dns rcode: expected one of ["NXDOMAIN","SERVFAIL"], got "NOERROR"`) {
		t.Errorf("in: %v %q", res.Passed, res.Message)
	}
}

// Rule: matches on answers holds when some answer matches (a list has no
// text of its own); a failure shows every answer.
func TestDNSProbeAnswersMatches(t *testing.T) {
	ts := startDNS(t, testZone)
	cs := loadChecks(t, `
checks:
  - name: some
    steps:
      - dns: { name: probe.test, server: "`+ts.addr+`" }
        expect: { answers: { matches: '^127\.0\.0\.43$', count: 2 } }
  - name: none
    steps:
      - dns: { name: probe.test, server: "`+ts.addr+`" }
        expect: { answers: { matches: '^10\.' } }
  - name: empty
    steps:
      - dns: { name: missing.test, server: "`+ts.addr+`" }
        expect: { rcode: NXDOMAIN, answers: { matches: '.' } }
`)
	res := runCheck(t, cs[0])
	if !res.Passed {
		t.Fatalf("some: %s", res.Message)
	}
	if a := res.Steps()[0].Assertions; len(a) != 3 || a[2].Name != "dns answers matches" || a[2].Actual != `answer 1: "127.0.0.43"` {
		t.Errorf("assertions: %+v", a)
	}
	res = runCheck(t, cs[1])
	if res.Passed || res.Steps()[0].Message != `dns answers matches: expected some answer matching "^10\\.", got ["127.0.0.42","127.0.0.43"]` {
		t.Errorf("none: %q", res.Message)
	}
	if res := runCheck(t, cs[2]); res.Passed || !strings.Contains(res.Message, "got no answer") {
		t.Errorf("empty: %q", res.Message)
	}
}

// Rule: a UDP answer that is truncated is asked again over TCP; with
// transport udp the truncated answer is evaluated as it is, and with
// transport tcp the query goes over TCP at once.
func TestDNSProbeTruncationAndTransport(t *testing.T) {
	for _, tc := range []struct {
		transport, nets, proto string
		count                  int
		line                   string
	}{
		{"", "udp,tcp", "DNS/TCP", 100, "NOERROR, 100 answers (over TCP, after a truncated UDP answer)"},
		{"tcp", "tcp", "DNS/TCP", 100, "NOERROR, 100 answers"},
		{"udp", "udp", "DNS/UDP", -1, ", truncated"},
	} {
		t.Run("transport="+tc.transport, func(t *testing.T) {
			ts := startDNS(t, testZone)
			tr := ""
			if tc.transport != "" {
				tr = ", transport: " + tc.transport
			}
			c := loadCheck(t, `
checks:
  - name: d
    steps:
      - dns: { name: big.test, server: "`+ts.addr+`"`+tr+` }
        expect: { answers: { count: { gte: 1 } } }
`)
			res := runCheck(t, c)
			if !res.Passed {
				t.Fatalf("%s %s", res.Reason, res.Message)
			}
			s := res.Steps()[0]
			var body dnsAnswer
			json.Unmarshal([]byte(s.Response.Body), &body)
			if ts.nets() != tc.nets || s.Response.Proto != tc.proto || !strings.HasSuffix(s.Response.Line, tc.line) {
				t.Errorf("asked over %s, proto %s, line %q", ts.nets(), s.Response.Proto, s.Response.Line)
			}
			if tc.count > 0 && len(body.Answers) != tc.count || tc.count < 0 && (!body.Truncated || len(body.Answers) >= 100) {
				t.Errorf("%d answers, truncated %v", len(body.Answers), body.Truncated)
			}
		})
	}
}

// Rule: the answer's JSON feeds captures, and name and server may be
// templates (vars, captures): a CNAME's target is asked next.
func TestDNSProbeCaptureAndTemplates(t *testing.T) {
	ts := startDNS(t, testZone)
	c := loadCheck(t, `
checks:
  - name: chain
    vars: { server: "`+ts.addr+`" }
    steps:
      - name: cname
        dns: { name: www.probe.test, type: CNAME, server: "{{ .vars.server }}" }
        capture: { target: { json: "$.answers[0]" } }
      - name: a
        dns: { name: "{{ .target }}", server: "{{ .vars.server }}" }
        expect: { answers: { includes: 127.0.0.43 } }
`)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("%s %s", res.Reason, res.Message)
	}
	s := res.Steps()
	if s[0].Captures["target"] != "probe.test." || s[1].Request.URL != "dns://"+ts.addr+"/probe.test.?type=A" {
		t.Errorf("captures %v, second request %q", s[0].Captures, s[1].Request.URL)
	}
}

// udpPeer answers each datagram on a loopback UDP port with what reply
// returns (nothing when it returns nil), until the test ends.
func udpPeer(t *testing.T, reply func(q []byte) [][]byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, b := range reply(append([]byte(nil), buf[:n]...)) {
				pc.WriteTo(b, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// answerTo is a valid answer to the query q (A 127.0.0.42), changed by
// edit.
func answerTo(q []byte, edit func(m *dns.Msg)) []byte {
	qm := new(dns.Msg)
	if err := qm.Unpack(q); err != nil {
		panic(err)
	}
	m := new(dns.Msg)
	m.SetReply(qm)
	a, _ := dns.NewRR(qm.Question[0].Name + " 60 IN A 127.0.0.42")
	m.Answer = []dns.RR{a}
	if edit != nil {
		edit(m)
	}
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

// Rule: each way a dns exchange fails has its reason: no answer before
// the timeout (timeout), nothing listening on UDP or TCP (connect), an
// answer that is no valid one (protocol: malformed, short, another ID,
// not a response, for another question), a TCP peer that closes
// mid-answer (network). Every one ends well within the check's timeout.
func TestDNSProbeFailures(t *testing.T) {
	silent := udpPeer(t, func([]byte) [][]byte { return nil })
	garbage := udpPeer(t, func(q []byte) [][]byte {
		// The query's ID, then a header that promises records never sent.
		return [][]byte{append(q[:2:2], 0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0, 0xff)}
	})
	short := udpPeer(t, func(q []byte) [][]byte { return [][]byte{q[:5]} })
	otherID := udpPeer(t, func(q []byte) [][]byte {
		return [][]byte{answerTo(q, func(m *dns.Msg) { m.Id++ })}
	})
	stray := udpPeer(t, func(q []byte) [][]byte {
		// A flood of answers to other queries costs a bounded read.
		var out [][]byte
		for i := range maxStrayAnswers + 10 {
			out = append(out, answerTo(q, func(m *dns.Msg) { m.Id += uint16(i + 1) }))
		}
		return out
	})
	echo := udpPeer(t, func(q []byte) [][]byte { return [][]byte{q} })
	otherQ := udpPeer(t, func(q []byte) [][]byte {
		return [][]byte{answerTo(q, func(m *dns.Msg) { m.Question[0].Name = "other.test." })}
	})
	tcpOtherID := tcpServer(t, func(c net.Conn) {
		var n uint16
		binary.Read(c, binary.BigEndian, &n)
		q := make([]byte, n)
		if _, err := c.Read(q); err != nil {
			return
		}
		b := answerTo(q, func(m *dns.Msg) { m.Id++ })
		c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(b))))
		c.Write(b)
	})
	tcpCut := tcpServer(t, func(c net.Conn) {
		c.Read(make([]byte, 512))
		c.Write([]byte{0, 200, 1, 2, 3})
	})
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	closedUDP := pc.LocalAddr().String()
	pc.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closedTCP := ln.Addr().String()
	ln.Close()
	cases := []struct {
		name, dns string
		reason    Reason
		msg       string
	}{
		{"silent", `server: "` + silent + `", timeout: 300ms`, ReasonTimeout,
			"timeout: no complete answer within the step timeout 300ms (while waiting for the answer)"},
		{"udp refused", `server: "` + closedUDP + `"`, ReasonConnect, "connect: nothing listens on udp " + closedUDP + " (connection refused)"},
		{"tcp refused", `server: "` + closedTCP + `", transport: tcp`, ReasonConnect, "connect: "},
		{"malformed", `server: "` + garbage + `"`, ReasonProtocol, "protocol: malformed answer (13 bytes): "},
		{"short", `server: "` + short + `"`, ReasonProtocol, "protocol: malformed answer: shorter than a DNS header"},
		{"udp other id", `server: "` + otherID + `", timeout: 300ms`, ReasonProtocol, "protocol: no answer with the query's ID "},
		{"udp stray flood", `server: "` + stray + `"`, ReasonProtocol, "protocol: the answer's ID "},
		{"not a response", `server: "` + echo + `"`, ReasonProtocol, "protocol: the message that came back is a query, not a response (QR bit unset)"},
		{"other question", `server: "` + otherQ + `"`, ReasonProtocol, "protocol: the answer is for other.test. A, the query asked for probe.test. A"},
		{"tcp other id", `server: "` + tcpOtherID + `", transport: tcp`, ReasonProtocol, "protocol: the answer's ID "},
		{"tcp cut", `server: "` + tcpCut + `", transport: tcp`, ReasonNetwork, "network: the server closed the connection before its answer was complete"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCheck(t, `
checks:
  - name: t
    timeout: 10s
    steps:
      - dns: { name: probe.test, `+tc.dns+` }
`)
			start := time.Now()
			res := runCheck(t, c)
			if res.Passed || res.Reason != tc.reason || !strings.Contains(res.Message, tc.msg) {
				t.Errorf("got %s %q, want %s containing %q", res.Reason, res.Message, tc.reason, tc.msg)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
}

// Rule: a dns step without its own timeout is bounded by the check's: a
// TCP peer that promises a 64 KiB answer and sends a byte now and then
// is given up at the check's deadline, having cost no more than that.
func TestDNSProbeTricklingPeerEndsAtTheCheckTimeout(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) {
		c.Read(make([]byte, 512))
		c.Write([]byte{0xff, 0xff})
		for {
			if _, err := c.Write([]byte{0}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	c := loadCheck(t, `
checks:
  - name: t
    timeout: 1s
    steps:
      - dns: { name: probe.test, server: "`+addr+`", transport: tcp }
`)
	start := time.Now()
	res := runCheck(t, c)
	if res.Passed || res.Reason != ReasonTimeout || !strings.Contains(res.Message, "before the check timeout (while waiting for the answer)") {
		t.Errorf("got %s %q", res.Reason, res.Message)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v", el)
	}
}

// Rule: without a server a dns step asks the first nameserver of
// /etc/resolv.conf, on port 53; a resolv.conf that names none is a dns
// failure that says so.
func TestDNSProbeSystemResolver(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	os.WriteFile(conf, []byte("search example.org\nnameserver 127.0.0.1\nnameserver 127.0.0.2\n"), 0o644)
	old := resolvConf
	t.Cleanup(func() { resolvConf = old })
	resolvConf = conf
	c := loadCheck(t, `
checks:
  - name: t
    steps:
      - dns: { name: probe.test, timeout: 500ms }
`)
	if s := c.Steps[0].summary(); s.URL != "dns:probe.test?type=A" {
		t.Errorf("summary %q", s.URL)
	}
	res := runCheck(t, c)
	// Whatever listens on 127.0.0.1:53 here, the query went there.
	if s := res.Steps()[0]; s.Request.URL != "dns://127.0.0.1:53/probe.test?type=A" || s.Reason == ReasonDNS {
		t.Errorf("asked %q: %s %s", s.Request.URL, s.Reason, s.Message)
	}
	os.WriteFile(conf, []byte("search example.org\n"), 0o644)
	res = runCheck(t, c)
	if res.Reason != ReasonDNS || res.Steps()[0].Message != "dns: the step sets no server, and "+conf+" gives none: it lists no nameserver" {
		t.Errorf("got %s %q", res.Reason, res.Message)
	}
}

// Rule: a server is host or host:port, port 53 when none is given; an
// IPv6 address is bracketed with a port, bare or bracketed without.
func TestDNSServerForms(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1": "127.0.0.1 53", "127.0.0.1:5353": "127.0.0.1 5353", "ns1.example.org": "ns1.example.org 53",
		"ns1.example.org:54": "ns1.example.org 54", "::1": "::1 53", "[::1]": "::1 53", "[::1]:5353": "::1 5353",
		"": "error", "h:0": "error", "h:x": "error", "h:": "error", ":53": "error", "[::1]:99999": "error", "a b": "error",
	} {
		h, p, err := splitDNSServer(in)
		got := h + " " + p
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// Rule: a server template that renders empty fails the step (reason
// template); only a step that sets no server asks the system's resolver.
func TestDNSProbeServerTemplateRendersEmpty(t *testing.T) {
	c := loadCheck(t, `
checks:
  - name: d
    vars: { server: "" }
    steps:
      - dns: { name: probe.test, server: "{{ .vars.server }}" }
`)
	res := runCheck(t, c)
	if res.Reason != ReasonTemplate || res.Steps()[0].Message != "template: the server {{ .vars.server }} renders empty" {
		t.Fatalf("got %s %q", res.Reason, res.Message)
	}
}

// Rule: a dns probe's fields and its assertions are checked at load, each
// mistake one error at its place; HTTP expectations are refused by name.
func TestDNSProbeLoadErrors(t *testing.T) {
	got := loadErrors(t, `
checks:
  - name: a
    steps:
      - dns: { type: A }
      - dns: { name: "exa mple..org", type: mx, server: "h:99999", transport: quic, timeout: 25h }
      - dns: { name: a.test, type: PTR, server: "" }
        expect: { rcode: nxdomain, authenticated: "yes", status: 200 }
      - dns: { name: a.test }
        expect: { rcode: { in: [NOERROR, NOERR, 3] }, answers: { includes: x }, headers: { A: b } }
      - dns: { name: a.test }
        capture: { s: { header: X } }
`)
	wantErrors(t, got,
		`checks.yaml:5:14: checks[0].steps[0].dns.name: a dns probe needs a name (the domain name to query, like example.org)`,
		`checks.yaml:6:22: checks[0].steps[1].dns.name: expected a domain name like example.org, got "exa mple..org"`,
		`checks.yaml:6:45: checks[0].steps[1].dns.type: expected one of A, AAAA, CNAME, MX, TXT, NS, SRV, CAA; got "mx" (types are upper-case: MX)`,
		`checks.yaml:6:57: checks[0].steps[1].dns.server: expected host or host:port like 127.0.0.1:53 or [::1]:53 (leave server out to use /etc/resolv.conf), got "h:99999"`,
		`checks.yaml:6:79: checks[0].steps[1].dns.transport: expected udp or tcp, got "quic"`,
		`checks.yaml:6:94: checks[0].steps[1].dns.timeout: must be at most 24h, got 25h`,
		`checks.yaml:7:36: checks[0].steps[2].dns.type: expected one of A, AAAA, CNAME, MX, TXT, NS, SRV, CAA; got "PTR"`,
		`checks.yaml:7:49: checks[0].steps[2].dns.server: expected host or host:port like 127.0.0.1:53 or [::1]:53 (leave server out to use /etc/resolv.conf), got ""`,
		`checks.yaml:8:26: checks[0].steps[2].expect.rcode: response codes are upper-case: NXDOMAIN, got "nxdomain"`,
		`checks.yaml:8:51: checks[0].steps[2].expect.authenticated: expected true or false (the AD bit), got "yes"`,
		`checks.yaml:8:58: checks[0].steps[2].expect.status: status does not apply to a dns step (it takes rcode, answers, authenticated, body, json, json_schema, response_time)`,
		`checks.yaml:10:42: checks[0].steps[3].expect.rcode: expected a response code (NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, YXDOMAIN, ...), got "NOERR"`,
		`checks.yaml:10:49: checks[0].steps[3].expect.rcode: expected a response code by name, like NOERROR or NXDOMAIN; got 3`,
		`checks.yaml:10:81: checks[0].steps[3].expect.headers: headers does not apply to a dns step (it takes rcode, answers, authenticated, body, json, json_schema, response_time)`,
		`checks.yaml:12:23: checks[0].steps[4].capture.s: a dns step captures with json or regex (header, cookie and status are HTTP's)`,
	)
}

// Rule: assay explain writes a dns step back as it was written, with the
// rcode it expects by default; the output loads as the same check.
func TestDNSProbeExplainRoundTrip(t *testing.T) {
	c := loadCheck(t, `
checks:
  - name: mx
    steps:
      - name: q
        dns: { name: probe.test, type: MX, server: "127.0.0.1:5353", transport: tcp, timeout: 2s }
        expect: { rcode: NOERROR, answers: { includes: 10 mail.probe.test., matches: 'mail' }, authenticated: false }
      - dns: { name: probe.test }
`)
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{
		"dns: {name: probe.test, type: MX, server: '127.0.0.1:5353', transport: tcp, timeout: 2s}",
		"rcode: NOERROR",
		"authenticated: false",
		"dns: {name: probe.test, type: A}\n        expect:\n          rcode: NOERROR # default: the step sets no rcode",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explain lacks %q:\n%s", want, text)
		}
	}
	again := loadCheck(t, text)
	out2, _ := Explain(again)
	// The reloaded check sets the default rcode, which is then no default.
	if strip(string(out2)) != strip(strings.ReplaceAll(text, " # default: the step sets no rcode", "")) {
		t.Errorf("explain is not stable:\n%s\n---\n%s", out2, text)
	}
}

// Rule (acceptance): a dns step gets its answer from a real DNS server,
// dnsmasq; in CI dnsmasq must be there (.ci/run installs dnsmasq-base).
func TestDNSProbeAgainstDnsmasq(t *testing.T) {
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		// Debian installs it in /usr/sbin, which a PATH may lack.
		bin, err = exec.LookPath("/usr/sbin/dnsmasq")
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dnsmasq is not installed: CI must install the Debian package dnsmasq-base (see .ci/run)")
		}
		t.Skip("dnsmasq is not installed (apt-get install dnsmasq-base); CI fails here")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
		"--listen-address=127.0.0.1", fmt.Sprintf("--port=%d", port), "--address=/probe.test/127.0.0.42", "--log-facility=-")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); cmd.Wait() }) }
	t.Cleanup(stop)
	// What dnsmasq said, read once it has stopped (its output is written
	// by another goroutine until then).
	logOf := func() string { stop(); return log.String() }
	server := fmt.Sprintf("127.0.0.1:%d", port)
	// Ready when it answers.
	cl := &dns.Client{Timeout: 200 * time.Millisecond}
	q := new(dns.Msg)
	q.SetQuestion("probe.test.", dns.TypeA)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, _, err := cl.Exchange(q, server); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq did not answer within 10s:\n%s", logOf())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cs := loadChecks(t, `
checks:
  - name: right
    steps:
      - dns: { name: probe.test, type: A, server: "`+server+`", timeout: 5s }
        expect: { rcode: NOERROR, answers: { includes: 127.0.0.42, count: 1 } }
  - name: wrong
    steps:
      - dns: { name: probe.test, type: A, server: "`+server+`", transport: tcp, timeout: 5s }
        expect: { answers: { includes: 127.0.0.43 } }
`)
	if res := runCheck(t, cs[0]); !res.Passed {
		t.Fatalf("right: %s %s\n%s", res.Reason, res.Message, logOf())
	}
	res := runCheck(t, cs[1])
	if res.Passed || res.Reason != ReasonAssertion || res.Steps()[0].Message != `dns answers: expected to include "127.0.0.43", got ["127.0.0.42"]` {
		t.Fatalf("wrong: %s %q", res.Reason, res.Message)
	}
}
