package helm

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// parts are Buzhou's Deployments, with the gRPC port of each service.
var parts = map[string]int32{"gateway": 8080, "article": 9101, "search": 9102, "verification": 9103, "sandbox": 9104}

// enabled lists the parts a value set runs.
func enabled(r *rendered) []string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		if r.has("Deployment", "-"+p) {
			out = append(out, p)
		}
	}
	return out
}

var valueSets = map[string]valueSet{"default": defaults, "production": production, "sandbox": sandbox}

// podSpecs are the pods the chart itself runs (not the Qdrant chart's), by
// the object that makes them.
func podSpecs(r *rendered) map[string]corev1.PodSpec {
	out := map[string]corev1.PodSpec{}
	for _, d := range all[*appsv1.Deployment](r, "Deployment") {
		out["Deployment/"+d.Name] = d.Spec.Template.Spec
	}
	for _, c := range all[*batchv1.CronJob](r, "CronJob") {
		out["CronJob/"+c.Name] = c.Spec.JobTemplate.Spec.Template.Spec
	}
	for _, p := range all[*corev1.Pod](r, "Pod") {
		if strings.HasPrefix(p.Name, fullname) {
			out["Pod/"+p.Name] = p.Spec
		}
	}
	return out
}

func TestEveryPodIsLockedDown(t *testing.T) {
	t.Parallel()
	for name, vs := range valueSets {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := mustRender(t, vs.with("inspection.cronJob.enabled=true"))
			pods := podSpecs(r)
			if len(pods) < 5 {
				t.Fatalf("only %d pods: %v", len(pods), slices.Collect(maps.Keys(pods)))
			}
			for who, p := range pods {
				if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
					t.Errorf("%s mounts a service account token", who)
				}
				if p.EnableServiceLinks == nil || *p.EnableServiceLinks {
					t.Errorf("%s gets Service variables", who)
				}
				sc := p.SecurityContext
				if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
					t.Errorf("%s may run as root: %+v", who, sc)
				}
				if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("%s has no RuntimeDefault seccomp profile: %+v", who, sc)
				}
				for _, c := range append(p.InitContainers, p.Containers...) {
					who := who + " container " + c.Name
					cs := c.SecurityContext
					switch {
					case cs == nil:
						t.Errorf("%s has no securityContext", who)
						continue
					case cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation:
						t.Errorf("%s may escalate privileges", who)
					case cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem:
						t.Errorf("%s writes its root filesystem", who)
					case cs.Privileged != nil && *cs.Privileged:
						t.Errorf("%s is privileged", who)
					case cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) > 0:
						t.Errorf("%s keeps capabilities: %+v", who, cs.Capabilities)
					}
					req, lim := c.Resources.Requests, c.Resources.Limits
					if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
						t.Errorf("%s lacks CPU and memory requests or a memory limit: %+v", who, c.Resources)
					}
					if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
						t.Errorf("%s image %q has no pinned tag", who, c.Image)
					}
				}
			}
		})
	}
}

