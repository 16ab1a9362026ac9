package directory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/keyward/keyward/internal/storage"
)

// Users and groups are edited whole by the admin pages and by scripts that
// read, change and write back. Their version is a digest of everything
// stored about them (UpdatedAt included), so any change gives a new one; an
// editor that sends back the version it read (the API's If-Match) has its
// change refused when the record changed meanwhile, instead of silently
// undoing that change.

// UserVersion is the version of a stored user.
func UserVersion(u storage.User) string { return digest(u) }

// GroupVersion is the version of a stored group.
func GroupVersion(g storage.Group) string { return digest(g) }

func digest(v any) string {
	b, _ := json.Marshal(v) // plain records: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// StaleError refuses a change made to a version of a user or group that is
// no longer the current one; it carries the record as it is now.
type StaleError struct {
	User    *storage.User
	Group   *storage.Group
	Version string // of the current record
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the record was changed meanwhile; its version is now %s", e.Version)
}
