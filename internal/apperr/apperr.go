// Package apperr is the one error type that crosses from the domain to the
// edges. It carries an HTTP status, a stable machine code and a message that is
// safe to show a person; the wrapped cause is for logs only. The HTTP server
// renders it as {"error":{"code":…,"message":…}}, the CLI prints the message.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a user-facing error.
type Error struct {
	Status  int    // HTTP status
	Code    string // stable, machine-readable: "invalidRequest", "notFound", ...
	Message string // safe to show; names the problem and, where possible, the fix
	Err     error  // internal cause; logged, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Wrap returns a copy of e that carries cause for the logs.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// New builds an error; format follows fmt.Sprintf.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common constructors. Codes follow Microsoft Graph's camelCase style.
func BadRequest(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "invalidRequest", format, args...)
}
func NotFound(format string, args ...any) *Error {
	return New(http.StatusNotFound, "notFound", format, args...)
}
func Conflict(format string, args ...any) *Error {
	return New(http.StatusConflict, "conflict", format, args...)
}
func Forbidden(format string, args ...any) *Error {
	return New(http.StatusForbidden, "forbidden", format, args...)
}
func Unauthorized(format string, args ...any) *Error {
	return New(http.StatusUnauthorized, "unauthenticated", format, args...)
}

// Internal hides cause behind a generic message.
func Internal(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: "internalError",
		Message: "an internal error occurred; the details are in the server log", Err: cause}
}

// As returns err as an *Error, or an internal error wrapping it.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}
