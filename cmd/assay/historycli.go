package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/assay-monitor/assay/history"
	"github.com/spf13/pflag"
)

// historySource is where replay and notifications read: the store of a
// config file (the daemon's SQLite file; safe while the daemon runs), or
// a running daemon's API.
type historySource struct {
	configFile, server string
	// client talks to --server; tests replace it.
	client *http.Client
}

func (s *historySource) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.configFile, "config", "", "read the store of this global config `FILE` (its storage.path; default assay.db)")
	fs.StringVar(&s.server, "server", "", "ask the running daemon at `URL` (e.g. http://127.0.0.1:9464) instead of reading the store")
}

// cliHistory is what replay and notifications need, from a store or
// from a daemon's API.
type cliHistory interface {
	Result(ctx context.Context, id int64) (*history.Run, error)
	Notifications(ctx context.Context, status string, limit int) ([]history.Notification, error)
	history.NotificationAdmin
}

// open returns the history and a closer.
func (s *historySource) open(stderr io.Writer) (cliHistory, func(), error) {
	if s.server != "" {
		if s.configFile != "" {
			return nil, nil, usagef("use --config or --server, not both")
		}
		u, err := url.Parse(s.server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, usagef("--server must be an http or https URL such as http://127.0.0.1:9464, got %q", s.server)
		}
		c := s.client
		if c == nil {
			c = &http.Client{Timeout: 15 * time.Second}
		}
		api := &apiClient{base: strings.TrimSuffix(s.server, "/"), client: c}
		return api, func() {}, nil
	}
	cfg := config.Default()
	if s.configFile != "" {
		var err error
		if cfg, err = loadConfigFile(s.configFile, stderr); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Storage.Driver == config.DriverSQLite {
		if _, err := os.Stat(cfg.Storage.Path); err != nil {
			return nil, nil, usagef("no store at %s (storage.path%s): %v", cfg.Storage.Path, fromConfig(s.configFile), errors.Unwrap(err))
		}
	}
	st, err := daemon.OpenBackend(cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.Close() }, nil
}

func fromConfig(file string) string {
	if file == "" {
		return ", the default without --config"
	}
	return " of " + file
}

// loadConfigFile reads a global config, printing every error.
func loadConfigFile(file string, stderr io.Writer) (*config.Config, error) {
	f := daemonFlags{configFile: file}
	return f.loadConfig(stderr)
}

// apiClient reads the history from a running daemon's API.
type apiClient struct {
	base   string
	client *http.Client
}

var errServer = errors.New("server error")

func (a *apiClient) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, nil)
	if err != nil {
		return err
	}
	// The write endpoints of a daemon with server.api_token want it.
	if tok := os.Getenv("ASSAY_API_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s %s: %w", method, a.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s%s: %w", method, a.base, path, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return history.ErrNotFound
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(bytes.ToValidUTF8(body[:min(len(body), 200)], nil)))
		}
		return fmt.Errorf("%w: %s %s%s: HTTP %d: %s", errServer, method, a.base, path, resp.StatusCode, e.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s%s: the answer is not what assay serves: %w", method, a.base, path, err)
	}
	return nil
}

func (a *apiClient) Result(ctx context.Context, id int64) (*history.Run, error) {
	var run history.Run
	if err := a.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/results/%d", id), &run); err != nil {
		return nil, err
	}
	if run.Result != nil {
		run.Result.ID = run.ID
	}
	return &run, nil
}

func (a *apiClient) Notifications(ctx context.Context, status string, limit int) ([]history.Notification, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	var page struct{ Notifications []history.Notification }
	err := a.do(ctx, http.MethodGet, "/api/v1/notifications?"+q.Encode(), &page)
	return page.Notifications, err
}

func (a *apiClient) RetryNotification(ctx context.Context, id int64) error {
	return a.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/notifications/%d/retry", id), nil)
}

func (a *apiClient) DropNotification(ctx context.Context, id int64) error {
	return a.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/notifications/%d/drop", id), nil)
}
