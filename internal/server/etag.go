package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Resources that pages edit whole carry a version: GET answers it as an
// ETag, and a PATCH that sends it back in If-Match is refused with 412
// Precondition Failed when the resource changed meanwhile, so one admin's
// save does not silently undo another's. Without If-Match a PATCH applies
// to whatever is current, as before.

// ETag formats a version as a strong entity tag.
func ETag(version string) string { return `"` + version + `"` }

// IfMatch returns nil when the request has no If-Match header (any version
// will do), and otherwise reports whether a version is one the request
// names: "*", or one of the listed entity tags (weak ones compared weakly).
func IfMatch(r *http.Request) func(version string) bool {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return nil
	}
	var tags []string
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			tags = append(tags, t)
		}
	}
	return func(version string) bool {
		for _, t := range tags {
			if t == "*" || t == ETag(version) {
				return true
			}
		}
		return false
	}
}

// preconditionFailed is the 412 body: the usual error, and the resource as
// it is now, so the client can show it and retry with its ETag.
type preconditionFailed struct {
	errorBody
	Current any `json:"current"`
}

// WritePreconditionFailed answers 412 with the current resource and its ETag.
func WritePreconditionFailed(w http.ResponseWriter, r *http.Request, message string, version string, current any) {
	const code = "preconditionFailed"
	if info := infoFrom(r.Context()); info != nil {
		info.errCode, info.errMessage = code, message
	}
	var body preconditionFailed
	body.Error.Code, body.Error.Message, body.Current = code, message, current
	w.Header().Set("ETag", ETag(version))
	WriteJSON(w, http.StatusPreconditionFailed, body)
}

// staleMessage explains a 412 for what (e.g. `user "alice@example.com"`).
func staleMessage(r *http.Request, what, version string) string {
	return fmt.Sprintf("%s was changed by someone else after you read it (If-Match %s; it is now %s), so nothing was saved; "+
		"\"current\" is how it is now: make your change to it and send it again with If-Match: %s",
		what, r.Header.Get("If-Match"), ETag(version), ETag(version))
}

// IfMatchVersion is IfMatch for a resource whose version is a number: nil
// when the request sends no If-Match.
func IfMatchVersion(r *http.Request) func(version int64) bool {
	m := IfMatch(r)
	if m == nil {
		return nil
	}
	return func(v int64) bool { return m(strconv.FormatInt(v, 10)) }
}

// WriteVersioned answers body with its numeric version as the ETag.
func WriteVersioned(w http.ResponseWriter, version int64, body any) {
	w.Header().Set("ETag", ETag(strconv.FormatInt(version, 10)))
	WriteJSON(w, http.StatusOK, body)
}

// WriteStale answers 412 for a save made from an old version of what:
// the message says what to do, and the body carries the current one.
func WriteStale(w http.ResponseWriter, r *http.Request, what string, version int64, current any) {
	v := strconv.FormatInt(version, 10)
	WritePreconditionFailed(w, r, staleMessage(r, what, v), v, current)
}
