package sqlstore

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
)

// A database upgraded from a released Keyward has that release's newest
// migration applied; goose refuses to start it when the new binary embeds a
// lower-numbered migration it has not applied ("missing (out-of-order)
// migrations"). So a new migration must be numbered above every released
// one, in both dialects (SQL files and Go migrations alike).
func TestNewMigrationsAreNumberedAboveTheReleasedOnes(t *testing.T) {
	released := map[int64]bool{}
	var highest int64
	f, err := os.Open("testdata/released-migrations.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			t.Fatalf("released-migrations.txt: %v", err)
		}
		released[v] = true
		highest = max(highest, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, dialect := range []struct {
		dir     string
		dialect goose.Dialect
	}{{"../sqlite/migrations", goose.DialectSQLite3}, {"../postgres/migrations", goose.DialectPostgres}} {
		files, err := filepath.Glob(filepath.Join(dialect.dir, "*.sql"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no migrations (%v)", dialect.dir, err)
		}
		versions := map[int64]string{}
		for _, file := range files {
			v, err := goose.NumericComponent(filepath.Base(file))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			versions[v] = filepath.Base(file)
		}
		for _, m := range goMigrations(dialect.dialect) {
			versions[m.Version] = "Go migration " + strconv.FormatInt(m.Version, 10)
		}
		for v := range released {
			if _, ok := versions[v]; !ok {
				t.Errorf("%s: released migration %d is gone; a released migration is never removed or renumbered", dialect.dir, v)
			}
		}
		for v, name := range versions {
			if !released[v] && v <= highest {
				t.Errorf("%s: %s is numbered %d, below released migration %d: a database upgraded from that release would refuse to start; number it above %d", dialect.dir, name, v, highest, highest)
			}
		}
	}
}
