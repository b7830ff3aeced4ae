package domain

import (
	"errors"
	"strings"
	"testing"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
)

func TestCheckMove(t *testing.T) {
	t.Parallel()
	const (
		d = vocab.StatusDraft
		p = vocab.StatusPublished
		x = vocab.StatusDeprecated
		a = vocab.StatusArchived
	)
	allowed := map[[2]string]bool{
		{d, d}: true, {d, p}: true, {d, a}: true,
		{p, p}: true, {p, x}: true, {p, a}: true,
		{x, x}: true, {x, p}: true, {x, a}: true,
		{a, a}: true, {a, p}: true,
	}
	for _, from := range vocab.Statuses() {
		for _, to := range vocab.Statuses() {
			t.Run(from+"→"+to, func(t *testing.T) {
				t.Parallel()
				err := CheckMove("art_x", from, to)
				if allowed[[2]string{from, to}] {
					if err != nil {
						t.Fatalf("CheckMove = %v, want allowed", err)
					}
					return
				}
				if !errors.Is(err, errs.ErrFailedPrecondition) {
					t.Fatalf("CheckMove = %v, want ErrFailedPrecondition", err)
				}
				msg := errs.Message(err)
				for _, want := range []string{"art_x is " + from, "cannot become " + to, "from " + from + " it can become: "} {
					if !strings.Contains(msg, want) {
						t.Errorf("message %q lacks %q", msg, want)
					}
				}
				for _, m := range Moves(from) {
					if !strings.Contains(msg, m.To+" ("+m.Route+")") {
						t.Errorf("message %q does not offer %s", msg, m.To)
					}
				}
			})
		}
	}
}
