package rules

import (
	"fmt"
	"slices"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// What a fix changes.
const (
	FixTags         = "tags"
	FixKeywords     = "keywords"
	FixReferenceURL = "reference_url"
	FixCodeLanguage = "code_language"
)

// Fix is a safe repair of one field: the only kinds an inspection applies on
// its own (normalised tags, keywords filled from tags, a permanently
// redirected link's final URL, an unambiguous code language).
type Fix struct {
	Kind string
	// Index is the reference or code block changed.
	Index int
	// Values are the new tags or keywords; Value the new URL or language.
	Values []string
	Value  string
}

// Field is the top-level article field the fix changes (the proto name, as
// an update mask names it).
func (f Fix) Field() string {
	switch f.Kind {
	case FixTags:
		return "tags"
	case FixKeywords:
		return "keywords"
	case FixReferenceURL:
		return "references"
	}
	return "code_blocks"
}

// pointer is the JSON Pointer of the changed value in the API's JSON.
func (f Fix) pointer() string {
	switch f.Kind {
	case FixTags:
		return "/tags"
	case FixKeywords:
		return "/keywords"
	case FixReferenceURL:
		return fmt.Sprintf("/references/%d/url", f.Index)
	}
	return fmt.Sprintf("/codeBlocks/%d/language", f.Index)
}

func (f Fix) value() any {
	if f.Kind == FixTags || f.Kind == FixKeywords {
		return f.Values
	}
	return f.Value
}

// Patch is the fix as a JSON Patch (RFC 6902) on the article's JSON.
func (f Fix) Patch() string {
	return jsonOf([]map[string]any{{"op": "add", "path": f.pointer(), "value": f.value()}})
}

// Before and After are the changed value's JSON before and after the fix is
// applied to a, for the audit trail.
func (f Fix) Before(a *articlev1.Article) string { return jsonOf(f.current(a)) }

// After is the value the fix writes, as JSON.
func (f Fix) After() string { return jsonOf(f.value()) }

func (f Fix) current(a *articlev1.Article) any {
	switch f.Kind {
	case FixTags:
		return a.GetTags()
	case FixKeywords:
		return a.GetKeywords()
	case FixReferenceURL:
		if f.Index < len(a.GetReferences()) {
			return a.GetReferences()[f.Index].GetUrl()
		}
	case FixCodeLanguage:
		if f.Index < len(a.GetCodeBlocks()) {
			return a.GetCodeBlocks()[f.Index].GetLanguage()
		}
	}
	return nil
}

// Apply makes the change on a (a copy the caller owns). It reports false
// when the article no longer has the field the fix was made for.
func (f Fix) Apply(a *articlev1.Article) bool {
	switch f.Kind {
	case FixTags:
		a.Tags = slices.Clone(f.Values)
	case FixKeywords:
		a.Keywords = slices.Clone(f.Values)
	case FixReferenceURL:
		if f.Index >= len(a.GetReferences()) {
			return false
		}
		a.References[f.Index].Url = f.Value
	case FixCodeLanguage:
		if f.Index >= len(a.GetCodeBlocks()) {
			return false
		}
		a.CodeBlocks[f.Index].Language = f.Value
	default:
		return false
	}
	return true
}
