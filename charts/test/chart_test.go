// Package chart tests the Helm chart in charts/vonage-audit-exporter without a
// cluster: helm lint, and helm template with several value sets, each
// rendered object decoded strictly into its Kubernetes or Prometheus Operator
// type and checked for what matters to a running exporter.
package chart

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

const (
	chartDir  = "../vonage-audit-exporter"
	repoRoot  = "../.."
	release   = "audit"
	namespace = "monitoring"
	fullname  = "audit-vonage-audit-exporter"
	rulesFile = "alerts/vonage-audit.rules.yml"
)

// helmPath builds helm once (go tool caches the binary) and returns its path,
// so each test runs the binary rather than go tool's checks again.
var helmPath = sync.OnceValues(func() (string, error) {
	modfile, err := filepath.Abs(filepath.Join(repoRoot, "tools/helm/go.mod"))
	if err != nil {
		return "", fmt.Errorf("finding tools/helm/go.mod: %w", err)
	}
	out, err := exec.Command("go", "tool", "-n", "-modfile="+modfile, "helm").Output()
	if err != nil {
		return "", fmt.Errorf("building helm from %s: %w", modfile, exitError(err))
	}
	return strings.TrimSpace(string(out)), nil
})

func exitError(err error) error {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return fmt.Errorf("%w: %s", err, ee.Stderr)
	}
	return err
}

