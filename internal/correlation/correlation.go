// Package correlation carries the ID of the request being served through a
// context, so the records a request writes (its sign-in log line, its audit
// records) name the request that the server's own log and the client's
// X-Request-Id name too.
package correlation

import "context"

type key struct{}

// With returns ctx carrying the request ID id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// ID is the request ID ctx carries, or "".
func ID(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}
