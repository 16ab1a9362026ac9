package mds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/go-webauthn/webauthn/metadata"
)

// The payload of a verified blob is read as a stream: its base64url text is
// decoded as it is read and the JSON object is taken apart token by token, so
// that each entry is decoded on its own into go-webauthn's EntryJSON,
// converted with go-webauthn's EntryJSON.Parse and kept as Keyward's Entry
// before the next is read. Nothing holds the whole decoded payload, as
// golang-jwt's claims decoding (the whole payload decoded, then unmarshalled
// at once) and go-webauthn's Decoder.DecodeBytes (the same into a map, then
// copied into PayloadJSON by mapstructure) did: a 5 MB blob's parse made
// 31 MB and 68 MB of garbage that way, which the garbage collector took back
// partly on the time of concurrent sign-ins.

// payloadEntry is go-webauthn's EntryJSON read without the pictures its
// metadata statement carries (icon, iconDark, providerLogoLight,
// providerLogoDark: data: URLs, most of a production blob's size). Keyward
// shows no pictures, so they are skipped in the JSON text instead of being
// copied out for each entry and parsed as URLs; an entry whose picture is not
// a URL is therefore no longer dropped for it.
type payloadEntry struct {
	metadata.EntryJSON
	MetadataStatement payloadStatement `json:"metadataStatement"`
}

type payloadStatement struct {
	metadata.StatementJSON
	Icon              skipped `json:"icon"`
	IconDark          skipped `json:"iconDark"`
	ProviderLogoLight skipped `json:"providerLogoLight"`
	ProviderLogoDark  skipped `json:"providerLogoDark"`
}

// skipped takes any JSON value and keeps nothing of it. (encoding/json has
// checked the value's syntax before it calls UnmarshalJSON.)
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }

// payloadHead is the payload apart from its entries.
type payloadHead struct {
	LegalHeader string
	Number      int
	NextUpdate  string
}

// yieldEvery is how many entries readPayload reads between two
// runtime.Gosched calls, so that on a machine with few cores the goroutines
// of sign-ins waiting to run get a turn during a refresh (the preemption
// that would otherwise stop the parse comes only after 10 ms).
const yieldEvery = 8

// readPayload reads an MDS3 payload (the JSON object, not base64) from r and
// calls entry for each element of its entries list, in order, with the
// entry's index. An element that is valid JSON but does not have MDS3's
// shape (a number where a string belongs, …) is passed as a non-nil decode
// error instead of an entry, and reading goes on. Any other problem — text
// that is not JSON, a payload that is not one object, a field named twice,
// anything after the object — stops the read with an error, as does an error
// entry returns.
func readPayload(r io.Reader, entry func(i int, e *metadata.EntryJSON, decodeErr error) error) (payloadHead, error) {
	var head payloadHead
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{', "the MDS blob's payload is not a JSON object"); err != nil {
		return head, err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return head, payloadError(err)
		}
		key, _ := tok.(string) // an object's keys are strings
		name := payloadField(key)
		if name != "" && seen[name] {
			return head, fmt.Errorf("the MDS blob's payload names %q more than once", key)
		}
		seen[name] = true
		switch name {
		case "legalHeader":
			err = decodeField(dec, &head.LegalHeader, key)
		case "no":
			err = decodeField(dec, &head.Number, key)
		case "nextUpdate":
			err = decodeField(dec, &head.NextUpdate, key)
		case "entries":
			err = readEntries(dec, entry)
		default:
			err = decodeField(dec, &skipped{}, key)
		}
		if err != nil {
			return head, err
		}
	}
	if err := expectDelim(dec, '}', "the MDS blob's payload is not a JSON object"); err != nil {
		return head, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return head, errors.New("the MDS blob's payload has more after its JSON object")
		}
		return head, payloadError(err)
	}
	return head, nil
}

// payloadField names the payload field key stands for, matched without
// regard to case as encoding/json matches go-webauthn's PayloadJSON; "" for
// a field MDS3 does not define.
func payloadField(key string) string {
	for _, f := range []string{"legalHeader", "no", "nextUpdate", "entries"} {
		if strings.EqualFold(key, f) {
			return f
		}
	}
	return ""
}

func readEntries(dec *json.Decoder, entry func(i int, e *metadata.EntryJSON, decodeErr error) error) error {
	if tok, err := dec.Token(); err != nil {
		return payloadError(err)
	} else if tok == nil {
		return nil // "entries": null, as encoding/json reads it: no entries
	} else if d, ok := tok.(json.Delim); !ok || d != '[' {
		return errors.New("the MDS blob's entries are not a JSON list")
	}
	for i := 0; dec.More(); i++ {
		var e payloadEntry
		err := dec.Decode(&e)
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); err != nil && !ok {
			return payloadError(err)
		}
		e.EntryJSON.MetadataStatement = e.MetadataStatement.StatementJSON
		if err != nil {
			err = fmt.Errorf("entry %d is not an MDS3 entry: %w", i, err)
		}
		if err := entry(i, &e.EntryJSON, err); err != nil {
			return err
		}
		if i%yieldEvery == yieldEvery-1 {
			runtime.Gosched()
		}
	}
	return expectDelim(dec, ']', "the MDS blob's entries are not a JSON list")
}

func decodeField(dec *json.Decoder, v any, key string) error {
	err := dec.Decode(v)
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Errorf("the MDS blob's payload field %q has the wrong type: %w", key, err)
	}
	return payloadError(err)
}

func expectDelim(dec *json.Decoder, want json.Delim, msg string) error {
	tok, err := dec.Token()
	if err != nil {
		return payloadError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return errors.New(msg)
	}
	return nil
}

// payloadError says that the payload could not be read, and why.
func payloadError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the MDS blob's payload ends before its JSON object does")
	}
	return fmt.Errorf("the MDS blob's payload is not valid JSON: %w", err)
}