func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := helmPath()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// valuesFile writes values where helm can read them with -f.
func valuesFile(t *testing.T, values map[string]any) string {
	t.Helper()
	b, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	// Not in t.TempDir(): its name holds the test's, and helm splits -f at commas.
	f, err := os.CreateTemp("", "values-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

var (
	twoAccountsKeys = map[string]string{"production": "production", "staging": "staging.secret"}
	twoAccounts     = []any{
		map[string]any{"name": "production", "api_key": "abcd1234", "apiSecret": "production-secret"},
		map[string]any{"name": "staging", "api_key": "efgh5678", "secretKey": "staging.secret", "apiSecret": "staging-secret",
			"event_types": []any{"USER_LOGIN"}},
	}
	// Secrets from elsewhere name their keys their own way.
	existingAccountsKeys = map[string]string{"production": "vonage-production", "staging": "vonage-staging"}
	existingAccounts     = []any{
		map[string]any{"name": "production", "api_key": "abcd1234", "secretKey": "vonage-production"},
		map[string]any{"name": "staging", "api_key": "efgh5678", "secretKey": "vonage-staging"},
	}
	everythingOn = map[string]any{
		"accounts":       twoAccounts,
		"config":         map[string]any{"mode": "interval", "poll_interval": "30s", "user_label": "hash", "user_hash_salt": "0123456789abcdef0123"},
		"secretConfig":   true,
		"webConfig":      map[string]any{"http_server_config": map[string]any{"http2": true}},
		"persistence":    map[string]any{"enabled": true, "storageClass": "fast", "size": "2Gi"},
		"sharding":       map[string]any{"enabled": true, "shards": 3},
		"extraArgs":      []any{"--web.enable-lifecycle"},
		"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "kube-prometheus-stack"}, "interval": "30s"},
		"prometheusRule": map[string]any{"enabled": true, "labels": map[string]any{"release": "kube-prometheus-stack"}},
		"dashboards":     map[string]any{"enabled": true, "label": "my_dashboard", "labelValue": "yes", "namespace": "grafana"},
	}
)

func TestLintStrict(t *testing.T) {
	for name, values := range map[string]map[string]any{"defaults": nil, "everything on": everythingOn} {
		t.Run(name, func(t *testing.T) {
			if _, err := helm(t, "lint", "--strict", chartDir, "-f", valuesFile(t, values)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// want is what one value set must render.
type want struct {
	kinds        []string          // the rendered objects' kinds, sorted
	secret       string            // the Secret the API secrets come from
	keys         map[string]string // the Secret's key of each account's API secret
	statefulSet  bool
	replicas     int32
	shards       int    // 0: not sharded
	stateDir     string // "": no state file
	configSecret bool   // the config file in a Secret rather than a ConfigMap
	webConfig    string // the web config file, as YAML
	dashboards   [2]string
}

func TestTemplate(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]any
		want   want
	}{
		{
			name:   "defaults",
			values: nil,
			want: want{kinds: []string{"ConfigMap", "Deployment", "Secret", "Service", "ServiceAccount"},
				secret: fullname, replicas: 1},
		},
		{
			name:   "two accounts, two replicas",
			values: map[string]any{"accounts": twoAccounts, "replicas": 2},
			want: want{kinds: []string{"ConfigMap", "Deployment", "Secret", "Service", "ServiceAccount"},
				secret: fullname, keys: twoAccountsKeys, replicas: 2},
		},
		{
			name:   "existing secret",
			values: map[string]any{"accounts": existingAccounts, "existingSecret": "vonage-credentials"},
			want: want{kinds: []string{"ConfigMap", "Deployment", "Service", "ServiceAccount"},
				secret: "vonage-credentials", keys: existingAccountsKeys, replicas: 1},
		},
		{
			name: "service monitor, rules and dashboards",
			values: map[string]any{"accounts": twoAccounts, "serviceMonitor": map[string]any{"enabled": true},
				"prometheusRule": map[string]any{"enabled": true}, "dashboards": map[string]any{"enabled": true}},
			want: want{kinds: []string{"ConfigMap", "ConfigMap", "ConfigMap", "Deployment", "PrometheusRule", "Secret", "Service", "ServiceAccount", "ServiceMonitor"},
				secret: fullname, keys: twoAccountsKeys, replicas: 1, dashboards: [2]string{"grafana_dashboard", "1"}},
		},
		{
			name:   "persistence",
			values: map[string]any{"accounts": twoAccounts, "persistence": map[string]any{"enabled": true}},
			want: want{kinds: []string{"ConfigMap", "Secret", "Service", "ServiceAccount", "StatefulSet"},
				secret: fullname, keys: twoAccountsKeys, statefulSet: true, replicas: 1, stateDir: "/var/lib/vonage_audit_exporter"},
		},
		{
			name:   "sharding",
			values: map[string]any{"accounts": existingAccounts, "existingSecret": "vonage-credentials", "sharding": map[string]any{"enabled": true, "shards": 4}},
			want: want{kinds: []string{"ConfigMap", "Service", "ServiceAccount", "StatefulSet"},
				secret: "vonage-credentials", keys: existingAccountsKeys, statefulSet: true, replicas: 4, shards: 4},
		},
		{
			name:   "everything on",
			values: everythingOn,
			want: want{kinds: []string{"ConfigMap", "ConfigMap", "PrometheusRule", "Secret", "Secret", "Service", "ServiceAccount", "ServiceMonitor", "StatefulSet"},
				secret: fullname, keys: twoAccountsKeys, statefulSet: true, replicas: 3, shards: 3, stateDir: "/var/lib/vonage_audit_exporter",
				configSecret: true, webConfig: "http_server_config:\n  http2: true\n", dashboards: [2]string{"my_dashboard", "yes"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := render(t, c.values)
			var kinds []string
			for _, d := range r.docs {
				kinds = append(kinds, d.kind)
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, c.want.kinds) {
				t.Fatalf("rendered kinds %v, want %v", kinds, c.want.kinds)
			}
			for _, d := range r.docs {
				if ns := d.meta.GetNamespace(); ns != namespace && (d.kind != "ConfigMap" || ns != "grafana") {
					t.Errorf("%s %s: namespace %q, want %q", d.kind, d.meta.GetName(), ns, namespace)
				}
			}
			pod := r.workload(t, c.want)
			checkPodSecurity(t, pod)
			checkProbesAndPorts(t, pod)
			checkCredentials(t, r, pod, c.want)
			checkService(t, r, pod)
			checkState(t, r, pod, c.want)
			checkSharding(t, pod, c.want)
			checkExporterLoads(t, r, pod, c.want, c.values)
			if got := flagFile(t, r, pod, c.want, "--web.config.file"); got != c.want.webConfig {
				t.Errorf("the web config file is %q, want %q", got, c.want.webConfig)
			}
			if sm := only[monitoringv1.ServiceMonitor](r); sm != nil {
				checkServiceMonitor(t, r, sm)
			}
			if pr := r.one("PrometheusRule"); pr != nil {
				checkPrometheusRule(t, pr.raw)
			}
			if c.want.dashboards[0] != "" {
				checkDashboards(t, r, c.want.dashboards[0], c.want.dashboards[1])
			}
		})
	}
}

// doc is one rendered object: its bytes, and the typed object decoded from them.
type doc struct {
	kind string
	raw  []byte
	obj  any
	meta metav1.Object
}

type rendered struct{ docs []doc }

// types holds the types the chart may render, by apiVersion and kind.
var types = map[string]func() any{
	"apps/v1 Deployment":  func() any { return new(appsv1.Deployment) },
	"apps/v1 StatefulSet": func() any { return new(appsv1.StatefulSet) },
	"v1 Service":          func() any { return new(corev1.Service) },
	"v1 ServiceAccount":   func() any { return new(corev1.ServiceAccount) },
	"v1 Secret":           func() any { return new(corev1.Secret) },
	"v1 ConfigMap":        func() any { return new(corev1.ConfigMap) },
	"monitoring.coreos.com/v1 ServiceMonitor": func() any { return new(monitoringv1.ServiceMonitor) },
	"monitoring.coreos.com/v1 PrometheusRule": func() any { return new(monitoringv1.PrometheusRule) },
}

// render runs helm template and decodes every object strictly: a field its
// type does not know is an error, as the API server would reject it.
func render(t *testing.T, values map[string]any) *rendered {
	t.Helper()
	out, err := helm(t, "template", release, chartDir, "--namespace", namespace, "-f", valuesFile(t, values))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, out)
}

func decode(t *testing.T, manifests string) *rendered {
	t.Helper()
	r := &rendered{}
	reader := k8syaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifests)))
	for {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("splitting helm template's output: %v", err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(raw, &tm); err != nil {
			t.Fatalf("reading the kind of %s: %v", raw, err)
		}
		if tm.Kind == "" {
			continue // a document of comments only
		}
		newObj, ok := types[tm.APIVersion+" "+tm.Kind]
		if !ok {
			t.Fatalf("rendered %s %s, a type the test does not know", tm.APIVersion, tm.Kind)
		}
		obj := newObj()
		if err := yaml.UnmarshalStrict(raw, obj); err != nil {
			t.Fatalf("decoding %s strictly: %v\n%s", tm.Kind, err, raw)
		}
		r.docs = append(r.docs, doc{kind: tm.Kind, raw: raw, obj: obj, meta: obj.(metav1.Object)})
	}
	return r
}

func (r *rendered) one(kind string) *doc {
	for i := range r.docs {
		if r.docs[i].kind == kind {
			return &r.docs[i]
		}
	}
	return nil
}

func all[T any](r *rendered) []*T {
	var found []*T
	for _, d := range r.docs {
		if o, ok := d.obj.(*T); ok {
			found = append(found, o)
		}
	}
	return found
}

func only[T any](r *rendered) *T {
	if found := all[T](r); len(found) > 0 {
		return found[0]
	}
	return nil
}

func named[T any](t *testing.T, r *rendered, name string) *T {
	t.Helper()
	for _, d := range r.docs {
		if o, ok := d.obj.(*T); ok && d.meta.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %T named %s rendered", new(T), name)
	return nil
}

// workload returns the pod template of the one Deployment or StatefulSet.
func (r *rendered) workload(t *testing.T, w want) *corev1.PodTemplateSpec {
	t.Helper()
	deployments, statefulSets := all[appsv1.Deployment](r), all[appsv1.StatefulSet](r)
	if len(deployments)+len(statefulSets) != 1 || (len(statefulSets) == 1) != w.statefulSet {
		t.Fatalf("%d Deployments and %d StatefulSets, want a StatefulSet: %v", len(deployments), len(statefulSets), w.statefulSet)
	}
	var (
		replicas *int32
		selector *metav1.LabelSelector
		pod      *corev1.PodTemplateSpec
	)
	if w.statefulSet {
		s := statefulSets[0]
		replicas, selector, pod = s.Spec.Replicas, s.Spec.Selector, &s.Spec.Template
		if s.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
			t.Errorf("podManagementPolicy %q: shards and replicas should start without waiting for each other", s.Spec.PodManagementPolicy)
		}
	} else {
		d := deployments[0]
		replicas, selector, pod = d.Spec.Replicas, d.Spec.Selector, &d.Spec.Template
	}
	if replicas == nil || *replicas != w.replicas {
		t.Errorf("replicas %v, want %d", replicas, w.replicas)
	}
	if !selects(selector.MatchLabels, pod.Labels) {
		t.Errorf("the selector %v does not select the pods' labels %v", selector.MatchLabels, pod.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	return pod
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func checkPodSecurity(t *testing.T, pod *corev1.PodTemplateSpec) {
	t.Helper()
	ps, cs := pod.Spec.SecurityContext, pod.Spec.Containers[0].SecurityContext
	if ps == nil || cs == nil {
		t.Fatal("pod or container without securityContext")
	}
	if ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("the pod may run as root: runAsNonRoot %v, runAsUser %v", ps.RunAsNonRoot, ps.RunAsUser)
	}
	if ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile %v, want RuntimeDefault", ps.SeccompProfile)
	}
	if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
		t.Error("the root filesystem is writable")
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		t.Error("privilege escalation is allowed")
	}
	if cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) > 0 {
		t.Errorf("capabilities %v, want all dropped and none added", cs.Capabilities)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("the service account token is mounted; the exporter does not call the Kubernetes API")
	}
}

func checkProbesAndPorts(t *testing.T, pod *corev1.PodTemplateSpec) {
	t.Helper()
	c := pod.Spec.Containers[0]
	if len(c.Ports) != 1 || c.Ports[0].Name != "http-metrics" || c.Ports[0].ContainerPort != 9887 {
		t.Errorf("ports %v, want http-metrics on 9887", c.Ports)
	}
	if !slices.Contains(c.Args, "--web.listen-address=:9887") {
		t.Errorf("args %v: the exporter does not listen on the container port", c.Args)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/-/healthy"}, {"readiness", c.ReadinessProbe, "/-/ready"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.name)
			continue
		}
		if g := p.probe.HTTPGet; g.Path != p.path || g.Port.String() != "http-metrics" {
			t.Errorf("%s probe gets %s on port %s, want %s on http-metrics", p.name, g.Path, g.Port.String(), p.path)
		}
	}
}

// exporterConfig is what the test reads of the rendered config file.
type exporterConfig struct {
	StateFile string           `json:"state_file"`
	Accounts  []map[string]any `json:"accounts"`
	text      string
}

// configFile returns the config file the container reads, following its
// --config.file flag to the volume mounted there and to that volume's
// ConfigMap or Secret.
func configFile(t *testing.T, r *rendered, pod *corev1.PodTemplateSpec, w want) exporterConfig {
	t.Helper()
	content := flagFile(t, r, pod, w, "--config.file")
	cfg := exporterConfig{text: content}
	if err := yaml.Unmarshal([]byte(content), &cfg); err != nil {
		t.Fatalf("reading the config file: %v\n%s", err, content)
	}
	return cfg
}

// flagFile returns the contents of the file that flag names, following it
// to the volume mounted there and to that volume's ConfigMap or Secret; ""
// when the flag is not passed.
func flagFile(t *testing.T, r *rendered, pod *corev1.PodTemplateSpec, w want, flag string) string {
	t.Helper()
	var file string
	for _, a := range pod.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			file = v
		}
	}
	if file == "" {
		return ""
	}
	mount := mountAt(t, pod, file)
	vol := volume(t, pod, mount.Name)
	var content string
	switch {
	case w.configSecret && vol.Secret != nil:
		content = named[corev1.Secret](t, r, vol.Secret.SecretName).StringData[mount.SubPath]
	case !w.configSecret && vol.ConfigMap != nil:
		content = named[corev1.ConfigMap](t, r, vol.ConfigMap.Name).Data[mount.SubPath]
	default:
		t.Fatalf("%s %s is on volume %+v, want a %s", flag, file, vol.VolumeSource, map[bool]string{true: "Secret", false: "ConfigMap"}[w.configSecret])
	}
	return content
}

