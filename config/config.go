// Package config loads assay's global configuration file (assay.yaml):
// server, storage, defaults for checks, and notifiers. It is optional and
// strict like check files; command-line flags override it.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/safefile"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// Config is the whole global configuration.
type Config struct {
	Server   Server   `yaml:"server"`
	Storage  Storage  `yaml:"storage"`
	Defaults Defaults `yaml:"defaults"`
	Checks   Checks   `yaml:"checks"`
	Metrics  Metrics  `yaml:"metrics"`
	Web      Web      `yaml:"web"`
	Cluster  Cluster  `yaml:"cluster"`
	// Notifiers are the alert receivers that checks name in alert.notify.
	Notifiers map[string]*alerting.NotifierConfig `yaml:"notifiers"`
	// Secrets names environment variables whose values are secrets
	// whatever they are called, in this file and in every check file
	// (pass it to checks.LoadOptions.Secrets).
	Secrets []string `yaml:"secrets"`
	// Timezone is the time zone (an IANA name) of the maintenance windows
	// that name none, here and in the check files (unless their check's
	// schedule has a CRON_TZ); empty is UTC. Location is it loaded.
	Timezone string         `yaml:"timezone"`
	Location *time.Location `yaml:"-"`
	// Maintenance are windows covering the checks their checks: globs
	// and labels: select (see package maintenance).
	Maintenance []*checks.MaintenanceWindow `yaml:"maintenance"`

	// File is where the config was read from ("" for built-in defaults).
	File string `yaml:"-"`
}

// Server configures the HTTP server of the daemon.
type Server struct {
	// Listen is the address of /metrics, /healthz, /readyz and the API.
	Listen string `yaml:"listen"`
	// ExternalURL is how people reach this assay; alert links use it.
	ExternalURL string `yaml:"external_url"`
	// ShutdownGrace bounds the whole shutdown after SIGTERM: runs in
	// flight, the HTTP server and the last writes.
	ShutdownGrace checks.Duration `yaml:"shutdown_grace"`
	// APIToken, if set, is required as a bearer token by every write
	// endpoint (POST /-/reload, the notification retry and drop); use
	// ${VAR} or APITokenFile rather than the token itself. See server.go.
	APIToken string `yaml:"api_token"`
	// APITokenFile is a file holding the token (a Docker or Kubernetes
	// secret), relative to the config file; its content is APIToken.
	APITokenFile string `yaml:"api_token_file"`
	// WebConfigFile is a Prometheus web config (exporter-toolkit: TLS,
	// basic auth with bcrypt hashes), relative to the config file.
	WebConfigFile string `yaml:"web_config_file"`
	// AllowedHosts are Host names answered besides localhost, IP literals
	// and external_url's host (DNS rebinding); "*" answers any.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// MaxConnections bounds the HTTP connections open at once (default
	// 128), so that idle clients cannot take the file descriptors the
	// checks need.
	MaxConnections int `yaml:"max_connections"`
}

// Storage configures the embedded store and the result history.
type Storage struct {
	// Driver is sqlite (the default: one process, the file Path) or
	// postgres (several replicas sharing DSN).
	Driver string `yaml:"driver"`
	// Path of the SQLite database file.
	Path string `yaml:"path"`
	// DSN is the PostgreSQL connection: a libpq URL
	// (postgres://user@host:5432/db?sslmode=verify-full) or key=value
	// string; ${VAR} and VAR_FILE work as everywhere. Never logged.
	DSN string `yaml:"dsn"`
	// History keeps every result (default true); false keeps only the
	// alert state and the outbox.
	History *bool `yaml:"history"`
	// Retention: results older than this are deleted (default 720h; days
	// and weeks are allowed: 30d, 2w).
	Retention checks.Window `yaml:"retention"`
	// MaxResultsPerCheck: at most this many results per check are kept
	// (default 10000).
	MaxResultsPerCheck int `yaml:"max_results_per_check"`
	// MaxEvidenceBody bounds the request and response bodies a result
	// keeps (default 64KiB).
	MaxEvidenceBody checks.ByteSize `yaml:"max_evidence_body"`
}

