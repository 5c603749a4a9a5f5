package deploy_test

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite kubernetes/configmap-checks.yaml from the repository's checks.d")

const (
	k8sDir           = "kubernetes"
	checksConfigMap  = "kubernetes/configmap-checks.yaml"
	repoChecks       = "../checks.d"
	checksMountPath  = "/etc/assay/checks.d"
	configMountPath  = "/etc/assay/config"
	secretName       = "assay-secrets"
	assayPort        = 9464
	placeholderToken = "CHANGE"
)

// object is a Kubernetes object with the fields the tests read; Spec is
// decoded again by kind.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec       yaml.Node         `yaml:"spec"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Type       string            `yaml:"type"`
	// Resources is a kustomization's list of files.
	Resources []string `yaml:"resources"`

	file string
}

type deploymentSpec struct {
	Replicas *int `yaml:"replicas"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot *bool  `yaml:"runAsNonRoot"`
		RunAsUser    *int64 `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	TopologySpreadConstraints []struct {
		MaxSkew           int    `yaml:"maxSkew"`
		TopologyKey       string `yaml:"topologyKey"`
		WhenUnsatisfiable string `yaml:"whenUnsatisfiable"`
		LabelSelector     struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"labelSelector"`
	} `yaml:"topologySpreadConstraints"`
	Containers []container `yaml:"containers"`
	Volumes    []volume    `yaml:"volumes"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type volume struct {
	Name      string           `yaml:"name"`
	ConfigMap *configMapSource `yaml:"configMap"`
	Projected *struct {
		Sources []struct {
			ConfigMap *configMapSource `yaml:"configMap"`
		} `yaml:"sources"`
	} `yaml:"projected"`
	EmptyDir *struct{} `yaml:"emptyDir"`
}

type configMapSource struct {
	Name  string `yaml:"name"`
	Items []struct {
		Key  string `yaml:"key"`
		Path string `yaml:"path"`
	} `yaml:"items"`
}

type serviceSpec struct {
	Selector map[string]string `yaml:"selector"`
	Ports    []struct {
		Name       string `yaml:"name"`
		Port       int    `yaml:"port"`
		TargetPort string `yaml:"targetPort"`
	} `yaml:"ports"`
}

type pdbSpec struct {
	MinAvailable   *int `yaml:"minAvailable"`
	MaxUnavailable *int `yaml:"maxUnavailable"`
	Selector       struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
}

// manifests are the objects of deploy/kubernetes by "Kind/name".
func manifests(t *testing.T) map[string]*object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", k8sDir, err)
	}
	objs := map[string]*object{}
	for _, f := range files {
		for _, o := range yamlDocs[*object](t, f) {
			if o == nil || o.Kind == "" || o.APIVersion == "" {
				t.Fatalf("%s: a document without kind or apiVersion", f)
			}
			o.file = f
			key := o.Kind + "/" + o.Metadata.Name
			if prev, ok := objs[key]; ok {
				t.Fatalf("%s: %s again (first in %s)", f, key, prev.file)
			}
			objs[key] = o
		}
	}
	return objs
}

func get(t *testing.T, objs map[string]*object, key string) *object {
	t.Helper()
	o, ok := objs[key]
	if !ok {
		t.Fatalf("no %s in %s (have %s)", key, k8sDir, strings.Join(slices.Sorted(maps.Keys(objs)), ", "))
	}
	return o
}

func spec[T any](t *testing.T, o *object) T {
	t.Helper()
	var s T
	if err := o.Spec.Decode(&s); err != nil {
		t.Fatalf("%s: %s/%s spec: %v", o.file, o.Kind, o.Metadata.Name, err)
	}
	return s
}

func assayDeployment(t *testing.T, objs map[string]*object) (deploymentSpec, container) {
	t.Helper()
	d := spec[deploymentSpec](t, get(t, objs, "Deployment/assay"))
	if len(d.Template.Spec.Containers) != 1 {
		t.Fatalf("Deployment/assay: %d containers, want 1", len(d.Template.Spec.Containers))
	}
	return d, d.Template.Spec.Containers[0]
}

