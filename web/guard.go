package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Access says who may use the endpoints. Its zero value answers reads
// from anyone who may connect and writes from loopback clients only.
//
// Every request must name an allowed Host: an IP literal, localhost, or
// one of Hosts ("*": any). A DNS rebinding attack needs a name of the
// attacker's that resolves to this server, so a browser tricked into it
// gets 403 here.
//
// A write (any method but GET, HEAD and OPTIONS) must also carry no body
// or a JSON one (else 415: an HTML form cannot send JSON, so a
// cross-site form post cannot pass), come from this server's own origin
// or a trusted one (else 403, through net/http's CrossOriginProtection,
// which reads Origin and Sec-Fetch-Site), and be authorized:
//   - with a Token, by "Authorization: Bearer TOKEN" or "X-Assay-Token:
//     TOKEN" (the latter when basic auth takes the Authorization header),
//     compared in constant time; else 401 with WWW-Authenticate: Bearer;
//   - without a Token, when the web config's basic auth let the request
//     in (BasicAuth), or else when the client is on a loopback address
//     (else 403).
type Access struct {
	// Token is server.api_token; "" for none.
	Token string
	// BasicAuth: the web config authenticates every request.
	BasicAuth bool
	// Hosts are the Host names answered besides IP literals and
	// localhost: the listen host, external_url's host and
	// server.allowed_hosts. "*" answers any Host.
	Hosts []string
	// Origins are origins (scheme://host[:port]) trusted for writes
	// besides the server's own: external_url's.
	Origins []string
}

// maxWriteBody bounds the body of a write request (the endpoints take
// none today; a JSON body may come).
const maxWriteBody = 1 << 20

// guard wraps h with the Host check for every request and the content
// type, origin and authorization checks for writes.
func (a Access) guard(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	for _, o := range a.Origins {
		// A bad origin was refused when the config was loaded.
		_ = cop.AddTrustedOrigin(o)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-origin request refused: writes must come from this server's own origin"})
	}))
	hosts := map[string]bool{}
	anyHost := false
	for _, hn := range a.Hosts {
		if hn == "*" {
			anyHost = true
		}
		hosts[normalHost(hn)] = true
	}
	var tokenSum [32]byte
	if a.Token != "" {
		tokenSum = sha256.Sum256([]byte(a.Token))
	}
	write := cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Token != "" {
			if !a.tokenOK(r, tokenSum) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="assay"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "this endpoint needs the API token (server.api_token): Authorization: Bearer TOKEN"})
				return
			}
		} else if !a.BasicAuth && !loopbackPeer(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "write endpoints answer only loopback clients unless server.api_token is set"})
			return
		}
		h.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !anyHost && !hostAllowed(r.Host, hosts) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "this server does not answer to that Host header (server.allowed_hosts)"})
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			h.ServeHTTP(w, r)
			return
		}
		if !jsonOrEmpty(r) {
			w.Header().Set("Accept-Post", "application/json")
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "a request body must be application/json (or send none)"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxWriteBody)
		write.ServeHTTP(w, r)
	})
}

// tokenOK compares the request's token with the configured one in
// constant time (of their hashes, so that the length does not show).
func (a Access) tokenOK(r *http.Request, want [32]byte) bool {
	got := r.Header.Get("X-Assay-Token")
	if got == "" {
		got = bearerToken(r)
	}
	if got == "" {
		return false
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

// jsonOrEmpty reports whether a write's body is JSON or absent: a
// Content-Type other than application/json is refused, and so is a body
// without one.
func jsonOrEmpty(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return r.ContentLength == 0
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// loopbackPeer reports whether the client connected from a loopback
// address.
func loopbackPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// hostAllowed reports whether a Host header names this server: empty
// (HTTP/1.0), an IP literal, localhost, or one of hosts.
func hostAllowed(hostport string, hosts map[string]bool) bool {
	if hostport == "" {
		return true
	}
	h := normalHost(hostport)
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return h == "localhost" || hosts[h]
}

// normalHost is a Host header's host, lower case, without its port,
// brackets and trailing dot.
func normalHost(hostport string) string {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(h, "]"), "["), ".")
	if i := strings.IndexByte(h, '%'); i >= 0 { // a zone: fe80::1%eth0
		h = h[:i]
	}
	return strings.ToLower(h)
}

// bearerToken is the token of an "Authorization: Bearer TOKEN" header,
// or "". The API prefers X-Assay-Token, a heartbeat the Authorization
// header: each caller keeps its order.
func bearerToken(r *http.Request) string {
	if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}
