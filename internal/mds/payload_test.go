package mds

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/go-webauthn/webauthn/metadata"

	"github.com/keyward/keyward/internal/mds/mdstest"
)

// signText signs a payload given as JSON text with a correct signature.
func signText(t testing.TB, p *mdstest.PKI, payloadJSON string) []byte {
	t.Helper()
	raw, err := p.SignPayloadText(base64.RawURLEncoding.EncodeToString([]byte(payloadJSON)))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A blob whose signature verifies but whose payload is not an MDS3 payload
// is refused, saying what is wrong with it.
func TestParseRefusesSignedPayloadsThatAreNotMDS3(t *testing.T) {
	pki := newPKI(t)
	const tail = `"legalHeader":"x","nextUpdate":"2030-01-01"`
	tests := []struct {
		name, payload, want string
		text                string // the payload segment as is, instead of payload encoded
	}{
		{name: "not_base64url", text: "e30!!!!", want: "the MDS blob's payload is not base64url"},
		{name: "not_json", payload: "hello", want: "the MDS blob's payload is not valid JSON"},
		{name: "a_list", payload: "[]", want: "the MDS blob's payload is not a JSON object"},
		{name: "cut_short", payload: `{"no":1,"entries":[{"aaguid":"` + aaguidYubi, want: "ends before its JSON object does"},
		{name: "number_twice", payload: `{"no":1,"no":2,` + tail + `,"entries":[]}`, want: `names "no" more than once`},
		{name: "entries_twice_in_another_case", payload: `{"no":1,` + tail + `,"entries":[],"Entries":[]}`, want: `names "Entries" more than once`},
		{name: "more_after_the_object", payload: `{"no":1,` + tail + `,"entries":[]} {}`, want: "has more after its JSON object"},
		{name: "entries_not_a_list", payload: `{"no":1,` + tail + `,"entries":{}}`, want: "entries are not a JSON list"},
		{name: "number_a_string", payload: `{"no":"7",` + tail + `,"entries":[]}`, want: `payload field "no" has the wrong type`},
		{name: "next_update_not_a_date", payload: `{"no":1,"nextUpdate":"soon","entries":[]}`, want: "next update value 'soon'"},
		{name: "no_next_update", payload: `{"no":1,"entries":[]}`, want: "next update value ''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.text
			if text == "" {
				text = base64.RawURLEncoding.EncodeToString([]byte(tt.payload))
			}
			raw, err := pki.SignPayloadText(text)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(raw, Options{Roots: []string{pki.RootPEM()}, SkipRevocationCheck: true})
			if err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// The payload is read only once its signature verifies: a tampered payload
// that is not even JSON is refused for its signature.
func TestParseChecksTheSignatureBeforeReadingThePayload(t *testing.T) {
	pki := newPKI(t)
	good := sign(t, pki, simplePayload(7, newCA(t, "CA")))
	bad := tamper(good, 1, func(string) string { return base64.RawURLEncoding.EncodeToString([]byte("not json")) })
	_, err := Parse(bad, Options{Roots: []string{pki.RootPEM()}})
	if err == nil || !strings.Contains(err.Error(), "signature does not verify") {
		t.Errorf("got %v", err)
	}
}

func TestParseRefusesUnexpectedSigningAlgorithms(t *testing.T) {
	pki := newPKI(t)
	good := sign(t, pki, simplePayload(7, newCA(t, "CA")))
	for _, alg := range []string{"none", "HS256", "EdDSA", ""} {
		t.Run(alg, func(t *testing.T) {
			raw := tamper(good, 0, func(s string) string {
				return reencode(s, func(h string) string { return strings.Replace(h, `"alg":"ES256"`, `"alg":"`+alg+`"`, 1) })
			})
			_, err := Parse(raw, Options{Roots: []string{pki.RootPEM()}})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("names the signing algorithm %q", alg)) {
				t.Errorf("got %v", err)
			}
		})
	}
}

// An entry whose JSON does not have MDS3's shape is skipped with a warning,
// as an entry go-webauthn cannot convert is; the others are kept.
func TestParseSkipsEntriesOfTheWrongShape(t *testing.T) {
	pki := newPKI(t)
	good, err := mdstest.PayloadJSON(simplePayload(5, newCA(t, "CA")))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(good), `"entries":[`,
		`"entries":[{"aaguid":"`+aaguidOther+`","metadataStatement":{"authenticatorVersion":"two"}},7,`, 1)
	b, err := Parse(signText(t, pki, text), Options{Roots: []string{pki.RootPEM()}, SkipRevocationCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if b.Entries != 2 || len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], "2 entries could not be read") ||
		!strings.Contains(b.Warnings[0], "entry 0 is not an MDS3 entry") || !strings.Contains(b.Warnings[0], "entry 1 is not an MDS3 entry") {
		t.Errorf("entries %d, warnings %q", b.Entries, b.Warnings)
	}
	if _, ok := b.Lookup(aaguidOther); ok {
		t.Error("the entry of the wrong shape was kept")
	}
	if _, ok := b.Lookup(aaguidYubi); !ok {
		t.Error("a good entry was lost")
	}
}

// Pictures are not read: an entry whose icon is not a URL is kept (it was
// dropped when go-webauthn parsed the icon), and the fields around the
// pictures are read as before.
func TestParseSkipsPictures(t *testing.T) {
	pki := newPKI(t)
	p := simplePayload(5, newCA(t, "CA"))
	p.Entries[0].Icon = "not a URL"
	b, err := Parse(sign(t, pki, p), Options{Roots: []string{pki.RootPEM()}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Warnings) != 0 || b.Entries != 2 {
		t.Errorf("entries %d, warnings %q", b.Entries, b.Warnings)
	}
	e, ok := b.Lookup(aaguidYubi)
	if !ok || e.Description != "YubiKey 5 NFC" || len(e.AttestationRoots) != 1 {
		t.Errorf("entry %+v, %v", e, ok)
	}
}

// Fields may come in any order, entries before or after the number.
func TestParseReadsFieldsInAnyOrder(t *testing.T) {
	pki := newPKI(t)
	ca := newCA(t, "CA")
	good, err := mdstest.PayloadJSON(simplePayload(5, ca))
	if err != nil {
		t.Fatal(err)
	}
	var body metadata.PayloadJSON
	if err := json.Unmarshal(good, &body); err != nil {
		t.Fatal(err)
	}
	entries, _ := json.Marshal(body.Entries)
	text := fmt.Sprintf(`{"nextUpdate":%q,"extra":{"a":[1,2]},"no":9,"entries":%s,"legalHeader":"L"}`, body.NextUpdate, entries)
	b, err := Parse(signText(t, pki, text), Options{Roots: []string{pki.RootPEM()}, SkipRevocationCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if b.Number != 9 || b.LegalHeader != "L" || b.Entries != 2 || b.NextUpdate.Format("2006-01-02") != body.NextUpdate {
		t.Errorf("blob %+v", b)
	}
}

// An import of a signed blob whose payload does not read is refused and
// leaves the stored blob as it was.
func TestServiceImportRefusesAnUnreadablePayload(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.service()
	if _, err := s.Import(ctx, f.blob(t, 3), "good.jwt"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Import(ctx, signText(t, f.pki, `{"no":4,"nextUpdate":"2030-01-01","entries":[{]}`), "bad.jwt")
	if status, _ := appCode(err); status != 400 || !strings.Contains(err.Error(), "bad.jwt was refused") ||
		!strings.Contains(err.Error(), "payload is not valid JSON") {
		t.Errorf("got %v", err)
	}
	if n, err := f.store.MDSBlobNumber(ctx); n != 3 || err != nil {
		t.Errorf("stored number %d, %v", n, err)
	}
	if cur, err := s.Current(ctx); err != nil || cur.Number != 3 {
		t.Errorf("current %+v, %v", cur, err)
	}
}

// FuzzReadPayload holds the stream reader to encoding/json's reading of the
// whole payload into go-webauthn's PayloadJSON: whatever the text, no
// panic; when encoding/json reads it, the stream reads the same fields and
// the same entries (pictures aside), unless a field is named twice, which
// the stream refuses (and a payload of null, which encoding/json reads as
// nothing); when encoding/json finds it is not JSON, the stream
// refuses it too.
func FuzzReadPayload(f *testing.F) {
	ca, err := mdstest.NewAttestationCA("Fuzz CA")
	if err != nil {
		f.Fatal(err)
	}
	good, err := mdstest.PayloadJSON(simplePayload(3, ca))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"no":1,"nextUpdate":"2030-01-01","legalHeader":"x","entries":[{"aaguid":"` + aaguidYubi + `","metadataStatement":{"icon":"data:,x","description":"d"}}]}`))
	f.Add([]byte(`{"entries":null,"No":2}`))
	f.Add([]byte(`{"entries":[null,{},[]],"x":{"y":[1,"2",{}]}}`))
	f.Add([]byte(`{"no":1,"no":2}`))
	f.Add([]byte(`{"entries":[{"statusReports":[{"status":5}]}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"no":1} x`))
	// Where the tokenizer's skipping of pictures and go-json-experiment's
	// decoding of entries could part from encoding/json: names in other
	// cases or with separators, a lone surrogate, pictures of another
	// type, a fraction for an integer.
	f.Add([]byte(`{"entries":[{"METADATASTATEMENT":{"ICON":"x","Description":"d","iconDARK":"y"},"meta_dataStatement":{"icon":"x"},"aaGUID":"` + aaguidYubi + `"}]}`))
	f.Add([]byte(`{"entries":[{"metadataStatement":{"providerLogoLight":null,"provider_logo_dark":"x","description":"\ud800"}}]}`))
	f.Add([]byte(`{"entries":[{"metadataStatement":{"icon":{"a":[1]},"upv":[{"major":1.0}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []metadata.EntryJSON
		var entryErrs int
		head, err := readPayload(bytes.NewReader(data), func(i int, e *metadata.EntryJSON, decodeErr error) error {
			if i != len(got)+entryErrs {
				t.Fatalf("entry index %d after %d entries", i, len(got)+entryErrs)
			}
			if decodeErr != nil {
				entryErrs++
				return nil
			}
			got = append(got, *e)
			return nil
		})
		var want metadata.PayloadJSON
		wantErr := json.Unmarshal(data, &want)
		if _, ok := errors.AsType[*json.SyntaxError](wantErr); ok && err == nil {
			t.Fatalf("encoding/json finds %q not JSON (%v); the stream read it", data, wantErr)
		}
		if wantErr != nil || err != nil {
			if wantErr == nil && !strings.Contains(err.Error(), "more than once") && string(bytes.TrimSpace(data)) != "null" {
				t.Fatalf("encoding/json reads %q; the stream refused it: %v", data, err)
			}
			return
		}
		if entryErrs != 0 {
			t.Fatalf("encoding/json reads every entry of %q; the stream found %d of the wrong shape", data, entryErrs)
		}
		if head.Number != want.Number || head.NextUpdate != want.NextUpdate || head.LegalHeader != want.LegalHeader {
			t.Fatalf("head %+v, encoding/json read %+v", head, want)
		}
		if len(got) != len(want.Entries) {
			t.Fatalf("%d entries, encoding/json read %d", len(got), len(want.Entries))
		}
		for i := range got {
			w := want.Entries[i]
			st := &w.MetadataStatement
			st.Icon, st.IconDark, st.ProviderLogoLight, st.ProviderLogoDark = "", "", "", ""
			if !reflect.DeepEqual(got[i], w) {
				t.Fatalf("entry %d: %+v, encoding/json read %+v", i, got[i], w)
			}
		}
	})
}

// The payload's base64url is decoded in blocks straight into the reader's
// buffer: the same bytes as decoding it whole, at any read size, and a
// character that is not base64url is refused at the same offset.
func TestPayloadReaderDecodesAsBase64Does(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4, 5, 100, 511, 512, 513, 70_000} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*131 + n)
		}
		text := base64.RawURLEncoding.EncodeToString(data)
		if err := iotest.TestReader(jws{payload: text}.payloadReader(), data); err != nil {
			t.Errorf("%d bytes: %v", n, err)
		}
		for _, bad := range []int{0, len(text) / 2, len(text) - 1} {
			if len(text) < 2 {
				continue
			}
			broken := text[:bad] + "!" + text[bad+1:]
			_, want := base64.RawURLEncoding.DecodeString(broken)
			_, err := io.ReadAll(jws{payload: broken}.payloadReader())
			if err == nil || !strings.Contains(err.Error(), "the MDS blob's payload is not base64url: "+want.Error()) {
				t.Errorf("%d bytes, '!' at %d: %v, want %v", n, bad, err, want)
			}
		}
	}
	// A payload with line breaks in its text is read as base64.NewDecoder reads it.
	text := base64.RawURLEncoding.EncodeToString([]byte(`{"no":1,"entries":[]}`))
	if got, err := io.ReadAll(jws{payload: text[:5] + "\r\n" + text[5:]}.payloadReader()); err != nil || string(got) != `{"no":1,"entries":[]}` {
		t.Errorf("with a line break: %q, %v", got, err)
	}
}
