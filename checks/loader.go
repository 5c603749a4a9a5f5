package checks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/assay-monitor/assay/internal/safefile"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"github.com/robfig/cron/v3"
	"github.com/theory/jsonpath"

	"go.yaml.in/yaml/v3"
)

// CronParser parses schedules: 5 fields with optional seconds, descriptors
// (@every 30s, @hourly) and a CRON_TZ= prefix. The scheduler uses the same
// parser so that what validates here runs there.
var CronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Bounds of check fields, so that no value overflows a deadline or keeps
// a run going for days (README, "Limits").
const (
	// MaxTimeout bounds timeout, request.timeout, contract.timeout and
	// expect.response_time.
	MaxTimeout = 24 * time.Hour
	// MaxBackoff bounds retries.backoff and retries.max_backoff.
	MaxBackoff = time.Hour
	// MaxRetries bounds retries.count.
	MaxRetries = 10
	// scheduleHorizon is how far ahead a schedule must fire at least once.
	scheduleHorizon = 5 * 365 * 24 * time.Hour
)

// scheduleProblem says what is wrong with a schedule, or "": it must
// parse, an @every interval must be whole seconds, and it must fire within
// the next five years (robfig/cron's Next gives the zero time for "0 0 30
// 2 *", February 30th, and a scheduler waiting for it would never wait).
func scheduleProblem(spec string, now time.Time) (msg string) {
	defer func() {
		// robfig/cron v3.0.1 panics on a CRON_TZ= with no spec after it.
		if r := recover(); r != nil {
			msg = fmt.Sprintf("invalid cron spec %s: expected a schedule after the time zone", yamlstrict.Excerpt(spec))
		}
	}()
	sched, err := CronParser.Parse(spec)
	if err != nil {
		return fmt.Sprintf("invalid cron spec %s: %v", yamlstrict.Excerpt(spec), err)
	}
	if every, ok := strings.CutPrefix(spec, "@every "); ok {
		// robfig/cron silently rounds @every to whole seconds, at least 1s.
		if iv, err := time.ParseDuration(strings.TrimSpace(every)); err != nil || iv < time.Second || iv%time.Second != 0 {
			return fmt.Sprintf("invalid cron spec %s: @every takes a whole number of seconds, at least 1s", yamlstrict.Excerpt(spec))
		}
	}
	if next := sched.Next(now); next.IsZero() || !next.After(now) || next.Sub(now) > scheduleHorizon {
		return fmt.Sprintf("schedule %s never fires: no time in the next 5 years matches it", yamlstrict.Excerpt(spec))
	}
	return ""
}

// shortDuration renders 24h rather than 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// LoadOptions tune loading; the zero value reads the process environment
// and applies the default limits.
type LoadOptions struct {
	// LookupEnv resolves ${VAR}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// MaxFileSize bounds every file read: check files and the TLS and
	// OpenAPI files they name; 0 means DefaultMaxFileSize. (JSON Schema
	// files have their own bound, MaxSchemaSize.)
	MaxFileSize int64
	// MaxNodes bounds the nodes one YAML document may expand to with its
	// aliases followed; 0 means yamlstrict.DefaultMaxNodes.
	MaxNodes int
	// Secrets names environment variables whose values are secrets
	// besides those whose name says so (assay.yaml's secrets:), as a
	// check file's own secrets: list does.
	Secrets []string
}

// DefaultMaxFileSize is the largest file the loader reads: 16 MiB.
const DefaultMaxFileSize = safefile.DefaultLimit

// Load reads every check file under paths (directories are walked for
// *.yaml and *.yml) with the process environment. On any problem it returns
// LoadErrors listing all of them.
func Load(paths ...string) ([]*Check, error) { return LoadOptions{}.Load(paths...) }

// LoadContext is Load that gives up when ctx is done, returning ctx's
// error (not LoadErrors), so that an interrupt is obeyed during a slow load.
func LoadContext(ctx context.Context, paths ...string) ([]*Check, error) {
	return LoadOptions{}.LoadContext(ctx, paths...)
}

