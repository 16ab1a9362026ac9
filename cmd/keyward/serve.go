package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/alerts"
	kwapp "github.com/keyward/keyward/internal/app"
	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/gcfloor"
	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
)

const (
	// setupPurpose is the OneTimeToken purpose of the first-run setup link,
	// which POST /api/v1/setup consumes.
	setupPurpose  = signin.SetupPurpose
	setupValidFor = time.Hour
	// cleanupEvery paces the removal of expired sessions, challenges, passes
	// and rate-limit counters. Every node runs it; the deletes are idempotent,
	// so overlapping runs are harmless.
	cleanupEvery = 5 * time.Minute
	// alertsEvery is how often the sign-in log is scanned for emergency-access
	// sign-ins and due webhook deliveries are sent.
	alertsEvery = 2 * time.Second
	// maxHeaderWait bounds the request line and headers, which are small,
	// more tightly than read_timeout bounds the whole request.
	maxHeaderWait = 10 * time.Second
)

func (a *app) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Keyward server",
		Long: "Run the Keyward server. It applies the migrations, logs the address to open (the public\n" +
			"URL: passkeys work only there) beside the one it listens on, and, while there are no users,\n" +
			"prints a one-time setup link. On SIGTERM or Ctrl-C it stops\n" +
			"accepting connections and lets in-flight requests finish within shutdown_timeout (exit\n" +
			"status 0). With --tls-cert-file and --tls-key-file it serves HTTPS and reloads the\n" +
			"certificate pair on SIGHUP (docs/operations.md, HTTPS). At start and then every five\n" +
			"minutes it deletes what has expired (sessions, sign-in challenges and OpenID Connect\n" +
			"requests and tokens a thousand at a time, so that sign-ins commit in between; Temporary\n" +
			"Access Passes and sign-in rate-limit counters), and it refreshes the FIDO Metadata Service blob\n" +
			"from mds_url in the background (docs/mds.md). Every setting is a flag; docs/configuration.md\n" +
			"describes them with their environment variables and YAML keys.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.loadConfig(cmd); err != nil {
				return err
			}
			// zitadel/oidc logs only through slog's default logger (its
			// WithLogger option does nothing): make that Keyward's, so its
			// lines have the configured format, level and destination.
			slog.SetDefault(a.logger)
			err := a.serve(cmd.Context())
			if errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
				// Stopped (SIGTERM/Ctrl-C) while starting: that is what was asked.
				// A shutdown that overran its timeout is DeadlineExceeded and still fails.
				a.logger.Info("stopped before serving", "during", err.Error())
				return nil
			}
			return err
		},
	}
	mustAddFlags(cmd.Flags(), "listen", "public-url", "related-origins", "tls-cert-file", "tls-key-file", "database-max-conns", "sqlite-synchronous",
		"session-idle-timeout", "session-absolute-timeout", "mds-url", "shutdown-timeout", "max-body-bytes",
		"read-timeout", "idle-timeout", "trusted-proxies", "mds-roots", "require-mfa-for-admins", "oidc-key-encryption-key",
		"signin-log-retention", "audit-log-retention", "alert-webhooks", "pprof-listen", "gc-heap-floor-mb")
	return cmd
}