// HistoryOn reports whether results are recorded.
func (s Storage) HistoryOn() bool { return s.History == nil || *s.History }

// Storage drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Cluster configures replicas sharing a PostgreSQL store.
type Cluster struct {
	// LeaseTTL is how long a replica owns a check without renewing its
	// lease (default 15s); a dead replica's checks move after it.
	LeaseTTL checks.Duration `yaml:"lease_ttl"`
}

// DefaultLeaseTTL is cluster.lease_ttl's default.
const DefaultLeaseTTL = 15 * time.Second

// Web configures the status page.
type Web struct {
	// Public turns the page into a public status page: names, status,
	// uptime and incidents only, no requests, responses, URLs or diffs.
	Public bool `yaml:"public"`
}

// Defaults apply to every check that does not set the field itself.
type Defaults struct {
	// Alert is the default alerting policy.
	Alert checks.AlertPolicy `yaml:"alert"`
	// Semantics is the HTTP semantics mode (strict, warn or off) of checks
	// that set none; empty means warn. Pass it to the runner as
	// checks.RunnerOptions.Semantics.
	Semantics checks.SemanticsMode `yaml:"semantics"`
	// SLO is the objective of checks that set no slo block (nil: none);
	// pass it to checks.Check.EffectiveSLO. It is validated as a check's
	// slo is, with its default window of 30d.
	SLO *checks.SLO `yaml:"slo"`
}

// Checks says where the checks are and how many run at once.
type Checks struct {
	// Dir holds the check files (walked recursively).
	Dir string `yaml:"dir"`
	// Concurrency bounds the number of check runs in flight.
	Concurrency int `yaml:"concurrency"`
	// ReloadDebounce waits this long after the last file change.
	ReloadDebounce checks.Duration `yaml:"reload_debounce"`
}

// Metrics configures the Prometheus metrics.
type Metrics struct {
	// Labels are check label names (from each check's labels) added to
	// the check metrics, e.g. [team, severity]. Checks without one get "".
	Labels []string `yaml:"labels"`
	// ClassicHistograms adds classic buckets (_bucket{le=...}) to the
	// per-check duration histogram, which is otherwise native only: for a
	// Prometheus that does not scrape native histograms, at 16 more
	// series a check.
	ClassicHistograms bool `yaml:"classic_histograms"`
}

// Defaults of the daemon.
const (
	DefaultListen      = "127.0.0.1:9464"
	DefaultStorage     = "assay.db"
	DefaultChecksDir   = "checks.d"
	DefaultConcurrency = 256
	// DefaultMaxConnections bounds the HTTP server's connections.
	DefaultMaxConnections = 128
	// DefaultRetention and the others are the storage defaults.
	DefaultRetention          = 720 * time.Hour
	DefaultMaxResultsPerCheck = 10000
	DefaultMaxEvidenceBody    = 64 << 10
	// maxEvidenceBody bounds storage.max_evidence_body.
	maxEvidenceBody = 10 << 20
)

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

var reservedLabels = map[string]bool{"check": true, "step": true, "reason": true, "phase": true, "rule": true, "le": true, "job": true, "instance": true}