func TestPartsServeAndAreProbed(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"default":    {"article", "gateway", "search", "verification"},
		"production": {"article", "gateway", "search", "verification"},
		"sandbox":    {"article", "gateway", "sandbox", "search", "verification"},
	}
	for name, vs := range valueSets {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := mustRender(t, vs)
			if got := enabled(r); !slices.Equal(got, want[name]) {
				t.Errorf("parts %v, want %v", got, want[name])
			}
			for _, p := range enabled(r) {
				d := get[*appsv1.Deployment](t, r, "Deployment", "-"+p)
				spec := d.Spec.Template.Spec
				c := spec.Containers[0]
				if got := *spec.TerminationGracePeriodSeconds; got != 30 {
					t.Errorf("%s: terminationGracePeriodSeconds %d, want drain 5 s + timeout 20 s + 5", p, got)
				}
				if spec.ServiceAccountName != fullname+"-"+p {
					t.Errorf("%s runs as service account %q", p, spec.ServiceAccountName)
				}
				if sa := get[*corev1.ServiceAccount](t, r, "ServiceAccount", "-"+p); sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
					t.Errorf("%s: its ServiceAccount automounts a token", p)
				}
				var keys []string
				for _, tc := range spec.TopologySpreadConstraints {
					keys = append(keys, tc.TopologyKey)
					if tc.LabelSelector.MatchLabels["app.kubernetes.io/component"] != p {
						t.Errorf("%s: spread selects %v", p, tc.LabelSelector.MatchLabels)
					}
				}
				if !slices.Equal(keys, []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"}) {
					t.Errorf("%s: spread over %v, want zones and nodes", p, keys)
				}
				svc := get[*corev1.Service](t, r, "Service", "-"+p)
				if got := envValue(c, listenEnv(p)); got != ":"+strconv.Itoa(int(parts[p])) {
					t.Errorf("%s listens on %s=%q", p, listenEnv(p), got)
				}
				if p == "gateway" {
					checkHTTPProbe(t, p, c.ReadinessProbe, "/readyz")
					// A service replica's 5 s drain alone never makes the gateway unready.
					if rp := c.ReadinessProbe; rp.PeriodSeconds*(rp.FailureThreshold-1) <= 5 {
						t.Errorf("gateway readiness gives up after %d × %d s, within a service's drain", rp.FailureThreshold, rp.PeriodSeconds)
					}
					checkHTTPProbe(t, p, c.LivenessProbe, "/healthz")
					checkHTTPProbe(t, p, c.StartupProbe, "/healthz")
					if svc.Spec.ClusterIP == corev1.ClusterIPNone {
						t.Errorf("the gateway's Service is headless")
					}
					continue
				}
				checkGRPCProbe(t, p, c.ReadinessProbe, parts[p], "")
				checkGRPCProbe(t, p, c.LivenessProbe, parts[p], "liveness")
				checkGRPCProbe(t, p, c.StartupProbe, parts[p], "liveness")
				if svc.Spec.ClusterIP != corev1.ClusterIPNone {
					t.Errorf("%s: Service has a cluster IP; gRPC clients need every replica's address", p)
				}
				if got := envValue(c, "BUZHOU_METRICS_ADDR"); got != ":9464" {
					t.Errorf("%s: BUZHOU_METRICS_ADDR=%q", p, got)
				}
				if d.Spec.Template.Annotations["prometheus.io/port"] != "9464" {
					t.Errorf("%s: scrape annotations %v", p, d.Spec.Template.Annotations)
				}
			}
			cm := get[*corev1.ConfigMap](t, r, "ConfigMap", "-config")
			for k, v := range map[string]string{
				"BUZHOU_ARTICLE_ADDR": fullname + "-article:9101", "BUZHOU_SEARCH_ADDR": fullname + "-search:9102",
				"BUZHOU_VERIFICATION_ADDR": fullname + "-verification:9103",
				"BUZHOU_LOG_JSON":          "true", "BUZHOU_SHUTDOWN_DRAIN": "5s", "BUZHOU_SHUTDOWN_TIMEOUT": "20s",
			} {
				if cm.Data[k] != v {
					t.Errorf("ConfigMap %s=%q, want %q", k, cm.Data[k], v)
				}
			}
			if _, ok := cm.Data["BUZHOU_SANDBOX_ADDR"]; ok != (name == "sandbox") {
				t.Errorf("BUZHOU_SANDBOX_ADDR set: %v", ok)
			}
			// Without a runner of its own, sandbox runs are off, not
			// attempted in the verification pods.
			if off := cm.Data["BUZHOU_SANDBOX"] == "false"; off == (name == "sandbox") {
				t.Errorf("BUZHOU_SANDBOX=%q", cm.Data["BUZHOU_SANDBOX"])
			}
		})
	}
}

func listenEnv(p string) string {
	if p == "gateway" {
		return "BUZHOU_HTTP_ADDR"
	}
	return "BUZHOU_" + strings.ToUpper(p) + "_ADDR"
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func checkHTTPProbe(t *testing.T, part string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
		t.Errorf("%s: probe %+v, want GET %s on the http port", part, p, path)
	}
}

func checkGRPCProbe(t *testing.T, part string, p *corev1.Probe, port int32, service string) {
	t.Helper()
	if p == nil || p.GRPC == nil || p.GRPC.Port != port || p.GRPC.Service == nil && service != "" || p.GRPC.Service != nil && *p.GRPC.Service != service {
		t.Errorf("%s: probe %+v, want a gRPC health check of %q on %d", part, p, service, port)
	}
}

