package config

import "path/filepath"

// ResolvePath returns a path written in the config file relative to the
// file's directory, so that `assay run --config /etc/assay/assay.yaml`
// finds the same files whatever the working directory is. Absolute paths,
// "" and configs not read from a file (Default) are returned unchanged.
// Built-in defaults (assay.db, checks.d) and command-line flags do not go
// through it: they stay relative to the working directory.
func (c *Config) ResolvePath(p string) string {
	if p == "" || c.File == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// resolvePaths applies ResolvePath to every path field the file set,
// before the defaults fill the ones it left out. A new path field belongs
// here.
func (c *Config) resolvePaths() {
	c.Storage.Path = c.ResolvePath(c.Storage.Path)
	c.Checks.Dir = c.ResolvePath(c.Checks.Dir)
}
