package softkey

import "errors"

// The errors a browser's navigator.credentials.create()/get() would reject
// with, as sentinels for errors.Is. Returned errors wrap one of them and say
// what went wrong.
var (
	// ErrNotAllowed: no usable credential, or the authenticator cannot serve
	// the request (DOMException NotAllowedError).
	ErrNotAllowed = errors.New("NotAllowedError")
	// ErrInvalidState: excludeCredentials names a credential this
	// authenticator holds (DOMException InvalidStateError).
	ErrInvalidState = errors.New("InvalidStateError")
	// ErrNotSupported: no pubKeyCredParams entry this authenticator can use
	// (DOMException NotSupportedError).
	ErrNotSupported = errors.New("NotSupportedError")
	// ErrSecurity: the RP ID is not the origin's host or a parent domain of
	// it, or the origin is not secure (DOMException SecurityError).
	ErrSecurity = errors.New("SecurityError")
	// ErrType: the options are not valid JSON of the right shape (TypeError).
	ErrType = errors.New("TypeError")
	// ErrUnknownCredential: a knob named a credential this authenticator
	// does not hold.
	ErrUnknownCredential = errors.New("softkey: unknown credential")
)