// secretRefs lists the Secret keys a container reads, as "secret/key".
func secretRefs(c corev1.Container) []string {
	var out []string
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			out = append(out, e.ValueFrom.SecretKeyRef.Name+"/"+e.ValueFrom.SecretKeyRef.Key)
		}
	}
	slices.Sort(out)
	return out
}

// Each part gets the secrets it needs and no other: only the verification
// service sees the bootstrap key and the other services' keys.
func TestSecretsGoOnlyWhereNeeded(t *testing.T) {
	t.Parallel()
	own := func(secret string, keys ...string) []string {
		var out []string
		for _, k := range keys {
			out = append(out, secret+"/"+k)
		}
		slices.Sort(out)
		return out
	}
	keys := []string{"BUZHOU_ADMIN_KEY", "BUZHOU_ARTICLE_SERVICE_KEY", "BUZHOU_GATEWAY_SERVICE_KEY", "BUZHOU_SEARCH_SERVICE_KEY", "BUZHOU_VERIFICATION_SERVICE_KEY"}
	s, p := fullname+"-secrets", "buzhou-secrets"
	cases := []struct {
		name string
		vs   valueSet
		want map[string][]string
	}{
		{"default", defaults, map[string][]string{
			"gateway":      own(s, "BUZHOU_GATEWAY_SERVICE_KEY"),
			"article":      own(s, "BUZHOU_ARTICLE_SERVICE_KEY"),
			"search":       own(s, "BUZHOU_SEARCH_SERVICE_KEY", "QDRANT_API_KEY", "EMBEDDINGS_API_KEY"),
			"verification": own(s, keys...),
		}},
		{"production", production, map[string][]string{
			"gateway":      own(p, "BUZHOU_GATEWAY_SERVICE_KEY", "REDIS_URL"),
			"article":      own(p, "BUZHOU_ARTICLE_SERVICE_KEY", "DATABASE_URL"),
			"search":       own(p, "BUZHOU_SEARCH_SERVICE_KEY", "QDRANT_API_KEY", "EMBEDDINGS_API_KEY", "DATABASE_URL"),
			"verification": own(p, append(keys, "DATABASE_URL")...),
		}},
		// The runner knows the one key it takes calls with.
		{"sandbox", sandbox, map[string][]string{"sandbox": own(s, "BUZHOU_VERIFICATION_SERVICE_KEY")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := mustRender(t, tc.vs)
			for part, want := range tc.want {
				c := get[*appsv1.Deployment](t, r, "Deployment", "-"+part).Spec.Template.Spec.Containers[0]
				if got := secretRefs(c); !slices.Equal(got, want) {
					t.Errorf("%s reads %v, want %v", part, got, want)
				}
				for _, e := range c.EnvFrom {
					if e.SecretRef != nil {
						t.Errorf("%s takes a whole Secret (%s)", part, e.SecretRef.Name)
					}
				}
			}
		})
	}
}

// The chart's Secret holds a fresh key for every identity unless one is
// given; with existingSecret it makes none.
func TestGeneratedSecret(t *testing.T) {
	t.Parallel()
	given := "given-admin-key-0123456789abcdefghijklmnop"
	r := mustRender(t, defaults.with("secrets.adminKey="+given, "externalDatabase.url=postgres://u:p@db:5432/b"))
	sec := get[*corev1.Secret](t, r, "Secret", "-secrets")
	seen := map[string]bool{}
	for _, k := range []string{"BUZHOU_GATEWAY_SERVICE_KEY", "BUZHOU_ARTICLE_SERVICE_KEY", "BUZHOU_SEARCH_SERVICE_KEY", "BUZHOU_VERIFICATION_SERVICE_KEY"} {
		v := string(sec.Data[k])
		if len(v) != 48 || seen[v] {
			t.Errorf("%s = %q: want 48 fresh characters", k, v)
		}
		seen[v] = true
	}
	if got := string(sec.Data["BUZHOU_ADMIN_KEY"]); got != given {
		t.Errorf("BUZHOU_ADMIN_KEY %q, want the given one", got)
	}
	if got := string(sec.Data["DATABASE_URL"]); got != "postgres://u:p@db:5432/b" {
		t.Errorf("DATABASE_URL %q", got)
	}
	if _, ok := sec.Data["REDIS_URL"]; ok {
		t.Error("REDIS_URL without externalRedis.url")
	}
	if mustRender(t, production).has("Secret", "-secrets") {
		t.Error("a Secret rendered although existingSecret is set")
	}
}