// serve runs until ctx is cancelled (SIGTERM/SIGINT), then lets in-flight
// requests finish within the shutdown timeout.
func (a *app) serve(ctx context.Context) error {
	cfg, log := a.cfg, a.logger
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := a.migrate(ctx, st); err != nil {
		return err
	}
	users, err := st.CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("counting users: %w", err)
	}
	firstStart := users == 0

	kw, err := a.wire(st)
	if err != nil {
		return err
	}
	if err := kw.OIDC.CheckKeys(ctx); err != nil {
		return fmt.Errorf("OpenID Connect signing keys: %w", err)
	}
	cert, err := newCertificate(cfg, log)
	if err != nil {
		return err
	}
	if cert != nil && cfg.PublicURLParsed().Scheme != "https" {
		log.Warn("serving HTTPS, but public_url is not https://: browsers will report an origin Keyward refuses",
			"public_url", cfg.PublicURL)
	}
	// SIGHUP reloads the certificate; without TLS it is logged, so a stray
	// HUP (a log rotation habit) never ends the server.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	mdsWait := a.firstMDSUpdate(ctx, kw.MDS, firstStart)

	// The live heap is a few MiB (the data is in the database): without a
	// floor the collector ran every few MiB allocated (docs/operations.md,
	// "Memory"; performance.md, "A floor under the collector").
	defer gcfloor.Start(uint64(cfg.GCHeapFloorMB) << 20)()

	if cfg.PprofListen != "" {
		stopPprof, err := startPprof(cfg.PprofListen, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	// A client that sends its request slowly — headers or body, say one
	// byte every few seconds — would otherwise hold a connection and a
	// goroutine for as long as it likes.
	hs := &http.Server{
		Handler:           kw.Handler(),
		ReadHeaderTimeout: min(maxHeaderWait, cfg.ReadTimeout),
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	var bg sync.WaitGroup
	bgCtx, stopBg := context.WithCancel(ctx)
	cleanupTicker := time.NewTicker(cleanupEvery)
	defer cleanupTicker.Stop()
	bg.Go(func() { a.cleanupLoop(bgCtx, st, cleanupTicker.C) })
	bg.Go(func() { a.refreshMDS(bgCtx, kw.MDS, mdsWait) })
	bg.Go(func() { a.reloadOnHUP(bgCtx, hup, cert) })
	bg.Go(func() { kw.Alerts.Run(bgCtx, alertsEvery) })
	defer func() { stopBg(); bg.Wait() }()

	served := make(chan error, 1)
	if cert != nil {
		hs.TLSConfig = cert.tlsConfig()
		go func() { served <- hs.ServeTLS(ln, "", "") }()
	} else {
		go func() { served <- hs.Serve(ln) }()
	}
	// The public URL is the address to open: passkeys are bound to its host,
	// so the listen address (127.0.0.1 where the URL says localhost) is not.
	log.Info("listening", "open", cfg.PublicURL, "addr", ln.Addr().String(), "tls", cert != nil,
		"database", a.databaseKind(), "rp_id", cfg.RPID())
	// The setup link comes last, so that nothing logged at start buries it.
	if firstStart {
		if err := a.offerSetup(ctx, st); err != nil {
			stopBg()
			_ = hs.Close()
			return err
		}
	}

	select {
	case err := <-served:
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}
	return a.shutdown(hs, served)
}

// wire builds every service and flow on st.
func (a *app) wire(st store) (*kwapp.App, error) {
	cfg, log := a.cfg, a.logger
	publicURL := cfg.PublicURLParsed()
	if publicURL.Scheme == "http" && !isLoopback(publicURL.Hostname()) {
		log.Warn("public URL is plain http on a non-local host; browsers allow passkeys only on https or localhost",
			"public_url", cfg.PublicURL)
	}
	roots, err := cfg.ReadMDSRoots()
	if err != nil {
		return nil, err
	}
	related, err := cfg.RelatedOriginsList()
	if err != nil {
		return nil, err
	}
	proxies, err := cfg.TrustedProxyPrefixes()
	if err != nil {
		return nil, err
	}
	kek, err := cfg.OIDCKeyEncryptionKeyBytes()
	if err != nil {
		return nil, err
	}
	if kek == nil {
		log.Warn("no oidc_key_encryption_key: the OpenID Connect signing keys are stored unencrypted in the database")
	}
	// The registry is created here so every flow can add its metrics to it.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// internal/app is the composition root that serve and the end-to-end tests share.
	kw, err := kwapp.New(kwapp.Options{
		Store:                  st,
		Logger:                 log,
		Registry:               reg,
		Now:                    a.now,
		PublicURL:              publicURL,
		RelatedOrigins:         related,
		SessionIdleTimeout:     cfg.SessionIdleTimeout,
		SessionAbsoluteTimeout: cfg.SessionAbsoluteTimeout,
		MaxBodyBytes:           cfg.MaxBodyBytes,
		Ready:                  st.Ping,
		MDSURL:                 cfg.MDSURL,
		MDSRoots:               roots,
		TrustedProxies:         proxies,
		// Entra's security defaults: admin work with a session needs two factors.
		AllowSingleFactorAdmins: !cfg.RequireMFAForAdmins,
		OIDCKeyEncryptionKey:    kek,
		AlertWebhooks:           alertWebhooks(cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("wiring the server: %w", err)
	}
	return kw, nil
}

func alertWebhooks(cfg config.Config) []alerts.Webhook {
	var out []alerts.Webhook
	for _, w := range cfg.AlertWebhooks {
		out = append(out, alerts.Webhook{URL: w.URL, Secret: w.Secret})
	}
	return out
}

// reloadOnHUP reloads the TLS certificate at each SIGHUP until ctx ends.
func (a *app) reloadOnHUP(ctx context.Context, hup <-chan os.Signal, cert *certificate) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if cert == nil {
			a.logger.Info("SIGHUP: nothing to reload (no tls_cert_file)")
			continue
		}
		cert.reload()
	}
}

// firstMDSTimeout bounds the download serve waits for on a first start.
const firstMDSTimeout = 15 * time.Second

// firstMDSUpdate says, before the server listens, what a newcomer needs to
// know about the FIDO Metadata Service: without mds_url, that it is not
// downloaded; on a first start (no users), it tries the download in the
// foreground, so that a machine without internet gets one short line before
// the setup link instead of warnings after it. It returns when refreshMDS
// should try next, or -1 to let the stored blob decide.
func (a *app) firstMDSUpdate(ctx context.Context, svc *mds.Service, firstStart bool) time.Duration {
	if a.cfg.MDSURL == "" {
		a.logger.Info("no mds_url: the FIDO Metadata Service blob is not downloaded; import it with keyward mds import")
		return -1
	}
	if !firstStart {
		return -1
	}
	dl, cancel := context.WithTimeout(ctx, firstMDSTimeout)
	defer cancel()
	next, err := svc.UpdateIfDue(dl)
	if err != nil && ctx.Err() == nil {
		a.logger.Warn("FIDO metadata (MDS) could not be downloaded: until it is, key models are unnamed and "+
			"attestation cannot be required; retrying hourly (offline: --mds-url \"\" and keyward mds import, see docs/mds.md)",
			"reason", mds.Reason(err))
	}
	return next
}

// refreshMDS keeps the stored MDS blob current: it downloads from mds_url at
// once when there is no blob or it is past nextUpdate (or after wait, when
// firstMDSUpdate has just tried), then at each nextUpdate. Every node does
// it; the database keeps the newest blob, so nodes racing for the same one
// are harmless. Without mds_url it returns.
func (a *app) refreshMDS(ctx context.Context, svc *mds.Service, wait time.Duration) {
	var err error
	if wait < 0 {
		err = svc.Run(ctx)
	} else {
		err = svc.RunAfter(ctx, wait)
	}
	if err != nil && ctx.Err() == nil {
		a.logger.Error("the scheduled MDS refresh stopped", "err", err)
	}
}

// shutdown stops accepting connections and waits for in-flight requests.
// It deliberately does not use the cancelled serve context as its parent.
func (a *app) shutdown(hs *http.Server, served <-chan error) error {
	timeout := a.cfg.ShutdownTimeout
	a.logger.Info("shutting down; waiting for in-flight requests", "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		_ = hs.Close()
		return fmt.Errorf("requests still running after the %s shutdown timeout were cut off: %w", timeout, err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP: %w", err)
	}
	a.logger.Info("stopped")
	return nil
}

func (a *app) migrate(ctx context.Context, st store) error {
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating the database schema: %w", err)
	}
	cur, _, err := st.MigrationVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	a.logger.Info("database ready", "database", a.databaseKind(), "schema_version", cur)
	if pg, ok := st.(vacuumed); ok {
		switch off, err := pg.AutovacuumOff(ctx); {
		case err != nil:
			return err
		case off:
			a.logger.Warn(autovacuumOffWarning)
		}
	}
	return nil
}

// vacuumed is a store whose database server may have autovacuum off
// (PostgreSQL's).
type vacuumed interface {
	AutovacuumOff(ctx context.Context) (bool, error)
}

// autovacuumOffWarning is logged at start on a PostgreSQL server whose
// autovacuum is off (docs/operations.md, "PostgreSQL").
const autovacuumOffWarning = "PostgreSQL's autovacuum is off: the rows every sign-in updates " +
	"(passkey counters, the sign-in roll-ups) and the tables the cleanup deletes from are never vacuumed, " +
	"so sign-ins slow down the longer the server runs; set autovacuum = on in postgresql.conf"

// offerSetup prints a one-time link for creating the first administrator;
// serve calls it while the directory is empty. Each start prints a fresh
// link; older ones stay valid until they expire or one of them is used.
func (a *app) offerSetup(ctx context.Context, st store) error {
	tok := secret.New("kwsetup_")
	now := a.now().UTC()
	err := st.CreateOneTimeToken(ctx, storage.OneTimeToken{
		Hash: secret.Hash(tok), Purpose: setupPurpose, CreatedAt: now, ExpiresAt: now.Add(setupValidFor),
	})
	if err != nil {
		return fmt.Errorf("creating the setup link: %w", err)
	}
	link := a.cfg.PublicURLParsed().JoinPath("setup")
	link.RawQuery = url.Values{"token": {tok}}.Encode()
	fmt.Fprintf(a.stdout, "\n"+
		"  Keyward has no users yet. To create the first administrator, open this\n"+
		"  one-time link within the next hour (until %s):\n\n"+
		"      %s\n\n", now.Add(setupValidFor).Format(time.RFC3339), link)
	// The link is a secret: the log says where it is, never what it is.
	a.logger.Info("no users yet: printed a one-time setup link on standard output",
		"expires_at", now.Add(setupValidFor))
	return nil
}

// cleanupLoop deletes expired records now and at every tick, so the tables
// stay small; lookups check expiry themselves, so this is tidiness, not
// security. serve ticks every cleanupEvery; tests tick by hand.
func (a *app) cleanupLoop(ctx context.Context, st storage.Storage, ticks <-chan time.Time) {
	for {
		a.cleanup(ctx, st)
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// cleanup deletes what has expired at a.now(): sessions, WebAuthn challenges,
// Temporary Access Passes, sign-in rate-limit counters, OpenID Connect
// authorization requests, tokens and retired signing keys, and sign-in and audit log records past
// their retention (in bounded batches). A failure is logged and the other
// kinds are still cleaned.
func (a *app) cleanup(ctx context.Context, st storage.Storage) {
	now := a.now()
	for _, c := range []struct {
		what string
		del  func(context.Context, time.Time) (int, error)
	}{
		{"sessions", inBatches(st.DeleteExpiredSessions)},
		{"challenges", inBatches(st.DeleteExpiredChallenges)},
		{"temporary access passes", st.DeleteExpiredTAPs},
		{"rate-limit counters", st.DeleteExpiredRateLimits},
		{"OpenID Connect authorization requests", inBatches(st.DeleteExpiredAuthRequests)},
		{"OpenID Connect tokens", inBatches(st.DeleteExpiredOIDCTokens)},
		{"OpenID Connect signing keys", st.DeleteExpiredSigningKeys},
	} {
		n, err := c.del(ctx, now)
		switch {
		case err != nil && ctx.Err() == nil:
			a.logger.Warn("deleting expired "+c.what, "err", err)
		case n > 0:
			a.logger.Debug("deleted expired "+c.what, "count", n)
		}
	}
	r := audit.Retention{Store: st, SignIn: a.cfg.SignInLogRetention, Audit: a.cfg.AuditLogRetention, Now: a.now}
	signIns, audits, err := r.Sweep(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		a.logger.Warn("deleting log records past their retention", "err", err)
	case signIns+audits > 0:
		a.logger.Info("deleted log records past their retention", "signIns", signIns, "auditRecords", audits)
	}
}

// inBatches sweeps with del one storage.SweepBatch at a time: a passkey
// sign-in writes a session and a used challenge, a code exchange an
// authorization request and tokens, so under steady load as many expire in
// five minutes as were written in five minutes.
func inBatches(del func(context.Context, time.Time, int) (int, error)) func(context.Context, time.Time) (int, error) {
	return func(ctx context.Context, now time.Time) (int, error) {
		return storage.Sweep(ctx, storage.SweepBatch, func(ctx context.Context, max int) (int, error) {
			return del(ctx, now, max)
		})
	}
}

func (a *app) databaseKind() string {
	if a.cfg.UsesPostgres() {
		return "postgres"
	}
	return "sqlite:" + a.cfg.SQLitePath()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