// Load reads check files as the package-level Load does.
func (o LoadOptions) Load(paths ...string) ([]*Check, error) {
	return o.LoadContext(context.Background(), paths...)
}

// LoadContext reads check files as the package-level LoadContext does.
func (o LoadOptions) LoadContext(ctx context.Context, paths ...string) ([]*Check, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("loading checks: %w", err)
	}
	type loaded struct {
		cs  []*Check
		err error
	}
	// The work runs apart so that a cancelled load returns at once; what
	// is left of it (one file's parse at most per core) ends by itself.
	done := make(chan loaded, 1)
	go func() {
		cs, err := o.load(ctx, paths)
		done <- loaded{cs, err}
	}()
	select {
	case l := <-done:
		return l.cs, l.err
	case <-ctx.Done():
		return nil, fmt.Errorf("loading checks: %w", context.Cause(ctx))
	}
}

func (o LoadOptions) load(ctx context.Context, paths []string) ([]*Check, error) {
	files, errs := findFiles(ctx, paths)
	// Files are parsed in parallel, a big directory loading in a fraction
	// of the time on several cores; results keep the order of the files.
	type parsed struct {
		cs   []*Check
		errs LoadErrors
	}
	results := make([]parsed, len(files))
	var wg sync.WaitGroup
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, f := range files {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil, fmt.Errorf("loading checks: %w", context.Cause(ctx))
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			data, err := safefile.Read(f, o.MaxFileSize)
			if err != nil {
				results[i].errs = LoadErrors{&LoadError{Pos: Position{File: f}, Msg: "cannot read: " + unwrapPathErr(err)}}
				return
			}
			results[i].cs, results[i].errs = o.parseContext(ctx, f, data)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("loading checks: %w", context.Cause(ctx))
	}
	var all []*Check
	for _, r := range results {
		errs = append(errs, r.errs...)
		all = append(all, r.cs...)
	}
	seen := map[string]*Check{}
	for _, c := range all {
		if c.Name == "" {
			continue
		}
		if prev, ok := seen[c.Name]; ok {
			errs = append(errs, &LoadError{Pos: c.Pos, Field: "name",
				Msg: fmt.Sprintf("duplicate check name %q (first defined at %s)", c.Name, prev.Pos)})
			continue
		}
		seen[c.Name] = c
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool {
			a, b := errs[i].Pos, errs[j].Pos
			if a.File != b.File {
				return a.File < b.File
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return nil, errs
	}
	return all, nil
}

// Parse loads the checks of one file's content; file names positions.
func Parse(file string, data []byte) ([]*Check, error) {
	cs, errs := LoadOptions{LookupEnv: os.LookupEnv, MaxFileSize: DefaultMaxFileSize}.parse(file, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return cs, nil
}

func findFiles(ctx context.Context, paths []string) ([]string, LoadErrors) {
	var files []string
	var errs LoadErrors
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, &LoadError{Pos: Position{File: p}, Msg: "cannot read: " + unwrapPathErr(err)})
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			// Every file named *.yaml is read, whatever it is: reading
			// tells a symlink to a regular file (a Kubernetes ConfigMap)
			// from a FIFO, which is then an error rather than skipped.
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, &LoadError{Pos: Position{File: p}, Msg: err.Error()})
		}
	}
	sort.Strings(files)
	return files, errs
}

func unwrapPathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// notCheckFile is the one error of a file that is not YAML of ours (a
// symlink to /etc/shadow, another tool's file): none of its content is
// quoted.
const notCheckFile = `not a check file (expected a mapping with "checks")`

// parse loads one file's content.
func (o LoadOptions) parse(file string, data []byte) ([]*Check, LoadErrors) {
	return o.parseContext(context.Background(), file, data)
}

