// Command keyward is Keyward's one binary: the server (serve), schema
// migrations (migrate) and the administration commands (user, group, token,
// policy, mds) that work directly on the configured database, for bootstrap
// and scripts, and attestation inspect, which judges a passkey offline.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The first SIGINT/SIGTERM starts a graceful shutdown; stop() then restores
	// the default handling so a second Ctrl-C ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