func mountAt(t *testing.T, pod *corev1.PodTemplateSpec, file string) corev1.VolumeMount {
	t.Helper()
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		if m.MountPath == file || (m.SubPath == "" && strings.HasPrefix(file, m.MountPath+"/")) {
			return m
		}
	}
	t.Fatalf("no volume is mounted at %q", file)
	return corev1.VolumeMount{}
}

func volume(t *testing.T, pod *corev1.PodTemplateSpec, name string) corev1.Volume {
	t.Helper()
	for _, v := range pod.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume named %q", name)
	return corev1.Volume{}
}

// checkCredentials follows each account's api_secret_file to the Secret it
// is read from: the Secret named, and the key of that Secret.
func checkCredentials(t *testing.T, r *rendered, pod *corev1.PodTemplateSpec, w want) {
	t.Helper()
	cfg := configFile(t, r, pod, w)
	var created *corev1.Secret // nil when the Secret exists beforehand
	for _, s := range all[corev1.Secret](r) {
		if s.Name == w.secret {
			created = s
		}
	}
	if created == nil && w.secret == fullname {
		t.Fatalf("the chart did not create the Secret %s", w.secret)
	}
	if len(cfg.Accounts) != len(w.keys) {
		t.Errorf("%d accounts in the config file, want %d", len(cfg.Accounts), len(w.keys))
	}
	for _, acc := range cfg.Accounts {
		if _, inline := acc["api_secret"]; inline {
			t.Errorf("account %v: the API secret is written in the config file", acc["name"])
		}
		file, _ := acc["api_secret_file"].(string)
		mount := mountAt(t, pod, file)
		vol := volume(t, pod, mount.Name)
		if vol.Secret == nil || vol.Secret.SecretName != w.secret {
			t.Errorf("account %v: the secret file %s is on volume %+v, want the Secret %s", acc["name"], file, vol.VolumeSource, w.secret)
			continue
		}
		rel := strings.TrimPrefix(file, mount.MountPath+"/")
		var key string
		for _, it := range vol.Secret.Items {
			if it.Path == rel {
				key = it.Key
			}
		}
		name, _ := acc["name"].(string)
		if key != w.keys[name] {
			t.Errorf("account %v: the API secret is read from the Secret's key %q, want %q", name, key, w.keys[name])
			continue
		}
		if created != nil && len(created.Data[key]) == 0 {
			t.Errorf("account %v: the Secret %s has no key %s", acc["name"], created.Name, key)
		}
	}
	if created != nil && len(created.Data) != len(cfg.Accounts) {
		t.Errorf("the Secret holds %d keys for %d accounts", len(created.Data), len(cfg.Accounts))
	}
}