// Only the gateway takes outside traffic; every service admits its callers;
// the sandbox runner reaches nothing.
func TestNetworkPolicies(t *testing.T) {
	t.Parallel()
	callers := map[string][]string{
		"article": {"gateway", "search", "verification"}, "search": {"gateway"},
		"verification": {"gateway", "article", "search"}, "sandbox": {"verification"},
	}
	for name, vs := range valueSets {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := mustRender(t, vs)
			for _, p := range enabled(r) {
				np := get[*networkingv1.NetworkPolicy](t, r, "NetworkPolicy", "-"+p)
				if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] != p {
					t.Errorf("%s: policy selects %v", p, np.Spec.PodSelector.MatchLabels)
				}
				rule := np.Spec.Ingress[0]
				if p == "gateway" {
					if rule.Ports[0].Port.String() != "http" {
						t.Errorf("gateway admits port %v", rule.Ports[0].Port)
					}
					if open := len(rule.From) == 0; open != (name != "production") {
						t.Errorf("gateway open to all: %v (from %v)", open, rule.From)
					}
					if name == "production" {
						// Restricted to the ingress controller, and to the
						// release's own clients, which must still get in.
						var own []string
						for _, peer := range rule.From {
							if peer.PodSelector != nil {
								own = append(own, peer.PodSelector.MatchLabels["app.kubernetes.io/component"])
							}
						}
						if len(rule.From) != 3 || !slices.Equal(own, []string{"inspection", "test"}) {
							t.Errorf("gateway admits %+v, want the ingress controller, the CronJob and helm test", rule.From)
						}
					}
					continue
				}
				var from []string
				for _, peer := range rule.From {
					if peer.PodSelector == nil || peer.NamespaceSelector != nil || peer.IPBlock != nil {
						t.Errorf("%s admits a peer beyond Buzhou's parts: %+v", p, peer)
						continue
					}
					from = append(from, peer.PodSelector.MatchLabels["app.kubernetes.io/component"])
				}
				want := slices.DeleteFunc(slices.Clone(callers[p]), func(c string) bool { return !slices.Contains(enabled(r), c) })
				if rule.Ports[0].Port.String() != "grpc" || !slices.Equal(from, want) {
					t.Errorf("%s admits %v on %v, want %v on grpc", p, from, rule.Ports[0].Port, want)
				}
				sandboxed := p == "sandbox"
				if egress := slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress); egress != sandboxed || len(np.Spec.Egress) != 0 {
					t.Errorf("%s: egress isolated %v with rules %v, want isolated with no rule only for the sandbox", p, egress, np.Spec.Egress)
				}
			}
		})
	}
}

// The trial install keeps everything on volumes and refuses nothing.
func TestTrialInstall(t *testing.T) {
	t.Parallel()
	r := mustRender(t, defaults)
	for _, p := range []string{"article", "search", "verification"} {
		d := get[*appsv1.Deployment](t, r, "Deployment", "-"+p)
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("%s: strategy %s on a ReadWriteOnce volume, want Recreate", p, d.Spec.Strategy.Type)
		}
		pvc := get[*corev1.PersistentVolumeClaim](t, r, "PersistentVolumeClaim", "-"+p+"-data")
		if pvc.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("%s: its data goes with an uninstall", p)
		}
		if *d.Spec.Replicas != 1 {
			t.Errorf("%s: %d replicas", p, *d.Spec.Replicas)
		}
	}
	if r.has("PersistentVolumeClaim", "-gateway-data") {
		t.Error("the gateway has a volume")
	}
	for _, kind := range []string{"HorizontalPodAutoscaler", "Ingress", "CronJob", "ServiceMonitor"} {
		if slices.ContainsFunc(r.objects, func(o object) bool { return o.kind == kind }) {
			t.Errorf("a %s in the trial install", kind)
		}
	}
	cm := get[*corev1.ConfigMap](t, r, "ConfigMap", "-config")
	for _, k := range []string{"QDRANT_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "BUZHOU_DAILY_INSPECTIONS"} {
		if _, ok := cm.Data[k]; ok {
			t.Errorf("%s set in the trial install", k)
		}
	}
	if !strings.Contains(r.notes, "single-replica trial") {
		t.Errorf("the notes do not say it is a trial: %s", r.notes)
	}
}

