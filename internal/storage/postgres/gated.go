package postgres

import (
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/storage/sqlstore"
)

// gatedInsertStatement is sqlstore.Dialect.GatedInsertStatement on
// PostgreSQL: the UPDATE and the INSERTs as writable CTEs of one statement,
// each INSERT gated on the UPDATE having changed a row. Of two such
// statements racing for one row, the second waits for the first's commit,
// finds the row changed, and inserts nothing.
func gatedInsertStatement(update string, inserts ...sqlstore.GatedInsert) string {
	var q, counts strings.Builder
	q.WriteString(`WITH g AS (` + update + ` RETURNING 1)`)
	counts.WriteString(` SELECT (SELECT COUNT(*) FROM g)`)
	for n, in := range inserts {
		var row strings.Builder
		row.WriteString("(")
		for i, c := range columns(in.Cols) {
			if i > 0 {
				row.WriteString(", ")
			}
			row.WriteString(cast(c))
		}
		row.WriteString(")")
		values := strings.TrimSuffix(strings.Repeat(row.String()+", ", in.Rows), ", ")
		name := "ins" + strconv.Itoa(n)
		q.WriteString(`, ` + name + ` AS (INSERT INTO ` + in.Table + ` (` + in.Cols + `) SELECT * FROM (VALUES ` + values + `) AS v
			WHERE EXISTS (SELECT 1 FROM g) RETURNING 1)`)
		counts.WriteString(`, (SELECT COUNT(*) FROM ` + name + `)`)
	}
	return q.String() + counts.String()
}