// The kinds and names the README's "Deployment files" lists, and a
// kustomization that applies every file but the example Secret.
func TestKubernetesObjects(t *testing.T) {
	objs := manifests(t)
	want := []string{
		"ConfigMap/assay-check-files",
		"ConfigMap/assay-checks",
		"ConfigMap/assay-config",
		"Deployment/assay",
		"Deployment/assay-demo-api",
		"Kustomization/",
		"PodDisruptionBudget/assay",
		"Secret/assay-secrets",
		"Service/assay",
		"Service/assay-demo-api",
	}
	if got := slices.Sorted(maps.Keys(objs)); !slices.Equal(got, want) {
		t.Fatalf("objects:\n got %q\nwant %q", got, want)
	}
	apiVersions := map[string]string{
		"ConfigMap": "v1", "Secret": "v1", "Service": "v1", "Deployment": "apps/v1",
		"PodDisruptionBudget": "policy/v1", "Kustomization": "kustomize.config.k8s.io/v1beta1",
	}
	for key, o := range objs {
		if o.APIVersion != apiVersions[o.Kind] {
			t.Errorf("%s: apiVersion %q, want %q", key, o.APIVersion, apiVersions[o.Kind])
		}
	}

	kust := get(t, objs, "Kustomization/")
	var files []string
	for key, o := range objs {
		if key != "Kustomization/" && key != "Secret/"+secretName {
			files = append(files, filepath.Base(o.file))
		}
	}
	slices.Sort(files)
	files = slices.Compact(files)
	if got := slices.Sorted(slices.Values(kust.Resources)); !slices.Equal(got, files) {
		t.Errorf("kustomization resources %q, want every manifest but the Secret example: %q", got, files)
	}
	if slices.Contains(kust.Resources, filepath.Base(get(t, objs, "Secret/"+secretName).file)) {
		t.Error("the kustomization applies the example Secret and its placeholders")
	}
}

func TestKubernetesDeployment(t *testing.T) {
	objs := manifests(t)
	d, c := assayDeployment(t, objs)
	pod := d.Template.Spec

	if d.Replicas == nil || *d.Replicas != 3 {
		t.Errorf("replicas %s, want 3", ptrString(d.Replicas))
	}
	if len(d.Selector.MatchLabels) == 0 || !subset(d.Selector.MatchLabels, d.Template.Metadata.Labels) {
		t.Errorf("selector %v does not select the pod labels %v", d.Selector.MatchLabels, d.Template.Metadata.Labels)
	}
	if c.Image != "assay:latest" {
		t.Errorf("image %q, want the placeholder assay:latest", c.Image)
	}
	wantArgs := []string{"run", "--checks", checksMountPath, "--config", configMountPath + "/assay.yaml", "--listen", "0.0.0.0:9464"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args %q, want %q", c.Args, wantArgs)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != assayPort || c.Ports[0].Name != "http" {
		t.Errorf("ports %+v, want http: %d", c.Ports, assayPort)
	}

	for _, p := range []struct {
		name  string
		probe *probe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: no httpGet", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s path %q, want %q", p.name, p.probe.HTTPGet.Path, p.path)
		}
		if p.probe.HTTPGet.Port != "http" && p.probe.HTTPGet.Port != strconv.Itoa(assayPort) {
			t.Errorf("%s port %q, want http or %d", p.name, p.probe.HTTPGet.Port, assayPort)
		}
	}

	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if u := pod.SecurityContext.RunAsUser; u == nil || *u != 65532 {
		t.Errorf("runAsUser %s, want the image's 65532", ptrString(u))
	}
	sc := c.SecurityContext
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("capabilities.drop %q, want [ALL]", sc.Capabilities.Drop)
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			t.Errorf("no resources.requests.%s", r)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("no resources.limits.memory")
	}

	var onHosts bool
	for _, tsc := range pod.TopologySpreadConstraints {
		if !subset(tsc.LabelSelector.MatchLabels, d.Template.Metadata.Labels) || len(tsc.LabelSelector.MatchLabels) == 0 {
			t.Errorf("topology spread on %s selects %v, not the pods", tsc.TopologyKey, tsc.LabelSelector.MatchLabels)
		}
		if tsc.TopologyKey == "kubernetes.io/hostname" && tsc.MaxSkew == 1 && tsc.WhenUnsatisfiable == "DoNotSchedule" {
			onHosts = true
		}
	}
	if !onHosts {
		t.Error("no topology spread over kubernetes.io/hostname (maxSkew 1, DoNotSchedule)")
	}

	// Mounts: the checks and the config from their ConfigMaps, every
	// writable path an emptyDir (the root file system is read-only).
	volumes := map[string]volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Errorf("mount %s: no volume %q", m.MountPath, m.Name)
			continue
		}
		mounts[m.MountPath] = m.Name
		if !m.ReadOnly && v.EmptyDir == nil {
			t.Errorf("mount %s is writable and not an emptyDir", m.MountPath)
		}
	}
	if got := configMapNames(volumes[mounts[checksMountPath]]); !slices.Equal(got, []string{"assay-checks", "assay-check-files"}) {
		t.Errorf("%s comes from ConfigMaps %q, want assay-checks and assay-check-files", checksMountPath, got)
	}
	if got := configMapNames(volumes[mounts[configMountPath]]); !slices.Equal(got, []string{"assay-config"}) {
		t.Errorf("%s comes from ConfigMaps %q, want assay-config", configMountPath, got)
	}
	if _, ok := mounts["/tmp"]; !ok {
		t.Error("no writable /tmp")
	}

	// Secrets from the Secret, and only keys it has.
	secret := get(t, objs, "Secret/"+secretName)
	fromSecret := map[string]bool{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if ref == nil || ref.Name != secretName {
			t.Errorf("env %s is not from Secret %s", e.Name, secretName)
			continue
		}
		if _, ok := secret.StringData[ref.Key]; !ok {
			t.Errorf("env %s: Secret %s has no key %q", e.Name, secretName, ref.Key)
		}
		fromSecret[e.Name] = true
	}
	if !fromSecret["ASSAY_POSTGRES_DSN"] {
		t.Error("ASSAY_POSTGRES_DSN is not taken from the Secret")
	}
}

