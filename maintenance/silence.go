package maintenance

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of a silence (README, "Maintenance windows and silences").
const (
	MaxMatchers        = 32
	MaxMatcherValue    = 1024
	MaxComment         = 1024
	MaxCreatedBy       = 256
	MaxSilence         = 31 * 24 * time.Hour
	MaxSilenceAhead    = 366 * 24 * time.Hour
	MaxSilences        = 1000
	DefaultKeepExpired = 24 * time.Hour
)

// Silence states, as Alertmanager names them.
const (
	StateActive  = "active"
	StatePending = "pending"
	StateExpired = "expired"
)

// Matcher matches one label of a check, as an Alertmanager v2 matcher
// does: the label "check" is the check's name, a label the check lacks
// has the value "", a regex is anchored at both ends, and IsEqual false
// negates.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`

	re *regexp.Regexp
}

// UnmarshalJSON reads a matcher; isEqual defaults to true, as in
// Alertmanager.
func (m *Matcher) UnmarshalJSON(b []byte) error {
	var w struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsRegex bool   `json:"isRegex"`
		IsEqual *bool  `json:"isEqual"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = Matcher{Name: w.Name, Value: w.Value, IsRegex: w.IsRegex, IsEqual: w.IsEqual == nil || *w.IsEqual}
	return nil
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (m *Matcher) compile() error {
	if !labelName.MatchString(m.Name) {
		return fmt.Errorf("name %q is not a label name (letters, digits, '_'; \"check\" is the check's name)", m.Name)
	}
	if len(m.Value) > MaxMatcherValue {
		return fmt.Errorf("value of %s is longer than %d bytes", m.Name, MaxMatcherValue)
	}
	if m.IsRegex {
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return fmt.Errorf("value of %s is not a regular expression: %v", m.Name, err)
		}
		m.re = re
	}
	return nil
}

func (m *Matcher) matches(labels map[string]string, check string) bool {
	v := labels[m.Name]
	if m.Name == "check" {
		v = check
	}
	var ok bool
	if m.re != nil {
		ok = m.re.MatchString(v)
	} else {
		ok = v == m.Value
	}
	return ok == m.IsEqual
}

// Silence mutes the checks its matchers all match from Starts to Ends.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	Starts    time.Time `json:"starts"`
	Ends      time.Time `json:"ends"`
	Comment   string    `json:"comment"`
	CreatedBy string    `json:"created_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// Status is computed when the silence is listed.
	Status SilenceStatus `json:"status"`
}

// SilenceStatus is a silence's state at the time it was read.
type SilenceStatus struct {
	State string `json:"state"`
}

// Matches reports whether the silence's matchers all match the check.
func (s *Silence) Matches(check string, labels map[string]string) bool {
	for i := range s.Matchers {
		if !s.Matchers[i].matches(labels, check) {
			return false
		}
	}
	return len(s.Matchers) > 0
}

// ActiveAt reports whether t is within [Starts, Ends).
func (s *Silence) ActiveAt(t time.Time) bool { return !t.Before(s.Starts) && t.Before(s.Ends) }

func (s *Silence) state(now time.Time) string {
	switch {
	case !now.Before(s.Ends):
		return StateExpired
	case now.Before(s.Starts):
		return StatePending
	}
	return StateActive
}

// InvalidError is a silence the API refuses (400), with why.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func invalid(format string, args ...any) error { return &InvalidError{fmt.Sprintf(format, args...)} }

// ErrTooMany is returned when MaxSilences are active or pending.
var ErrTooMany = errors.New("too many silences")

// NewSilence is the body of POST /api/v1/silences.
type NewSilence struct {
	Matchers  []Matcher `json:"matchers"`
	Starts    time.Time `json:"starts"`
	Ends      time.Time `json:"ends"`
	Comment   string    `json:"comment"`
	CreatedBy string    `json:"created_by"`
}

// validate checks n at now and returns the silence it makes (a missing
// starts is now).
func (n NewSilence) validate(now time.Time) (*Silence, error) {
	switch {
	case len(n.Matchers) == 0:
		return nil, invalid("matchers: a silence needs at least one matcher, e.g. {\"name\": \"check\", \"value\": \"db-backup\"}")
	case len(n.Matchers) > MaxMatchers:
		return nil, invalid("matchers: at most %d, got %d", MaxMatchers, len(n.Matchers))
	}
	for i := range n.Matchers {
		if err := n.Matchers[i].compile(); err != nil {
			return nil, invalid("matchers[%d]: %v", i, err)
		}
	}
	if n.Starts.IsZero() {
		n.Starts = now
	}
	switch {
	case strings.TrimSpace(n.Comment) == "":
		return nil, invalid("comment: say why the checks are silenced")
	case len(n.Comment) > MaxComment || !utf8.ValidString(n.Comment):
		return nil, invalid("comment: at most %d bytes of UTF-8", MaxComment)
	case len(n.CreatedBy) > MaxCreatedBy || !utf8.ValidString(n.CreatedBy):
		return nil, invalid("created_by: at most %d bytes of UTF-8", MaxCreatedBy)
	case n.Ends.IsZero():
		return nil, invalid("ends: required (RFC 3339, e.g. %s)", now.Add(2*time.Hour).UTC().Format(time.RFC3339))
	case !n.Ends.After(n.Starts):
		return nil, invalid("ends: must be after starts")
	case !n.Ends.After(now):
		return nil, invalid("ends: must be in the future")
	case n.Ends.Sub(n.Starts) > MaxSilence:
		return nil, invalid("ends: a silence lasts at most 31d")
	case n.Starts.Sub(now) > MaxSilenceAhead:
		return nil, invalid("starts: at most a year ahead")
	}
	return &Silence{ID: newID(), Matchers: n.Matchers, Starts: n.Starts.UTC(), Ends: n.Ends.UTC(),
		Comment: n.Comment, CreatedBy: n.CreatedBy, UpdatedAt: now.UTC()}, nil
}

// newID is a random UUID (version 4), as Alertmanager's silence IDs.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// validID keeps what is looked up in the store to the IDs newID makes.
var validID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// decodeSilence reads a stored silence and compiles its matchers.
func decodeSilence(doc []byte) (*Silence, error) {
	s := &Silence{}
	if err := json.Unmarshal(doc, s); err != nil {
		return nil, err
	}
	for i := range s.Matchers {
		if err := s.Matchers[i].compile(); err != nil {
			return nil, err
		}
	}
	return s, nil
}
