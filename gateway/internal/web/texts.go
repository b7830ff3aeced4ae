package web

import "buzhou.dev/platform/vocab"

// texts are the words of the site in one language. Each field is one
// phrase; those with verbs (%s, %d) are fmt formats. Labels of the API's
// vocabulary (domains, statuses, …) are keyed by the vocab values.
type texts struct {
	LangName, SiteName, Tagline, SkipToContent, SiteNav, Home, APIDocs string
	ForAgents, Copyright                                               string

	// Home.
	IntroTitle, Intro, IntroAgents                                                                 string
	SearchTitle, SearchLabel, SearchPlaceholder, DomainFilter, AnyDomain                           string
	StatusFilter, AnyStatus, SearchButton, ResultsFor, ResultCount, NoResults                      string
	SearchNotYet, SearchDown, QueryTooLong, StatusNeedsQuery, Previous, Next, First, PageOf, Pages string
	Recent, Featured, ByDomain, ArticlesIn, NoArticles, ListDown                                   string

	// Article.
	Breadcrumb, Author, Published, Updated, AgentView, Markdown, JSON                   string
	Code, Runnable, ExpectedOutput, Copy, Copied, FAQ, References                       string
	Records, RecordsShown, NoRecords, RecordsFallback, RecordID, VerifierID, RuntimeEnv string
	Notes, Problems, NoProblems, ProblemsNotYet, ProblemsDown                           string
	Tags, ArticleInfo, ArticleID, ConfidenceScore, RiskLevel, LastInspected, NotYet     string
	ApplicableVersions, Runtimes, Any, APIAccess, APIAccessHint, CopyEndpoint           string
	FullAPIDocs, Related, Keywords, KeywordsHint, LocaleMissing, Deprecated, Details    string

	// API docs.
	APIDocsTitle, APIDocsIntro, APIDocsLanguage, Parameters, Name, In, Type string
	Required, Yes, No, Description, Responses, SiteRoutes                   string

	// Errors.
	NotFoundTitle, NotFound, ArticleNotFound, ErrorTitle, Error, Unavailable string
	TooManyTitle, RequestID, BackHome                                        string

	// By vocabulary value; LangNames are the languages' names in this one.
	LangNames, Domains, Statuses, Banners, Risks, VerifierTypes, Results, ProblemKinds, Severities map[string]string
}

// allTexts returns the site's words by language; every language Buzhou
// serves has one, and a test checks that none is left empty.
func allTexts() map[string]*texts {
	return map[string]*texts{vocab.LangEN: english(), vocab.LangZH: chinese()}
}