// The example Secret holds placeholders only.
func TestKubernetesSecretIsAPlaceholder(t *testing.T) {
	objs := manifests(t)
	s := get(t, objs, "Secret/"+secretName)
	if len(s.Data) != 0 {
		t.Error("the example Secret has base64 data; use stringData placeholders")
	}
	for k, v := range s.StringData {
		if !strings.Contains(v, placeholderToken) {
			t.Errorf("Secret key %s = a value without %q: not clearly a placeholder", k, placeholderToken)
		}
	}
	if !bytes.Contains(readFile(t, s.file), []byte("EXAMPLE ONLY")) {
		t.Errorf("%s does not say EXAMPLE ONLY", s.file)
	}
}

func TestKubernetesPDBAndServices(t *testing.T) {
	objs := manifests(t)
	d, _ := assayDeployment(t, objs)
	podLabels := d.Template.Metadata.Labels

	pdb := spec[pdbSpec](t, get(t, objs, "PodDisruptionBudget/assay"))
	if !maps.Equal(pdb.Selector.MatchLabels, d.Selector.MatchLabels) {
		t.Errorf("PDB selects %v, the Deployment %v", pdb.Selector.MatchLabels, d.Selector.MatchLabels)
	}
	switch {
	case pdb.MinAvailable != nil && pdb.MaxUnavailable == nil:
		if *pdb.MinAvailable != 2 {
			t.Errorf("PDB minAvailable %d, want 2 of 3", *pdb.MinAvailable)
		}
	case pdb.MaxUnavailable != nil && pdb.MinAvailable == nil:
		if *pdb.MaxUnavailable != 1 {
			t.Errorf("PDB maxUnavailable %d, want 1", *pdb.MaxUnavailable)
		}
	default:
		t.Error("PDB: set exactly one of minAvailable and maxUnavailable")
	}

	svcObj := get(t, objs, "Service/assay")
	svc := spec[serviceSpec](t, svcObj)
	if !maps.Equal(svc.Selector, d.Selector.MatchLabels) {
		t.Errorf("Service selects %v, the Deployment %v", svc.Selector, d.Selector.MatchLabels)
	}
	if len(svc.Ports) != 1 || svc.Ports[0].Port != assayPort || svc.Ports[0].TargetPort != "http" {
		t.Errorf("Service ports %+v, want %d -> http", svc.Ports, assayPort)
	}
	for k, v := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(assayPort), "prometheus.io/path": "/metrics"} {
		if got := svcObj.Metadata.Annotations[k]; got != v {
			t.Errorf("Service annotation %s = %q, want %q", k, got, v)
		}
	}

	// The demo API: its own labels (the assay Service and PDB do not
	// select it), and the checks' DEMO_API_URL names its Service.
	demo := spec[deploymentSpec](t, get(t, objs, "Deployment/assay-demo-api"))
	demoLabels := demo.Template.Metadata.Labels
	if subset(d.Selector.MatchLabels, demoLabels) || subset(demo.Selector.MatchLabels, podLabels) {
		t.Errorf("the assay and demo API selectors overlap: %v, %v", d.Selector.MatchLabels, demo.Selector.MatchLabels)
	}
	demoSvc := spec[serviceSpec](t, get(t, objs, "Service/assay-demo-api"))
	if !maps.Equal(demoSvc.Selector, demo.Selector.MatchLabels) || len(demoSvc.Ports) != 1 {
		t.Fatalf("Service/assay-demo-api %+v does not front the demo API", demoSvc)
	}
	if got := demo.Template.Spec.Containers[0].Args; !slices.Equal(got, []string{"demo-api", "--listen", "0.0.0.0:8787"}) {
		t.Errorf("demo API args %q", got)
	}
	_, c := assayDeployment(t, objs)
	var demoURL string
	for _, e := range c.Env {
		if e.Name == "DEMO_API_URL" {
			demoURL = e.Value
		}
	}
	if want := fmt.Sprintf("http://assay-demo-api:%d", demoSvc.Ports[0].Port); demoURL != want {
		t.Errorf("DEMO_API_URL %q, want %q", demoURL, want)
	}
}

