package checks

import (
	"strconv"
	"strings"
)

// Values in a result are cut (a body preview at the evidence cap, an
// assertion's actual at actualLimit, a finding's value), and a cut can fall
// inside a secret: redacting after the cut would leave all but the last
// characters of it. So the engine never cuts inside a secret it knows:
// cut moves the cut to the start of a secret across it and puts Redacted
// there. What is kept is hidden, like every other value, by the pass over
// the result at the end of the attempt, which knows every secret of the
// attempt and how a request may refer to each. A secret learned after a
// value was cut (captured by a later step) is hidden in full by that pass,
// and hideCutSecrets hides its beginning left before a cut.

// cutMark begins the text that ends every cut value: "…(N more bytes)"
// from the engine, "…" from the semantics and OpenAPI validators.
const cutMark = "…"

// minCutSecret is the shortest beginning of a secret hideCutSecrets hides:
// shorter ones are too common to be told from other text.
const minCutSecret = 4

// moreBytes is the mark of a value cut with n bytes left out.
func moreBytes(n int) string { return cutMark + "(" + strconv.Itoa(n) + " more bytes)" }

// runeStart moves i back to the start of a rune of s.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
		i--
	}
	return i
}

// longest is the length of the longest form of a secret, 0 without any.
func (rd *redactor) longest() int {
	if rd == nil || len(rd.forms) == 0 {
		return 0
	}
	return len(rd.forms[0].text)
}

// window is how much of a text of total bytes cut needs to cut it at n:
// a secret that ends beyond the window cannot reach back before n.
func (rd *redactor) window(total, n int) int {
	return min(total, n+rd.longest())
}

// cut is at most n bytes of s (on a rune boundary) and the mark of what
// was left out, never cut inside a known secret: the cut moves to the
// start of a secret across it, and Redacted stands for it. The secrets in
// what is kept are left for the last pass (see redactor.step).
func (rd *redactor) cut(s string, n int) string { return rd.cutPrefix(s, n, len(s)) }

// cutPrefix is cut for a text of total bytes of which s holds the first
// rd.window(total, n) at least.
func (rd *redactor) cutPrefix(s string, n, total int) string {
	if total <= n {
		return s
	}
	c := runeStart(s, min(n, len(s)))
	across := false
	if rd != nil {
		// Move the cut to the start of any secret across it, until none is.
		for moved := true; moved; {
			moved = false
			for _, f := range rd.forms {
				lo, hi := max(0, c-len(f.text)+1), min(len(s), c+len(f.text)-1)
				if lo >= hi {
					continue
				}
				if i := strings.Index(s[lo:hi], f.text); i >= 0 {
					c, across, moved = lo+i, true, true
				}
			}
		}
	}
	out := s[:c]
	if across {
		out += Redacted
	}
	return out + moreBytes(total-c)
}

// hideCutSecrets replaces with Redacted a beginning of a secret (of at
// least minCutSecret bytes) that ends right before a cut mark.
func (rd *redactor) hideCutSecrets(s string) string {
	var b strings.Builder
	last := 0
	for from := 0; ; {
		i := strings.Index(s[from:], cutMark)
		if i < 0 {
			break
		}
		i += from
		from = i + len(cutMark)
		for _, f := range rd.forms {
			if l := rd.cutSecretLen(s[last:i], f.text); l > 0 {
				b.WriteString(s[last : i-l])
				b.WriteString(Redacted)
				last = i
				break
			}
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// cutSecretLen is the length of the longest beginning of form (shorter
// than form, at least minCutSecret bytes) that ends s, or 0. Only the
// places where form's first byte occurs are tried.
func (rd *redactor) cutSecretLen(s, form string) int {
	tail := s[len(s)-min(len(form)-1, len(s)):]
	for j := 0; len(tail)-j >= minCutSecret; j++ {
		i := strings.IndexByte(tail[j:], form[0])
		if i < 0 || len(tail)-j-i < minCutSecret {
			return 0
		}
		j += i
		if strings.HasPrefix(form, tail[j:]) {
			return len(tail) - j
		}
	}
	return 0
}
