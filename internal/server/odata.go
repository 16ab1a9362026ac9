package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/storage"
)

// List paging, as in Microsoft Graph: $top picks the page size, the response
// carries @odata.nextLink with an opaque $skiptoken, and $filter supports
// startswith on the list's key.
const (
	defaultTop   = 100
	maxTop       = 999
	maxPrefixLen = 256
	maxSkipToken = 2048
)

// listParams is what a list request asked for; top and filter are kept as
// sent so nextLink can repeat them.
type listParams struct {
	page      storage.Page
	top       string
	filter    string
	hasFilter bool
	// sel is $select: the view's properties to return (nil = all); selRaw as sent.
	sel    []string
	selRaw string
}

// startswithRE matches startswith(field,'value'). As in OData, a doubled
// single quote inside the value stands for one quote.
var startswithRE = regexp.MustCompile(`^\s*startswith\s*\(\s*([A-Za-z]+)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$`)

// parseList reads $top, $filter and $skiptoken, and $select when view (a
// zero value of the list's item view) is not nil. filterField is the one
// property startswith may name (userPrincipalName for users, displayName for
// groups). Anything else in the query string is refused, so a typo such as
// "top=5" is reported instead of silently ignored.
func parseList(r *http.Request, filterField string, view any) (listParams, error) {
	lp, err := readListQuery(r, view)
	if err != nil {
		return listParams{}, err
	}
	if lp.hasFilter {
		if lp.page.Prefix, _, err = parseStartsWith(lp.filter, filterField); err != nil {
			return listParams{}, err
		}
	}
	return lp, nil
}

// parseListQuery reads $top and $skiptoken and keeps $filter as sent, for
// lists whose domain reads the filter (the logs and reports).
func parseListQuery(r *http.Request) (listParams, error) { return readListQuery(r, nil) }

// readListQuery is parseListQuery with $select when view is not nil.
func readListQuery(r *http.Request, view any) (listParams, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return listParams{}, apperr.BadRequest("the query string is malformed: %v", err)
	}
	lp := listParams{page: storage.Page{Limit: defaultTop}}
	supported := "$top, $filter or $skiptoken"
	if view != nil {
		supported = "$top, $filter, $skiptoken or $select"
	}
	for key, vals := range q {
		switch {
		case key == "$top" || key == "$filter" || key == "$skiptoken":
		case key == "$select" && view != nil:
		default:
			return listParams{}, apperr.BadRequest("query parameter %s is not supported; use %s", quoteShort(key), supported)
		}
		if len(vals) > 1 {
			return listParams{}, apperr.BadRequest("query parameter %s is given %d times; give it once", key, len(vals))
		}
	}
	if lp.top = q.Get("$top"); q.Has("$top") {
		n, err := strconv.Atoi(lp.top)
		if err != nil || n < 1 || n > maxTop {
			return listParams{}, apperr.BadRequest("$top must be a whole number from 1 to %d, got %s", maxTop, quoteShort(lp.top))
		}
		lp.page.Limit = n
	}
	lp.filter, lp.hasFilter = q.Get("$filter"), q.Has("$filter")
	if lp.selRaw = q.Get("$select"); q.Has("$select") {
		if lp.sel, err = parseSelect(lp.selRaw, view); err != nil {
			return listParams{}, err
		}
	}
	if q.Has("$skiptoken") {
		if lp.page.After, err = decodeSkipToken(q.Get("$skiptoken")); err != nil {
			return listParams{}, err
		}
	}
	return lp, nil
}

// parseStartsWith reads startswith(field,'prefix') for one of fields and
// returns the prefix and the field as fields spells it.
func parseStartsWith(filter string, fields ...string) (prefix, field string, err error) {
	var forms []string
	for _, f := range fields {
		forms = append(forms, "startswith("+f+",'prefix')")
	}
	only := "the only supported filter here is "
	if len(forms) > 1 {
		only = "the supported filters here are "
	}
	unsupported := apperr.BadRequest("$filter %s is not supported; %s%s", quoteShort(filter), only, strings.Join(forms, " and "))
	m := startswithRE.FindStringSubmatch(filter)
	if m == nil {
		return "", "", unsupported
	}
	i := slices.IndexFunc(fields, func(f string) bool { return strings.EqualFold(m[1], f) })
	if i < 0 {
		return "", "", unsupported
	}
	prefix = strings.ReplaceAll(m[2], "''", "'")
	if n := utf8.RuneCountInString(prefix); n > maxPrefixLen {
		return "", "", apperr.BadRequest("the startswith prefix is %d characters long; at most %d are allowed", n, maxPrefixLen)
	}
	return prefix, fields[i], nil
}

