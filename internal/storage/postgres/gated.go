package postgres

import "strings"

// gatedInsertStatement is sqlstore.Dialect.GatedInsertStatement on
// PostgreSQL: the UPDATE and the INSERT as writable CTEs of one statement,
// the INSERT gated on the UPDATE having changed a row. Of two such
// statements racing for one row, the second waits for the first's commit,
// finds the row changed, and inserts nothing.
func gatedInsertStatement(update, table, cols string, rows int) string {
	var row strings.Builder
	row.WriteString("(")
	for i, c := range columns(cols) {
		if i > 0 {
			row.WriteString(", ")
		}
		row.WriteString(cast(c))
	}
	row.WriteString(")")
	values := strings.TrimSuffix(strings.Repeat(row.String()+", ", rows), ", ")
	return `WITH g AS (` + update + ` RETURNING 1),
		ins AS (INSERT INTO ` + table + ` (` + cols + `) SELECT * FROM (VALUES ` + values + `) AS v
			WHERE EXISTS (SELECT 1 FROM g) RETURNING 1)
		SELECT (SELECT COUNT(*) FROM g), (SELECT COUNT(*) FROM ins)`
}
