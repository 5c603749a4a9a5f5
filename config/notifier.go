package config

import (
	"os"
	"strings"

	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// LoadNotifier reads a config file for a command that uses one notifier
// only (assay notify test NAME): a problem inside another notifier's
// entry, such as its unset ${VAR}, is returned as a warning and that
// notifier is left out of the config, so that one missing secret does not
// block testing the others. Every other problem is an error, as in Load.
func LoadNotifier(path, name string) (*Config, yamlstrict.Errors, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	c, errs := parse(path, data)
	var warnings, fatal yamlstrict.Errors
	broken := map[string]bool{}
	for _, e := range errs {
		if other := c.notifierOf(e.Field); other != "" && other != name {
			warnings = append(warnings, e)
			broken[other] = true
			continue
		}
		fatal = append(fatal, e)
	}
	if len(fatal) > 0 {
		return nil, warnings, fatal
	}
	for n := range broken {
		delete(c.Notifiers, n)
	}
	return c, warnings, nil
}

// notifierOf names the notifier whose entry the field path is in, or ""
// for a field outside notifiers. Names may hold dots, so the longest
// configured name that prefixes the path wins.
func (c *Config) notifierOf(field string) string {
	rest, ok := strings.CutPrefix(field, "notifiers.")
	if !ok {
		return ""
	}
	best := ""
	for n := range c.Notifiers {
		if (rest == n || strings.HasPrefix(rest, n+".")) && len(n) > len(best) {
			best = n
		}
	}
	return best
}