func (o LoadOptions) parseContext(ctx context.Context, file string, data []byte) ([]*Check, LoadErrors) {
	if e := yamlstrict.CheckText(file, data); e != nil {
		return nil, LoadErrors{e}
	}
	d := &decoder{File: file, Secret: IsSecretName,
		ReadFile: func(p string) ([]byte, error) { return safefile.Read(p, o.MaxFileSize) }}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*Check
	// fileSecrets are every secret the file uses, hidden in its errors.
	var fileSecrets []secretValue
	var defaults defaultsCopies
	for ctx.Err() == nil {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			d.Errs = append(d.Errs, yamlstrict.SyntaxErrorIn(file, data, err))
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if yamlstrict.Foreign(root, "checks", "defaults") {
			return nil, LoadErrors{&LoadError{Pos: Position{File: file}, Msg: notCheckFile}}
		}
		if !d.LimitNodes(root, "", o.MaxNodes) {
			break // one error: walking the document is what must not happen
		}
		defaults.applyFileDefaults(d, root, o.MaxNodes)
		d.CheckSecretNames(root)
		d.Secret = o.secretNames(yamlstrict.SecretNames(root))
		secrets := o.expandChecksEnv(d, root, &fileSecrets)
		prints := fingerprints(root, o.MaxNodes)
		var f File
		d.Into(root, &f, "")
		for i, c := range f.Checks {
			if c == nil {
				continue
			}
			if ctx.Err() != nil {
				break
			}
			if i < len(prints) {
				c.Fingerprint = prints[i]
			}
			if i < len(secrets) {
				c.secrets = secrets[i]
			}
			defaults.share(c)
			compileCheck(d, c, fmt.Sprintf("checks[%d]", i))
			for _, sv := range c.secrets {
				fileSecrets = appendSecret(fileSecrets, sv)
			}
			out = append(out, c)
		}
		defaults.checkDefaultCaptures(d, &f)
	}
	d.Errs = defaults.report(d.Errs)
	hideSecrets(d.Errs, fileSecrets)
	return out, d.Errs
}

// hideSecrets replaces secret values in error messages: a secret in a
// value that fails to load (a token where a URL belongs) is not printed.
func hideSecrets(errs LoadErrors, secrets []secretValue) {
	values := make([]string, len(secrets))
	for i, sv := range secrets {
		values[i] = sv.value
	}
	yamlstrict.HideValues(errs, values, Redacted)
}

// fingerprints hashes each check's YAML (after ${VAR} expansion), so that
// a reload can tell unchanged checks from changed ones.
func fingerprints(root *yaml.Node, maxNodes int) []string {
	if maxNodes <= 0 {
		maxNodes = yamlstrict.DefaultMaxNodes
	}
	var out []string
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		v := root.Content[i+1]
		if root.Content[i].Value != "checks" || v.Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range v.Content {
			// A hash of the node tree, not of yaml.Marshal's text: the
			// same for the same definition at a fraction of the cost (a
			// third of loading 10,000 checks went to Marshal); an alias
			// counts as what it stands for, a comment not at all.
			h := sha256.New()
			budget := maxNodes
			hashNode(h, item, &budget)
			out = append(out, hex.EncodeToString(h.Sum(nil)[:8]))
		}
	}
	return out
}

// hashNode writes n's kind, resolved tag, value and children to h, within
// a budget of nodes (aliases could make the walk explode).
func hashNode(h hash.Hash, n *yaml.Node, budget *int) {
	if n == nil || *budget <= 0 {
		return
	}
	*budget--
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		hashNode(h, n.Alias, budget)
		return
	}
	var buf [binary.MaxVarintLen64 * 4]byte
	b := binary.AppendUvarint(buf[:0], uint64(n.Kind))
	b = binary.AppendUvarint(b, uint64(len(n.Content)))
	tag := n.ShortTag()
	b = binary.AppendUvarint(b, uint64(len(tag)))
	b = binary.AppendUvarint(b, uint64(len(n.Value)))
	h.Write(b)
	io.WriteString(h, tag)
	io.WriteString(h, n.Value)
	for _, c := range n.Content {
		hashNode(h, c, budget)
	}
}

// expandChecksEnv substitutes ${VAR} in every scalar value, per check so
// that secret-looking variables are remembered by the check that uses them.
func (o LoadOptions) expandChecksEnv(d *decoder, root *yaml.Node, all *[]secretValue) [][]secretValue {
	var perCheck [][]secretValue
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		v := root.Content[i+1]
		if root.Content[i].Value != "checks" || v.Kind != yaml.SequenceNode {
			o.expandEnv(d, v, root.Content[i].Value, all)
			continue
		}
		for j, item := range v.Content {
			var secrets []secretValue
			o.expandEnv(d, item, fmt.Sprintf("checks[%d]", j), &secrets)
			perCheck = append(perCheck, secrets)
			for _, sv := range secrets {
				*all = appendSecret(*all, sv)
			}
		}
	}
	return perCheck
}