func TestProductionInstall(t *testing.T) {
	t.Parallel()
	r := mustRender(t, production)
	hpa := map[string][2]int32{"gateway": {3, 12}, "article": {2, 6}, "search": {2, 8}}
	for _, p := range []string{"gateway", "article", "search", "verification"} {
		d := get[*appsv1.Deployment](t, r, "Deployment", "-"+p)
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
			t.Errorf("%s: strategy %+v, want a rolling update that keeps every replica", p, d.Spec.Strategy)
		}
		if r.has("PersistentVolumeClaim", "-"+p+"-data") {
			t.Errorf("%s has a volume on external stores", p)
		}
		pdb := get[*policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget", "-"+p)
		if pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.Selector.MatchLabels["app.kubernetes.io/component"] != p {
			t.Errorf("%s: budget %+v", p, pdb.Spec)
		}
		want, scaled := hpa[p]
		if !scaled {
			if !r.has("HorizontalPodAutoscaler", "-"+p) && d.Spec.Replicas != nil && *d.Spec.Replicas == 2 {
				continue
			}
			t.Errorf("%s: want 2 fixed replicas, got %v", p, d.Spec.Replicas)
			continue
		}
		if d.Spec.Replicas != nil {
			t.Errorf("%s: replicas %d fights its autoscaler", p, *d.Spec.Replicas)
		}
		h := get[*autoscalingv2.HorizontalPodAutoscaler](t, r, "HorizontalPodAutoscaler", "-"+p)
		if *h.Spec.MinReplicas != want[0] || h.Spec.MaxReplicas != want[1] || h.Spec.ScaleTargetRef.Name != fullname+"-"+p || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 {
			t.Errorf("%s: autoscaler %+v", p, h.Spec)
		}
	}

	ing := get[*networkingv1.Ingress](t, r, "Ingress", fullname)
	back := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	if ing.Spec.Rules[0].Host != "buzhou.example.com" || back.Name != fullname+"-gateway" || back.Port.Name != "http" || ing.Spec.TLS[0].SecretName != "buzhou-tls" {
		t.Errorf("ingress %+v", ing.Spec)
	}

	cj := get[*batchv1.CronJob](t, r, "CronJob", "-inspection")
	c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	if cj.Spec.Schedule != "17 3 * * *" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent ||
		!strings.Contains(strings.Join(c.Args, " "), "http://"+fullname+"-gateway:8080/api/v1/inspections:runDue") ||
		!slices.Equal(secretRefs(c), []string{"buzhou-secrets/BUZHOU_ADMIN_KEY"}) {
		t.Errorf("inspection CronJob %+v, container %+v", cj.Spec, c)
	}

	cm := get[*corev1.ConfigMap](t, r, "ConfigMap", "-config")
	for k, v := range map[string]string{
		"QDRANT_URL": "http://qdrant.qdrant.svc:6334", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4318",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "BUZHOU_DAILY_INSPECTIONS": "false", "BUZHOU_TRUSTED_PROXIES": "10.0.0.0/8",
	} {
		if cm.Data[k] != v {
			t.Errorf("ConfigMap %s=%q, want %q", k, cm.Data[k], v)
		}
	}
	for _, p := range []string{"gateway", "article", "search", "verification"} {
		o, ok := r.find("ServiceMonitor", "-"+p)
		if !ok {
			t.Errorf("no ServiceMonitor for %s", p)
			continue
		}
		port := o.plain["spec"].(map[string]any)["endpoints"].([]any)[0].(map[string]any)["port"]
		if want := map[bool]string{true: "http", false: "metrics"}[p == "gateway"]; port != want {
			t.Errorf("%s is scraped on port %v, want %s", p, port, want)
		}
	}
	if strings.Contains(r.notes, "trial") {
		t.Errorf("the notes call production a trial: %s", r.notes)
	}
}

