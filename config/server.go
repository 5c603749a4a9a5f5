package config

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// maxTokenFile bounds the api_token_file read at load.
const maxTokenFile = 4 << 10

// resolve checks the server block and makes its paths relative to the
// config file: web_config_file and api_token_file, whose content becomes
// APIToken. file is the config file ("" for none).
func (s *Server) resolve(file string, d *yamlstrict.Decoder) yamlstrict.Errors {
	var errs yamlstrict.Errors
	at := func(field, format string, args ...any) {
		errs = append(errs, &yamlstrict.Error{Pos: d.ValuePos(field, yamlstrict.Position{File: file}), Field: field,
			Msg: fmt.Sprintf(format, args...)})
	}
	if s.ShutdownGrace < 0 {
		at("server.shutdown_grace", "must not be negative")
	}
	if s.MaxConnections < 0 {
		at("server.max_connections", "must be positive")
	}
	if s.ExternalURL != "" {
		if u, err := url.Parse(s.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			at("server.external_url", "must be an http or https URL such as https://assay.example.com, got %q", s.ExternalURL)
		}
	}
	for i, h := range s.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			at(fmt.Sprintf("server.allowed_hosts[%d]", i), "must be a host name (no scheme, path or spaces) or \"*\", got %q", h)
		}
	}
	dir := filepath.Dir(file)
	if file == "" {
		dir = "."
	}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	s.WebConfigFile = rel(s.WebConfigFile)
	if s.APITokenFile != "" {
		if s.APIToken != "" {
			at("server.api_token_file", "set api_token or api_token_file, not both")
			return errs
		}
		s.APITokenFile = rel(s.APITokenFile)
		tok, err := readToken(s.APITokenFile)
		if err != nil {
			at("server.api_token_file", "%v", err)
			return errs
		}
		s.APIToken = tok
	}
	if s.APIToken != "" && len(s.APIToken) < 16 {
		// The value is a secret: it is never quoted in an error.
		at("server.api_token", "must be at least 16 characters (e.g. openssl rand -hex 32)")
	}
	return errs
}

// readToken reads a token file: a regular file of at most 4 KiB, its
// surrounding white space trimmed.
func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	_ = f.SetReadDeadline(time.Now().Add(time.Second))
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("%s is larger than 4KiB: not a token", path)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return tok, nil
}
