package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"buzhou.dev/platform/metrics"
)

func TestRunRefusesADenseWeightOutOfRange(t *testing.T) {
	for _, w := range []float64{-0.5, 10.5} {
		err := Run(context.Background(), Config{DenseWeight: w}, nil, slog.New(slog.DiscardHandler), metrics.NewRegistry())
		if err == nil || !strings.Contains(err.Error(), "BUZHOU_SEARCH_DENSE_WEIGHT") || !strings.Contains(err.Error(), "0 to 10") {
			t.Errorf("weight %g: %v, want an error naming the variable and its range", w, err)
		}
	}
}
