package server

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// editable lists the top-level fields a PATCH may change (proto names).
var editable = []string{
	"title", "summary", "content", "domain", "tags", "keywords", "code_blocks",
	"qa_pairs", "references", "applicable_versions", "runtime_env", "author",
}

// localized fields may be patched one language at a time ("title.en").
var localized = []string{"title", "summary", "content"}

// maskPaths returns the proto-name paths to apply. An empty mask means every
// field set in patch, one language at a time for localized texts.
func maskPaths(patch *articlev1.Article, mask []string) ([]string, error) {
	if len(mask) > 0 {
		out := make([]string, 0, len(mask))
		for _, p := range mask {
			np, err := normalizePath(p)
			if err != nil {
				return nil, err
			}
			out = append(out, np)
		}
		return out, nil
	}
	var out []string
	patch.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		if name == "id" {
			return true
		}
		if slices.Contains(localized, name) {
			v.Message().Range(func(sub protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
				out = append(out, name+"."+string(sub.Name()))
				return true
			})
			return true
		}
		out = append(out, name)
		return true
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the update changes nothing; send the fields to change, e.g. {\"title\": {\"en\": \"…\"}}", errs.ErrInvalid)
	}
	return out, nil
}

// normalizePath turns a mask path given in proto or JSON names into proto names.
func normalizePath(p string) (string, error) {
	md := (&articlev1.Article{}).ProtoReflect().Descriptor()
	parts := strings.Split(p, ".")
	for i, part := range parts {
		if md == nil {
			return "", fmt.Errorf("%w: update mask path %q goes below a plain field", errs.ErrInvalid, p)
		}
		fd := md.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			fd = md.Fields().ByJSONName(part)
		}
		if fd == nil {
			return "", fmt.Errorf("%w: update mask path %q: no field %q; see the article fields in the API docs", errs.ErrInvalid, p, part)
		}
		parts[i] = string(fd.Name())
		md = nil
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
			md = fd.Message()
		}
	}
	return strings.Join(parts, "."), nil
}

// applyMask copies the masked fields from patch into a. Server-made fields may
// be sent back unchanged (clients often PATCH what they fetched) but not changed.
func applyMask(a, patch *articlev1.Article, paths []string) error {
	var problems []string
	for _, p := range paths {
		top, _, _ := strings.Cut(p, ".")
		if top == "id" {
			continue
		}
		if !slices.Contains(editable, top) {
			if !sameValue(a, patch, p) {
				problems = append(problems, fmt.Sprintf("%s is set by the server and cannot be changed here%s", jsonPath(p), hint(top)))
			}
			continue
		}
		copyPath(a.ProtoReflect(), patch.ProtoReflect(), strings.Split(p, "."))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", errs.ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

func hint(field string) string {
	switch field {
	case "status":
		return "; use POST /api/v1/articles/{id}:publish, :deprecate or DELETE to change the status"
	case "revision":
		return "; send the revision you saw as the If-Match header instead"
	case "slug":
		return "; slugs stay stable across edits"
	}
	return ""
}

// copyPath sets dst's field at path to src's value there, clearing it when src
// leaves it unset.
func copyPath(dst, src protoreflect.Message, path []string) {
	fd := dst.Descriptor().Fields().ByName(protoreflect.Name(path[0]))
	if len(path) == 1 {
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
		return
	}
	var next protoreflect.Message
	if src.Has(fd) {
		next = src.Get(fd).Message()
	} else {
		next = src.NewField(fd).Message()
	}
	copyPath(dst.Mutable(fd).Message(), next, path[1:])
}

// sameValue reports whether a and patch agree at path.
func sameValue(a, patch *articlev1.Article, path string) bool {
	am, pm := protoreflect.Message(a.ProtoReflect()), protoreflect.Message(patch.ProtoReflect())
	parts := strings.Split(path, ".")
	for i, part := range parts {
		fd := am.Descriptor().Fields().ByName(protoreflect.Name(part))
		if i == len(parts)-1 {
			if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
				return proto.Equal(am.Get(fd).Message().Interface(), pm.Get(fd).Message().Interface())
			}
			return am.Get(fd).Equal(pm.Get(fd))
		}
		am, pm = am.Get(fd).Message(), pm.Get(fd).Message()
	}
	return true
}

// jsonPath spells a proto-name path the way the JSON API does.
func jsonPath(p string) string {
	md := (&articlev1.Article{}).ProtoReflect().Descriptor()
	parts := strings.Split(p, ".")
	for i, part := range parts {
		fd := md.Fields().ByName(protoreflect.Name(part))
		if fd == nil {
			break
		}
		parts[i] = fd.JSONName()
		if fd.Message() == nil {
			break
		}
		md = fd.Message()
	}
	return strings.Join(parts, ".")
}
