// Package deploy has no code: its directory holds the deployment files
// (Kubernetes manifests, a compose file, Prometheus alerting rules and a
// Grafana dashboard) and the tests that check them against the real
// config loader, the repository's checks and promtool.
package deploy