// Default returns the configuration used when no file is given.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.Server.Listen == "" {
		c.Server.Listen = DefaultListen
	}
	if c.Server.ShutdownGrace == 0 {
		c.Server.ShutdownGrace = checks.Duration(30e9)
	}
	if c.Storage.Driver == "" {
		c.Storage.Driver = DriverSQLite
	}
	if c.Server.MaxConnections == 0 {
		c.Server.MaxConnections = DefaultMaxConnections
	}
	if c.Storage.Path == "" {
		c.Storage.Path = DefaultStorage
	}
	if c.Cluster.LeaseTTL == 0 {
		c.Cluster.LeaseTTL = checks.Duration(DefaultLeaseTTL)
	}
	if c.Storage.Retention == 0 {
		c.Storage.Retention = checks.Window(DefaultRetention)
	}
	if c.Storage.MaxResultsPerCheck == 0 {
		c.Storage.MaxResultsPerCheck = DefaultMaxResultsPerCheck
	}
	if c.Storage.MaxEvidenceBody == 0 {
		c.Storage.MaxEvidenceBody = DefaultMaxEvidenceBody
	}
	if c.Checks.Dir == "" {
		c.Checks.Dir = DefaultChecksDir
	}
	if c.Checks.Concurrency == 0 {
		c.Checks.Concurrency = DefaultConcurrency
	}
	if c.Checks.ReloadDebounce == 0 {
		c.Checks.ReloadDebounce = checks.Duration(500e6)
	}
}

