package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/reports"
)

// ReportsAPI serves the reports an administrator reads before tightening the
// passkey policy: the key models in use and the impact of a proposed policy.
// Every admin role may read them; a preview saves nothing.
type ReportsAPI struct {
	Reports   *reports.Service
	Policies  reports.Fido2Source
	PublicURL *url.URL // nil = links from the request's host
}

// Mount implements Mounter.
func (a *ReportsAPI) Mount(rt Router) {
	rt.Handle("GET /api/v1/reports/authenticationMethods/passkeyModels", anyAdminRole(http.HandlerFunc(a.passkeyModels)))
	rt.Handle("POST "+fido2PolicyPath+"/preview", anyAdminRole(http.HandlerFunc(a.preview)))
	rt.Handle("GET /api/v1/reports/authenticationMethods/userRegistrationDetails", anyAdminRole(http.HandlerFunc(a.registrationDetails)))
	rt.Handle("GET /api/v1/reports/authenticationMethods/usersRegisteredByMethod", anyAdminRole(http.HandlerFunc(a.registeredByMethod)))
	rt.Handle("GET /api/v1/reports/charts/{name}", anyAdminRole(http.HandlerFunc(a.chart)))
}

// chart sends a chart as an SVG image, for an <img> of an admin page.
func (a *ReportsAPI) chart(w http.ResponseWriter, r *http.Request) {
	svg, err := a.Reports.Chart(r.Context(), r.PathValue("name"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(svg)
}

func (a *ReportsAPI) registrationDetails(w http.ResponseWriter, r *http.Request) {
	lp, err := parseListQuery(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	page, next, err := a.Reports.RegistrationDetails(r.Context(), a.Policies, lp.filter, lp.page.Limit, lp.page.After)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, listBody[reports.UserRegistrationDetails]{Value: page,
		NextLink: nextLink(r, BaseURL(a.PublicURL, r), lp, next)})
}

func (a *ReportsAPI) registeredByMethod(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		WriteError(w, r, apperr.BadRequest("usersRegisteredByMethod takes no query parameters"))
		return
	}
	c, err := a.Reports.UsersRegisteredByMethod(r.Context(), a.Policies)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, c)
}

// passkeyModels takes groupId (only the group's members) and $format=csv.
func (a *ReportsAPI) passkeyModels(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		WriteError(w, r, apperr.BadRequest("the query string is malformed: %v", err))
		return
	}
	for key, vals := range q {
		if key != "groupId" && key != "$format" {
			WriteError(w, r, apperr.BadRequest("query parameter %s is not supported; use groupId or $format=csv", quoteShort(key)))
			return
		}
		if len(vals) > 1 {
			WriteError(w, r, apperr.BadRequest("query parameter %s is given %d times; give it once", key, len(vals)))
			return
		}
	}
	format := q.Get("$format")
	if format != "" && format != "csv" && format != "json" {
		WriteError(w, r, apperr.BadRequest("$format must be csv or json, not %s", quoteShort(format)))
		return
	}
	rows, err := a.Reports.PasskeyModels(r.Context(), q.Get("groupId"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="passkey-models.csv"`)
		_ = reports.WriteCSV(w, rows) // the status is sent; a broken connection is the client's
		return
	}
	WriteJSON(w, http.StatusOK, listBody[reports.PasskeyModel]{Value: rows})
}

// preview answers the counts in full and one page of the long lists:
// $top entries (100 unless given, at most 1000) after $skip.
func (a *ReportsAPI) preview(w http.ResponseWriter, r *http.Request) {
	page, err := parsePreviewPage(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	var patch json.RawMessage
	if err := DecodeJSON(w, r, &patch); err != nil {
		WriteError(w, r, err)
		return
	}
	p, err := a.Reports.PreviewFido2Page(r.Context(), a.Policies, patch, page)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, p)
}

// parsePreviewPage reads the preview's $skip and $top; any other query
// parameter is refused.
func parsePreviewPage(r *http.Request) (reports.PreviewPage, error) {
	var page reports.PreviewPage
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return page, apperr.BadRequest("the query string is malformed: %v", err)
	}
	for key, vals := range q {
		if key != "$top" && key != "$skip" {
			return page, apperr.BadRequest("query parameter %s is not supported; use $top or $skip", quoteShort(key))
		}
		if len(vals) > 1 {
			return page, apperr.BadRequest("query parameter %s is given %d times; give it once", key, len(vals))
		}
	}
	if q.Has("$top") {
		n, err := strconv.Atoi(q.Get("$top"))
		if err != nil || n < 1 || n > reports.MaxPreviewTop {
			return page, apperr.BadRequest("$top must be a whole number from 1 to %d, got %s", reports.MaxPreviewTop, quoteShort(q.Get("$top")))
		}
		page.Top = n
	}
	if q.Has("$skip") {
		n, err := strconv.Atoi(q.Get("$skip"))
		if err != nil || n < 0 {
			return page, apperr.BadRequest("$skip must be a whole number, 0 or more, got %s", quoteShort(q.Get("$skip")))
		}
		page.Skip = n
	}
	return page, nil
}
