package semantics

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// isTchar reports whether c may appear in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// quotedLen is the length of the quoted-string (RFC 9110 §5.6.4) at the
// start of s, or 0 when there is none.
func quotedLen(s string) int {
	if s == "" || s[0] != '"' {
		return 0
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 >= len(s) {
				return 0
			}
			i++
		case c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80:
		default:
			return 0
		}
	}
	return 0
}

// checkEntityTag validates one entity-tag (RFC 9110 §8.8.3):
// [ W/ ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text.
func checkEntityTag(v string) error {
	s := v
	if strings.HasPrefix(s, "W/") {
		s = s[2:]
	} else if strings.HasPrefix(s, "w/") {
		return errors.New(`the weak prefix is case-sensitive: "W/", not "w/"`)
	}
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return errors.New("an entity-tag is a double-quoted string, optionally prefixed with W/")
	}
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		if c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80 {
			continue
		}
		if c == '"' {
			return errors.New("a double quote inside the opaque-tag")
		}
		return fmt.Errorf("character %q is not allowed in an entity-tag", c)
	}
	return nil
}

// IsWeakETag reports whether v is a weak entity-tag (W/"...").
func IsWeakETag(v string) bool { return strings.HasPrefix(strings.TrimSpace(v), "W/") }

// ValidETag reports whether v is a syntactically valid entity-tag.
func ValidETag(v string) bool { return checkEntityTag(v) == nil }

var (
	imfFixdate = regexp.MustCompile(`^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$`)
	rfc850Date = regexp.MustCompile(`^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), [0-9]{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$`)
	asctime    = regexp.MustCompile(`^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ( [0-9]|[0-9]{2}) [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$`)
)

// isIMFFixdate is imfFixdate.MatchString without the regexp machinery,
// which cost more than the rest of the rules together: every response
// has a Date.
func isIMFFixdate(v string) bool {
	const layout = "Www, 00 Mmm 0000 00:00:00 GMT"
	if len(v) != len(layout) || !strings.Contains("Mon Tue Wed Thu Fri Sat Sun ", v[0:3]+" ") ||
		!strings.Contains("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec ", v[8:11]+" ") {
		return false
	}
	for i := 3; i < len(layout); i++ {
		switch c := layout[i]; {
		case i >= 8 && i < 11:
		case c == '0':
			if v[i] < '0' || v[i] > '9' {
				return false
			}
		case v[i] != c:
			return false
		}
	}
	return true
}