// secretName matches environment variable names whose values are credentials.
var secretName = regexp.MustCompile(`(?i)(token|secret|passw|api_?key|private|credential|auth)`)

// IsSecretName reports whether an environment variable name looks like a
// credential's (API_TOKEN, DB_PASSWORD): its value is then never printed.
// (Capture and parameter names follow credentialName.)
func IsSecretName(name string) bool { return secretName.MatchString(name) }

func (o LoadOptions) expandEnv(d *decoder, n *yaml.Node, path string, secrets *[]secretValue) {
	d.ExpandEnvAt(n, path, o.LookupEnv, func(name, val string) {
		if secrets != nil && val != "" && d.SecretRef(name) {
			*secrets = appendSecret(*secrets, secretValue{value: val, ref: envReference(name)})
		}
	})
}

var (
	checkNameRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	labelNameRe   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	captureNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	methodRe      = regexp.MustCompile(`^[A-Z]+$`)
)

// reservedLabels are label names assay's own metrics use.
var reservedLabels = map[string]bool{"check": true, "step": true, "reason": true, "phase": true, "rule": true, "le": true, "job": true, "instance": true}

func compileCheck(d *decoder, c *Check, path string) {
	// Field paths stay those of the decoder (checks[0].steps[1]...), so
	// that every error of a check reads alike and d.ValuePos finds them.
	at := func(field string) Position { return d.ValuePos(field, c.Pos) }
	switch {
	case c.Name == "":
		d.ErrAt(c.Pos, path+".name", "a check needs a name")
	case len(c.Name) > 128 || !checkNameRe.MatchString(c.Name):
		d.ErrAt(at(path+".name"), path+".name", "invalid check name %q: use letters, digits, '.', '_' and '-' (at most 128)", c.Name)
	}
	if c.Heartbeat != nil {
		compileHeartbeat(d, c, path)
	}
	if c.Schedule == "" {
		c.Schedule = DefaultSchedule
	}
	if msg := scheduleProblem(c.Schedule, time.Now()); msg != "" {
		d.ErrAt(at(path+".schedule"), path+".schedule", "%s", msg)
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultTimeout)
	}
	bound := func(field string, v Duration, max time.Duration) {
		if v.D() > max {
			d.ErrAt(at(field), field, "must be at most %s, got %s", shortDuration(max), shortDuration(v.D()))
		}
	}
	bound(path+".timeout", c.Timeout, MaxTimeout)
	bound(path+".retries.backoff", c.Retries.Backoff, MaxBackoff)
	bound(path+".retries.max_backoff", c.Retries.MaxBackoff, MaxBackoff)
	if c.Retries.Count > MaxRetries {
		f := path + ".retries.count"
		d.ErrAt(d.ValuePos(f, at(path+".retries")), f, "must be at most %d, got %d", MaxRetries, c.Retries.Count)
	}
	for i, s := range c.Steps {
		if s != nil {
			sp := fmt.Sprintf("%s.steps[%d]", path, i)
			bound(sp+".request.timeout", s.Request.Timeout, MaxTimeout)
			bound(sp+".expect.response_time", s.Expect.ResponseTime, MaxTimeout)
		}
	}
	if c.Contract != nil {
		bound(path+".contract.timeout", c.Contract.Timeout, MaxTimeout)
	}
	if c.Retries.Backoff == 0 {
		c.Retries.Backoff = Duration(DefaultBackoff)
	}
	if c.Retries.MaxBackoff == 0 {
		c.Retries.MaxBackoff = Duration(DefaultMaxBackoff)
	}
	if c.Retries.On == "" {
		c.Retries.On = RetryOnNetwork
	}
	for _, k := range sortedKeys(c.Labels) {
		switch lp := path + ".labels." + k; {
		case !labelNameRe.MatchString(k) || strings.HasPrefix(k, "__"):
			d.ErrAt(d.KeyPos(lp, c.Pos), lp, "invalid label name %q: use letters, digits and '_', not starting with a digit or \"__\"", k)
		case reservedLabels[k]:
			d.ErrAt(d.KeyPos(lp, c.Pos), lp, "label name %q is reserved (assay's metrics use %s)", k, strings.Join(sortedKeys(reservedLabels), ", "))
		}
	}
	c.tmplVars = make(map[string]any, len(c.Vars))
	for _, k := range sortedKeys(c.Vars) {
		if !captureNameRe.MatchString(k) {
			d.ErrAt(at(path+".vars."+k), path+".vars."+k, "invalid var name %q: use letters, digits and '_' so that {{ .vars.%s }} works", k, k)
		}
		c.tmplVars[k] = c.Vars[k]
	}
	compileMaintenance(d, c, path)
	compileShared(d, c, path)
	if len(c.Steps) == 0 && c.Contract == nil && c.Heartbeat == nil && !reported(d, path+".steps") && !reported(d, path+".contract") {
		d.ErrAt(at(path+".steps"), path+".steps", "a check needs at least one step")
	}
	captured := map[string]bool{}
	stepNames := map[string]bool{}
	for i, s := range c.Steps {
		if s == nil {
			if sp := fmt.Sprintf("%s.steps[%d]", path, i); !reported(d, sp) {
				d.ErrAt(at(sp), sp, "empty step")
			}
			continue
		}
		if s.Name == "" {
			s.Name = fmt.Sprintf("step %d", i+1)
		}
		if stepNames[s.Name] {
			np := fmt.Sprintf("%s.steps[%d].name", path, i)
			d.ErrAt(d.ValuePos(np, s.Pos), np, "duplicate step name %q", s.Name)
		}
		stepNames[s.Name] = true
		compileStep(d, c, s, fmt.Sprintf("%s.steps[%d]", path, i), captured)
	}
	compileContract(d, c, path, captured, stepNames)
	compileFinally(d, c, path, captured, stepNames)
	compileOpenAPI(d, c, path)
	// Literal credentials have no source to refer to; one equal to an
	// environment secret's value keeps that secret's reference.
	if a, ok := c.Auth(); ok {
		for _, v := range a {
			c.secrets = appendSecret(c.secrets, secretValue{value: v, ref: Redacted})
		}
	}
}