// checkExporterLoads has the exporter's own config package load the rendered
// config, with the container's volumes laid out in a temporary folder: the
// Secret's keys as files, the state file's folder. It then holds the
// accounts, each with the API secret of its key in the Secret: the apiSecret
// of its values when the chart made the Secret.
func checkExporterLoads(t *testing.T, r *rendered, pod *corev1.PodTemplateSpec, w want, values map[string]any) {
	t.Helper()
	if len(w.keys) == 0 {
		return // no account: the exporter rightly refuses to start
	}
	cfg := configFile(t, r, pod, w)
	dir := t.TempDir()
	text := cfg.text
	if cfg.StateFile != "" {
		local := filepath.Join(dir, "state")
		if err := os.Mkdir(local, 0o700); err != nil {
			t.Fatal(err)
		}
		text = strings.ReplaceAll(text, mountAt(t, pod, cfg.StateFile).MountPath+"/", local+"/")
	}
	var secrets map[string][]byte
	for _, s := range all[corev1.Secret](r) {
		if s.Name == w.secret {
			secrets = s.Data
		}
	}
	wantSecret := map[string]string{}
	if secrets == nil { // an existing Secret: make up its contents
		secrets = map[string][]byte{}
		for name, key := range w.keys {
			secrets[key] = []byte("secret in " + key)
			wantSecret[name] = "secret in " + key
		}
	} else {
		for _, acc := range values["accounts"].([]any) {
			acc := acc.(map[string]any)
			wantSecret[acc["name"].(string)] = acc["apiSecret"].(string)
		}
	}
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		if i := slices.IndexFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }); i >= 0 &&
			pod.Spec.Volumes[i].Secret != nil && pod.Spec.Volumes[i].Secret.SecretName == w.secret {
			vol := pod.Spec.Volumes[i]
			local := filepath.Join(dir, "secrets")
			if err := os.Mkdir(local, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, it := range vol.Secret.Items {
				if err := os.WriteFile(filepath.Join(local, it.Path), secrets[it.Key], 0o600); err != nil {
					t.Fatal(err)
				}
			}
			text = strings.ReplaceAll(text, m.MountPath+"/", local+"/")
		}
	}
	file := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(file)
	if err != nil {
		t.Fatalf("the exporter does not load the rendered config: %v\n%s", err, text)
	}
	if len(loaded.Accounts) != len(w.keys) {
		t.Errorf("the exporter loaded %d accounts, want %d", len(loaded.Accounts), len(w.keys))
	}
	for _, acc := range loaded.Accounts {
		if want := wantSecret[acc.Name]; string(acc.APISecret) != want || want == "" {
			t.Errorf("account %s: the exporter read an API secret of %d bytes, want %d bytes",
				acc.Name, len(acc.APISecret), len(want))
		}
	}
	if (loaded.StateFile != "") != (w.stateDir != "") {
		t.Errorf("the exporter's state file is %q, want one in %q", loaded.StateFile, w.stateDir)
	}
}