func english() *texts {
	return &texts{
		LangName: "English", SiteName: "Buzhou", Tagline: "Executable Knowledge Hub for AI Agents",
		SkipToContent: "Skip to content", SiteNav: "Site", Home: "Home", APIDocs: "API Docs",
		ForAgents: "For agents", Copyright: "© %d Buzhou. All rights reserved.",

		IntroTitle: "What Buzhou is",
		Intro: "Buzhou is an executable knowledge hub for AI agents: bilingual troubleshooting guides and how-tos " +
			"whose code has been run, with a visible record of who ran it, where, and with what result.",
		IntroAgents: "Agents read the same articles over the REST API, MCP and gRPC; people read them here.",
		SearchTitle: "Search",
		SearchLabel: "Search articles", SearchPlaceholder: "Paste an error message or describe the problem",
		DomainFilter: "Domain", AnyDomain: "All domains", StatusFilter: "Verification status", AnyStatus: "Any status",
		SearchButton: "Search", ResultsFor: "Results for “%s”", ResultCount: "%d results", NoResults: "Nothing matched. Try other words, or fewer filters.",
		SearchNotYet:     "Search is not available on this server yet; browse the articles below or by domain.",
		SearchDown:       "Search cannot be reached right now; try again in a few seconds.",
		QueryTooLong:     "The search is longer than %d bytes; the first lines of an error message are enough.",
		StatusNeedsQuery: "Type what you are looking for to filter by verification status.",
		Previous:         "Previous", Next: "Next", First: "First page", PageOf: "Page %d of %d", Pages: "Result pages",
		Recent: "Recent articles", Featured: "Featured articles", ByDomain: "Articles by domain", ArticlesIn: "Articles in %s",
		NoArticles: "No articles yet.", ListDown: "Articles cannot be loaded right now; try again in a few seconds.",

		Breadcrumb: "Breadcrumb", Author: "Author", Published: "Published", Updated: "Updated",
		AgentView: "Agent view", Markdown: "Markdown", JSON: "JSON",
		Code: "Code", Runnable: "runnable", ExpectedOutput: "Expected output", Copy: "Copy", Copied: "Copied",
		FAQ: "FAQ", References: "References",
		Records:         "Verification Records",
		RecordsShown:    "%d records in all; the newest %d are shown.",
		NoRecords:       "No verification records yet: nobody has reported running this article's code.",
		RecordsFallback: "The full record list cannot be loaded right now; these are the newest records the article carries.",
		RecordID:        "Record ID", VerifierID: "Verifier ID", RuntimeEnv: "Runtime Environment", Notes: "Notes",
		Problems: "Open Problem Reports", NoProblems: "No open problem reports.",
		ProblemsNotYet: "Problem reports are not available on this server yet.",
		ProblemsDown:   "Problem reports cannot be loaded right now.",
		Tags:           "Tags", ArticleInfo: "Article Info", ArticleID: "Article ID", ConfidenceScore: "Confidence Score",
		RiskLevel: "Risk Level", LastInspected: "Last Inspected", NotYet: "Not yet", ApplicableVersions: "Applicable Versions",
		Runtimes: "Runtimes", Any: "Any",
		APIAccess: "API Access", APIAccessHint: "Read this article over the REST API",
		CopyEndpoint: "Copy endpoint", FullAPIDocs: "View Full API Docs →",
		Related: "Related Articles", Keywords: "Keywords", KeywordsHint: "Keywords for decision-making assistance",
		LocaleMissing: "This article is not available in %s yet; it is shown in %s.",
		Deprecated:    "This article is deprecated: %s",
		Details:       "Article details",

		APIDocsTitle:    "API Documentation",
		APIDocsIntro:    "Every route of the REST API, generated from its OpenAPI document.",
		APIDocsLanguage: "The descriptions below come from the OpenAPI document at /openapi.json.", Parameters: "Parameters", Name: "Name", In: "In", Type: "Type",
		Required: "Required", Yes: "yes", No: "no", Description: "Description", Responses: "Responses",
		SiteRoutes: "Discovery and operations",

		NotFoundTitle:   "Page not found",
		NotFound:        "There is nothing at this address. Search for what you need from the home page.",
		ArticleNotFound: "There is no published article at this address. It may have been archived or never published.",
		ErrorTitle:      "Something went wrong",
		Error:           "This page cannot be shown right now. Please try again in a few seconds.",
		Unavailable:     "A Buzhou service is not reachable right now. Please try again in a few seconds.",
		TooManyTitle:    "Too many requests",
		RequestID:       "Request ID", BackHome: "Back to the home page",

		LangNames: map[string]string{vocab.LangEN: "English", vocab.LangZH: "Chinese"},
		Domains: map[string]string{
			"agent": "Agents", "mcp": "MCP", "skill": "Skills", "foundation": "Foundations", "transport": "Transport",
			"tools_filesystem": "Filesystem Tools", "tools_postgres": "PostgreSQL Tools", "tools_github": "GitHub Tools",
			"error_codes": "Error Codes", "scenarios": "Scenarios",
		},
		Statuses: map[string]string{
			vocab.VerificationVerified: "Verified", vocab.VerificationPartial: "Partial", vocab.VerificationPending: "Pending",
			vocab.VerificationFailed: "Failed", vocab.VerificationDeprecated: "Deprecated",
		},
		Banners: map[string]string{
			vocab.VerificationVerified:   "This article has been verified: independent runs of its instructions passed.",
			vocab.VerificationPartial:    "This article has automated inspection or repair updates and is still pending additional verification.",
			vocab.VerificationPending:    "This article has not been verified yet: nobody has reported running it. Check its code before you rely on it.",
			vocab.VerificationFailed:     "Verification runs of this article failed. Read the records below before you rely on it.",
			vocab.VerificationDeprecated: "This article is deprecated and kept for reference; it may no longer apply.",
		},
		Risks: map[string]string{
			vocab.RiskLow: "Low Risk", vocab.RiskMedium: "Medium Risk", vocab.RiskHigh: "High Risk", vocab.RiskCritical: "Critical Risk",
		},
		VerifierTypes: map[string]string{
			vocab.PrincipalOfficialBot: "Official Bot", vocab.PrincipalThirdPartyAgent: "Third-party Agent", vocab.PrincipalHumanExpert: "Human Expert",
		},
		Results: map[string]string{vocab.ResultPassed: "Passed", vocab.ResultPartial: "Partial", vocab.ResultFailed: "Failed"},
		ProblemKinds: map[string]string{
			"outdated": "Outdated", "incorrect": "Incorrect", "unclear": "Unclear", "unsafe": "Unsafe",
		},
		Severities: map[string]string{
			vocab.RiskLow: "low", vocab.RiskMedium: "medium", vocab.RiskHigh: "high", vocab.RiskCritical: "critical",
		},
	}
}

