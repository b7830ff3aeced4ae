package web

// viewKey names an article's view: every write to an article, trust
// write-backs included, makes a new revision, so a view kept under its
// revision is exactly what rendering would make again.
type viewKey struct {
	id       string
	revision int32
	lang     string
}

// viewSize approximates the bytes a kept view holds: its rendered fragments
// and texts.
func viewSize(v articleView) int {
	return 1024 + len(v.Title.Text) + len(v.Summary.Text) + len(v.Doc) + len(v.Facts) + len(v.KeywordsHTML)
}
