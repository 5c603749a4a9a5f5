package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	toolkit "github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v3"
	"golang.org/x/net/netutil"

	"time"
)

// Limits bound the HTTP server, so that slow or idle clients can neither
// hold requests open nor take the file descriptors the checks need.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers (slowloris),
	// ReadTimeout the whole request, WriteTimeout the response (generous:
	// a scrape of 10,000 checks' metrics is large), IdleTimeout a
	// keep-alive connection waiting for its next request.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request headers.
	MaxHeaderBytes int
	// MaxConnections bounds the connections open at once; more wait to
	// be accepted (server.max_connections).
	MaxConnections int
}

// DefaultLimits are the daemon's limits.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
		MaxConnections:    128,
	}
}

// NewServer returns an http.Server for h with the limits; its own errors
// (a failed TLS handshake, a bad request line) go to log at debug.
func NewServer(h http.Handler, l Limits, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// LimitListener bounds the connections accepted from l at once (n <= 0:
// no bound).
func LimitListener(l net.Listener, n int) net.Listener {
	if n <= 0 {
		return l
	}
	return netutil.LimitListener(l, n)
}

// WebConfig is what the daemon needs to know of a Prometheus web config
// file (the exporter-toolkit format: tls_server_config,
// basic_auth_users, http_server_config).
type WebConfig struct {
	// Path is the file; "" for none.
	Path string
	// TLS: the server speaks HTTPS.
	TLS bool
	// BasicAuth: every request needs one of the basic_auth_users.
	BasicAuth bool
}

// LoadWebConfig validates a web config file as the exporter toolkit will
// use it (certificates, bcrypt hashes) and says what it turns on.
func LoadWebConfig(path string) (WebConfig, error) {
	wc := WebConfig{Path: path}
	if path == "" {
		return wc, nil
	}
	if err := toolkit.Validate(path); err != nil {
		return wc, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return wc, err
	}
	var c struct {
		TLS   map[string]any    `yaml:"tls_server_config"`
		Users map[string]string `yaml:"basic_auth_users"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return wc, err
	}
	wc.TLS, wc.BasicAuth = len(c.TLS) > 0, len(c.Users) > 0
	return wc, nil
}

// Serve serves srv on l until it is shut down, with TLS and basic auth as
// the web config says (the exporter toolkit rereads the file on every
// connection and request, so new certificates and users apply without a
// restart). It returns nil after Shutdown.
func Serve(l net.Listener, srv *http.Server, wc WebConfig, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := wc.Path
	err := toolkit.Serve(l, srv, &toolkit.FlagConfig{WebConfigFile: &path}, log)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// Shutdown stops srv: no new connections, requests in flight until ctx
// ends, then every connection closed.
func Shutdown(ctx context.Context, srv *http.Server) {
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
}
