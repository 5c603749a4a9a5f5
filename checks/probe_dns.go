package checks

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
)

// DNSProbe is one DNS query, whose answer the step's rcode, answers and
// authenticated assertions read:
//
//	dns: { name: example.org, type: MX, server: "127.0.0.1:53" }
//	expect: { rcode: NOERROR, answers: { includes: "10 mail.example.org." } }
//
// The answer is also the step's response body, as JSON (dnsAnswer), for
// json assertions and captures ($.answers[0]).
type DNSProbe struct {
	// Name is the domain name asked; it is absolute (no search list).
	Name Template `yaml:"name"`
	// Type is the record type asked (default A).
	Type string `yaml:"type"`
	// Server is host or host:port (port 53 by default); unset: the first
	// nameserver of /etc/resolv.conf.
	Server *Template `yaml:"server"`
	// Transport is udp or tcp; unset: UDP, and TCP again when the UDP
	// answer is truncated.
	Transport string `yaml:"transport"`
	// Timeout bounds the probe (every query it makes).
	Timeout Duration `yaml:"timeout"`

	qtype uint16
}

// dnsTypes are the record types a dns probe asks for.
var dnsTypes = map[string]uint16{
	"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME, "MX": dns.TypeMX,
	"TXT": dns.TypeTXT, "NS": dns.TypeNS, "SRV": dns.TypeSRV, "CAA": dns.TypeCAA,
}

// dnsTypeNames lists dnsTypes in the order messages give them.
var dnsTypeNames = []string{"A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA"}

// resolvConf is where a dns probe without a server finds one; a variable
// for tests.
var resolvConf = "/etc/resolv.conf"

// maxStrayAnswers bounds the UDP datagrams with another query's ID that a
// probe reads past before it gives up, so that a flood cannot keep it busy.
const maxStrayAnswers = 64

// defaultRcode is what a dns step that sets no rcode expects, as an HTTP
// step that sets no status expects 2xx: an NXDOMAIN is an answer, and the
// rcode assertion says whether it is the right one.
var defaultRcode = &Predicate{Equals: &Value{V: "NOERROR"}}

func (p *DNSProbe) kind() string           { return "dns" }
func (p *DNSProbe) timeout() time.Duration { return p.Timeout.D() }

func (p *DNSProbe) expects() []string {
	return []string{"rcode", "answers", "authenticated", "body", "json", "json_schema", "response_time"}
}

func (p *DNSProbe) templates() []Template {
	ts := []Template{p.Name}
	if p.Server != nil {
		ts = append(ts, *p.Server)
	}
	return ts
}

func (p *DNSProbe) summary() RequestSummary {
	server := ""
	if p.Server != nil {
		server = p.Server.Raw
	}
	return RequestSummary{Method: "DNS", URL: dnsURL(server, p.Name.Raw, p.Type)}
}

// dnsURL is the query as a dns: URI (RFC 4501): dns://server/name?type=A,
// or dns:name?type=A when the system's resolver is asked.
func dnsURL(server, name, typ string) string {
	if typ == "" {
		typ = "A"
	}
	if server == "" {
		return "dns:" + name + "?type=" + typ
	}
	return "dns://" + server + "/" + name + "?type=" + typ
}