// Auth returns the literal credentials of the check's steps (those that
// are not templates), which are secrets.
func (c *Check) Auth() ([]string, bool) {
	var out []string
	for _, s := range c.allSteps() {
		if s == nil || s.Request.Auth == nil {
			continue
		}
		a := s.Request.Auth
		if a.Basic != nil && !a.Basic.Password.Templated() && a.Basic.Password.Raw != "" {
			out = append(out, a.Basic.Password.Raw)
		}
		if a.Bearer != nil && !a.Bearer.Templated() && a.Bearer.Raw != "" {
			out = append(out, a.Bearer.Raw)
		}
	}
	return out, len(out) > 0
}

func compileStep(d *decoder, c *Check, s *Step, path string, captured map[string]bool) {
	if compileProbe(d, c, s, path, captured) {
		return
	}
	r := &s.Request
	at := func(field string) Position { return d.ValuePos(field, s.Pos) }
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	method := r.Method
	r.Method = strings.ToUpper(r.Method)
	if !methodRe.MatchString(r.Method) {
		// As written: an upper-cased secret would slip past the redaction.
		d.ErrAt(at(path+".request.method"), path+".request.method", "invalid method %s", yamlstrict.Excerpt(method))
	}
	if r.URL.Raw == "" {
		if up := path + ".request.url"; !reported(d, up) {
			d.ErrAt(at(path+".request"), up, "a request needs a url")
		}
	} else if msg := planURL(c, s); msg != "" {
		d.ErrAt(r.URL.Pos, path+".request.url", "%s", msg)
	}
	bodies := 0
	for _, set := range []bool{r.Body != nil, r.JSON != nil, r.Form != nil} {
		if set {
			bodies++
		}
	}
	if bodies > 1 {
		d.ErrAt(at(path+".request"), path+".request", "set only one of body, json and form")
	}
	if a := r.Auth; a != nil && (a.Basic == nil) == (a.Bearer == nil) {
		d.ErrAt(at(path+".request.auth"), path+".request.auth", "set exactly one of basic and bearer")
	}
	if r.MaxRedirects != nil && *r.MaxRedirects < 0 {
		d.ErrAt(at(path+".request.max_redirects"), path+".request.max_redirects", "must be 0 or more")
	}
	if r.Proxy != "" {
		if u, err := url.Parse(r.Proxy); err != nil || u.Host == "" {
			d.ErrAt(at(path+".request.proxy"), path+".request.proxy", "expected a proxy URL like http://proxy:3128, got %q", r.Proxy)
		}
	}
	if r.TLS != nil {
		if field, err := r.TLS.load(filepath.Dir(d.File), d.Read); err != nil {
			tp := yamlstrict.JoinPath(path+".request.tls", field)
			d.ErrAt(d.ValuePos(tp, at(path+".request.tls")), tp, "%v", err)
		}
	}
	// The check's request block fills in what the step does not set; it
	// was checked once, in compileShared.
	inheritRequest(c, s, captured)
	if r.MaxBody == 0 {
		r.MaxBody = DefaultMaxBody
	}

	// Every template may use vars and the captures of earlier steps.
	for _, t := range s.templates() {
		checkRefs(d, c, t, path, captured)
	}

	s.assertions = nil
	compileExpect(d, s, path+".expect")
	compileCaptures(d, s, path, captured)
}

