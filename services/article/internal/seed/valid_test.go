package seed

import (
	"testing"

	"buzhou.dev/article/internal/domain"
)

// TestDemoArticlesPassValidation keeps the shipped content within the rules
// every client's articles must meet.
func TestDemoArticlesPassValidation(t *testing.T) {
	t.Parallel()
	articles, err := Articles()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range articles {
		domain.Normalize(a)
		if err := domain.Validate(a); err != nil {
			t.Errorf("%s: %v", a.GetTitle().GetEn(), err)
		}
		if err := domain.ValidateStatusForCreate(a.GetStatus()); err != nil {
			t.Errorf("%s: %v", a.GetTitle().GetEn(), err)
		}
	}
}
