package deploy_test

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"go.yaml.in/yaml/v3"
)

const composeFile = "compose.yaml"

var assayReplicas = []string{"assay-1", "assay-2", "assay-3"}

// composeService has the fields of a compose service the tests read;
// YAML merge keys (<<: *assay) are resolved by the decoder as by compose.
type composeService struct {
	Image       string            `yaml:"image"`
	Build       map[string]string `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Hostname    string            `yaml:"hostname"`
	User        string            `yaml:"user"`
	ReadOnly    bool              `yaml:"read_only"`
	StopGrace   string            `yaml:"stop_grace_period"`
	DependsOn   dependsOn         `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// dependsOn maps a service to the condition it waits for, from either
// form compose accepts: a list of names or a map with conditions.
type dependsOn map[string]string

// UnmarshalYAML reads both forms of depends_on.
func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, s := range names {
			(*d)[s] = "service_started"
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		for s, c := range m {
			(*d)[s] = c.Condition
		}
	default:
		return fmt.Errorf("line %d: depends_on is a list or a map", n.Line)
	}
	return nil
}

type composeProject struct {
	Name     string                     `yaml:"name"`
	Services map[string]*composeService `yaml:"services"`
	Volumes  map[string]any             `yaml:"volumes"`
}

func loadCompose(t *testing.T) composeProject {
	t.Helper()
	return yamlDoc[composeProject](t, composeFile)
}

func TestCompose(t *testing.T) {
	p := loadCompose(t)
	want := append(slices.Clone(assayReplicas), "alertmanager", "demo-api", "postgres", "prometheus")
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(p.Services)); !slices.Equal(got, want) {
		t.Fatalf("services %q, want %q", got, want)
	}

	// The replicas: one definition (the x-assay anchor), their own
	// hostname and host port.
	first := p.Services[assayReplicas[0]]
	hostPorts := map[string]bool{}
	for _, name := range assayReplicas {
		s := p.Services[name]
		if s.Hostname != name {
			t.Errorf("%s: hostname %q, want %q (Prometheus scrapes it by that name)", name, s.Hostname, name)
		}
		if len(s.Ports) != 1 || !strings.HasPrefix(s.Ports[0], "127.0.0.1:") || !strings.HasSuffix(s.Ports[0], ":9464") {
			t.Errorf("%s: ports %q, want one 127.0.0.1:PORT:9464", name, s.Ports)
		} else if hostPorts[s.Ports[0]] {
			t.Errorf("%s: host port %s is taken by another replica", name, s.Ports[0])
		} else {
			hostPorts[s.Ports[0]] = true
		}
		same := *s
		same.Hostname, same.Ports = first.Hostname, first.Ports
		if !reflect.DeepEqual(same, *first) {
			t.Errorf("%s differs from %s beyond hostname and ports:\n%+v\n%+v", name, assayReplicas[0], *s, *first)
		}
	}
	wantCmd := []string{"run", "--checks", checksMountPath, "--config", configMountPath + "/assay.yaml", "--listen", "0.0.0.0:9464"}
	if !slices.Equal(first.Command, wantCmd) {
		t.Errorf("assay command %q, want %q", first.Command, wantCmd)
	}
	if first.User != "65532:65532" || !first.ReadOnly {
		t.Errorf("assay: user %q read_only %v, want 65532:65532 and true", first.User, first.ReadOnly)
	}
	if first.DependsOn["postgres"] != "service_healthy" {
		t.Errorf("assay depends on postgres %q, want service_healthy", first.DependsOn["postgres"])
	}
	if first.DependsOn["demo-api"] == "" || p.Services["prometheus"].DependsOn["alertmanager"] == "" {
		t.Errorf("depends_on: assay %v, prometheus %v", first.DependsOn, p.Services["prometheus"].DependsOn)
	}
	mounts := bindMounts(t, first)
	if mounts[checksMountPath] != "../checks.d" {
		t.Errorf("%s is mounted from %q, want the repository's ../checks.d", checksMountPath, mounts[checksMountPath])
	}

	// The database: postgres:15 with the user, password and database the
	// replicas' DSN names, checked for readiness before they start.
	pg := p.Services["postgres"]
	if pg.Image != "postgres:15" {
		t.Errorf("postgres image %q, want postgres:15", pg.Image)
	}
	if pg.Healthcheck == nil || !strings.Contains(strings.Join(pg.Healthcheck.Test, " "), "pg_isready") {
		t.Error("postgres has no pg_isready healthcheck")
	}
	dsn, err := url.Parse(first.Environment["ASSAY_POSTGRES_DSN"])
	if err != nil {
		t.Fatalf("ASSAY_POSTGRES_DSN: %v", err)
	}
	pass, _ := dsn.User.Password()
	if dsn.Scheme != "postgres" || dsn.Hostname() != "postgres" || dsn.Port() != "5432" ||
		dsn.User.Username() != pg.Environment["POSTGRES_USER"] || pass != pg.Environment["POSTGRES_PASSWORD"] ||
		dsn.Path != "/"+pg.Environment["POSTGRES_DB"] {
		t.Errorf("ASSAY_POSTGRES_DSN %s does not match the postgres service %v", dsn.Redacted(), pg.Environment)
	}

	// The demo API from the same image, where the checks look for it,
	// with the fault switch reachable on localhost:8787.
	demo := p.Services["demo-api"]
	if demo.Image != first.Image || !reflect.DeepEqual(demo.Build, first.Build) {
		t.Errorf("demo-api image %q %v, want the assay image %q %v", demo.Image, demo.Build, first.Image, first.Build)
	}
	if !slices.Equal(demo.Command, []string{"demo-api", "--listen", "0.0.0.0:8787"}) {
		t.Errorf("demo-api command %q", demo.Command)
	}
	if !slices.Equal(demo.Ports, []string{"127.0.0.1:8787:8787"}) {
		t.Errorf("demo-api ports %q, want 127.0.0.1:8787:8787 (the fault switch's curl)", demo.Ports)
	}
	if got := first.Environment["DEMO_API_URL"]; got != "http://demo-api:8787" {
		t.Errorf("DEMO_API_URL %q, want http://demo-api:8787", got)
	}
	if first.Build["context"] != ".." {
		t.Errorf("build context %q, want the repository (..)", first.Build["context"])
	}
	if _, err := os.Stat(filepath.Join(first.Build["context"], first.Build["dockerfile"])); err != nil {
		t.Errorf("build: %v", err)
	}

	// Every bind mount's source exists.
	for name, s := range p.Services {
		for target, src := range bindMounts(t, s) {
			if _, ok := p.Volumes[src]; ok {
				continue
			}
			if _, err := os.Stat(src); err != nil {
				t.Errorf("%s: the source of %s: %v", name, target, err)
			}
		}
	}
}

