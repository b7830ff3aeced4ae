package docker

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// stage is a FROM ... AS name of the Dockerfile and the lines under it.
type stage struct {
	from  string
	lines []string
}

func stages(t *testing.T) map[string]stage {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]stage{}
	from := regexp.MustCompile(`^FROM (\S+) AS (\S+)$`)
	var cur string
	for _, l := range strings.Split(string(b), "\n") {
		if m := from.FindStringSubmatch(l); m != nil {
			cur = m[2]
			out[cur] = stage{from: m[1]}
			continue
		}
		if cur != "" && l != "" && !strings.HasPrefix(l, "#") {
			s := out[cur]
			s.lines = append(s.lines, l)
			out[cur] = s
		}
	}
	return out
}

// devTools are commands that run beside Buzhou on a developer's machine,
// not in it, and have no image.
var devTools = map[string]string{
	"search-eval": "measures search quality against a running Buzhou (make eval)",
	"buzhou-load": "drives a running Buzhou at fixed arrival rates (make load)",
}

// binaries are the repository's commands that run as Buzhou: every
// cmd/<name> directory but the development tools.
func binaries(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"../../gateway/cmd/*", "../../services/*/cmd/*"} {
		dirs, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if _, tool := devTools[filepath.Base(d)]; !tool {
				out = append(out, filepath.Base(d))
			}
		}
	}
	if len(out) < 5 {
		t.Fatalf("found only the commands %v", out)
	}
	return out
}

// Every binary has an image that runs it, static on distroless as 65532.
func TestEveryBinaryHasAnImage(t *testing.T) {
	t.Parallel()
	st := stages(t)
	base, ok := st["base"]
	if !ok || !strings.HasPrefix(base.from, "gcr.io/distroless/static") || !strings.HasSuffix(base.from, ":nonroot") {
		t.Fatalf("base stage %+v, want distroless/static:nonroot", base)
	}
	if !slices.Contains(base.lines, "USER 65532:65532") {
		t.Errorf("base does not run as 65532: %v", base.lines)
	}
	build := strings.Join(st["build"].lines, "\n")
	if !strings.Contains(build, "CGO_ENABLED=0") {
		t.Error("the build is not static (CGO_ENABLED=0)")
	}
	for _, bin := range binaries(t) {
		t.Run(bin, func(t *testing.T) {
			t.Parallel()
			s, ok := st[bin]
			if !ok {
				t.Fatalf("no stage %q in the Dockerfile", bin)
			}
			// The sandbox runner's image carries the runtimes it runs code
			// with, so it cannot be distroless (checked below).
			if s.from != "base" && bin != "sandbox" {
				t.Errorf("%s is built FROM %s, want base", bin, s.from)
			}
			if !slices.Contains(s.lines, `ENTRYPOINT ["/usr/local/bin/`+bin+`"]`) {
				t.Errorf("%s does not run /usr/local/bin/%s: %v", bin, bin, s.lines)
			}
			if !strings.Contains(build, "/cmd/"+bin) {
				t.Errorf("the build stage does not build %s", bin)
			}
		})
	}
	sb, ok := st["sandbox"]
	if !ok || !slices.Contains(sb.lines, "USER 65532:65532") {
		t.Errorf("sandbox stage %+v, want one that runs as 65532", sb)
	}
	if !strings.HasPrefix(sb.from, "debian:") {
		t.Errorf("sandbox stage FROM %s, want Debian (its runtimes are Debian's packages)", sb.from)
	}
	for _, runtime := range []string{"bash", "python3", "nodejs", "util-linux"} {
		if !strings.Contains(strings.Join(sb.lines, "\n"), " "+runtime) {
			t.Errorf("the sandbox image lacks %s", runtime)
		}
	}
}

// The compose file builds stages that exist, and the chart's parts have
// images.
func TestComposeAndChartUseImagesThatExist(t *testing.T) {
	t.Parallel()
	st := stages(t)
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build *struct {
				Target string `json:"target"`
			} `json:"build"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	for name, svc := range compose.Services {
		if svc.Build == nil {
			continue
		}
		if _, ok := st[svc.Build.Target]; !ok {
			t.Errorf("compose service %s builds target %q, which the Dockerfile lacks", name, svc.Build.Target)
		}
	}
	for _, part := range []string{"gateway", "article", "search", "verification", "sandbox"} {
		if _, ok := st[part]; !ok {
			t.Errorf("the chart runs %s, which has no image", part)
		}
		if _, ok := compose.Services[part]; !ok && part != "sandbox" {
			t.Errorf("the compose file has no %s", part)
		}
	}
}