// qdrant.enabled brings the official chart; search finds it and its key.
func TestBundledQdrant(t *testing.T) {
	t.Parallel()
	r := mustRender(t, defaults.with("qdrant.enabled=true", "externalDatabase.url=postgres://u:p@db/b", "search.replicas=3"))
	sts := get[*appsv1.StatefulSet](t, r, "StatefulSet", "t-qdrant")
	if *sts.Spec.Replicas != 3 {
		t.Errorf("Qdrant runs %d nodes, want 3", *sts.Spec.Replicas)
	}
	if got := get[*corev1.ConfigMap](t, r, "ConfigMap", "-config").Data["QDRANT_URL"]; got != "http://t-qdrant:6334" {
		t.Errorf("QDRANT_URL %q, want the bundled chart's gRPC port", got)
	}
	d := get[*appsv1.Deployment](t, r, "Deployment", "-search")
	if *d.Spec.Replicas != 3 {
		t.Errorf("search replicas %d", *d.Spec.Replicas)
	}
	if got := secretRefs(d.Spec.Template.Spec.Containers[0]); !slices.Contains(got, "t-qdrant-apikey/api-key") {
		t.Errorf("search reads %v, want Qdrant's generated key", got)
	}
}

func TestHelmTestCallsReadyz(t *testing.T) {
	t.Parallel()
	p := get[*corev1.Pod](t, mustRender(t, defaults), "Pod", "-test-readyz")
	if p.Annotations["helm.sh/hook"] != "test" {
		t.Errorf("test pod annotations %v", p.Annotations)
	}
	if args := strings.Join(p.Spec.Containers[0].Args, " "); !strings.Contains(args, "--fail-with-body") || !strings.HasSuffix(args, "http://"+fullname+"-gateway:8080/readyz") {
		t.Errorf("test pod runs %v", p.Spec.Containers[0].Args)
	}
}

// What cannot work is refused with a message that says what to set.
func TestRefusals(t *testing.T) {
	t.Parallel()
	db, redis := "externalDatabase.url=postgres://u:p@db/b", "externalRedis.url=redis://r:6379/0"
	cases := []struct {
		name string
		vs   valueSet
		want string
	}{
		{"gateway replicas on in-memory limits", defaults.with("gateway.replicas=2"),
			"gateway.replicas is 2, but the gateway service keeps rate limits and quotas in memory, so each replica would allow the full rate; set externalRedis.url (Redis)"},
		{"article replicas on SQLite", defaults.with("article.replicas=3"),
			"article.replicas is 3, but the article service stores its data in SQLite on one ReadWriteOnce volume; set externalDatabase.url (PostgreSQL), or set article.replicas to 1"},
		{"verification autoscaled on SQLite", defaults.with("verification.autoscaling.enabled=true"),
			"verification.autoscaling.enabled is true, but the verification service stores its data in SQLite"},
		{"search replicas on the embedded index", defaults.with(db, "search.replicas=2"),
			"search.replicas is 2, but the search service keeps its index in the embedded store on one ReadWriteOnce volume; set externalQdrant.url or qdrant.enabled=true"},
		{"search replicas on SQLite state", defaults.with("externalQdrant.url=http://q:6334", "search.replicas=2"),
			"set externalDatabase.url (PostgreSQL)"},
		{"two Qdrants", defaults.with("qdrant.enabled=true", "externalQdrant.url=http://q:6334"), "both qdrant.enabled and externalQdrant.url are set"},
		{"URL from no Secret", defaults.with("externalRedis.urlFromExistingSecret=true"), "externalRedis.urlFromExistingSecret is true but existingSecret is empty"},
		{"secrets beside existingSecret", defaults.with("existingSecret=mine", "secrets.adminKey=0123456789abcdef0123456789abcdef"), "existingSecret is set, so the chart makes no Secret"},
		{"autoscaler bounds", defaults.with(db, redis, "gateway.autoscaling.enabled=true", "gateway.autoscaling.minReplicas=5", "gateway.autoscaling.maxReplicas=2"), "gateway.autoscaling.minReplicas (5) is above maxReplicas (2)"},
		// The schema.
		{"typo in a part", defaults.with("gateway.replica=2"), "at '/gateway': additional properties 'replica' not allowed"},
		{"typo at the top", defaults.with("ingres.enabled=true"), "additional properties 'ingres' not allowed"},
		{"short admin key", defaults.with("secrets.adminKey=short"), "at '/secrets/adminKey': 'short' does not match pattern"},
		{"drain without unit", defaults.with("config.shutdown.drain=5"), "at '/config/shutdown/drain': got number, want string"},
		{"no resources", defaults.with("search.resources=null"), "at '/search': missing property 'resources'"},
		{"no memory limit", defaults.with("article.resources.limits=null"), "at '/article/resources': missing property 'limits'"},
		{"root", defaults.with("podSecurityContext.runAsNonRoot=false"), "at '/podSecurityContext/runAsNonRoot'"},
		{"privileged", defaults.with("securityContext.privileged=true"), "at '/securityContext/privileged'"},
		{"writable root", defaults.with("securityContext.readOnlyRootFilesystem=false"), "at '/securityContext/readOnlyRootFilesystem'"},
		{"not a database URL", defaults.with("externalDatabase.url=mysql://db/b"), "at '/externalDatabase/url'"},
		{"unknown log level", defaults.with("config.logLevel=verbose"), "at '/config/logLevel'"},
		{"bad values file", valueSet{files: []string{"testdata/typo.yaml"}}, "at '/gateway': additional properties 'replicaCount' not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(t, tc.vs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render = %v\nwant an error with %q", err, tc.want)
			}
		})
	}
}