// compileCaptures compiles the step's captures and adds their names to
// captured.
func compileCaptures(d *decoder, s *Step, path string, captured map[string]bool) {
	at := func(field string) Position { return d.ValuePos(field, s.Pos) }
	s.captures = nil
	for _, name := range sortedKeys(s.Capture) {
		cp := s.Capture[name]
		cpath := path + ".capture." + name
		if cp == nil {
			if !reported(d, cpath) {
				d.ErrAt(at(cpath), cpath, "empty capture")
			}
			continue
		}
		if !captureNameRe.MatchString(name) || name == "vars" {
			d.ErrAt(d.KeyPos(cpath, cp.Pos), cpath, "invalid capture name %q: use letters, digits and '_', not starting with a digit, and not \"vars\"", name)
		}
		n := 0
		for _, set := range []bool{cp.Header != "", !cp.JSON.IsZero(), cp.Regex != "", cp.Status, cp.Cookie != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			if !reported(d, cpath) {
				d.ErrAt(cp.Pos, cpath, "set exactly one of header, json, regex, cookie and status")
			}
			continue
		}
		if s.probe != nil && (cp.Header != "" || cp.Status || cp.Cookie != "") {
			d.ErrAt(cp.Pos, cpath, "a %s step captures with json or regex (header, cookie and status are HTTP's)", s.probe.kind())
			continue
		}
		if cp.Group != 0 && cp.Regex == "" {
			d.ErrAt(d.ValuePos(cpath+".group", cp.Pos), cpath+".group", "group applies to a regex capture only")
		}
		nc := namedCapture{name: name, c: cp, secret: credentialName(name), ref: reference(name)}
		if cp.Secret != nil {
			nc.secret = *cp.Secret
		}
		compileCookieCapture(d, cp, cpath, &nc)
		if cp.Regex != "" {
			re, err := regexp.Compile(cp.Regex)
			if err != nil {
				d.ErrAt(d.ValuePos(cpath+".regex", cp.Pos), cpath+".regex", "invalid regular expression: %s", regexpError(err))
				continue
			}
			nc.re = re
			if cp.Group == 0 && re.NumSubexp() > 0 {
				cp.Group = 1
			}
			if cp.Group < 0 || cp.Group > re.NumSubexp() {
				d.ErrAt(d.ValuePos(cpath+".group", cp.Pos), cpath+".group", "no group %d: the regex has %d capture group(s)", cp.Group, re.NumSubexp())
			}
		}
		s.captures = append(s.captures, nc)
	}
	for _, nc := range s.captures {
		captured[nc.name] = true
	}
}