func checkService(t *testing.T, r *rendered, pod *corev1.PodTemplateSpec) {
	t.Helper()
	svc := named[corev1.Service](t, r, fullname)
	if !selects(svc.Spec.Selector, pod.Labels) {
		t.Errorf("the Service's selector %v does not select the pods' labels %v", svc.Spec.Selector, pod.Labels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http-metrics" || svc.Spec.Ports[0].TargetPort.String() != pod.Spec.Containers[0].Ports[0].Name {
		t.Errorf("the Service's ports %v do not lead to the container's port http-metrics", svc.Spec.Ports)
	}
}

func checkState(t *testing.T, r *rendered, pod *corev1.PodTemplateSpec, w want) {
	t.Helper()
	cfg := configFile(t, r, pod, w)
	if w.stateDir == "" {
		if cfg.StateFile != "" {
			t.Errorf("state_file %s without persistence", cfg.StateFile)
		}
		return
	}
	if path.Dir(cfg.StateFile) != w.stateDir {
		t.Fatalf("state_file %q, want it in %s", cfg.StateFile, w.stateDir)
	}
	mount := mountAt(t, pod, cfg.StateFile)
	if mount.ReadOnly {
		t.Error("the state file's volume is read-only")
	}
	s := only[appsv1.StatefulSet](r)
	claims := map[string]corev1.PersistentVolumeClaim{}
	for _, c := range s.Spec.VolumeClaimTemplates {
		claims[c.Name] = c
	}
	claim, ok := claims[mount.Name]
	if !ok {
		t.Fatalf("the state file's volume %s is no claim template of the StatefulSet (claims: %v)", mount.Name, slices.Collect(maps.Keys(claims)))
	}
	if claim.Spec.Resources.Requests.Storage().IsZero() {
		t.Error("the claim requests no storage")
	}
}

func checkSharding(t *testing.T, pod *corev1.PodTemplateSpec, w want) {
	t.Helper()
	c := pod.Spec.Containers[0]
	if w.shards == 0 {
		for _, a := range c.Args {
			if strings.HasPrefix(a, "--shard") || strings.HasPrefix(a, "--total-shards") {
				t.Errorf("%s without sharding", a)
			}
		}
		return
	}
	for _, a := range []string{"--shard=$(SHARD)", fmt.Sprintf("--total-shards=%d", w.shards)} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %v lack %s", c.Args, a)
		}
	}
	var shard *corev1.EnvVar
	for i, e := range c.Env {
		if e.Name == "SHARD" {
			shard = &c.Env[i]
		}
	}
	if shard == nil || shard.ValueFrom == nil || shard.ValueFrom.FieldRef == nil ||
		shard.ValueFrom.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
		t.Errorf("SHARD is %+v, want the pod-index label through the downward API", shard)
	}
}

