package demoapi

// entityTag is one parsed entity-tag (RFC 9110 §8.8.3).
type entityTag struct {
	weak   bool
	opaque string // with its quotes
}

// parseTagList parses the field lines of If-Match or If-None-Match:
// "*" or a comma-separated list of entity-tags. A comma may appear inside
// an opaque-tag, so the list is scanned, not split. ok is false when a line
// is malformed; callers then treat the condition conservatively.
func parseTagList(lines []string) (tags []entityTag, star, ok bool) {
	for _, s := range lines {
		for {
			s = trimListSeparators(s)
			if s == "" {
				break
			}
			var t entityTag
			switch {
			case s[0] == '*':
				star = true
				s = s[1:]
			default:
				if len(s) >= 2 && s[0] == 'W' && s[1] == '/' {
					t.weak = true
					s = s[2:]
				}
				n := quotedLen(s)
				if n == 0 {
					return nil, false, false
				}
				t.opaque, s = s[:n], s[n:]
				tags = append(tags, t)
			}
			// An element ends at optional whitespace, then a comma or
			// the end of the line.
			rest := trimOWS(s)
			if rest != "" && rest[0] != ',' {
				return nil, false, false
			}
			s = rest
		}
	}
	return tags, star, true
}

// quotedLen returns the length of the opaque-tag at the start of s
// (DQUOTE *etagc DQUOTE), or 0 if there is none.
func quotedLen(s string) int {
	if s == "" || s[0] != '"' {
		return 0
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return i + 1
		case c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80: // etagc
		default:
			return 0
		}
	}
	return 0
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

func trimListSeparators(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t' || s[0] == ',') {
		s = s[1:]
	}
	return s
}

// matchStrong evaluates If-Match against the current (strong) tag of an
// existing resource (RFC 9110 §13.1.1): "*" matches, and a listed tag
// matches only by strong comparison, so a weak tag never does. A malformed
// field matches nothing: refusing a write is the safe failure.
func matchStrong(lines []string, current string) bool {
	tags, star, ok := parseTagList(lines)
	if !ok {
		return false
	}
	if star {
		return true
	}
	for _, t := range tags {
		if !t.weak && t.opaque == current {
			return true
		}
	}
	return false
}

// noneMatchFails reports whether If-None-Match evaluates to false for an
// existing resource with the current tag (RFC 9110 §13.1.2): "*" or any
// listed tag equal by weak comparison (W/ ignored on both sides). A
// malformed field is ignored (evaluates to true), so the client gets the
// full response rather than a wrong 304.
func noneMatchFails(lines []string, current string) bool {
	tags, star, ok := parseTagList(lines)
	if !ok {
		return false
	}
	if star {
		return true
	}
	cur := current
	if len(cur) >= 2 && cur[:2] == "W/" {
		cur = cur[2:]
	}
	for _, t := range tags {
		if t.opaque == cur {
			return true
		}
	}
	return false
}