// The assay.yaml in the ConfigMap loads with the real config loader, with
// the environment the Deployment gives it (the example Secret's values).
func TestKubernetesConfigLoads(t *testing.T) {
	objs := manifests(t)
	d, c := assayDeployment(t, objs)
	secret := get(t, objs, "Secret/"+secretName)
	text, ok := get(t, objs, "ConfigMap/assay-config").Data["assay.yaml"]
	if !ok {
		t.Fatal("ConfigMap/assay-config has no assay.yaml")
	}

	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = secret.StringData[e.ValueFrom.SecretKeyRef.Key]
		}
	}
	for _, name := range envRefs(text, false) {
		v, ok := env[name]
		if !ok {
			t.Errorf("assay.yaml uses ${%s}; the Deployment does not set it", name)
		}
		t.Setenv(name, v)
	}
	cfg, err := config.Parse("assay.yaml", []byte(text))
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	if cfg.Storage.Driver != config.DriverPostgres {
		t.Errorf("storage.driver %q, want postgres", cfg.Storage.Driver)
	}
	if cfg.Storage.DSN != secret.StringData["postgres-dsn"] {
		t.Error("storage.dsn is not the Secret's postgres-dsn")
	}
	if _, err := url.Parse(cfg.Storage.DSN); err != nil {
		t.Errorf("the Secret's postgres-dsn is no URL: %v", err)
	}
	if cfg.Server.Listen != "0.0.0.0:9464" {
		t.Errorf("server.listen %q, want 0.0.0.0:9464 (what --listen says)", cfg.Server.Listen)
	}
	grace := time.Duration(*d.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	if grace <= cfg.Server.ShutdownGrace.D() {
		t.Errorf("terminationGracePeriodSeconds %v is not above server.shutdown_grace %v", grace, cfg.Server.ShutdownGrace.D())
	}
	if len(cfg.Notifiers) == 0 || len(cfg.Defaults.Alert.Notify) == 0 {
		t.Error("no notifiers: the Secret's notifier tokens are unused")
	}
}

// kubeletFiles lays out a volume's ConfigMaps as the kubelet mounts them:
// every key at the top without items, each item at its path with.
func kubeletFiles(t *testing.T, v volume, objs map[string]*object) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	put := func(p string, data string) {
		if _, dup := files[p]; dup {
			t.Errorf("volume %s: two sources write %s", v.Name, p)
		}
		files[p] = []byte(data)
	}
	for _, src := range configMapSources(v) {
		cm := get(t, objs, "ConfigMap/"+src.Name)
		if len(src.Items) == 0 {
			for k, data := range cm.Data {
				put(k, data)
			}
			continue
		}
		mapped := map[string]bool{}
		for _, it := range src.Items {
			data, ok := cm.Data[it.Key]
			if !ok {
				t.Errorf("volume %s: ConfigMap %s has no key %q", v.Name, src.Name, it.Key)
			}
			if it.Path != path.Clean(it.Path) || path.IsAbs(it.Path) || strings.HasPrefix(it.Path, "..") {
				t.Errorf("volume %s: item path %q", v.Name, it.Path)
			}
			mapped[it.Key] = true
			put(it.Path, data)
		}
		for k := range cm.Data {
			if !mapped[k] {
				t.Errorf("ConfigMap %s: key %s is not mounted (add it to the items of volume %s in deployment.yaml)", src.Name, k, v.Name)
			}
		}
	}
	return files
}