// imfTime reads a date isIMFFixdate accepted, with the checks time.Parse
// makes (a day the month has, hour < 24, minute and second < 60; the
// weekday's name but not its agreement with the date), at a fraction of
// its cost: it runs on the Date of every response.
func imfTime(v string) (time.Time, bool) {
	num := func(s string) int {
		n := 0
		for i := 0; i < len(s); i++ {
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	day, year := num(v[5:7]), num(v[12:16])
	hour, minute, second := num(v[17:19]), num(v[20:22]), num(v[23:25])
	month := time.Month(strings.Index("JanFebMarAprMayJunJulAugSepOctNovDec", v[8:11])/3 + 1)
	days := 31
	switch month {
	case time.April, time.June, time.September, time.November:
		days = 30
	case time.February:
		days = 28
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			days = 29
		}
	}
	if day < 1 || day > days || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	return time.Date(year, month, day, hour, minute, second, 0, time.UTC), true
}

// parseHTTPDate parses an HTTP-date as a sender must write it: IMF-fixdate
// (RFC 9110 §5.6.7). The obsolete RFC 850 and asctime forms, which
// recipients accept but senders must not generate, are reported as such.
func parseHTTPDate(v string) (time.Time, error) {
	switch {
	case isIMFFixdate(v):
		t, ok := imfTime(v)
		if !ok {
			return time.Time{}, errors.New("not a real date and time")
		}
		return t, nil
	case rfc850Date.MatchString(v), asctime.MatchString(v):
		return time.Time{}, errors.New("obsolete date format; senders must generate IMF-fixdate")
	}
	return time.Time{}, errors.New(`not an IMF-fixdate like "Sun, 06 Nov 1994 08:49:37 GMT"`)
}

// deltaSecondsArgs are the Cache-Control directives whose argument is
// delta-seconds in token form (RFC 9111 §1.2.2, §5.2; RFC 5861 §3, §4).
var deltaSecondsArgs = map[string]bool{
	"max-age": true, "s-maxage": true, "min-fresh": true,
	"stale-while-revalidate": true, "stale-if-error": true,
}

// noArgDirectives are response directives defined without an argument.
var noArgDirectives = map[string]bool{
	"public": true, "no-store": true, "no-transform": true, "must-revalidate": true,
	"proxy-revalidate": true, "must-understand": true, "immutable": true, "only-if-cached": true,
}

// checkCacheControl validates a Cache-Control field value (RFC 9111 §5.2):
// a list of cache-directive = token [ "=" ( token / quoted-string ) ], with
// the argument forms the directives define. redact, when set, hides
// secrets in an excerpt of v before it is cut.
func checkCacheControl(v string, redact func(string) string) []string {
	problems := cacheControlProblems(v, redact)
	if len(problems) > maxProblems {
		problems = append(problems[:maxProblems], fmt.Sprintf("and %d more", len(problems)-maxProblems))
	}
	return problems
}

// maxProblems is how many problems of one field a finding lists.
const maxProblems = 3

func cacheControlProblems(v string, redact func(string) string) []string {
	excerpt := func(s string) string {
		if redact != nil {
			s = redact(s)
		}
		return truncate(s, 40)
	}
	var problems []string
	s := v
	first := true
	for {
		s = trimOWS(s)
		if s == "" {
			if first {
				problems = append(problems, "empty field value")
			}
			return problems
		}
		if !first {
			if s[0] != ',' {
				return append(problems, fmt.Sprintf("expected ',' between directives at %q", excerpt(s)))
			}
			s = trimOWS(s[1:])
			if s == "" || s[0] == ',' {
				problems = append(problems, "empty list element (a sender must not generate one)")
				if s == "" {
					return problems
				}
				continue
			}
		}
		first = false
		n := 0
		for n < len(s) && isTchar(s[n]) {
			n++
		}
		if n == 0 {
			return append(problems, fmt.Sprintf("expected a directive name (a token) at %q", excerpt(s)))
		}
		written, name := s[:n], strings.ToLower(s[:n])
		s = s[n:]
		if s == "" || s[0] != '=' {
			if deltaSecondsArgs[name] {
				problems = append(problems, fmt.Sprintf("%s needs an argument (delta-seconds)", name))
			}
			continue
		}
		s = s[1:]
		var arg string
		quoted := false
		if q := quotedLen(s); q > 0 {
			arg, s, quoted = s[1:q-1], s[q:], true
		} else {
			m := 0
			for m < len(s) && isTchar(s[m]) {
				m++
			}
			if m == 0 {
				return append(problems, fmt.Sprintf("%s=: expected a token or a quoted string as the argument", excerpt(written)))
			}
			arg, s = s[:m], s[m:]
		}
		// The argument is quoted as an excerpt: it may be long, or hold
		// a secret. The names of interest are short.
		switch {
		case deltaSecondsArgs[name] && quoted:
			problems = append(problems, fmt.Sprintf(`%s="%s": the argument must be in token form, not quoted`, name, excerpt(arg)))
		case deltaSecondsArgs[name]:
			if !allDigits(arg) { // a huge value is valid: it means 2^31 (RFC 9111 §1.2.2)
				problems = append(problems, fmt.Sprintf("%s=%s: the argument must be delta-seconds (a non-negative integer)", name, excerpt(arg)))
			}
		case noArgDirectives[name]:
			problems = append(problems, fmt.Sprintf("%s takes no argument", name))
		}
	}
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func trimOWS(s string) string {
	return strings.TrimLeft(s, " \t")
}

// contentRange is a parsed Content-Range (RFC 9110 §14.4).
type contentRange struct {
	unsatisfied bool  // bytes */length
	first, last int64 // inclusive
	length      int64 // -1 for "*"
}

var (
	rangeResp       = regexp.MustCompile(`^bytes ([0-9]+)-([0-9]+)/([0-9]+|\*)$`)
	unsatisfiedResp = regexp.MustCompile(`^bytes \*/([0-9]+)$`)
	otherUnitRange  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\\x21-\\x7e\\x80-\\xff]+$")
)

// parseContentRange parses a Content-Range value. Units other than bytes
// are accepted (range-unit SP range-resp) with ok set and other true.
func parseContentRange(v string) (cr contentRange, other bool, err error) {
	if m := rangeResp.FindStringSubmatch(v); m != nil {
		cr.first, _ = strconv.ParseInt(m[1], 10, 64)
		cr.last, _ = strconv.ParseInt(m[2], 10, 64)
		cr.length = -1
		if m[3] != "*" {
			cr.length, _ = strconv.ParseInt(m[3], 10, 64)
		}
		switch {
		case cr.last < cr.first:
			return cr, false, errors.New("last-pos is before first-pos")
		case cr.length >= 0 && cr.last >= cr.length:
			return cr, false, errors.New("last-pos is not less than complete-length")
		}
		return cr, false, nil
	}
	if m := unsatisfiedResp.FindStringSubmatch(v); m != nil {
		cr.unsatisfied = true
		cr.length, _ = strconv.ParseInt(m[1], 10, 64)
		return cr, false, nil
	}
	if !strings.HasPrefix(strings.ToLower(v), "bytes ") && otherUnitRange.MatchString(v) {
		return cr, true, nil
	}
	return cr, false, errors.New(`not "bytes first-last/length", "bytes first-last/*" or "bytes */length"`)
}
