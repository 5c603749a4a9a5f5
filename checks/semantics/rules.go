package semantics

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// rules is the table of every rule, in evaluation and documentation order.
// Each rule is small and looks at one thing; adding one is adding a row.
var rules = []Rule{
	{
		ID: "rfc9110/204-no-content", Section: "RFC 9110 §15.3.5", Level: Must,
		Summary: "a 204 (No Content) response has no content",
		Sees:    "content the client received with a 204; Go's client discards such content, so in practice rfc9110/204-content-length is what catches it",
		check:   noContent(func(ex *Exchange) bool { return ex.Status == http.StatusNoContent }, "a 204 response ends at the header section; it cannot carry content"),
	},
	{
		ID: "rfc9110/204-content-length", Section: "RFC 9110 §8.6", Level: Must,
		Summary: "a 204 response does not announce content with Content-Length (a value other than 0)",
		Sees:    "the Content-Length header of a 204, which the client keeps even though it discards the content (the tell-tale of a body sent after a 204); Content-Length: 0 is tolerated",
		check: func(ex *Exchange, r *reporter) {
			if ex.Status != http.StatusNoContent {
				return
			}
			if v, ok := field(ex.Header, "Content-Length"); ok && strings.TrimSpace(v) != "0" {
				r.add("no Content-Length (or 0)", "Content-Length: "+r.quote(v, ok),
					"a server must not send Content-Length in a 204 response; this one announces content after a 204, which a client that trusts it would read into the next response")
			}
		},
	},
	{
		ID: "rfc9110/304-no-content", Section: "RFC 9110 §15.4.5", Level: Must,
		Summary: "a 304 (Not Modified) response has no content",
		Sees:    "content the client received with a 304; Go's client discards such content, so this fires only when a transport delivers it",
		check:   noContent(func(ex *Exchange) bool { return ex.Status == http.StatusNotModified }, "a 304 response ends at the header section; it cannot carry content"),
	},
	{
		ID: "rfc9110/304-validators", Section: "RFC 9110 §15.4.5", Level: Must,
		Summary: "a 304 carries the ETag, Cache-Control, Content-Location, Expires and Vary a 200 would have carried",
		Sees:    "the 304's header section, compared with the last 200 to a GET of the same URL in the same run of the check (forgotten after a write to that URL); without one, a 304 to a request with If-None-Match must carry an ETag",
		check:   check304Validators,
	},
	{
		ID: "rfc9110/head-no-body", Section: "RFC 9110 §9.3.2", Level: Must,
		Summary: "a response to HEAD has no content",
		Sees:    "content the client received in answer to HEAD; Go's client never reads content after HEAD, so this fires only when a transport delivers it",
		check:   noContent(func(ex *Exchange) bool { return ex.Method == http.MethodHead }, "the server must not send content in the response to HEAD"),
	},
	{
		ID: "rfc9110/content-length-mismatch", Section: "RFC 9110 §8.6", Level: Must,
		Summary: "Content-Length equals the number of content bytes received",
		Sees:    "a body that ended before its Content-Length (the connection closed early); a longer body is cut at Content-Length by the client and cannot be seen; not judged when the body hit max_body, for HEAD, 1xx, 204 and 304",
		check: func(ex *Exchange, r *reporter) {
			if ex.Truncated || ex.Method == http.MethodHead || ex.Status < 200 ||
				ex.Status == http.StatusNoContent || ex.Status == http.StatusNotModified ||
				(ex.Method == http.MethodConnect && ex.Status < 300) {
				return
			}
			v, ok := field(ex.Header, "Content-Length")
			if !ok {
				return
			}
			first := strings.TrimSpace(strings.Split(v, ",")[0])
			n, err := strconv.ParseInt(first, 10, 64)
			if err != nil || n < 0 {
				r.add("a Content-Length of decimal digits", "Content-Length: "+r.quote(v, ok), "Content-Length is not a valid length")
				return
			}
			if got := ex.bodyLen(); got != n {
				msg := fmt.Sprintf("Content-Length says %d bytes, %d were received", n, got)
				if ex.Incomplete {
					msg += " before the connection closed"
				}
				r.add(fmt.Sprintf("%d bytes", n), fmt.Sprintf("%d bytes", got), msg)
			}
		},
	},
	{
		ID: "rfc9110/etag-syntax", Section: "RFC 9110 §8.8.3", Level: Must,
		Summary: `ETag is one valid entity-tag: "opaque" or W/"opaque", with allowed characters`,
		Sees:    "the ETag header of every response",
		check: func(ex *Exchange, r *reporter) {
			vs := ex.Header.Values("ETag")
			if len(vs) > 1 {
				r.add("one ETag", fmt.Sprintf("%d ETag field lines", len(vs)), "ETag is a singleton field; the response has several")
				return
			}
			if len(vs) == 1 {
				if err := checkEntityTag(vs[0]); err != nil {
					r.add(`an entity-tag like "abc" or W/"abc"`, r.quote(vs[0], true), "ETag is not a valid entity-tag: "+err.Error())
				}
			}
		},
	},
	{
		ID: "rfc9110/405-allow", Section: "RFC 9110 §15.5.6", Level: Must,
		Summary: "a 405 (Method Not Allowed) response carries Allow",
		Sees:    "the Allow header of a 405",
		check: func(ex *Exchange, r *reporter) {
			if ex.Status == http.StatusMethodNotAllowed {
				if _, ok := field(ex.Header, "Allow"); !ok {
					r.add("an Allow header listing the supported methods", "absent", "a 405 response must list the methods the resource supports in Allow")
				}
			}
		},
	},
	{
		ID: "rfc9110/401-www-authenticate", Section: "RFC 9110 §15.5.2", Level: Must,
		Summary: "a 401 (Unauthorized) response carries WWW-Authenticate",
		Sees:    "the WWW-Authenticate header of a 401",
		check: func(ex *Exchange, r *reporter) {
			if ex.Status == http.StatusUnauthorized {
				if v, ok := field(ex.Header, "WWW-Authenticate"); !ok || strings.TrimSpace(v) == "" {
					r.add("a WWW-Authenticate challenge", "absent", "a 401 response must carry at least one challenge in WWW-Authenticate")
				}
			}
		},
	},
	{
		ID: "rfc9110/3xx-location", Section: "RFC 9110 §15.4", Level: Should,
		Summary: "a 301, 302, 303, 307 or 308 redirect carries Location",
		Sees:    "the Location header of a redirect the client did not follow (with follow_redirects: false, or a redirect the client could not follow because Location was missing)",
		check: func(ex *Exchange, r *reporter) {
			section := map[int]string{301: "RFC 9110 §15.4.2", 302: "RFC 9110 §15.4.3", 303: "RFC 9110 §15.4.4", 307: "RFC 9110 §15.4.8", 308: "RFC 9110 §15.4.9"}[ex.Status]
			if section == "" {
				return
			}
			if v, ok := field(ex.Header, "Location"); !ok || strings.TrimSpace(v) == "" {
				r.addSection(section, "a Location header", "absent", fmt.Sprintf("a %d redirect should say where to go in Location", ex.Status))
			}
		},
	},
	{
		ID: "rfc9110/201-location", Section: "RFC 9110 §9.3.3", Level: Should,
		Summary: "a 201 (Created) response to POST carries Location, the new resource's URI",
		Sees:    "the Location header of a 201 answering a POST (a 201 to PUT is identified by the target URI, so it is not judged)",
		check: func(ex *Exchange, r *reporter) {
			if ex.Status == http.StatusCreated && ex.Method == http.MethodPost {
				if v, ok := field(ex.Header, "Location"); !ok || strings.TrimSpace(v) == "" {
					r.add("a Location header", "absent", "a 201 to POST should identify the created resource in Location")
				}
			}
		},
	},
	{
		ID: "rfc9110/206-content-range", Section: "RFC 9110 §15.3.7", Level: Must,
		Summary: "a single-part 206 (Partial Content) response carries a valid Content-Range",
		Sees:    "Content-Range and Content-Type of a 206 (a multipart/byteranges 206 has its ranges inside the body and is not judged)",
		check: func(ex *Exchange, r *reporter) {
			if ex.Status != http.StatusPartialContent {
				return
			}
			if mt, _, err := mime.ParseMediaType(ex.Header.Get("Content-Type")); err == nil && mt == "multipart/byteranges" {
				return
			}
			v, ok := field(ex.Header, "Content-Range")
			if !ok {
				r.add("a Content-Range like bytes 0-99/1234", "absent", "a single-part 206 response must carry Content-Range")
				return
			}
			cr, other, err := parseContentRange(v)
			switch {
			case err != nil:
				r.add("a Content-Range like bytes 0-99/1234", r.quote(v, true), "Content-Range is invalid: "+err.Error())
			case !other && cr.unsatisfied:
				r.add("a satisfied range like bytes 0-99/1234", r.quote(v, true), "a 206 carries the range it sends, not an unsatisfied-range")
			}
		},
	},
	{
		ID: "rfc9110/416-content-range", Section: "RFC 9110 §15.5.17", Level: Should,
		Summary: "a 416 (Range Not Satisfiable) response to a byte-range request carries Content-Range: bytes */LENGTH",
		Sees:    "Content-Range of a 416 answering a request that sent Range",
		check: func(ex *Exchange, r *reporter) {
			if ex.Status != http.StatusRequestedRangeNotSatisfiable {
				return
			}
			if rg := ex.RequestHeader.Get("Range"); !strings.HasPrefix(strings.ToLower(strings.TrimSpace(rg)), "bytes") {
				return
			}
			v, ok := field(ex.Header, "Content-Range")
			if !ok {
				r.add("Content-Range: bytes */LENGTH", "absent", "a 416 should say the current length in Content-Range")
				return
			}
			if cr, other, err := parseContentRange(v); err != nil || (!other && !cr.unsatisfied) {
				r.add("Content-Range: bytes */LENGTH", r.quote(v, true), "a 416 should carry an unsatisfied-range (bytes */LENGTH)")
			}
		},
	},
	{
		ID: "rfc9110/date-syntax", Section: "RFC 9110 §5.6.7", Level: Must,
		Summary: "Date, Last-Modified and Retry-After (when a date) are IMF-fixdate, e.g. Sun, 06 Nov 1994 08:49:37 GMT",
		Sees:    "the Date, Last-Modified and Retry-After headers of every response",
		check: func(ex *Exchange, r *reporter) {
			for _, name := range []string{"Date", "Last-Modified", "Retry-After"} {
				vs := ex.Header.Values(name)
				if len(vs) == 0 {
					continue
				}
				if len(vs) > 1 {
					r.add("one "+name, fmt.Sprintf("%d %s field lines", len(vs), name), name+" is a singleton field; the response has several")
					continue
				}
				v := strings.TrimSpace(vs[0])
				if name == "Retry-After" && allDigits(v) {
					continue // delay-seconds
				}
				if _, err := parseHTTPDate(v); err != nil {
					r.add("an IMF-fixdate like Sun, 06 Nov 1994 08:49:37 GMT", r.quote(v, true), name+": "+err.Error())
				}
			}
		},
	},
	{
		ID: "rfc9110/last-modified-future", Section: "RFC 9110 §8.8.2.1", Level: Must,
		Summary: "Last-Modified is not later than the response's Date",
		Sees:    "Last-Modified and Date of the same response (the server's clock, not assay's)",
		check: func(ex *Exchange, r *reporter) {
			lm, err1 := parseHTTPDate(strings.TrimSpace(ex.Header.Get("Last-Modified")))
			date, err2 := parseHTTPDate(strings.TrimSpace(ex.Header.Get("Date")))
			if err1 == nil && err2 == nil && lm.After(date) {
				r.add("Last-Modified <= Date ("+ex.Header.Get("Date")+")", ex.Header.Get("Last-Modified"),
					"Last-Modified is later than the Date the server sent the response")
			}
		},
	},
	{
		ID: "rfc9111/cache-control-syntax", Section: "RFC 9111 §5.2", Level: Must,
		Summary: `Cache-Control is a list of directives (token or token=argument), max-age and s-maxage as unquoted delta-seconds`,
		Sees:    "the Cache-Control header of every response",
		check: func(ex *Exchange, r *reporter) {
			v, ok := field(ex.Header, "Cache-Control")
			if !ok {
				return
			}
			if ps := checkCacheControl(v, r.redact); len(ps) > 0 {
				r.add("directives like no-cache, max-age=60", r.quote(v, true), "Cache-Control is invalid: "+strings.Join(ps, "; "))
			}
		},
	},
	{
		ID: "rfc9111/expires-syntax", Section: "RFC 9111 §5.3", Level: Should,
		Summary: "Expires is an HTTP-date (IMF-fixdate)",
		Sees:    "the Expires header of every response; reported at SHOULD because caches must treat an invalid value such as 0 as already expired, which is what senders of Expires: 0 mean",
		check: func(ex *Exchange, r *reporter) {
			vs := ex.Header.Values("Expires")
			if len(vs) == 0 {
				return
			}
			v := strings.TrimSpace(strings.Join(vs, ", "))
			if _, err := parseHTTPDate(v); err != nil {
				r.add("an IMF-fixdate like Sun, 06 Nov 1994 08:49:37 GMT", r.quote(v, true), "Expires: "+err.Error()+" (caches treat it as already expired)")
			}
		},
	},
}

