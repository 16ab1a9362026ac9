package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// goMigrations are the migrations SQL cannot express, for both backends;
// their versions sit among the SQL files' (the SQL files leave them out).
func goMigrations(dialect goose.Dialect) []*goose.Migration {
	return []*goose.Migration{
		goose.NewGoMigration(101, &goose.GoFunc{RunTx: foldUserNames(dialect)}, nil),
	}
}

// foldUserNames sets each user's name_key to the display name folded as
// Keyward folds keys (foldKey), where migration 100's lower() folded it
// otherwise: SQLite's lower() and PostgreSQL's under the C locale fold ASCII
// letters only.
func foldUserNames(dialect goose.Dialect) func(ctx context.Context, tx *sql.Tx) error {
	update := `UPDATE users SET name_key = ? WHERE id = ?`
	if dialect == goose.DialectPostgres {
		update = `UPDATE users SET name_key = $1 WHERE id = $2`
	}
	return func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, display_name, name_key FROM users`)
		if err != nil {
			return fmt.Errorf("fold display names: %w", err)
		}
		type fix struct{ id, key string }
		var fixes []fix
		for rows.Next() {
			var id, name, key string
			if err := rows.Scan(&id, &name, &key); err != nil {
				rows.Close()
				return fmt.Errorf("fold display names: %w", err)
			}
			if k := foldKey(name); k != key {
				fixes = append(fixes, fix{id, k})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("fold display names: %w", err)
		}
		for _, f := range fixes {
			if _, err := tx.ExecContext(ctx, update, f.key, f.id); err != nil {
				return fmt.Errorf("fold display name of user %s: %w", f.id, err)
			}
		}
		return nil
	}
}
