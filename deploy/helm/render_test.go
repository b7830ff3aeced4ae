package helm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart under test; examples are the value sets the README
// shows, rendered here exactly as an operator would pass them.
const (
	chartDir = "buzhou"
	release  = "t"
	// fullname is the prefix of every object of release "t".
	fullname  = "t-buzhou"
	namespace = "buzhou"
)

// kubeVersion is the cluster the chart is rendered for: the oldest it
// supports (native gRPC probes are GA from 1.27) is older than this.
var kubeVersion = &chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}

// valueSet is a named set of values: files of examples/ or testdata/, then
// --set style overrides.
type valueSet struct {
	files []string
	set   []string
}

var (
	defaults   = valueSet{}
	production = valueSet{files: []string{"examples/production.yaml"}}
	sandbox    = valueSet{files: []string{"examples/sandbox.yaml"}}
)

func (v valueSet) with(set ...string) valueSet {
	return valueSet{files: v.files, set: append(append([]string(nil), v.set...), set...)}
}

// values merges the set as `helm -f ... --set ...` does.
func (v valueSet) values(tb testing.TB) map[string]any {
	tb.Helper()
	opts := values.Options{ValueFiles: v.files, Values: v.set}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		tb.Fatalf("values %v: %v", v, err)
	}
	return vals
}

// object is a rendered Kubernetes object: typed when client-go knows its
// kind, a plain map otherwise (ServiceMonitor).
type object struct {
	kind, name string
	typed      runtime.Object
	plain      map[string]any
}

// rendered is a release as `helm template` would print it.
type rendered struct {
	objects []object // manifests and hooks
	notes   string
}

// render renders the chart like `helm install --dry-run` without a cluster:
// schema validation, dependency conditions, fail messages and hooks included.
func render(tb testing.TB, v valueSet) (*rendered, error) {
	tb.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		tb.Fatalf("load chart: %v", err)
	}
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = release, namespace
	inst.KubeVersion = kubeVersion
	rel, err := inst.Run(chrt, v.values(tb))
	if err != nil {
		return nil, err
	}
	out := &rendered{notes: rel.Info.Notes}
	manifests := []string{rel.Manifest}
	for _, h := range rel.Hooks {
		manifests = append(manifests, h.Manifest)
	}
	for _, m := range manifests {
		objs, err := decode(m)
		if err != nil {
			tb.Fatalf("decode the rendered chart: %v", err)
		}
		out.objects = append(out.objects, objs...)
	}
	return out, nil
}

// mustRender renders a value set the test expects to be accepted.
func mustRender(tb testing.TB, v valueSet) *rendered {
	tb.Helper()
	r, err := render(tb, v)
	if err != nil {
		tb.Fatalf("render %v: %v", v, err)
	}
	return r
}

// strict refuses unknown and repeated fields, as kubectl's server-side
// field validation does: a misspelt field in a template fails here.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// decode splits a multi-document manifest into objects, refusing what the
// API server would refuse to decode.
func decode(manifest string) ([]object, error) {
	var out []object
	rd := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("%w in\n%s", err, doc)
		}
		o := object{kind: meta.Kind, name: meta.Metadata.Name}
		typed, _, err := strict.Decode(doc, nil, nil)
		switch {
		case err == nil:
			o.typed = typed
		case runtime.IsNotRegisteredError(err):
			if err := yaml.Unmarshal(doc, &o.plain); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s %s: %w", o.kind, o.name, err)
		}
		out = append(out, o)
	}
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(string(doc), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.Bytes()
}

// get returns the object of kind and name (the release's prefix added when
// name starts with "-"), failing the test when there is none.
func get[T runtime.Object](tb testing.TB, r *rendered, kind, name string) T {
	tb.Helper()
	o, ok := r.find(kind, name)
	if !ok {
		tb.Fatalf("no %s %s among %v", kind, name, r.names())
	}
	t, ok := o.typed.(T)
	if !ok {
		tb.Fatalf("%s %s is a %T", kind, name, o.typed)
	}
	return t
}

func (r *rendered) find(kind, name string) (object, bool) {
	if strings.HasPrefix(name, "-") {
		name = fullname + name
	}
	for _, o := range r.objects {
		if o.kind == kind && o.name == name {
			return o, true
		}
	}
	return object{}, false
}

func (r *rendered) has(kind, name string) bool {
	_, ok := r.find(kind, name)
	return ok
}

// all returns every object of kind.
func all[T runtime.Object](r *rendered, kind string) []T {
	var out []T
	for _, o := range r.objects {
		if t, ok := o.typed.(T); ok && o.kind == kind {
			out = append(out, t)
		}
	}
	return out
}

func (r *rendered) names() []string {
	var out []string
	for _, o := range r.objects {
		out = append(out, o.kind+"/"+o.name)
	}
	return out
}
