package domain

import (
	"fmt"
	"slices"
	"strings"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
)

// Move is a status change and the route that makes it.
type Move struct {
	To    string
	Route string
}

// Moves returns the status changes an article with status from may make, in
// the order the API documents them. This table is the whole article life
// cycle:
//
//	draft      → published, archived
//	published  → deprecated, archived
//	deprecated → published (the deprecation is withdrawn), deprecated (a new
//	             reason), archived
//	archived   → published (the article is restored)
//
// Staying put is allowed for publish and archive (nothing is written). A
// draft cannot be deprecated: deprecated articles are public, and a draft has
// never been. An archived article leaves the archive only by being published
// again on purpose, never as a side effect of another call.
func Moves(from string) []Move {
	publish := Move{vocab.StatusPublished, "POST /api/v1/articles/{id}:publish"}
	deprecate := Move{vocab.StatusDeprecated, "POST /api/v1/articles/{id}:deprecate"}
	archive := Move{vocab.StatusArchived, "DELETE /api/v1/articles/{id}"}
	switch from {
	case vocab.StatusDraft:
		return []Move{publish, archive}
	case vocab.StatusPublished:
		return []Move{deprecate, archive}
	case vocab.StatusDeprecated:
		return []Move{publish, deprecate, archive}
	case vocab.StatusArchived:
		return []Move{publish}
	}
	return nil
}

// CheckMove returns nil when an article with status from may become to, and
// otherwise an error wrapping errs.ErrFailedPrecondition (409 over REST) that
// names the current status and the moves it allows. Staying at the same
// status is always allowed; the caller decides whether that writes anything.
func CheckMove(id, from, to string) error {
	moves := Moves(from)
	if from == to || slices.ContainsFunc(moves, func(m Move) bool { return m.To == to }) {
		return nil
	}
	allowed := make([]string, 0, len(moves))
	for _, m := range moves {
		allowed = append(allowed, fmt.Sprintf("%s (%s)", m.To, m.Route))
	}
	return fmt.Errorf("%w: article %s is %s and cannot become %s; from %s it can become: %s",
		errs.ErrFailedPrecondition, id, from, to, from, strings.Join(allowed, ", "))
}