// templates lists every template of the step, request and expectations.
func (s *Step) templates() []Template {
	if s.probe != nil {
		return append(s.probe.templates(), s.expectTemplates()...)
	}
	r := &s.Request
	ts := []Template{r.URL}
	for _, m := range []map[string]Template{r.Query, r.Headers, r.Form} {
		for _, k := range sortedKeys(m) {
			ts = append(ts, m[k])
		}
	}
	if r.Body != nil {
		ts = append(ts, *r.Body)
	}
	ts = append(ts, r.JSON.templates()...)
	if a := r.Auth; a != nil {
		if a.Basic != nil {
			ts = append(ts, a.Basic.Username, a.Basic.Password)
		}
		if a.Bearer != nil {
			ts = append(ts, *a.Bearer)
		}
	}
	return append(ts, s.expectTemplates()...)
}

// expectTemplates lists the templates of the step's expectations.
func (s *Step) expectTemplates() []Template {
	var ts []Template
	e := &s.Expect
	if b := e.Body; b != nil {
		for _, t := range []*Template{b.Equals, b.Contains, b.NotContains, b.Matches} {
			if t != nil {
				ts = append(ts, *t)
			}
		}
		ts = append(ts, b.Size.templates()...)
	}
	for _, m := range []map[string]*Predicate{e.Headers, e.JSON} {
		for _, k := range sortedKeys(m) {
			ts = append(ts, m[k].templates()...)
		}
	}
	if t := e.TLS; t != nil {
		for _, p := range []*Predicate{t.DaysRemaining, t.Version, t.Issuer, t.SANs} {
			ts = append(ts, p.templates()...)
		}
	}
	for _, p := range []*Predicate{e.Rcode, e.Answers, e.Authenticated} {
		ts = append(ts, p.templates()...)
	}
	return append(ts, e.cookieTemplates()...)
}

func (p *Predicate) templates() []Template {
	if p == nil {
		return nil
	}
	var ts []Template
	for _, v := range []*Value{p.Equals, p.NotEquals, p.Gt, p.Gte, p.Lt, p.Lte, p.Contains, p.NotContains} {
		ts = append(ts, v.templates()...)
	}
	for _, v := range p.In {
		ts = append(ts, v.templates()...)
	}
	if p.Matches != nil {
		ts = append(ts, *p.Matches)
	}
	ts = append(ts, p.Length.templates()...)
	return append(ts, p.listTemplates()...)
}

func checkRefs(d *decoder, c *Check, t Template, path string, captured map[string]bool) {
	if t.path != "" {
		path = t.path
	}
	for _, ref := range t.refs() {
		if ref[0] == "vars" {
			if len(ref) < 2 {
				d.ErrAt(t.Pos, path, "template %q: use {{ .vars.NAME }}", t.source())
			} else if _, ok := c.Vars[ref[1]]; !ok {
				d.ErrAt(t.Pos, path, "template %q: unknown var %q (defined: %s)", t.source(), ref[1], listOrNone(sortedKeys(c.Vars)))
			}
			continue
		}
		if !captured[ref[0]] {
			if by := capturedBy(c, ref[0]); by != "" {
				d.ErrAt(t.Pos, path, "template %q: %q is captured by step %q, which does not run before this one (captured so far: %s)", t.source(), ref[0], by, listOrNone(sortedKeys(captured)))
			} else {
				d.ErrAt(t.Pos, path, "template %q: %q is not captured by an earlier step (captured so far: %s)", t.source(), ref[0], listOrNone(sortedKeys(captured)))
			}
		}
	}
}

// capturedBy names the first step of c that captures name, if any.
func capturedBy(c *Check, name string) string {
	for _, s := range c.allSteps() {
		if s != nil && s.Capture[name] != nil {
			return s.Name
		}
	}
	return ""
}