// The skiptoken wraps the storage cursor so clients treat it as opaque and a
// damaged one is caught here as a 400.
func encodeSkipToken(cursor string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursor))
}

func decodeSkipToken(tok string) (string, error) {
	bad := apperr.BadRequest("$skiptoken is not valid; follow @odata.nextLink from the previous page instead of editing it")
	if tok == "" || len(tok) > maxSkipToken {
		return "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 || !utf8.Valid(b) {
		return "", bad
	}
	return string(b), nil
}

// nextLink is the absolute URL of the next page, under base, or "" when
// there is none.
func nextLink(r *http.Request, base string, lp listParams, next string) string {
	if next == "" {
		return ""
	}
	// Built by hand: url.Values would escape the "$" of the parameter names.
	var q []string
	if lp.top != "" {
		q = append(q, "$top="+url.QueryEscape(lp.top))
	}
	if lp.filter != "" {
		q = append(q, "$filter="+url.QueryEscape(lp.filter))
	}
	if lp.selRaw != "" {
		q = append(q, "$select="+url.QueryEscape(lp.selRaw))
	}
	q = append(q, "$skiptoken="+encodeSkipToken(next))
	return base + r.URL.EscapedPath() + "?" + strings.Join(q, "&")
}

// listBody is Graph's collection shape.
type listBody[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink,omitempty"`
}

// servePage answers a request for one page of a collection: $top, $filter
// (a startswith on filterProp), $skiptoken and $select (against V's
// properties) are read, list gives the page, and view renders each item.
func servePage[T, V any](w http.ResponseWriter, r *http.Request, base, filterProp string, view func(T) V,
	list func(context.Context, storage.Page) ([]T, string, error)) {
	var zero V
	lp, err := parseList(r, filterProp, zero)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	items, next, err := list(r.Context(), lp.page)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writePage(w, r, base, lp, items, next, view)
}

// writePage answers one page of a collection: each item's view with the
// $select of lp applied, and the link to the next page under base.
func writePage[T, V any](w http.ResponseWriter, r *http.Request, base string, lp listParams, items []T, next string, view func(T) V) {
	body := listBody[any]{Value: make([]any, 0, len(items)), NextLink: nextLink(r, base, lp, next)}
	for _, it := range items {
		body.Value = append(body.Value, selected(view(it), lp.sel))
	}
	WriteJSON(w, http.StatusOK, body)
}

// parseSelect reads a $select list (Graph's: property names separated by
// commas, matched case-insensitively) against the properties view has, and
// returns their names as the view spells them.
func parseSelect(raw string, view any) ([]string, error) {
	props := viewProperties(view)
	var sel []string
	for name := range strings.SplitSeq(raw, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, apperr.BadRequest("$select has an empty name; use a comma-separated list of %s", strings.Join(props, ", "))
		}
		i := slices.IndexFunc(props, func(p string) bool { return strings.EqualFold(p, name) })
		if i < 0 {
			return nil, apperr.BadRequest("$select names %s, which is not a property here; use a comma-separated list of %s",
				quoteShort(name), strings.Join(props, ", "))
		}
		if !slices.Contains(sel, props[i]) {
			sel = append(sel, props[i])
		}
	}
	return sel, nil
}

// viewProperties lists the JSON properties of a view, in its order.
func viewProperties(view any) []string {
	b, _ := json.Marshal(view) // views are plain structs: cannot fail
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var props []string
	_, _ = dec.Token() // {
	for dec.More() {
		tok, _ := dec.Token()
		props = append(props, tok.(string))
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	return props
}

// selected is v with only the properties sel names (all of them when sel is nil).
func selected(v any, sel []string) any {
	if sel == nil {
		return v
	}
	b, _ := json.Marshal(v)
	var all map[string]json.RawMessage
	_ = json.Unmarshal(b, &all)
	out := make(map[string]json.RawMessage, len(sel))
	for _, p := range sel {
		out[p] = all[p]
	}
	return out
}

// parseGetSelect reads the $select of a request for one record; a GET of one
// record takes no other query parameter.
func parseGetSelect(r *http.Request, view any) ([]string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, apperr.BadRequest("the query string is malformed: %v", err)
	}
	for key, vals := range q {
		if key != "$select" {
			return nil, apperr.BadRequest("query parameter %s is not supported here; use $select", quoteShort(key))
		}
		if len(vals) > 1 {
			return nil, apperr.BadRequest("query parameter %s is given %d times; give it once", key, len(vals))
		}
	}
	if !q.Has("$select") {
		return nil, nil
	}
	return parseSelect(q.Get("$select"), view)
}