func (p *DNSProbe) compile(d *decoder, _ *Check, s *Step, path string) {
	fp := path + ".name"
	switch {
	case p.Name.Raw == "":
		if !reported(d, fp) {
			d.ErrAt(d.ValuePos(path, s.Pos), fp, "a dns probe needs a name (the domain name to query, like example.org)")
		}
	case !p.Name.Templated():
		if _, ok := dns.IsDomainName(p.Name.Raw); !ok {
			d.ErrAt(p.Name.Pos, fp, "expected a domain name like example.org, got %q", p.Name.Raw)
		}
	}
	fp = path + ".type"
	if p.Type == "" {
		p.Type = "A"
	}
	if qt, ok := dnsTypes[p.Type]; ok {
		p.qtype = qt
	} else if !reported(d, fp) {
		hint := ""
		if _, ok := dnsTypes[strings.ToUpper(p.Type)]; ok {
			hint = fmt.Sprintf(" (types are upper-case: %s)", strings.ToUpper(p.Type))
		}
		d.ErrAt(d.ValuePos(fp, s.Pos), fp, "expected one of %s; got %q%s", strings.Join(dnsTypeNames, ", "), p.Type, hint)
	}
	if sv := p.Server; sv != nil && !sv.Templated() {
		if _, _, err := splitDNSServer(sv.Raw); err != nil {
			d.ErrAt(sv.Pos, path+".server", "expected host or host:port like 127.0.0.1:53 or [::1]:53 (leave server out to use /etc/resolv.conf), got %q", sv.Raw)
		}
	}
	switch p.Transport {
	case "", "udp", "tcp":
	default:
		fp := path + ".transport"
		d.ErrAt(d.ValuePos(fp, s.Pos), fp, "expected udp or tcp, got %q", p.Transport)
	}
	boundProbeTimeout(d, p.Timeout, s, path)

	e := &s.Expect
	ep := strings.TrimSuffix(path, ".dns") + ".expect"
	rc := e.Rcode
	if rc == nil {
		rc = defaultRcode
	} else {
		checkRcodeNames(d, rc, ep+".rcode")
		rejectList(d, rc, ep+".rcode", "a response code")
	}
	s.assertions = append(s.assertions, valueAssertion("dns rcode", "rcode", rc))
	if e.Answers != nil {
		s.assertions = append(s.assertions, answersAssertion(e.Answers))
	}
	if a := e.Authenticated; a != nil {
		for _, v := range []*Value{a.Equals, a.NotEquals} {
			if v == nil || len(v.tmpls) > 0 {
				continue
			}
			if _, ok := v.V.(bool); !ok {
				d.ErrAt(v.Pos, ep+".authenticated", "expected true or false (the AD bit), got %s", jsonText(v.V))
			}
		}
		rejectList(d, a, ep+".authenticated", "the AD bit")
		s.assertions = append(s.assertions, valueAssertion("dns authenticated", "authenticated", a))
	}
}

// checkRcodeNames reports the literal values of an rcode predicate that
// name no response code: rcode compares names (NXDOMAIN), not numbers.
func checkRcodeNames(d *decoder, p *Predicate, path string) {
	vs := append([]*Value{p.Equals, p.NotEquals}, p.In...)
	for _, v := range vs {
		if v == nil || len(v.tmpls) > 0 {
			continue
		}
		s, ok := v.V.(string)
		switch {
		case !ok:
			d.ErrAt(v.Pos, path, "expected a response code by name, like NOERROR or NXDOMAIN; got %s", jsonText(v.V))
		case rcodeKnown(s):
		case rcodeKnown(strings.ToUpper(s)):
			d.ErrAt(v.Pos, path, "response codes are upper-case: %s, got %q", strings.ToUpper(s), s)
		default:
			d.ErrAt(v.Pos, path, "expected a response code (NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, YXDOMAIN, ...), got %q", s)
		}
	}
}

func rcodeKnown(s string) bool {
	_, ok := dns.StringToRcode[s]
	return ok
}

// jsonText writes a YAML value as JSON, for messages.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// answersAssertion asserts p on the answer records' data, a list. Its
// matches holds when some record matches (a list has no text of its own
// to match), as any: { matches: ... } does; its other keys see the list.
func answersAssertion(p *Predicate) assertion {
	const label = "dns answers"
	rest := *p
	rest.Matches, rest.re = nil, nil
	var m *Predicate
	if p.Matches != nil {
		m = &Predicate{Matches: p.Matches, re: p.re}
	}
	return assertion{name: label, eval: func(r *response, data map[string]any) []AssertionResult {
		list, _ := r.observed["answers"].([]any)
		var out []AssertionResult
		if !rest.isEmpty() {
			out = rest.evalNode(r, label, list, data)
		}
		if m == nil {
			return out
		}
		exp := "some answer " + m.describe(r, data)
		for i, e := range list {
			if allPassed(m.eval(r, label, e, true, true, data)) {
				return append(out, result(label+" matches", true, exp, fmt.Sprintf("answer %d: %s", i, r.formatValue(e))))
			}
			if r.stopped {
				return out
			}
		}
		got := "no answer"
		if len(list) > 0 {
			got = r.formatValue(list)
		}
		return append(out, result(label+" matches", false, exp, got))
	}}
}