// Load reads and validates a config file; every problem is reported as
// yamlstrict.Errors with file:line:column. Only a regular file (a symlink
// to one is fine) of at most checks.DefaultMaxFileSize bytes is read.
func Load(path string) (*Config, error) {
	data, err := safefile.Read(path, checks.DefaultMaxFileSize)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// topLevel are the keys of a config file.
var topLevel = []string{"server", "storage", "defaults", "checks", "metrics", "web", "cluster", "notifiers", "secrets", "timezone", "maintenance"}

// Parse validates config content; file names positions in errors, and
// relative paths in it are relative to file's directory (see ResolvePath).
func Parse(file string, data []byte) (*Config, error) {
	c, errs := parse(file, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// parse decodes and validates as far as it can: the config comes back
// with its defaults applied and its paths resolved even when there are
// errors, for callers that tolerate some of them (LoadNotifier).
func parse(file string, data []byte) (*Config, yamlstrict.Errors) {
	if e := yamlstrict.CheckText(file, data); e != nil {
		return nil, yamlstrict.Errors{e}
	}
	d := &yamlstrict.Decoder{File: file, Secret: checks.IsSecretName}
	c := &Config{File: file}
	// secrets are the values of secret-looking variables, hidden in errors.
	var secrets []string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlstrict.Errors{yamlstrict.SyntaxErrorIn(file, data, err)}
	}
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		if yamlstrict.Foreign(root, topLevel...) {
			// Not quoted: the path may point at any file.
			return nil, yamlstrict.Errors{{Pos: yamlstrict.Position{File: file},
				Msg: "not an assay config file (expected a mapping with " + strings.Join(topLevel, ", ") + ")"}}
		}
		if !d.LimitNodes(root, "", 0) {
			return nil, d.Errs
		}
		d.CheckSecretNames(root)
		d.Secret = secretNames(yamlstrict.SecretNames(root))
		d.ExpandEnv(root, os.LookupEnv, func(name, value string) {
			if d.SecretRef(name) {
				secrets = append(secrets, value)
			}
		})
		d.Into(root, c, "")
	}
	for i, l := range c.Metrics.Labels {
		if !labelName.MatchString(l) || reservedLabels[l] {
			d.Errs = append(d.Errs, &yamlstrict.Error{Pos: yamlstrict.Position{File: file}, Field: fmt.Sprintf("metrics.labels[%d]", i),
				Msg: fmt.Sprintf("%q is not a usable label name (letters, digits, '_'; not check, step, reason, phase, rule)", l)})
		}
	}
	switch c.Storage.Driver {
	case "", DriverSQLite:
		if c.Storage.DSN != "" {
			d.Errs = append(d.Errs, &yamlstrict.Error{Pos: d.ValuePos("storage.dsn", yamlstrict.Position{File: file}), Field: "storage.dsn",
				Msg: "is for the postgres driver; set storage.driver: postgres (or drop dsn for the default SQLite file)"})
		}
	case DriverPostgres:
		if c.Storage.DSN == "" {
			d.Errs = append(d.Errs, &yamlstrict.Error{Pos: d.ValuePos("storage.driver", yamlstrict.Position{File: file}), Field: "storage.dsn",
				Msg: "the postgres driver needs a dsn, e.g. postgres://assay@db:5432/assay?sslmode=verify-full"})
		}
	default:
		d.Errs = append(d.Errs, &yamlstrict.Error{Pos: d.ValuePos("storage.driver", yamlstrict.Position{File: file}), Field: "storage.driver",
			Msg: fmt.Sprintf("expected sqlite or postgres, got %q", c.Storage.Driver)})
	}
	if ttl := c.Cluster.LeaseTTL.D(); ttl != 0 && (ttl < 3*time.Second || ttl > 10*time.Minute) {
		d.Errs = append(d.Errs, &yamlstrict.Error{Pos: d.ValuePos("cluster.lease_ttl", yamlstrict.Position{File: file}), Field: "cluster.lease_ttl",
			Msg: "must be between 3s and 10m"})
	}
	if c.Storage.Retention != 0 && c.Storage.Retention.D() < time.Minute {
		d.Errs = append(d.Errs, &yamlstrict.Error{Pos: d.ValuePos("storage.retention", yamlstrict.Position{File: file}), Field: "storage.retention", Msg: "must be at least 1m"})
	}
	if c.Storage.MaxResultsPerCheck < 0 {
		d.Errs = append(d.Errs, &yamlstrict.Error{Pos: d.ValuePos("storage.max_results_per_check", yamlstrict.Position{File: file}), Field: "storage.max_results_per_check", Msg: "must be positive"})
	}
	if c.Storage.MaxEvidenceBody > maxEvidenceBody {
		d.Errs = append(d.Errs, &yamlstrict.Error{Pos: d.ValuePos("storage.max_evidence_body", yamlstrict.Position{File: file}), Field: "storage.max_evidence_body", Msg: "must be at most 10MiB"})
	}
	d.Errs = append(d.Errs, c.Server.resolve(file, d)...)
	if c.Checks.Concurrency < 0 {
		d.Errs = append(d.Errs, &yamlstrict.Error{Pos: yamlstrict.Position{File: file}, Field: "checks.concurrency", Msg: "must be positive"})
	}
	d.Errs = append(d.Errs, c.maintenance(file, d)...)
	var perrs yamlstrict.Errors
	if errors.As(alerting.ValidatePolicies(c.Defaults.Alert, c.Notifiers, nil), &perrs) {
		d.Errs = append(d.Errs, perrs...)
	}
	if len(d.Errs) > 0 {
		yamlstrict.HideValues(d.Errs, secrets, checks.Redacted)
	}
	c.resolvePaths()
	c.applyDefaults()
	return c, d.Errs
}

// secretNames is the test of a variable name of the config file: a
// credential-looking name or one its secrets: list holds.
func secretNames(listed []string) func(string) bool {
	return func(name string) bool { return checks.IsSecretName(name) || slices.Contains(listed, name) }
}

// maintenance checks the timezone and that each window selects checks.
func (c *Config) maintenance(file string, d *yamlstrict.Decoder) yamlstrict.Errors {
	var errs yamlstrict.Errors
	if c.Timezone != "" {
		loc, err := checks.LoadTimezone(c.Timezone)
		if err != nil {
			errs = append(errs, &yamlstrict.Error{Pos: d.ValuePos("timezone", yamlstrict.Position{File: file}), Field: "timezone", Msg: err.Error()})
		} else {
			c.Location = loc
		}
	}
	for i, w := range c.Maintenance {
		f := fmt.Sprintf("maintenance[%d]", i)
		switch {
		case w == nil:
			errs = append(errs, &yamlstrict.Error{Pos: d.ValuePos(f, yamlstrict.Position{File: file}), Field: f, Msg: "empty maintenance window"})
		case len(w.Checks) == 0 && len(w.Labels) == 0:
			errs = append(errs, &yamlstrict.Error{Pos: w.Pos, Field: f,
				Msg: `a window of assay.yaml needs checks: (name globs, e.g. ["db-*"] or ["*"] for all) or labels: to say which checks it covers`})
		}
	}
	return errs
}
