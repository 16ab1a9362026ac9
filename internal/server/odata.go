package server

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
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
}

// startswithRE matches startswith(field,'value'). As in OData, a doubled
// single quote inside the value stands for one quote.
var startswithRE = regexp.MustCompile(`^\s*startswith\s*\(\s*([A-Za-z]+)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$`)

// parseList reads $top, $filter and $skiptoken. filterField is the one
// property startswith may name (userPrincipalName for users, displayName for
// groups). Anything else in the query string is refused, so a typo such as
// "top=5" is reported instead of silently ignored.
func parseList(r *http.Request, filterField string) (listParams, error) {
	lp, err := parseListQuery(r)
	if err != nil {
		return listParams{}, err
	}
	if lp.hasFilter {
		if lp.page.Prefix, err = parseStartsWith(lp.filter, filterField); err != nil {
			return listParams{}, err
		}
	}
	return lp, nil
}

// parseListQuery reads $top and $skiptoken and keeps $filter as sent, for
// lists whose domain reads the filter (the logs and reports).
func parseListQuery(r *http.Request) (listParams, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return listParams{}, apperr.BadRequest("the query string is malformed: %v", err)
	}
	lp := listParams{page: storage.Page{Limit: defaultTop}}
	for key, vals := range q {
		switch key {
		case "$top", "$filter", "$skiptoken":
		default:
			return listParams{}, apperr.BadRequest("query parameter %s is not supported; use $top, $filter or $skiptoken", quoteShort(key))
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
	if q.Has("$skiptoken") {
		if lp.page.After, err = decodeSkipToken(q.Get("$skiptoken")); err != nil {
			return listParams{}, err
		}
	}
	return lp, nil
}

func parseStartsWith(filter, field string) (string, error) {
	unsupported := apperr.BadRequest("$filter %s is not supported; the only supported filter here is startswith(%s,'prefix')",
		quoteShort(filter), field)
	m := startswithRE.FindStringSubmatch(filter)
	if m == nil || !strings.EqualFold(m[1], field) {
		return "", unsupported
	}
	prefix := strings.ReplaceAll(m[2], "''", "'")
	if n := utf8.RuneCountInString(prefix); n > maxPrefixLen {
		return "", apperr.BadRequest("the startswith prefix is %d characters long; at most %d are allowed", n, maxPrefixLen)
	}
	return prefix, nil
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
	q = append(q, "$skiptoken="+encodeSkipToken(next))
	return base + r.URL.EscapedPath() + "?" + strings.Join(q, "&")
}

// listBody is Graph's collection shape.
type listBody[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink,omitempty"`
}