func checkServiceMonitor(t *testing.T, r *rendered, sm *monitoringv1.ServiceMonitor) {
	t.Helper()
	svc := named[corev1.Service](t, r, fullname)
	if !selects(sm.Spec.Selector.MatchLabels, svc.Labels) || len(sm.Spec.Selector.MatchExpressions) > 0 {
		t.Errorf("the ServiceMonitor's selector %v does not select the Service's labels %v", sm.Spec.Selector, svc.Labels)
	}
	if !slices.Contains(sm.Spec.NamespaceSelector.MatchNames, svc.Namespace) {
		t.Errorf("the ServiceMonitor looks in namespaces %v, not in the Service's %s", sm.Spec.NamespaceSelector.MatchNames, svc.Namespace)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("the ServiceMonitor's endpoints %+v do not scrape /metrics on the Service's port %s", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}
}

// checkPrometheusRule compares the rendered groups with the rules file, both
// read as plain YAML so that no field is lost to a type.
func checkPrometheusRule(t *testing.T, raw []byte) {
	t.Helper()
	var rendered struct {
		Spec struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &rendered); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []any `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("reading %s: %v", rulesFile, err)
	}
	if len(file.Groups) == 0 {
		t.Fatalf("%s holds no groups", rulesFile)
	}
	if !reflect.DeepEqual(rendered.Spec.Groups, file.Groups) {
		got, _ := yaml.Marshal(rendered.Spec.Groups)
		t.Errorf("the PrometheusRule's groups differ from %s's:\n%s", rulesFile, got)
	}
}

// checkDashboards finds each dashboards/*.json, unchanged, in a ConfigMap of
// its own carrying the sidecar's label.
func checkDashboards(t *testing.T, r *rendered, label, value string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards/*.json: %v", err)
	}
	var labelled []*corev1.ConfigMap
	for _, cm := range all[corev1.ConfigMap](r) {
		if _, ok := cm.Labels[label]; ok {
			labelled = append(labelled, cm)
		}
	}
	if len(labelled) != len(files) {
		t.Errorf("%d ConfigMaps labelled %s for %d dashboards", len(labelled), label, len(files))
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		key := filepath.Base(f)
		var found *corev1.ConfigMap
		for _, cm := range labelled {
			if _, ok := cm.Data[key]; ok {
				found = cm
			}
		}
		switch {
		case found == nil:
			t.Errorf("no ConfigMap labelled %s holds %s", label, key)
		case found.Labels[label] != value:
			t.Errorf("%s: label %s=%q, want %q", found.Name, label, found.Labels[label], value)
		case len(found.Data) != 1:
			t.Errorf("%s holds %d keys, want one dashboard", found.Name, len(found.Data))
		case found.Data[key] != string(want):
			t.Errorf("%s: %s differs from dashboards/%s", found.Name, key, key)
		}
	}
}

// TestConfigChangeRestartsPods: a change of the config or of a secret
// changes the pod template, so that Kubernetes rolls the pods.
func TestConfigChangeRestartsPods(t *testing.T) {
	base := map[string]any{"accounts": twoAccounts}
	annotations := func(values map[string]any) map[string]string {
		r := render(t, values)
		return r.workload(t, want{replicas: 1}).Annotations
	}
	before := annotations(base)
	for name, changed := range map[string]map[string]any{
		"config": {"accounts": twoAccounts, "config": map[string]any{"poll_interval": "2m"}},
		"secret": {"accounts": []any{twoAccounts[0], map[string]any{"name": "staging", "api_key": "efgh5678", "secretKey": "staging.secret",
			"apiSecret": "rotated", "event_types": []any{"USER_LOGIN"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			after := annotations(changed)
			if before["checksum/"+name] == after["checksum/"+name] {
				t.Errorf("the pod annotations did not change: %v", after)
			}
		})
	}
}

// TestInvalidValues: values that cannot work fail at install, saying why,
// rather than as a pod that never starts.
func TestInvalidValues(t *testing.T) {
	for _, c := range []struct {
		name   string
		values map[string]any
		args   []string
		want   string
	}{
		{"accounts in config", map[string]any{"config": map[string]any{"accounts": []any{}}}, nil, "config.accounts is set by the chart"},
		{"state_file in config", map[string]any{"config": map[string]any{"state_file": "/tmp/s.json"}}, nil, "config.state_file is set by the chart"},
		{"inline secret", map[string]any{"accounts": []any{map[string]any{"name": "a", "api_key": "k", "api_secret": "s", "apiSecret": "s"}}}, nil, "accounts[0].api_secret: the API secret comes from the Secret"},
		{"no secret", map[string]any{"accounts": []any{map[string]any{"name": "a", "api_key": "k"}}}, nil, "accounts[0].apiSecret is required"},
		{"account name that is no Secret key", map[string]any{"accounts": []any{map[string]any{"name": "prod/eu", "api_key": "k", "apiSecret": "s"}}}, nil, `"prod/eu" is not a valid Secret key`},
		{"sharding before Kubernetes 1.28", map[string]any{"sharding": map[string]any{"enabled": true}}, []string{"--kube-version", "1.27.0"}, "sharding.enabled needs Kubernetes 1.28"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"template", release, chartDir, "-f", valuesFile(t, c.values)}, c.args...)
			_, err := helm(t, args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
}

// TestPackage: the packaged chart carries the linked rules and dashboards'
// contents, and nothing else of the dashboards folder.
func TestPackage(t *testing.T) {
	dir := t.TempDir()
	if _, err := helm(t, "package", chartDir, "--destination", dir); err != nil {
		t.Fatal(err)
	}
	archives, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if len(archives) != 1 {
		t.Fatalf("helm package wrote %v", archives)
	}
	files := untar(t, archives[0])
	want := map[string]string{"files/vonage-audit.rules.yml": rulesFile}
	dashboards, _ := filepath.Glob(filepath.Join(repoRoot, "dashboards", "*.json"))
	for _, d := range dashboards {
		want["files/dashboards/"+filepath.Base(d)] = filepath.Join("dashboards", filepath.Base(d))
	}
	for inChart, inRepo := range want {
		b, err := os.ReadFile(filepath.Join(repoRoot, inRepo))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := files[inChart]; !ok || !bytes.Equal(got, b) {
			t.Errorf("the package's %s is not %s (present: %v)", inChart, inRepo, ok)
		}
	}
	for name := range files {
		if strings.HasPrefix(name, "files/") {
			if _, ok := want[name]; !ok {
				t.Errorf("the package holds %s", name)
			}
		}
	}
	out, err := helm(t, "template", release, archives[0], "--namespace", namespace, "--set", "prometheusRule.enabled=true")
	if err != nil {
		t.Fatal(err)
	}
	checkPrometheusRule(t, decode(t, out).one("PrometheusRule").raw)
}

// untar returns the files of a chart archive by their path inside the chart.
func untar(t *testing.T, archive string) map[string][]byte {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		_, name, _ := strings.Cut(h.Name, "/")
		files[name] = b
	}
}

// TestReadmeListsEveryValue: each value of values.yaml, or a key above it,
// has a row in the README's table, and each row names a value that exists.
func TestReadmeListsEveryValue(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for line := range strings.Lines(string(readme)) {
		if key, ok := strings.CutPrefix(line, "| `"); ok {
			key, _, _ = strings.Cut(key, "`")
			rows[key] = true
		}
	}
	all := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		all[prefix] = true
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			documented := false
			for p := prefix; p != "" && !documented; p, _ = cutLast(p) {
				documented = rows[p]
			}
			if !documented {
				t.Errorf("values.yaml's %s has no row in the README's table", prefix)
			}
			return
		}
		for k, sub := range m {
			walk(strings.TrimPrefix(prefix+"."+k, "."), sub)
		}
	}
	walk("", values)
	for row := range rows {
		if !all[row] {
			t.Errorf("the README's table lists %s, which values.yaml does not hold", row)
		}
	}
}

// cutLast cuts "a.b.c" into "a.b" and "c".
func cutLast(key string) (string, string) {
	if i := strings.LastIndex(key, "."); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}
