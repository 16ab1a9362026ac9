package server

import (
	"net/http"
	"net/url"

	"github.com/keyward/keyward/internal/audit"
)

// LogsAPI serves /api/v1/auditLogs: the sign-in log and the audit log in
// Microsoft Graph's signIn and directoryAudit shapes, newest first, with
// $filter (the subset package audit reads), $top and $skiptoken. Every admin
// role may read them.
type LogsAPI struct {
	Logs      *audit.Logs
	PublicURL *url.URL // nil = links from the request's host
}

// Mount implements Mounter.
func (a *LogsAPI) Mount(rt Router) {
	rt.Handle("GET /api/v1/auditLogs/signIns", anyAdminRole(http.HandlerFunc(a.signIns)))
	rt.Handle("GET /api/v1/auditLogs/directoryAudits", anyAdminRole(http.HandlerFunc(a.directoryAudits)))
}

func (a *LogsAPI) signIns(w http.ResponseWriter, r *http.Request) {
	lp, err := parseListQuery(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	page, next, err := a.Logs.SignIns(r.Context(), lp.filter, lp.page.Limit, lp.page.After)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, listBody[audit.SignIn]{Value: page, NextLink: nextLink(r, BaseURL(a.PublicURL, r), lp, next)})
}

func (a *LogsAPI) directoryAudits(w http.ResponseWriter, r *http.Request) {
	lp, err := parseListQuery(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	page, next, err := a.Logs.DirectoryAudits(r.Context(), lp.filter, lp.page.Limit, lp.page.After)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, listBody[audit.DirectoryAudit]{Value: page,
		NextLink: nextLink(r, BaseURL(a.PublicURL, r), lp, next)})
}