func chinese() *texts {
	return &texts{
		LangName: "中文", SiteName: "不周山", Tagline: "面向 AI 智能体的可执行知识库",
		SkipToContent: "跳到正文", SiteNav: "站点", Home: "首页", APIDocs: "API 文档",
		ForAgents: "面向智能体", Copyright: "© %d 不周山 Buzhou。保留所有权利。",

		IntroTitle:  "不周山是什么",
		Intro:       "不周山（Buzhou）是面向 AI 智能体的可执行知识库：中英双语的排障指南与操作手册，其中的代码都经过实际运行，并公开记录由谁、在什么环境下运行、结果如何。",
		IntroAgents: "智能体通过 REST API、MCP 和 gRPC 读取同样的文章；人在这里阅读。",
		SearchTitle: "搜索", SearchLabel: "搜索文章", SearchPlaceholder: "粘贴错误信息，或描述你遇到的问题",
		DomainFilter: "领域", AnyDomain: "全部领域", StatusFilter: "验证状态", AnyStatus: "任意状态",
		SearchButton: "搜索", ResultsFor: "“%s”的搜索结果", ResultCount: "共 %d 条结果", NoResults: "没有匹配的文章。换个说法，或减少筛选条件试试。",
		SearchNotYet:     "本服务器暂未提供搜索；可以浏览下方文章，或按领域查看。",
		SearchDown:       "搜索服务暂时无法连接，请稍后重试。",
		QueryTooLong:     "搜索内容超过 %d 字节；错误信息的前几行就足够了。",
		StatusNeedsQuery: "按验证状态筛选前，请先输入要查找的内容。",
		Previous:         "上一页", Next: "下一页", First: "第一页", PageOf: "第 %d 页，共 %d 页", Pages: "结果分页",
		Recent: "最新文章", Featured: "精选文章", ByDomain: "按领域浏览", ArticlesIn: "%s 领域的文章",
		NoArticles: "还没有文章。", ListDown: "文章暂时无法加载，请稍后重试。",

		Breadcrumb: "导航路径", Author: "作者", Published: "发布于", Updated: "更新于",
		AgentView: "智能体视图", Markdown: "Markdown", JSON: "JSON",
		Code: "代码", Runnable: "可运行", ExpectedOutput: "预期输出", Copy: "复制", Copied: "已复制",
		FAQ: "常见问题", References: "参考资料",
		Records:         "验证记录",
		RecordsShown:    "共 %d 条记录，显示最新的 %d 条。",
		NoRecords:       "暂无验证记录：还没有人报告运行过本文的代码。",
		RecordsFallback: "完整的记录列表暂时无法加载；以下是文章附带的最新记录。",
		RecordID:        "记录 ID", VerifierID: "验证者 ID", RuntimeEnv: "运行环境", Notes: "备注",
		Problems: "未解决的问题报告", NoProblems: "没有未解决的问题报告。",
		ProblemsNotYet: "本服务器暂未提供问题报告。",
		ProblemsDown:   "问题报告暂时无法加载。",
		Tags:           "标签", ArticleInfo: "文章信息", ArticleID: "文章 ID", ConfidenceScore: "可信度",
		RiskLevel: "风险等级", LastInspected: "最近巡检", NotYet: "尚未", ApplicableVersions: "适用版本",
		Runtimes: "运行时", Any: "不限",
		APIAccess: "API 访问", APIAccessHint: "通过 REST API 读取本文",
		CopyEndpoint: "复制地址", FullAPIDocs: "查看完整 API 文档 →",
		Related: "相关文章", Keywords: "关键词", KeywordsHint: "辅助决策的关键词",
		LocaleMissing: "本文暂无%s版本，以下显示%s版本。",
		Deprecated:    "本文已弃用：%s",
		Details:       "文章详情",

		APIDocsTitle:    "API 文档",
		APIDocsIntro:    "REST API 的全部路由，由其 OpenAPI 文档生成。",
		APIDocsLanguage: "以下接口说明来自 OpenAPI 文档，仅有英文。",
		Parameters:      "参数", Name: "名称", In: "位置", Type: "类型",
		Required: "必填", Yes: "是", No: "否", Description: "说明", Responses: "响应",
		SiteRoutes: "发现与运维",

		NotFoundTitle:   "页面不存在",
		NotFound:        "这个地址没有内容。请回到首页搜索你需要的文章。",
		ArticleNotFound: "这个地址没有已发布的文章。它可能已被归档，或从未发布。",
		ErrorTitle:      "出错了",
		Error:           "页面暂时无法显示，请稍后重试。",
		Unavailable:     "不周山的某个服务暂时无法连接，请稍后重试。",
		TooManyTitle:    "请求过于频繁",
		RequestID:       "请求 ID", BackHome: "返回首页",

		LangNames: map[string]string{vocab.LangEN: "英文", vocab.LangZH: "中文"},
		Domains: map[string]string{
			"agent": "智能体", "mcp": "MCP", "skill": "技能", "foundation": "基础", "transport": "传输",
			"tools_filesystem": "文件系统工具", "tools_postgres": "PostgreSQL 工具", "tools_github": "GitHub 工具",
			"error_codes": "错误码", "scenarios": "场景",
		},
		Statuses: map[string]string{
			vocab.VerificationVerified: "已验证", vocab.VerificationPartial: "部分通过", vocab.VerificationPending: "待验证",
			vocab.VerificationFailed: "验证失败", vocab.VerificationDeprecated: "已弃用",
		},
		Banners: map[string]string{
			vocab.VerificationVerified:   "本文已通过验证：独立运行其步骤的结果均为通过。",
			vocab.VerificationPartial:    "本文有自动巡检或修复更新，仍在等待进一步验证。",
			vocab.VerificationPending:    "本文尚未验证：还没有人报告运行过它。使用前请先检查其中的代码。",
			vocab.VerificationFailed:     "本文的验证运行失败了。使用前请先阅读下方的验证记录。",
			vocab.VerificationDeprecated: "本文已弃用，仅供参考，内容可能已不再适用。",
		},
		Risks: map[string]string{
			vocab.RiskLow: "低风险", vocab.RiskMedium: "中风险", vocab.RiskHigh: "高风险", vocab.RiskCritical: "严重风险",
		},
		VerifierTypes: map[string]string{
			vocab.PrincipalOfficialBot: "官方机器人", vocab.PrincipalThirdPartyAgent: "第三方智能体", vocab.PrincipalHumanExpert: "人类专家",
		},
		Results: map[string]string{vocab.ResultPassed: "通过", vocab.ResultPartial: "部分通过", vocab.ResultFailed: "失败"},
		ProblemKinds: map[string]string{
			"outdated": "内容过时", "incorrect": "内容有误", "unclear": "表述不清", "unsafe": "存在风险",
		},
		Severities: map[string]string{
			vocab.RiskLow: "低", vocab.RiskMedium: "中", vocab.RiskHigh: "高", vocab.RiskCritical: "严重",
		},
	}
}

// label returns the label of value v in m, or v itself for a value this
// version of the site has no words for (a status added later), so that the
// page still says something true.
func label(m map[string]string, v string) string {
	if l, ok := m[v]; ok {
		return l
	}
	return v
}