// repoCheckFiles are the files of the repository's checks.d by relative path.
func repoCheckFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(repoChecks, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(repoChecks, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = readFile(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// The checks volume holds exactly the repository's checks.d, file for file
// and byte for byte, and they load as the daemon loads them.
func TestKubernetesChecksAreTheRepositorys(t *testing.T) {
	if *update {
		writeChecksConfigMap(t)
	}
	objs := manifests(t)
	d, c := assayDeployment(t, objs)
	var checksVolume string
	for _, m := range c.VolumeMounts {
		if m.MountPath == checksMountPath {
			checksVolume = m.Name
		}
	}
	var v volume
	for _, vol := range d.Template.Spec.Volumes {
		if vol.Name == checksVolume {
			v = vol
		}
	}
	mounted := kubeletFiles(t, v, objs)
	repo := repoCheckFiles(t)
	regen := "; run go test ./deploy -run TestKubernetesChecks -update"
	for p, data := range repo {
		got, ok := mounted[p]
		switch {
		case !ok:
			t.Errorf("checks.d/%s is not in the ConfigMaps%s", p, regen)
		case !bytes.Equal(got, data):
			t.Errorf("checks.d/%s differs from its ConfigMap copy%s", p, regen)
		}
	}
	for p := range mounted {
		if _, ok := repo[p]; !ok {
			t.Errorf("the ConfigMaps mount %s, which checks.d does not have%s", p, regen)
		}
	}

	dir := t.TempDir()
	for p, data := range mounted {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func(name string) (string, bool) {
		for _, e := range c.Env {
			if e.Name == name && e.ValueFrom == nil {
				return e.Value, true
			}
		}
		return "", false
	}
	got, err := checks.LoadOptions{LookupEnv: lookup}.Load(dir)
	if err != nil {
		t.Fatalf("the mounted checks do not load: %v", err)
	}
	want, err := checks.LoadOptions{LookupEnv: lookup}.Load(repoChecks)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Errorf("%d checks from the ConfigMaps, %d from checks.d", len(got), len(want))
	}
}

// writeChecksConfigMap rewrites configmap-checks.yaml from checks.d: the
// files at its top in assay-checks, those below in assay-check-files
// (keyed by base name; deployment.yaml maps them back to their paths).
func writeChecksConfigMap(t *testing.T) {
	t.Helper()
	files := repoCheckFiles(t)
	top, nested := map[string]string{}, map[string]string{}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if strings.Contains(p, "/") {
			if prev, dup := nested[path.Base(p)]; dup {
				t.Fatalf("checks.d/%s and checks.d/%s have the same base name", prev, p)
			}
			nested[path.Base(p)] = p
		} else {
			top[p] = p
		}
	}
	var b strings.Builder
	b.WriteString(`# The checks, as files of the repository's checks.d (generated by
# go test ./deploy -run TestKubernetesChecks -update; the test fails when
# they drift apart). Replace them with your own: check files go in
# assay-checks, files they refer to (schemas, OpenAPI descriptions) in
# assay-check-files, mapped to their paths in deployment.yaml.
`)
	for _, cm := range []struct {
		name string
		keys map[string]string
	}{{"assay-checks", top}, {"assay-check-files", nested}} {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  labels:\n    app.kubernetes.io/name: assay\ndata:\n", cm.name)
		for _, key := range slices.Sorted(maps.Keys(cm.keys)) {
			data := string(files[cm.keys[key]])
			if !strings.HasSuffix(data, "\n") || strings.HasSuffix(data, "\n\n") || strings.HasPrefix(data, " ") {
				t.Fatalf("checks.d/%s: a literal block needs one final newline and no leading space", cm.keys[key])
			}
			fmt.Fprintf(&b, "  %s: |\n", key)
			for _, line := range strings.SplitAfter(data, "\n") {
				if line == "" {
					continue
				}
				if line != "\n" {
					b.WriteString("    ")
				}
				b.WriteString(line)
			}
		}
	}
	if err := os.WriteFile(checksConfigMap, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func configMapSources(v volume) []configMapSource {
	var out []configMapSource
	if v.ConfigMap != nil {
		out = append(out, *v.ConfigMap)
	}
	if v.Projected != nil {
		for _, s := range v.Projected.Sources {
			if s.ConfigMap != nil {
				out = append(out, *s.ConfigMap)
			}
		}
	}
	return out
}

func configMapNames(v volume) []string {
	var names []string
	for _, s := range configMapSources(v) {
		names = append(names, s.Name)
	}
	return names
}

// subset reports whether every label of sel is in labels.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