// validatorFields are the fields a 304 must repeat when a 200 would have
// carried them (RFC 9110 §15.4.5). Date is left out: a server without a
// clock sends none, and Go's servers always do.
var validatorFields = []string{"ETag", "Cache-Control", "Content-Location", "Expires", "Vary"}

func check304Validators(ex *Exchange, r *reporter) {
	if ex.Status != http.StatusNotModified {
		return
	}
	if ex.Previous == nil {
		inm := strings.TrimSpace(ex.RequestHeader.Get("If-None-Match"))
		if inm != "" && inm != "*" {
			if _, ok := field(ex.Header, "ETag"); !ok {
				r.add("ETag (the request's If-None-Match shows the resource has one)", "absent",
					"a 304 must carry the ETag a 200 would have carried")
			}
		}
		return
	}
	for _, name := range validatorFields {
		want, had := field(ex.Previous, name)
		if !had {
			continue
		}
		got, has := field(ex.Header, name)
		switch {
		case !has:
			r.add(name+": "+r.quote(want, true)+" (as in the 200)", "absent",
				fmt.Sprintf("a 304 must carry the %s a 200 would have carried", name))
		case name == "ETag" && got != want:
			r.add(name+": "+r.quote(want, true)+" (as in the 200)", name+": "+r.quote(got, true),
				"the 304's ETag differs from the 200's: the 304 does not describe the representation the client holds")
		}
	}
}

// noContent builds the rules that forbid content on some responses (204,
// 304, HEAD): applies says which, msg why.
func noContent(applies func(*Exchange) bool, msg string) func(*Exchange, *reporter) {
	return func(ex *Exchange, r *reporter) {
		if applies(ex) && ex.bodyLen() > 0 {
			r.add("no content", fmt.Sprintf("%d bytes of content", ex.bodyLen()), msg)
		}
	}
}