// The replicas' assay.yaml loads with the real config loader and the
// environment compose gives them; the checks they mount load too.
func TestComposeAssayConfigLoads(t *testing.T) {
	p := loadCompose(t)
	s := p.Services[assayReplicas[0]]
	src := bindMounts(t, s)[configMountPath+"/assay.yaml"]
	if src == "" {
		t.Fatalf("nothing is mounted at %s/assay.yaml", configMountPath)
	}
	text := string(readFile(t, src))
	for _, name := range envRefs(text, false) {
		v, ok := s.Environment[name]
		if !ok {
			t.Errorf("%s uses ${%s}; the replicas' environment does not set it", src, name)
		}
		t.Setenv(name, v)
	}
	cfg, err := config.Parse(src, []byte(text))
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	if cfg.Storage.Driver != config.DriverPostgres || cfg.Storage.DSN != s.Environment["ASSAY_POSTGRES_DSN"] {
		t.Errorf("storage %s, want postgres with the replicas' DSN", cfg.Storage.Driver)
	}
	if cfg.Server.Listen != "0.0.0.0:9464" {
		t.Errorf("server.listen %q", cfg.Server.Listen)
	}
	grace, err := time.ParseDuration(s.StopGrace)
	if err != nil || grace <= cfg.Server.ShutdownGrace.D() {
		t.Errorf("stop_grace_period %q is not above server.shutdown_grace %v", s.StopGrace, cfg.Server.ShutdownGrace.D())
	}
	if am := cfg.Notifiers["alertmanager"]; am == nil || !slices.Equal(am.URLs, []string{"http://alertmanager:9093"}) {
		t.Error("no notifier alertmanager with urls [http://alertmanager:9093]")
	}
	if !slices.Equal(cfg.Defaults.Alert.Notify, []string{"alertmanager"}) {
		t.Errorf("defaults.alert.notify %q, want [alertmanager]", cfg.Defaults.Alert.Notify)
	}

	// Every variable the checks use is set: their defaults point at
	// 127.0.0.1, which in a container is the container itself.
	checksDir := bindMounts(t, s)[checksMountPath]
	for rel, data := range repoCheckFiles(t) {
		for _, name := range envRefs(string(data), true) {
			if _, ok := s.Environment[name]; !ok {
				t.Errorf("checks.d/%s uses ${%s}; the replicas' environment does not set it", rel, name)
			}
		}
	}
	lookup := func(name string) (string, bool) { v, ok := s.Environment[name]; return v, ok }
	if cs, err := (checks.LoadOptions{LookupEnv: lookup}).Load(checksDir); err != nil || len(cs) == 0 {
		t.Fatalf("the mounted checks do not load: %d checks, %v", len(cs), err)
	}
}

