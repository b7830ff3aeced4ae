// Package synth makes synthetic bilingual articles and queries for the
// search benchmarks: deterministic for a seed, shaped like the hub's real
// articles (a title, a summary, sections of markdown, code, QA pairs, tags
// and keywords in English and Chinese, error codes), so that index sizes,
// posting lists and latencies at 1k–100k articles resemble a real hub's.
package synth

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// words is the English vocabulary; a Zipf draw makes the first ones common.
func words() []string {
	return strings.Fields(`error connection request server client timeout retry token key api database
		query index cache memory process thread container image network port host proxy header response
		status limit rate quota model prompt context agent tool schema json parse encode decode file path
		directory permission user account session cookie auth oauth secret config environment variable
		install package version dependency module import build compile deploy cluster node pod service
		stream socket buffer queue worker job schedule cron log trace metric alert dashboard backup restore
		migration table column row transaction lock deadlock replica shard vector embedding search rank
		filter sort page batch upload download archive compress encrypt certificate tls ssl dns route
		gateway balancer health probe restart crash panic exception stack frame heap garbage collector
		python node golang rust java typescript docker kubernetes postgres redis qdrant github openai anthropic
		langchain langgraph mcp claude browser terminal shell bash script command argument option flag`)
}

// zh is the Chinese vocabulary.
func zh() []string {
	return strings.Fields(`错误 连接 请求 服务器 客户端 超时 重试 令牌 密钥 接口 数据库 查询 索引 缓存 内存 进程 线程
		容器 镜像 网络 端口 主机 代理 请求头 响应 状态 限流 配额 模型 提示词 上下文 智能体 工具 模式 解析 编码
		文件 路径 目录 权限 用户 账号 会话 认证 配置 环境变量 安装 依赖 模块 构建 编译 部署 集群 节点 服务
		日志 监控 告警 备份 恢复 迁移 事务 死锁 副本 分片 向量 嵌入 检索 排序 分页 批量 上传 下载 证书 路由`)
}

// codes are error codes and tokens kept whole by the analysis.
func codes() []string {
	return strings.Fields(`ECONNREFUSED EADDRINUSE ETIMEDOUT ENOENT EACCES EPIPE ECONNRESET -32600 -32601 -32602 -32603
		400 401 403 404 409 413 429 500 502 503 504 OOMKilled CrashLoopBackOff SIGKILL SIGTERM`)
}

// Generator makes articles and queries.
type Generator struct {
	rng         *rand.Rand
	en, zh, cds []string
	zipfEN      *rand.Zipf
	zipfZH      *rand.Zipf
	topics      [][3]string // per article: three topic words
}

// New returns a generator for seed.
func New(seed uint64) *Generator {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &Generator{rng: rng, en: words(), zh: zh(), cds: codes()}
	g.zipfEN = rand.NewZipf(rng, 1.1, 4, uint64(len(g.en)-1))
	g.zipfZH = rand.NewZipf(rng, 1.1, 4, uint64(len(g.zh)-1))
	return g
}

func (g *Generator) enWord() string { return g.en[g.zipfEN.Uint64()] }
func (g *Generator) zhWord() string { return g.zh[g.zipfZH.Uint64()] }

func (g *Generator) sentence(n int, topic [3]string) string {
	ws := make([]string, n)
	for i := range ws {
		switch r := g.rng.IntN(10); {
		case r < 2:
			ws[i] = topic[g.rng.IntN(3)]
		default:
			ws[i] = g.enWord()
		}
	}
	return strings.Join(ws, " ") + "."
}

func (g *Generator) zhSentence(n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(g.zhWord())
	}
	b.WriteString("。")
	return b.String()
}

// Article returns the i-th article (published), about 2–3 KB of text per
// language, with a unique title.
func (g *Generator) Article(i int) *articlev1.Article {
	topic := [3]string{g.en[g.rng.IntN(len(g.en))], g.en[g.rng.IntN(len(g.en))], g.cds[g.rng.IntN(len(g.cds))]}
	g.topics = append(g.topics, topic)
	title := fmt.Sprintf("%s %s %s fix %d", topic[0], topic[1], topic[2], i)
	var en, zhText strings.Builder
	for s := range 5 {
		fmt.Fprintf(&en, "## %s\n\n", strings.ToUpper(g.enWord()[:1])+g.sentence(3, topic))
		for range 3 {
			en.WriteString(g.sentence(12+g.rng.IntN(8), topic) + " ")
		}
		en.WriteString("\n\n")
		fmt.Fprintf(&zhText, "## 第%d节\n\n", s+1)
		for range 3 {
			zhText.WriteString(g.zhSentence(10 + g.rng.IntN(6)))
		}
		zhText.WriteString("\n\n")
	}
	a := &articlev1.Article{
		Title:   &articlev1.LocalizedText{En: title, Zh: g.zhSentence(4) + " " + topic[2]},
		Summary: &articlev1.LocalizedText{En: g.sentence(20, topic), Zh: g.zhSentence(12)},
		Content: &articlev1.LocalizedText{En: en.String(), Zh: zhText.String()},
		Domain:  []string{"agent", "mcp", "skill", "foundation", "transport", "tools_filesystem", "tools_postgres", "tools_github", "error_codes", "scenarios"}[i%10],
		Tags:    []string{topic[0], topic[1], strings.ToLower(strings.TrimPrefix(topic[2], "-"))},
		Keywords: []string{
			topic[2], topic[0] + " " + topic[1],
		},
		CodeBlocks: []*articlev1.CodeBlock{{Language: "bash", Code: fmt.Sprintf("%s --%s %s", topic[0], topic[1], topic[2]), Description: g.sentence(6, topic), Runnable: true}},
		QaPairs: []*articlev1.QaPair{
			{Question: &articlev1.LocalizedText{En: "Why " + g.sentence(6, topic), Zh: g.zhSentence(5) + "？"}, Answer: &articlev1.LocalizedText{En: g.sentence(15, topic), Zh: g.zhSentence(10)}},
			{Question: &articlev1.LocalizedText{En: "How " + g.sentence(6, topic), Zh: g.zhSentence(5) + "？"}, Answer: &articlev1.LocalizedText{En: g.sentence(15, topic), Zh: g.zhSentence(10)}},
		},
		ApplicableVersions: []string{fmt.Sprintf(">=%d.%d <%d", 1+i%3, i%10, 3+i%3)},
		Status:             "published",
	}
	return a
}

// Query returns a query about one of the articles made so far: two of its
// topic words and sometimes its error code or a common word, the way agents
// ask.
func (g *Generator) Query() string {
	t := g.topics[g.rng.IntN(len(g.topics))]
	switch g.rng.IntN(3) {
	case 0:
		return t[0] + " " + t[1] + " " + t[2]
	case 1:
		return "how to fix " + t[2] + " " + t[0] + " " + g.enWord()
	}
	return t[1] + " " + g.enWord() + " " + g.zhWord()
}

// Sizes reads corpus sizes from the environment variable env
// ("1000,10000"), or def when it is unset; the benchmarks take their sizes
// from it.
func Sizes(env, def string) []int {
	v := os.Getenv(env)
	if v == "" {
		v = def
	}
	var out []int
	for _, s := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}