// The external stores lift the refusals: every part may scale out.
func TestScalesOutOnExternalStores(t *testing.T) {
	t.Parallel()
	r := mustRender(t, defaults.with("externalDatabase.url=postgres://u:p@db/b", "externalRedis.url=redis://r:6379/0",
		"externalQdrant.url=http://q:6334", "gateway.replicas=3", "article.replicas=3", "search.replicas=3", "verification.replicas=3"))
	for _, p := range []string{"gateway", "article", "search", "verification"} {
		if n := *get[*appsv1.Deployment](t, r, "Deployment", "-"+p).Spec.Replicas; n != 3 {
			t.Errorf("%s: %d replicas", p, n)
		}
	}
}

// helm lint --strict passes on every value set.
func TestLint(t *testing.T) {
	t.Parallel()
	for name, vs := range valueSets {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := action.NewLint()
			l.Strict, l.Namespace, l.KubeVersion = true, namespace, kubeVersion
			res := l.Run([]string{chartDir}, vs.values(t))
			for _, err := range res.Errors {
				t.Errorf("lint: %v", err)
			}
			for _, m := range res.Messages {
				if m.Severity > support.InfoSev {
					t.Errorf("lint: %s", m)
				}
			}
		})
	}
}

// TestEmbeddingsEndpoint: an endpoint's settings, its fusion weight among
// them, reach the services; the schema bounds the weight.
func TestEmbeddingsEndpoint(t *testing.T) {
	t.Parallel()
	r := mustRender(t, defaults.with("embeddings.url=http://tei.ml:8080", "embeddings.model=bge-m3", "embeddings.dimensions=1024", "embeddings.denseWeight=0.5"))
	cm := get[*corev1.ConfigMap](t, r, "ConfigMap", "-config")
	for k, v := range map[string]string{
		"EMBEDDINGS_URL": "http://tei.ml:8080", "EMBEDDINGS_MODEL": "bge-m3", "EMBEDDINGS_DIMENSIONS": "1024", "BUZHOU_SEARCH_DENSE_WEIGHT": "0.5",
	} {
		if cm.Data[k] != v {
			t.Errorf("ConfigMap %s=%q, want %q", k, cm.Data[k], v)
		}
	}
	if _, ok := get[*corev1.ConfigMap](t, mustRender(t, defaults), "ConfigMap", "-config").Data["BUZHOU_SEARCH_DENSE_WEIGHT"]; ok {
		t.Errorf("the default sets BUZHOU_SEARCH_DENSE_WEIGHT; the service's own default should hold")
	}
	for _, w := range []string{"embeddings.denseWeight=11", "embeddings.denseWeight=-1", "embeddings.denseWeight=lots"} {
		if _, err := render(t, defaults.with(w)); err == nil {
			t.Errorf("%s rendered", w)
		}
	}
	if _, err := render(t, defaults.with("embeddings.denseWeight=2")); err != nil {
		t.Errorf("a whole weight: %v", err)
	}
}
