package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/bench"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/storage"
)

// scaleHooks give the scale run (and the MDS scenario) the started server's
// database: they open it from env as `keyward serve` does.
func (a *app) scaleHooks() bench.ScaleHooks {
	return bench.ScaleHooks{Seed: a.benchSeed, DatabaseSize: a.benchDatabaseSize, PutMDSBlob: a.benchPutMDSBlob}
}

// benchStore opens (and migrates) the database env names.
func (a *app) benchStore(ctx context.Context, env []string) (store, config.Config, error) {
	cfg, err := config.Load("", env, nil)
	if err != nil {
		return nil, cfg, err
	}
	b := &app{stdout: io.Discard, stderr: a.stderr, env: env, now: a.now, cfg: cfg, logger: slog.New(slog.DiscardHandler)}
	st, err := b.openStore(ctx)
	if err != nil {
		return nil, cfg, err
	}
	if err := st.Migrate(ctx); err != nil {
		return nil, cfg, errors.Join(err, st.Close())
	}
	return st, cfg, nil
}

func (a *app) benchSeed(ctx context.Context, env []string, p bench.Population, from, to int) (err error) {
	st, _, err := a.benchStore(ctx, env)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	if from == 0 {
		n, err := st.CountUsers(ctx)
		if err != nil {
			return fmt.Errorf("counting the database's users before seeding: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("keyward bench seeds its users into an empty database, and this one already holds users (%d): give it a new one", n)
		}
	}
	if err := bench.SeedPopulation(ctx, st, p, from, to, a.now().UTC(), a.progress); err != nil {
		return err
	}
	return a.benchAnalyze(ctx, env)
}

// benchAnalyze refreshes PostgreSQL's planner statistics after a bulk
// seed, as autovacuum would a while later: with the statistics of an empty
// table, the sign-in's joins were planned as scans.
func (a *app) benchAnalyze(ctx context.Context, env []string) error {
	cfg, err := config.Load("", env, nil)
	if err != nil || !cfg.UsesPostgres() {
		return err
	}
	return analyzeAfterSeeding(ctx, cfg.DatabaseURL, "ANALYZE users, credentials, memberships")
}

// analyzeAfterSeeding runs stmt (an ANALYZE) on the PostgreSQL database at
// dsn.
func analyzeAfterSeeding(ctx context.Context, dsn, stmt string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("ANALYZE after seeding: %w", err)
	}
	return nil
}

func (a *app) benchDatabaseSize(ctx context.Context, env []string) (int64, error) {
	cfg, err := config.Load("", env, nil)
	if err != nil {
		return 0, err
	}
	if cfg.UsesPostgres() {
		conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
		if err != nil {
			return 0, err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var n int64
		err = conn.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
		return n, err
	}
	var total int64
	for _, suffix := range []string{"", "-wal"} {
		fi, err := os.Stat(cfg.SQLitePath() + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += fi.Size()
	}
	return total, nil
}

func (a *app) benchPutMDSBlob(ctx context.Context, env []string, raw []byte, number int, nextUpdate time.Time) (err error) {
	st, _, err := a.benchStore(ctx, env)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	return st.PutMDSBlob(ctx, storage.MDSBlob{Number: number, NextUpdate: nextUpdate, Raw: raw,
		Source: "keyward bench", ImportedAt: a.now().UTC()})
}

// runScaleBench is keyward bench with --users above bench.MaxAPIUsers.
func (a *app) runScaleBench(ctx context.Context, o *benchOptions) error {
	r := &bench.Runner{Options: o.Options, Env: a.env, Progress: a.progress,
		CreateToken: a.benchToken, RevokeToken: a.revokeBenchToken, Scale: a.scaleHooks()}
	rep, err := r.RunScale(ctx)
	if rep == nil {
		return err
	}
	if o.DatabaseURL != "" {
		a.progress("the %d seeded users stay in the PostgreSQL database; drop it when done", o.Users)
	}
	if o.json {
		err = errors.Join(err, writeJSON(a.stdout, rep))
	} else {
		err = errors.Join(err, rep.WriteText(a.stdout))
	}
	if err == nil && rep.Failed > 0 {
		return fmt.Errorf("%d sign-ins failed; the report lists their errors", rep.Failed)
	}
	return err
}

// runMDSBench is keyward bench --scenario mds.
func (a *app) runMDSBench(cmd *cobra.Command, o *benchOptions) error {
	if err := o.resolve(cmd); err != nil {
		return err
	}
	var p []string
	if o.URL != "" {
		p = append(p, "--url: not with --scenario mds, which starts its own server trusting the MDS root it makes for the run")
	}
	if o.mds.Entries < 1 || o.mds.Refreshes < 1 || o.mds.SizeMB <= 0 || o.mds.SizeMB > 60 {
		p = append(p, fmt.Sprintf("--mds-entries (%d) and --mds-refreshes (%d) must be at least 1, --mds-size-mb (%g) from above 0 to 60",
			o.mds.Entries, o.mds.Refreshes, o.mds.SizeMB))
	}
	if len(p) > 0 {
		return &problemsError{heading: "keyward bench cannot run", problems: p}
	}
	r := &bench.Runner{Options: o.Options, Env: a.env, Progress: a.progress, CreateToken: a.benchToken,
		RevokeToken: a.revokeBenchToken, ImportMDS: a.benchImportMDS, Scale: a.scaleHooks()}
	rep, err := r.RunMDS(cmd.Context(), o.mds)
	if rep == nil {
		return err
	}
	if o.json {
		err = errors.Join(err, writeJSON(a.stdout, rep))
	} else {
		err = errors.Join(err, rep.WriteText(a.stdout))
	}
	if err == nil && rep.Failed > 0 {
		return fmt.Errorf("%d sign-ins failed", rep.Failed)
	}
	return err
}