func (p *DNSProbe) node() *yaml.Node {
	n := yMap("name", yStr(p.Name.Raw), "type", yStr(p.Type))
	if p.Server != nil {
		yAdd(n, "server", yStr(p.Server.Raw))
	}
	if p.Transport != "" {
		yAdd(n, "transport", yStr(p.Transport))
	}
	if p.Timeout > 0 {
		yAdd(n, "timeout", yStr(durationText(p.Timeout)))
	}
	return yFlow(n)
}

// splitDNSServer splits host, host:port, [v6]:port or a bare IPv6 address
// into host and port (53 when none is given).
func splitDNSServer(s string) (host, port string, err error) {
	bad := fmt.Errorf("expected host or host:port, got %q", s)
	switch h, pt, err := net.SplitHostPort(s); {
	case err == nil:
		host, port = h, pt
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host, port = s[1:len(s)-1], "53"
	case net.ParseIP(s) != nil, !strings.Contains(s, ":"):
		host, port = s, "53"
	default:
		return "", "", bad
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" || strings.ContainsAny(host, "/[] ") {
		return "", "", bad
	}
	return host, port, nil
}

// dnsAnswer is a dns step's response body: the answer as JSON.
type dnsAnswer struct {
	Question struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"question"`
	Rcode         string `json:"rcode"`
	Authenticated bool   `json:"authenticated"`
	Truncated     bool   `json:"truncated"`
	// Answers is the data of the answer records of the asked type: what
	// expect.answers reads.
	Answers []string `json:"answers"`
	// Records is the whole answer section (a CNAME before the A it leads
	// to, signatures), and Authority the authority section (the SOA of an
	// NXDOMAIN).
	Records   []dnsRecord `json:"records"`
	Authority []dnsRecord `json:"authority"`
}

type dnsRecord struct {
	Name string `json:"name"`
	Type string `json:"type"`
	TTL  uint32 `json:"ttl"`
	Data string `json:"data"`
}

func (p *DNSProbe) run(ctx context.Context, pc *probeCall) *probeOutcome {
	out := &probeOutcome{request: p.summary(), proto: "DNS"}
	start := time.Now()
	defer func() { out.timings.Total = time.Since(start) }()
	name, err := p.Name.RenderContext(ctx, pc.data)
	if err != nil {
		return out.fail(ReasonTemplate, "template: "+err.Error())
	}
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return out.fail(ReasonTemplate, fmt.Sprintf("template: the name renders as %q, which is no domain name", name))
	}
	server := ""
	if p.Server != nil {
		if server, err = p.Server.RenderContext(ctx, pc.data); err != nil {
			return out.fail(ReasonTemplate, "template: "+err.Error())
		}
		// A server that renders empty is a mistake, not a wish for the
		// system's resolver.
		if server == "" {
			return out.fail(ReasonTemplate, fmt.Sprintf("template: the server %s renders empty", p.Server.source()))
		}
	} else {
		cfg, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil || len(cfg.Servers) == 0 {
			why := "it lists no nameserver"
			if err != nil {
				why = err.Error()
			}
			return out.fail(ReasonDNS, fmt.Sprintf("dns: the step sets no server, and %s gives none: %s", resolvConf, why))
		}
		server = net.JoinHostPort(cfg.Servers[0], cfg.Port)
	}
	out.request.URL = dnsURL(server, name, p.Type)
	host, port, err := splitDNSServer(server)
	if err != nil {
		return out.fail(ReasonConnect, "connect: server: "+err.Error())
	}
	if net.ParseIP(host) == nil {
		began := time.Now()
		ips, err := net.DefaultResolver.LookupHost(ctx, host)
		out.timings.DNS = time.Since(began)
		if err != nil {
			return out.fail(probeDialError(ctx, err, p.Timeout.D()))
		}
		host = ips[0]
	}
	addr := net.JoinHostPort(host, port)

	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), p.qtype)
	q.RecursionDesired = true
	// AD asks a validating resolver to say whether it validated the
	// answer; DO (in EDNS) that the probe understands DNSSEC.
	q.AuthenticatedData = true
	q.SetEdns0(1232, true)

	network := "udp"
	if p.Transport == "tcp" {
		network = "tcp"
	}
	r, reason, msg := p.exchange(ctx, network, addr, q, &out.timings, start)
	fellBack := false
	if reason == ReasonNone && r.Truncated && p.Transport == "" {
		// The whole answer is had over TCP (RFC 7766).
		network, fellBack = "tcp", true
		r, reason, msg = p.exchange(ctx, network, addr, q, &out.timings, start)
	}
	out.proto = "DNS/" + strings.ToUpper(network)
	if reason != ReasonNone {
		if fellBack {
			msg += " (over TCP, after a truncated UDP answer)"
		}
		return out.fail(reason, msg)
	}
	ans := p.answer(q, r)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ans); err != nil {
		return out.fail(ReasonInternal, "internal: "+err.Error())
	}
	out.answered, out.body = true, bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	list := make([]any, len(ans.Answers))
	for i, a := range ans.Answers {
		list[i] = a
	}
	out.observed = map[string]any{"rcode": ans.Rcode, "answers": list, "authenticated": ans.Authenticated}
	out.line = ans.Rcode + ", " + countOf(len(ans.Answers), "answer")
	if ans.Authenticated {
		out.line += ", authenticated"
	}
	if ans.Truncated {
		out.line += ", truncated"
	}
	if fellBack {
		out.line += " (over TCP, after a truncated UDP answer)"
	}
	return out
}

// answer is r as a step's response body.
func (p *DNSProbe) answer(q, r *dns.Msg) *dnsAnswer {
	a := &dnsAnswer{Rcode: rcodeName(r.Rcode), Authenticated: r.AuthenticatedData, Truncated: r.Truncated,
		Answers: []string{}, Records: []dnsRecord{}, Authority: []dnsRecord{}}
	a.Question.Name, a.Question.Type = q.Question[0].Name, p.Type
	for _, rr := range r.Answer {
		rec := recordOf(rr)
		a.Records = append(a.Records, rec)
		if rr.Header().Rrtype == p.qtype {
			a.Answers = append(a.Answers, rec.Data)
		}
	}
	for _, rr := range r.Ns {
		a.Authority = append(a.Authority, recordOf(rr))
	}
	return a
}

// rcodeName is the name of a response code (NXDOMAIN), or RCODE23 for one
// that has none.
func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}

// recordOf is rr as the body shows it; its data is what answers compare:
// an address, a target name, "pref host" for MX, the strings joined for
// TXT, "prio weight port target" for SRV, "flag tag value" for CAA, and
// the presentation format for other types.
func recordOf(rr dns.RR) dnsRecord {
	h := rr.Header()
	rec := dnsRecord{Name: h.Name, Type: dns.TypeToString[h.Rrtype], TTL: h.Ttl}
	if rec.Type == "" {
		rec.Type = "TYPE" + strconv.Itoa(int(h.Rrtype))
	}
	switch t := rr.(type) {
	case *dns.A:
		rec.Data = t.A.String()
	case *dns.AAAA:
		rec.Data = t.AAAA.String()
	case *dns.CNAME:
		rec.Data = t.Target
	case *dns.NS:
		rec.Data = t.Ns
	case *dns.MX:
		rec.Data = fmt.Sprintf("%d %s", t.Preference, t.Mx)
	case *dns.TXT:
		var b strings.Builder
		for _, s := range t.Txt {
			b.WriteString(unescapeTXT(s))
		}
		rec.Data = b.String()
	case *dns.SRV:
		rec.Data = fmt.Sprintf("%d %d %d %s", t.Priority, t.Weight, t.Port, t.Target)
	case *dns.CAA:
		rec.Data = fmt.Sprintf("%d %s %s", t.Flag, t.Tag, t.Value)
	default:
		rec.Data = strings.TrimPrefix(rr.String(), h.String())
	}
	return rec
}

// unescapeTXT undoes the presentation escapes (\" \\ \DDD) that
// miekg/dns writes into a TXT string, so that answers compare the text the
// record holds.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if n, err := strconv.Atoi(s[i+1 : i+4]); err == nil && n < 256 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// exchange sends q to addr over network and reads its answer. Over UDP a
// datagram with another ID (an answer to an earlier query, or a forgery)
// is read past; over TCP, where the answer is the next message, it is a
// protocol error.
func (p *DNSProbe) exchange(ctx context.Context, network, addr string, q *dns.Msg, t *Timings, start time.Time) (*dns.Msg, Reason, string) {
	timeout := p.Timeout.D()
	var d net.Dialer
	began := time.Now()
	c, err := d.DialContext(ctx, network, addr)
	if network == "tcp" {
		t.Connect += time.Since(began)
	}
	if err != nil {
		reason, msg := probeDialError(ctx, err, timeout)
		return nil, reason, msg
	}
	defer c.Close()
	// The step's deadline closes the connection, which ends a read in
	// flight.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	// A datagram is read whole, whatever size the query offered: a bigger
	// one is then no malformed answer.
	co := &dns.Conn{Conn: c, UDPSize: dns.MaxMsgSize}
	if err := co.WriteMsg(q); err != nil {
		reason, msg := p.ioError(ctx, err, network, addr, "sending the query")
		return nil, reason, msg
	}
	var stray []uint16
	for {
		raw, err := co.ReadMsgHeader(nil)
		if err != nil {
			if len(stray) > 0 && ctx.Err() != nil && !interrupted(ctx) {
				return nil, ReasonProtocol, fmt.Sprintf("protocol: no answer with the query's ID %d; %s came with another ID (%d)", q.Id, countOf(len(stray), "answer"), stray[0])
			}
			reason, msg := p.ioError(ctx, err, network, addr, "waiting for the answer")
			return nil, reason, msg
		}
		if t.FirstByte == 0 {
			t.FirstByte = time.Since(start)
		}
		if id := binary.BigEndian.Uint16(raw); id != q.Id {
			if network == "udp" && len(stray) < maxStrayAnswers {
				stray = append(stray, id)
				continue
			}
			return nil, ReasonProtocol, fmt.Sprintf("protocol: the answer's ID %d is not the query's %d", id, q.Id)
		}
		r := new(dns.Msg)
		if err := r.Unpack(raw); err != nil {
			return nil, ReasonProtocol, fmt.Sprintf("protocol: malformed answer (%d bytes): %v", len(raw), err)
		}
		if !r.Response {
			return nil, ReasonProtocol, "protocol: the message that came back is a query, not a response (QR bit unset)"
		}
		if len(r.Question) > 0 {
			got, want := r.Question[0], q.Question[0]
			if !strings.EqualFold(got.Name, want.Name) || got.Qtype != want.Qtype {
				return nil, ReasonProtocol, fmt.Sprintf("protocol: the answer is for %s %s, the query asked for %s %s",
					got.Name, dns.TypeToString[got.Qtype], want.Name, dns.TypeToString[want.Qtype])
			}
		}
		return r, ReasonNone, ""
	}
}

// ioError classifies a failed send or read of a query.
func (p *DNSProbe) ioError(ctx context.Context, err error, network, addr, what string) (Reason, string) {
	switch {
	case ctx.Err() != nil:
	case errors.Is(err, syscall.ECONNREFUSED):
		// Over UDP, the ICMP port unreachable of a closed port.
		return ReasonConnect, fmt.Sprintf("connect: nothing listens on %s %s (connection refused)", network, addr)
	case errors.Is(err, dns.ErrShortRead):
		return ReasonProtocol, "protocol: malformed answer: shorter than a DNS header"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonNetwork, "network: the server closed the connection before its answer was complete (while " + what + ")"
	}
	return probeIOError(ctx, err, p.Timeout.D(), what)
}
