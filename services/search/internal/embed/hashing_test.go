package embed_test

import (
	"testing"

	"buzhou.dev/search/internal/embed"
	"buzhou.dev/search/internal/embed/embedtest"
)

func TestHashingContract(t *testing.T) {
	t.Parallel()
	embedtest.Run(t, embed.NewHashing(0), true)
}
