package oidc

import (
	"context"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// The library's spans cost nothing: without the no-op tracer each one
// allocates (the global tracer's delegating span).
func TestLibrarySpansAllocateNothing(t *testing.T) {
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() {
		_, span := op.Tracer.Start(ctx, "Exchange")
		span.End()
	}); n > 1 {
		t.Errorf("a library span made %.0f allocations, want at most 1", n)
	}
}
