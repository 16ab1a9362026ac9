package server

import (
	"encoding/json"
	"net/http"

	"github.com/keyward/keyward/internal/passkey"
)

// keyRefusedBody is the error body of a passkey sign-in whose key model the
// organisation no longer accepts: the usual error, and the account's other
// ways in, so the sign-in page can offer them right there.
type keyRefusedBody struct {
	Error struct {
		Code          string `json:"code"`
		Message       string `json:"message"`
		SignInInstead struct {
			Username string   `json:"username"`
			Methods  []string `json:"methods"` // "password", "passkey"; empty: ask for a Temporary Access Pass
		} `json:"signInInstead"`
	} `json:"error"`
}

func writeKeyRefused(w http.ResponseWriter, r *http.Request, kr *passkey.KeyRefused) {
	if info := infoFrom(r.Context()); info != nil {
		info.errCode, info.errMessage = kr.Err.Code, kr.Err.Message
	}
	var body keyRefusedBody
	body.Error.Code, body.Error.Message = kr.Err.Code, kr.Err.Message
	body.Error.SignInInstead.Username = kr.Username
	body.Error.SignInInstead.Methods = append([]string{}, kr.Instead...)
	b, err := json.Marshal(body)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(kr.Err.Status)
	_, _ = w.Write(append(b, '\n'))
}
