package sandbox

import (
	"context"
	"testing"
)

// BenchmarkRun measures one block's whole life: namespaces, root file
// system, exec, wait; per runtime, with a trivial program.
func BenchmarkRun(b *testing.B) {
	r := New(context.Background(), Config{})
	for _, bb := range []Block{
		{Language: "sh", Code: "true"},
		{Language: "bash", Code: "echo hi"},
		{Language: "python", Code: "print('hi')"},
		{Language: "node", Code: "console.log('hi')"},
	} {
		b.Run(bb.Language, func(b *testing.B) {
			for b.Loop() {
				out, err := r.Run(context.Background(), []Block{bb}, DefaultLimits())
				if err != nil {
					b.Skipf("no sandbox here: %v", err)
				}
				if out[0].Outcome != OutcomePassed {
					b.Fatalf("%+v", out[0])
				}
			}
		})
	}
}
