package oidc

import (
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.opentelemetry.io/otel/trace/noop"
)

// The library opens OpenTelemetry spans on every request (a dozen on a
// code exchange) with the global tracer, which Keyward never configures:
// they record nothing, yet the global tracer's delegating spans cost about
// 30 allocations an exchange. A no-op tracer opens none. Set before any
// request, so no handler reads op.Tracer while it is written.
func init() {
	op.Tracer = noop.NewTracerProvider().Tracer("github.com/zitadel/oidc/pkg/op")
}
