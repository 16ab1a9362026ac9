package server

import (
	"net/http"

	"github.com/keyward/keyward/internal/compromise"
)

// DistrustedPasskeysAPI lists the registered passkeys whose model the FIDO
// Metadata Service now reports as revoked or compromised (the impact of an
// MDS status change), for the admin page and `keyward mds impact`'s readers.
type DistrustedPasskeysAPI struct {
	Compromise *compromise.Service
}

// DistrustedPasskeysPath is the report's route.
const DistrustedPasskeysPath = "/api/v1/reports/authenticationMethods/distrustedPasskeys"

// Mount implements Mounter.
func (a *DistrustedPasskeysAPI) Mount(rt Router) {
	rt.Handle("GET "+DistrustedPasskeysPath, anyAdminRole(http.HandlerFunc(a.list)))
}

func (a *DistrustedPasskeysAPI) list(w http.ResponseWriter, r *http.Request) {
	affected, err := a.Compromise.Impact(r.Context())
	if err != nil {
		WriteError(w, r, err)
		return
	}
	users := map[string]bool{}
	for _, x := range affected {
		users[x.UserID] = true
	}
	WriteJSON(w, http.StatusOK, map[string]any{"users": len(users), "value": affected})
}