// Prometheus scrapes every replica and loads the rules compose mounts;
// promtool and amtool accept the two configs.
func TestComposePrometheusAndAlertmanager(t *testing.T) {
	p := loadCompose(t)
	prom := p.Services["prometheus"]
	mounts := bindMounts(t, prom)
	promConfig := mounts["/etc/prometheus/prometheus.yml"]
	if promConfig == "" {
		t.Fatal("no prometheus.yml mounted at /etc/prometheus/prometheus.yml")
	}
	type promYAML struct {
		RuleFiles []string `yaml:"rule_files"`
		Alerting  struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	// The run durations are native histograms: Prometheus must scrape them.
	if !slices.Contains(prom.Command, "--enable-feature=native-histograms") || !slices.Contains(prom.Command, "--config.file=/etc/prometheus/prometheus.yml") {
		t.Errorf("prometheus command %q: want the image's --config.file and --enable-feature=native-histograms", prom.Command)
	}
	cfg := yamlDoc[promYAML](t, promConfig)
	if len(cfg.ScrapeConfigs) != 1 || cfg.ScrapeConfigs[0].JobName != "assay" || len(cfg.ScrapeConfigs[0].StaticConfigs) != 1 {
		t.Fatalf("scrape_configs %+v, want one job assay", cfg.ScrapeConfigs)
	}
	var want []string
	for _, r := range assayReplicas {
		want = append(want, fmt.Sprintf("%s:%d", p.Services[r].Hostname, assayPort))
	}
	if got := cfg.ScrapeConfigs[0].StaticConfigs[0].Targets; !slices.Equal(got, want) {
		t.Errorf("scrape targets %q, want every replica %q", got, want)
	}
	if am := cfg.Alerting.Alertmanagers; len(am) != 1 || len(am[0].StaticConfigs) != 1 || !slices.Equal(am[0].StaticConfigs[0].Targets, []string{"alertmanager:9093"}) {
		t.Errorf("alerting %+v, want alertmanager:9093", cfg.Alerting)
	}
	const rulesTarget = "/etc/prometheus/rules/assay-rules.yaml"
	if !slices.Equal(cfg.RuleFiles, []string{rulesTarget}) {
		t.Errorf("rule_files %q, want [%s]", cfg.RuleFiles, rulesTarget)
	}
	if got := mounts[rulesTarget]; got != "./prometheus/assay-rules.yaml" {
		t.Errorf("%s is mounted from %q, want ./prometheus/assay-rules.yaml", rulesTarget, got)
	}

	// promtool reads the rule files a config names: point it at ours.
	abs, err := filepath.Abs(mounts[rulesTarget])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(readFile(t, promConfig)), rulesTarget, abs, 1)
	out := runTool(t, "promtool", "check", "config", writeTemp(t, "prometheus.yml", []byte(text)))
	if !strings.Contains(out, "is valid prometheus config file syntax") || !strings.Contains(out, "SUCCESS: 16 rules found") {
		t.Errorf("promtool check config:\n%s", out)
	}

	amConfig := bindMounts(t, p.Services["alertmanager"])["/etc/alertmanager/alertmanager.yml"]
	if amConfig == "" {
		t.Fatal("no alertmanager.yml mounted at /etc/alertmanager/alertmanager.yml")
	}
	if out := runTool(t, "amtool", "check-config", amConfig); !strings.Contains(out, "SUCCESS") {
		t.Errorf("amtool check-config:\n%s", out)
	}
}

// bindMounts maps a service's mount targets to their sources
// ("SRC:TARGET[:ro]").
func bindMounts(t *testing.T, s *composeService) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || len(parts) == 3 && parts[2] != "ro" {
			t.Fatalf("volume %q: want SRC:TARGET or SRC:TARGET:ro", v)
		}
		m[parts[1]] = parts[0]
	}
	return m
}
