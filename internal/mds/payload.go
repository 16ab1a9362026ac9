package mds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
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
//
// The text is taken apart by go-json-experiment's jsontext (the tokenizer of
// encoding/json/v2), set to accept what encoding/json accepts (invalid UTF-8,
// names given twice): it finds where each value ends, and skips the
// pictures, faster than encoding/json's scanner, which looks at every byte
// through a state function (half of a production blob's parse was that
// scanner reading the pictures it then threw away; issue 11). The head's
// fields are decoded by encoding/json; each entry, from its own text with the
// pictures left out, by go-json-experiment's v1 package: encoding/json's API
// and behaviour on top of the v2 decoder, which reads the text once where
// encoding/json scans it twice (checkValid, then the decode).
// FuzzReadPayload holds the result to encoding/json's.
func readPayload(r io.Reader, entry func(i int, e *metadata.EntryJSON, decodeErr error) error) (payloadHead, error) {
	var head payloadHead
	dec := jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if err := expectKind(dec, '{', "the MDS blob's payload is not a JSON object"); err != nil {
		return head, err
	}
	seen := map[string]bool{}
	var nameBuf []byte
	for {
		if k := dec.PeekKind(); k == '}' {
			break
		} else if k == 0 {
			_, err := dec.ReadToken()
			return head, payloadError(err)
		}
		raw, err := dec.ReadValue()
		if err != nil {
			return head, payloadError(err)
		}
		nameBuf = unquoteName(nameBuf[:0], raw)
		key := string(nameBuf)
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
			err = payloadError(dec.SkipValue())
		}
		if err != nil {
			return head, err
		}
	}
	if _, err := dec.ReadToken(); err != nil { // the object's '}'
		return head, payloadError(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			return head, errors.New("the MDS blob's payload has more after its JSON object")
		}
		return head, payloadError(err)
	}
	return head, nil
}

// unquoteName appends the text of the JSON string raw to dst. A name that
// encoding/json would read with a replacement character (invalid UTF-8, a
// lone surrogate escape) gets one too, or is cut short: either way it is no
// name Keyward looks for, as for encoding/json.
func unquoteName(dst []byte, raw []byte) []byte {
	if len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return append(dst, raw[1:len(raw)-1]...)
	}
	out, _ := jsontext.AppendUnquote(dst, raw)
	return out
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

func readEntries(dec *jsontext.Decoder, entry func(i int, e *metadata.EntryJSON, decodeErr error) error) error {
	switch dec.PeekKind() {
	case 'n': // "entries": null, as encoding/json reads it: no entries
		return payloadError(dec.SkipValue())
	case '[':
	case 0:
		_, err := dec.ReadToken()
		return payloadError(err)
	default:
		return errors.New("the MDS blob's entries are not a JSON list")
	}
	if _, err := dec.ReadToken(); err != nil {
		return payloadError(err)
	}
	var text, name []byte
	for i := 0; ; i++ {
		if k := dec.PeekKind(); k == ']' {
			break
		} else if k == 0 {
			_, err := dec.ReadToken()
			return payloadError(err)
		}
		var err error
		if text, name, err = appendEntryText(text[:0], name, dec); err != nil {
			return payloadError(err)
		}
		var e payloadEntry
		err = jsonv1.Unmarshal(text, &e)
		if _, ok := errors.AsType[*jsonv1.UnmarshalTypeError](err); err != nil && !ok {
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
	_, err := dec.ReadToken() // the list's ']'
	return payloadError(err)
}

// pictureFields are the members of a metadata statement that payloadEntry
// skips (payloadStatement).
var pictureFields = [][]byte{[]byte("icon"), []byte("iconDark"), []byte("providerLogoLight"), []byte("providerLogoDark")}

// statementField is the name of an entry's metadata statement.
var statementField = []byte("metadataStatement")

// appendEntryText appends the JSON text of the next value, an entry, to dst
// as it stands, except that the pictures of its metadata statement are left
// out unread: the members of an object named metadataStatement (in any case,
// as encoding/json matches it) whose names are those of pictureFields. name
// is a buffer for member names, returned for reuse.
func appendEntryText(dst, name []byte, dec *jsontext.Decoder) ([]byte, []byte, error) {
	if dec.PeekKind() != '{' {
		v, err := dec.ReadValue()
		return append(dst, v...), name, err
	}
	if _, err := dec.ReadToken(); err != nil {
		return dst, name, err
	}
	dst = append(dst, '{')
	for n := 0; ; n++ {
		if k := dec.PeekKind(); k == '}' {
			_, err := dec.ReadToken()
			return append(dst, '}'), name, err
		}
		raw, err := dec.ReadValue()
		if err != nil {
			return dst, name, err
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(append(dst, raw...), ':')
		name = unquoteName(name[:0], raw)
		if bytes.EqualFold(name, statementField) && dec.PeekKind() == '{' {
			dst, name, err = appendStatementText(dst, name, dec)
		} else {
			var v jsontext.Value
			v, err = dec.ReadValue()
			dst = append(dst, v...)
		}
		if err != nil {
			return dst, name, err
		}
	}
}

// appendStatementText appends a metadata statement's object without its
// pictures (appendEntryText).
func appendStatementText(dst, name []byte, dec *jsontext.Decoder) ([]byte, []byte, error) {
	if _, err := dec.ReadToken(); err != nil {
		return dst, name, err
	}
	dst = append(dst, '{')
	kept := 0
	for {
		if k := dec.PeekKind(); k == '}' {
			_, err := dec.ReadToken()
			return append(dst, '}'), name, err
		}
		raw, err := dec.ReadValue()
		if err != nil {
			return dst, name, err
		}
		name = unquoteName(name[:0], raw)
		if slices.ContainsFunc(pictureFields, func(f []byte) bool { return bytes.EqualFold(name, f) }) {
			if err := dec.SkipValue(); err != nil {
				return dst, name, err
			}
			continue
		}
		if kept > 0 {
			dst = append(dst, ',')
		}
		kept++
		dst = append(append(dst, raw...), ':')
		v, err := dec.ReadValue()
		if err != nil {
			return dst, name, err
		}
		dst = append(dst, v...)
	}
}

func decodeField(dec *jsontext.Decoder, v any, key string) error {
	raw, err := dec.ReadValue()
	if err != nil {
		return payloadError(err)
	}
	err = json.Unmarshal(raw, v)
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Errorf("the MDS blob's payload field %q has the wrong type: %w", key, err)
	}
	return payloadError(err)
}

func expectKind(dec *jsontext.Decoder, want jsontext.Kind, msg string) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return payloadError(err)
	}
	if tok.Kind() != want {
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
