package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/keyward/keyward/internal/apperr"
)

// WriteJSON renders v as the JSON response body with the given status. The
// body is encoded before anything is written, so an encoding failure becomes
// a clean 500 instead of half a document.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("encode JSON response", "error", err)
		writeErrorBody(w, apperr.Internal(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// errorBody is the one error shape of the API, as in Microsoft Graph.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteError renders err: an *apperr.Error with its status, code and message,
// anything else as a 500 "internalError" whose cause goes only to the log.
// This is the one place errors become responses.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.As(err)
	ctx := r.Context()
	info := infoFrom(ctx)
	if info != nil {
		info.errCode, info.errMessage = e.Code, e.Message
	}
	if e.Status >= 500 || e.Status < 400 {
		loggerFrom(ctx).ErrorContext(ctx, "request failed", "request_id", requestIDFrom(ctx),
			"method", r.Method, "path", r.URL.Path, "error", e.Error())
	} else if e.Err != nil {
		loggerFrom(ctx).DebugContext(ctx, "request refused", "request_id", requestIDFrom(ctx),
			"code", e.Code, "cause", e.Err.Error())
	}
	writeErrorBody(w, e)
}

func writeErrorBody(w http.ResponseWriter, e *apperr.Error) {
	status := e.Status
	if status < 400 || status > 599 { // never render an error as a success
		status = http.StatusInternalServerError
	}
	var body errorBody
	body.Error.Code, body.Error.Message = e.Code, e.Message
	b, _ := json.Marshal(body) // two strings cannot fail to encode
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// DecodeJSON reads exactly one JSON value from the request body into dst,
// refusing unknown fields, and returns an *apperr.Error that names the
// problem: 415 for a non-JSON Content-Type, 413 for a body over the server's
// limit, 400 for anything malformed. dst must be a pointer.
//
// Requiring Content-Type: application/json also keeps plain cross-site HTML
// forms from reaching the API with a browser's cookies.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return apperr.New(http.StatusUnsupportedMediaType, "unsupportedMediaType",
			"Content-Type must be application/json (got %s); send the header Content-Type: application/json", quoteShort(ct))
	}
	if r.Body == nil {
		return apperr.BadRequest("request body is empty; send a JSON object")
	}
	raw, err := readBody(w, r)
	if err != nil {
		return decodeError(err, dst)
	}
	if err := checkJSONText(raw); err != nil {
		return err
	}
	return decodeJSONBytes(raw, dst)
}

// readJSON reads a JSON request body as DecodeJSON does, without decoding
// it: its Content-Type, size and text are checked.
func readJSON(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var raw rawBody
	err := DecodeJSON(w, r, &raw)
	return raw, err
}

// rawBody receives a body for readJSON: DecodeJSON stores the bytes read
// without scanning them.
type rawBody []byte

// decodeStrict decodes raw into dst only when it is exactly dst's shape:
// one JSON value with no field dst lacks at any depth. It reports false
// for anything else, which the caller then decodes with DecodeJSON's
// rules and messages (into a fresh value: dst may be half filled).
//
// It decodes with the JSON v2 decoder (go-json-experiment/json, from
// which encoding/json/v2 is made), which reads a []byte in place where
// encoding/json's Decoder copied the body into a buffer grown from 512
// bytes, and scans it once: a registration's body took about 260,000
// instructions and 10 KB, now about 55,000 and 2.6 KB (docs/performance.md,
// "A floor under the collector, and the body decoded in place"). Where v2
// is stricter than encoding/json — a member's name matched only by case, a
// duplicate member, invalid UTF-8 — it refuses, and the caller's
// encoding/json path decides as before; types with their own UnmarshalJSON
// (go-webauthn's extension outputs) are decoded by it, as encoding/json does.
func decodeStrict(raw []byte, dst any) bool {
	return jsonv2.Unmarshal(raw, dst, jsonv2.RejectUnknownMembers(true)) == nil
}

// decodeJSONBytes decodes a body DecodeJSON has read and checked.
func decodeJSONBytes(raw []byte, dst any) error {
	if rb, ok := dst.(*rawBody); ok {
		*rb = raw
		return nil
	}
	// A raw value (the passkey finish's, which go-webauthn parses next) needs
	// only to be one valid JSON value: checked once, not decoded and copied.
	// Anything json.Valid refuses goes through the decoder for its message.
	if rm, ok := dst.(*json.RawMessage); ok {
		if v := bytes.TrimSpace(raw); json.Valid(v) {
			*rm = v
			return nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, dst)
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case isTooLarge(err), isTimeout(err):
		return decodeError(err, dst)
	default:
		return apperr.BadRequest("request body must contain a single JSON value, but more follows it")
	}
}

// readBody reads the request body up to the server's limit, into one
// buffer of its announced length when it has one (io.ReadAll would grow
// its buffer from 512 bytes, copying as it goes).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := maxBodyFrom(r.Context())
	body := http.MaxBytesReader(w, r.Body, limit)
	if n := r.ContentLength; n > 0 && n <= limit {
		raw := make([]byte, n)
		if _, err := io.ReadFull(body, raw); err != nil {
			return nil, err
		}
		return raw, nil
	}
	return io.ReadAll(body)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// decodeError translates encoding/json's errors into messages for a person.
func decodeError(err error, dst any) error {
	var (
		mbe *http.MaxBytesError
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		inv *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &mbe):
		return apperr.New(http.StatusRequestEntityTooLarge, "requestTooLarge",
			"request body must not exceed %s", formatBytes(mbe.Limit))
	case isTimeout(err):
		// The server's read_timeout passed before the body was complete.
		return apperr.New(http.StatusRequestTimeout, "requestTimeout",
			"the request body did not arrive in time; send the whole request at once").Wrap(err)
	case errors.Is(err, io.EOF):
		return apperr.BadRequest("request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.BadRequest("request body is not valid JSON: it ends in the middle of a value")
	case errors.As(err, &syn):
		msg := strings.TrimPrefix(syn.Error(), "json: ")
		return apperr.BadRequest("request body is not valid JSON: %s (at byte %d)", msg, syn.Offset)
	case errors.As(err, &typ):
		return typeError(typ)
	case errors.As(err, &inv):
		return apperr.Internal(fmt.Errorf("decode JSON: %w", err))
	}
	// encoding/json has no typed error for unknown fields; its message is stable.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if fields := jsonFields(dst); fields != "" {
			return apperr.BadRequest("unknown field %s; allowed fields: %s", name, fields)
		}
		return apperr.BadRequest("unknown field %s", name)
	}
	return apperr.BadRequest("request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func typeError(e *json.UnmarshalTypeError) error {
	want := jsonKind(e.Type)
	got := e.Value
	if got == "" {
		got = "something else"
	}
	if e.Field == "" {
		return apperr.BadRequest("request body must be %s, not %s", want, withArticle(got))
	}
	return apperr.BadRequest("field %s must be %s, not %s", e.Field, want, withArticle(got))
}

// jsonKind names the JSON shape a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a JSON value"
}

// withArticle turns encoding/json's value description ("string", "number 1.5",
// "array") into a phrase.
func withArticle(v string) string {
	switch {
	case strings.HasPrefix(v, "array"), strings.HasPrefix(v, "object"):
		return "an " + v
	case strings.HasPrefix(v, "bool"):
		return "a boolean"
	}
	return "a " + v
}

// jsonFields lists the JSON names of dst's struct fields, for hints.
func jsonFields(dst any) string {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// formatBytes renders a size limit the way a person would write it.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// quoteShort quotes client input for a message, cut to a readable length.
func quoteShort(s string) string {
	const max = 100
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return strconv.Quote(s)
}
