// Package e2e holds end-to-end tests that build the assay binary and run it
// as a real process against real servers on 127.0.0.1: the demo API, a real
// Prometheus scraping the daemon, signals and the reload endpoint, and the
// Dockerfile's build command. The tests are Linux-only (they use signals,
// debug/elf and, where available, mount namespaces); the package has no
// code of its own.
//
// Run them with:
//
//	go test -race -count=1 ./e2e
//
// The Prometheus test needs the Debian package prometheus (which provides
// /usr/bin/prometheus and /usr/bin/promtool). It is skipped when the binary
// is missing, and fails instead when the environment variable CI is set.
package e2e
