package oidc

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/keyward/keyward/internal/storage"
)

// A code exchange decodes only part of the stored request (codeRequest):
// every getter the token endpoint calls must answer as with the full decode.
func TestDecodeCodeRequestAnswersAsTheFullRequest(t *testing.T) {
	maxAge := uint(300)
	for _, req := range []oidc.AuthRequest{
		{Scopes: oidc.SpaceDelimitedArray{"openid", "profile", "offline_access"}, ResponseType: oidc.ResponseTypeCode,
			ClientID: "c1", RedirectURI: "https://app.example/cb", State: "st", Nonce: "n-1",
			ResponseMode: oidc.ResponseModeQuery, Prompt: oidc.SpaceDelimitedArray{"login"}, MaxAge: &maxAge,
			UILocales: oidc.ParseLocales([]string{"de-CH", "en"}), LoginHint: "a@b.example",
			ACRValues:     oidc.SpaceDelimitedArray{"phr"},
			CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: oidc.CodeChallengeMethodS256},
		{Scopes: oidc.SpaceDelimitedArray{"openid"}, ResponseType: oidc.ResponseTypeCode, ClientID: "c2",
			RedirectURI: "http://127.0.0.1:8080/cb"},
		{ClientID: "c3"},
	} {
		raw, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		rec := storage.AuthRequest{ID: "r", ClientID: req.ClientID, Request: raw, UserID: "u"}
		full, err := decodeAuthRequest(rec)
		if err != nil {
			t.Fatal(err)
		}
		part, err := decodeCodeRequest(rec)
		if err != nil {
			t.Fatal(err)
		}
		for name, get := range map[string]func(*authRequest) any{
			"scopes":         func(a *authRequest) any { return a.GetScopes() },
			"response type":  func(a *authRequest) any { return a.GetResponseType() },
			"response mode":  func(a *authRequest) any { return a.GetResponseMode() },
			"client ID":      func(a *authRequest) any { return a.GetClientID() },
			"redirect URI":   func(a *authRequest) any { return a.GetRedirectURI() },
			"state":          func(a *authRequest) any { return a.GetState() },
			"nonce":          func(a *authRequest) any { return a.GetNonce() },
			"code challenge": func(a *authRequest) any { return a.GetCodeChallenge() },
			"request client": func(a *authRequest) any { return a.req.ClientID },
		} {
			if f, p := get(full), get(part); !reflect.DeepEqual(f, p) {
				t.Errorf("%s of %s: %#v from the code exchange's decode, %#v from the full one", name, raw, p, f)
			}
		}
	}
	if _, err := decodeCodeRequest(storage.AuthRequest{ID: "r", Request: []byte(`{"scope":`)}); err == nil {
		t.Error("a truncated stored request decoded without an error")
	}
}
