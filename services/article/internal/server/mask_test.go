package server

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"buzhou.dev/platform/errs"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

func TestMaskPathsAndApply(t *testing.T) {
	t.Parallel()
	current := func() *articlev1.Article {
		return &articlev1.Article{
			Id: "art_1", Slug: "s", Revision: 4, Status: "published",
			Title: &articlev1.LocalizedText{En: "Old", Zh: "旧"},
			Tags:  []string{"a"},
		}
	}
	cases := []struct {
		name    string
		patch   *articlev1.Article
		mask    []string
		want    *articlev1.Article
		wantErr error
	}{
		{
			name:  "one language of the title, empty mask",
			patch: &articlev1.Article{Id: "art_1", Title: &articlev1.LocalizedText{En: "New"}},
			want:  &articlev1.Article{Id: "art_1", Slug: "s", Revision: 4, Status: "published", Title: &articlev1.LocalizedText{En: "New", Zh: "旧"}, Tags: []string{"a"}},
		},
		{
			name:  "json names in the mask, clearing a list",
			patch: &articlev1.Article{Id: "art_1"},
			mask:  []string{"tags", "codeBlocks"},
			want:  &articlev1.Article{Id: "art_1", Slug: "s", Revision: 4, Status: "published", Title: &articlev1.LocalizedText{En: "Old", Zh: "旧"}},
		},
		{
			name:  "server-made fields sent back unchanged are ignored",
			patch: &articlev1.Article{Id: "art_1", Slug: "s", Revision: 4, Tags: []string{"b"}},
			mask:  []string{"slug", "revision", "tags"},
			want:  &articlev1.Article{Id: "art_1", Slug: "s", Revision: 4, Status: "published", Title: &articlev1.LocalizedText{En: "Old", Zh: "旧"}, Tags: []string{"b"}},
		},
		{name: "changing the status", patch: &articlev1.Article{Id: "art_1", Status: "draft"}, wantErr: errs.ErrInvalid},
		{name: "unknown mask path", patch: &articlev1.Article{Id: "art_1"}, mask: []string{"colour"}, wantErr: errs.ErrInvalid},
		{name: "path below a plain field", patch: &articlev1.Article{Id: "art_1"}, mask: []string{"domain.x"}, wantErr: errs.ErrInvalid},
		{name: "nothing to change", patch: &articlev1.Article{Id: "art_1"}, wantErr: errs.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := current()
			paths, err := maskPaths(tc.patch, tc.mask)
			if err == nil {
				err = applyMask(a, tc.patch, paths)
			}
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.want != nil {
				if d := cmp.Diff(tc.want, a, protocmp.Transform()); d != "" {
					t.Errorf("article (-want +got):\n%s", d)
				}
			}
		})
	}
}
