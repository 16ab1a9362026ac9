package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
)

// Migrator applies a backend's embedded goose migrations and reads the schema
// version without side effects (goose's own version query creates its table,
// which a readiness check must not do).
type Migrator struct {
	name        string
	reader      *sql.DB
	provider    *goose.Provider
	latest      int64
	tableExists string
	log         *slog.Logger
}

// NewMigrator prepares the migrations in fsys (files at its root, e.g.
// 00001_init.sql), applied through writer; the version is read through
// reader. tableExists is a query returning whether goose's version table
// exists in the schema the store uses.
func NewMigrator(name string, writer, reader *sql.DB, dialect goose.Dialect, fsys fs.FS, tableExists string, log *slog.Logger) (*Migrator, error) {
	p, err := goose.NewProvider(dialect, writer, fsys, goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(goMigrations(dialect)...))
	if err != nil {
		return nil, fmt.Errorf("%s: load migrations: %w", name, err)
	}
	src := p.ListSources()
	if len(src) == 0 {
		return nil, fmt.Errorf("%s: no migrations embedded", name)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Migrator{name: name, reader: reader, provider: p, latest: src[len(src)-1].Version,
		tableExists: tableExists, log: log}, nil
}

// Up applies every pending migration, each in its own transaction.
func (m *Migrator) Up(ctx context.Context) error {
	res, err := m.provider.Up(ctx)
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		res = partial.Applied
	}
	for _, r := range res {
		m.log.InfoContext(ctx, "applied database migration", "backend", m.name,
			"version", r.Source.Version, "duration", r.Duration)
	}
	if err != nil {
		return fmt.Errorf("%s: migrate: %w", m.name, err)
	}
	return nil
}

// DownTo rolls back every applied migration above version, newest first:
// a test makes the database an older Keyward left, whatever was added since.
func (m *Migrator) DownTo(ctx context.Context, version int64) error {
	if _, err := m.provider.DownTo(ctx, version); err != nil {
		return fmt.Errorf("%s: roll back to %d: %w", m.name, version, err)
	}
	return nil
}

// Versions returns the applied schema version (0 for an empty database) and
// the newest version this binary knows.
func (m *Migrator) Versions(ctx context.Context) (current, latest int64, err error) {
	var exists bool
	if err := m.reader.QueryRowContext(ctx, m.tableExists).Scan(&exists); err != nil {
		return 0, m.latest, fmt.Errorf("%s: read schema version: %w", m.name, err)
	}
	if !exists {
		return 0, m.latest, nil
	}
	err = m.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM `+goose.DefaultTablename).Scan(&current)
	if err != nil {
		return 0, m.latest, fmt.Errorf("%s: read schema version: %w", m.name, err)
	}
	return current, m.latest, nil
}

// Known reports whether version is one of the migrations this binary embeds.
func (m *Migrator) Known(version int64) bool {
	for _, src := range m.provider.ListSources() {
		if src.Version == version {
			return true
		}
	}
	return false
}

// Check fails unless the schema is exactly at the latest version.
func (m *Migrator) Check(ctx context.Context) error {
	current, latest, err := m.Versions(ctx)
	switch {
	case err != nil:
		return err
	case current < latest:
		return fmt.Errorf("%s: database schema is at version %d but this Keyward needs %d: run `keyward migrate`",
			m.name, current, latest)
	case current > latest:
		return fmt.Errorf("%s: database schema version %d is newer than this Keyward knows (%d): upgrade Keyward",
			m.name, current, latest)
	}
	return nil
}
