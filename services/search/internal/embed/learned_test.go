package embed_test

import (
	"context"
	"fmt"
	"testing"

	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/embed/embedtest"
	"buzhou.dev/search/internal/index"
)

// units are parallel zh/en texts on a few topics, the way articles carry
// both languages.
func units() []string {
	topics := [][2]string{
		{"database connection refused ECONNREFUSED postgres server port", "数据库 连接 被拒绝 端口 服务"},
		{"rate limit too many requests retry after backoff", "限流 请求 太频繁 重试 退避"},
		{"docker container host network localhost", "容器 宿主机 网络 本机"},
		{"api key authentication unauthorized header bearer", "密钥 认证 未授权 请求头"},
		{"python virtual environment pip install package", "虚拟环境 安装 依赖 包"},
	}
	var out []string
	for i := range 4 {
		for _, t := range topics {
			out = append(out, fmt.Sprintf("%s %s variant%d", t[0], t[1], i))
		}
	}
	out = append(out, "bread sourdough flour rye starter 面包 面粉 发酵")
	return out
}

func learned(t *testing.T) *embed.Learned {
	t.Helper()
	m, err := embed.Learn(units(), embed.LearnConfig{Dim: 8})
	if err != nil {
		t.Fatal(err)
	}
	return embed.NewLearned(m)
}

func TestLearnedContract(t *testing.T) {
	t.Parallel()
	embedtest.Run(t, learned(t), true)
}

func TestLearnedBridgesLanguages(t *testing.T) {
	t.Parallel()
	e := learned(t)
	vs, err := e.Embed(context.Background(), []string{"太频繁", "too many requests", "database connection refused"})
	if err != nil {
		t.Fatal(err)
	}
	if same, other := index.Cosine(vs[0], vs[1]), index.Cosine(vs[0], vs[2]); same <= other {
		t.Errorf("a Chinese query is no nearer its English counterpart (%v) than another topic (%v)", same, other)
	}
}

func TestLearnedModelRoundTrip(t *testing.T) {
	t.Parallel()
	e := learned(t)
	b, err := e.Current().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := embed.UnmarshalModel(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != e.Model() || m.Terms() != e.Current().Terms() {
		t.Fatalf("round trip: %s/%d, want %s/%d", m.Name(), m.Terms(), e.Model(), e.Current().Terms())
	}
	a, _ := e.Embed(context.Background(), []string{"connection refused"})
	bb, _ := embed.NewLearned(m).Embed(context.Background(), []string{"connection refused"})
	if c := index.Cosine(a[0], bb[0]); c < 0.9999 {
		t.Errorf("the reloaded model embeds differently: %v", c)
	}
	for _, bad := range [][]byte{nil, []byte("BZLSA1"), b[:len(b)/2], []byte("garbage that is long enough")} {
		if _, err := embed.UnmarshalModel(bad); err == nil {
			t.Errorf("UnmarshalModel accepted %d damaged bytes", len(bad))
		}
	}
	// Learning is deterministic: the same units, the same name.
	again, _ := embed.Learn(units(), embed.LearnConfig{Dim: 8})
	if again.Name() != e.Model() {
		t.Errorf("learning twice gave %s and %s", again.Name(), e.Model())
	}
}

func TestLearnedFromNothingFallsBack(t *testing.T) {
	t.Parallel()
	m, err := embed.Learn(nil, embed.LearnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	embedtest.Run(t, embed.NewLearned(m), true)
}