// reported says whether an error was already recorded at or under the
// field path (a wrong type, an unset ${VAR}), so that one mistake is not
// reported twice.
func reported(d *decoder, path string) bool {
	for _, e := range d.Errs {
		if e.Field == path || strings.HasPrefix(e.Field, path+".") || strings.HasPrefix(e.Field, path+"[") {
			return true
		}
	}
	return false
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func compileExpect(d *decoder, s *Step, path string) {
	e := &s.Expect
	if s.probe != nil {
		checkProbeExpect(d, s, path)
	} else {
		rejectProbeExpects(d, s, path)
		if st := e.Status; st != nil && st.isHealth() {
			d.ErrAt(st.pos, path+".status", "%s is a gRPC health status, for grpc steps: an HTTP step expects a status code like 200, \"2xx\" or \"200-299\"", st.names[0])
		} else if st := effectiveStatus(e); !st.any {
			s.assertions = append(s.assertions, statusAssertion(st))
		}
	}
	for _, name := range sortedKeys(e.Headers) {
		if p := e.Headers[name]; p != nil {
			s.assertions = append(s.assertions, headerAssertion(name, p))
		}
	}
	rejectListPredicates(d, e, path)
	if b := e.Body; b != nil && *b == (BodyExpect{}) && !reported(d, path+".body") {
		d.ErrAt(s.Pos, path+".body", "body needs at least one of equals, contains, not_contains, matches, empty, size")
	}
	if b := e.Body; b != nil {
		b.Size.checkNumeric(d, path+".body.size")
	}
	if b := e.Body; b != nil {
		s.assertions = append(s.assertions, bodyAssertions(b)...)
		if b.Matches != nil && !b.Matches.Templated() {
			if _, err := regexp.Compile(b.Matches.Raw); err != nil {
				d.ErrAt(b.Matches.Pos, path+".body.matches", "invalid regular expression: %s", regexpError(err))
			}
		}
	}
	for _, p := range sortedKeys(e.JSON) {
		pred := e.JSON[p]
		if pred == nil {
			continue
		}
		jp, err := jsonpath.Parse(p)
		if err != nil {
			d.ErrAt(d.KeyPos(yamlstrict.JoinPath(path+".json", p), pred.Pos), path+".json", "%s", jsonPathError(p, err))
			continue
		}
		s.assertions = append(s.assertions, jsonAssertion(p, jp, pred))
	}
	if e.JSONSchema != nil && e.JSONSchema.schema != nil {
		s.assertions = append(s.assertions, schemaAssertion(e.JSONSchema))
	}
	if e.ResponseTime > 0 {
		s.assertions = append(s.assertions, responseTimeAssertion(e.ResponseTime.D()))
	}
	compileTLSExpect(d, s, path)
	if s.probe == nil {
		compileHTTPExpect(d, s, path)
	}
}

// load reads the CA and client certificate files so that a missing or bad
// file is a load-time error, not a failed run. field names the option at
// fault. Errors name the file and say what is wrong, never quoting it.
func (o *TLSOptions) load(dir string, read func(string) ([]byte, error)) (field string, err error) {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	caFile, certFile, keyFile := rel(o.CAFile), rel(o.CertFile), rel(o.KeyFile)
	cfg := &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify, ServerName: o.ServerName} //nolint:gosec // opt-in per check
	files := newFilesSum()
	if caFile != "" {
		pem, err := read(caFile)
		if err != nil {
			return "ca_file", fmt.Errorf("cannot read %s: %s", o.CAFile, unwrapPathErr(err))
		}
		files.add("ca", pem)
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return "ca_file", fmt.Errorf("no PEM certificate found in %s", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return "", fmt.Errorf("set both cert_file and key_file for a client certificate")
	}
	if o.CertFile != "" {
		certPEM, err := read(certFile)
		if err != nil {
			return "cert_file", fmt.Errorf("cannot read %s: %s", o.CertFile, unwrapPathErr(err))
		}
		keyPEM, err := read(keyFile)
		if err != nil {
			return "key_file", fmt.Errorf("cannot read %s: %s", o.KeyFile, unwrapPathErr(err))
		}
		files.add("cert", certPEM)
		files.add("key", keyPEM)
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return "cert_file", fmt.Errorf("client certificate: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	o.config = cfg
	o.id = o.identity()
	o.id.files = files.sum()
	return "", nil
}
