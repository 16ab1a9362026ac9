package server

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/keymodels"
	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/methodpolicy"
	"github.com/keyward/keyward/internal/passkey"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/signin"
	"github.com/keyward/keyward/internal/storage"
)

const fido2PolicyPath = "/api/v1/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2"

// PasskeyAdminAPI is the administrators' side of passkeys: the FIDO2 method
// policy, key model names, a user's FIDO2 methods and provisioning a key on
// their behalf.
type PasskeyAdminAPI struct {
	Store     storage.Storage
	Directory *directory.Service
	Passkeys  *passkey.Service
	Policies  *methodpolicy.Service
	// SignIn judges whether a deletion leaves the user without a way in.
	SignIn *signin.Service
	// Metadata gives the stored FIDO MDS blob, the first source of model
	// names; optional (nil, or a nil blob, leaves the built-in names).
	Metadata  passkey.Metadata
	Logger    *slog.Logger
	PublicURL *url.URL // nil = links from the request's host
}

// Mount implements Mounter.
func (a *PasskeyAdminAPI) Mount(rt Router) {
	read, write := anyAdminRole, methodAdmins

	rt.Handle("GET "+fido2PolicyPath, read(http.HandlerFunc(a.getPolicy)))
	rt.Handle("PATCH "+fido2PolicyPath, policyAdmins(http.HandlerFunc(a.patchPolicy)))
	rt.Handle("GET "+fido2PolicyPath+"/wellKnownProviders", read(http.HandlerFunc(a.wellKnown)))
	rt.Handle("GET "+fido2PolicyPath+"/models", read(http.HandlerFunc(a.models)))
	rt.Handle("GET "+fido2PolicyPath+"/modelCatalog", read(http.HandlerFunc(a.modelCatalog)))

	rt.Handle("GET /api/v1/users/{id}/authentication/fido2Coverage", read(http.HandlerFunc(a.coverage)))

	methods := "/api/v1/users/{id}/authentication/fido2Methods"
	rt.Handle("GET "+methods, read(http.HandlerFunc(a.listMethods)))
	rt.Handle("GET "+methods+"/creationOptions", write(http.HandlerFunc(a.creationOptions)))
	rt.Handle("POST "+methods, write(http.HandlerFunc(a.provision)))
	rt.Handle("GET "+methods+"/{methodId}", read(http.HandlerFunc(a.getMethod)))
	rt.Handle("PATCH "+methods+"/{methodId}", write(http.HandlerFunc(a.patchMethod)))
	rt.Handle("DELETE "+methods+"/{methodId}", write(http.HandlerFunc(a.deleteMethod)))
}

// --- policy ---

func (a *PasskeyAdminAPI) getPolicy(w http.ResponseWriter, r *http.Request) {
	p, v, err := a.Policies.Fido2Version(r.Context())
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteVersioned(w, v, p)
}

func (a *PasskeyAdminAPI) patchPolicy(w http.ResponseWriter, r *http.Request) {
	var patch json.RawMessage
	if err := DecodeJSON(w, r, &patch); err != nil {
		WriteError(w, r, err)
		return
	}
	force := r.URL.Query().Get("force") == "true"
	p, v, err := a.Policies.UpdateFido2IfVersion(r.Context(), actorFrom(r.Context()), IfMatchVersion(r), patch, force)
	var stale *methodpolicy.StaleError
	if errors.As(err, &stale) {
		WriteStale(w, r, "the passkey (FIDO2) policy", stale.Version, stale.Current)
		return
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteVersioned(w, v, p)
}

func (a *PasskeyAdminAPI) wellKnown(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]any{"value": policy.WellKnownProviders()})
}

// Sources of a model name in the models answer.
const (
	modelSourceMDS       = "mds"       // the stored FIDO Metadata Service blob
	modelSourceWellKnown = "wellKnown" // the names built into Keyward (keymodels, the quick-add list)
)

// keyModel names the key model of one AAGUID; Model and Source are "" when
// neither source knows it.
type keyModel struct {
	AAGUID string `json:"aaGuid"`
	Model  string `json:"model"`
	Source string `json:"source"`
}

// models names the key models of the AAGUIDs given as repeated aaGuid
// parameters, so the admin pages can label an allow or block list. Each
// AAGUID is answered once, normalised, in the order first asked.
func (a *PasskeyAdminAPI) models(w http.ResponseWriter, r *http.Request) {
	ids, err := requestedAAGUIDs(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	blob := a.metadata(r)
	out := make([]keyModel, 0, len(ids))
	for _, id := range ids {
		m := keyModel{AAGUID: id}
		if e, ok := blob.Lookup(id); ok && e.Description != "" {
			m.Model, m.Source = e.Description, modelSourceMDS
		} else if n := policy.ModelName(id); n != "" {
			m.Model, m.Source = n, modelSourceWellKnown
		}
		out = append(out, m)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"value": out})
}

// modelCatalog lists every key model Keyward can name — the stored MDS
// blob's FIDO2 entries and the built-in names — sorted by name, for the
// allow/block list editor's model picker. MDS names win.
func (a *PasskeyAdminAPI) modelCatalog(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]any{"value": catalog(a.metadata(r))})
}

func catalog(blob *mds.Blob) []keyModel {
	names := map[string]keyModel{}
	for _, m := range keymodels.All() {
		names[m.AAGUID] = keyModel{AAGUID: m.AAGUID, Model: m.Name, Source: modelSourceWellKnown}
	}
	for _, pr := range policy.WellKnownProviders() {
		for _, id := range pr.AAGUIDs {
			if _, ok := names[id]; !ok {
				names[id] = keyModel{AAGUID: id, Model: policy.ModelName(id), Source: modelSourceWellKnown}
			}
		}
	}
	if blob != nil {
		for _, id := range blob.AAGUIDs() {
			if e, ok := blob.Lookup(id); ok && e.Description != "" {
				names[id] = keyModel{AAGUID: id, Model: e.Description, Source: modelSourceMDS}
			}
		}
	}
	sorted := make([]keymodels.Model, 0, len(names))
	for id, m := range names {
		sorted = append(sorted, keymodels.Model{AAGUID: id, Name: m.Model})
	}
	keymodels.Sort(sorted)
	out := make([]keyModel, 0, len(sorted))
	for _, m := range sorted {
		out = append(out, names[m.AAGUID])
	}
	return out
}

// requestedAAGUIDs reads the aaGuid parameters. The query is parsed
// strictly: r.URL.Query() would drop what it cannot read and answer for less.
func requestedAAGUIDs(r *http.Request) ([]string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, apperr.BadRequest("the query string cannot be read: %v", err)
	}
	return parseAAGUIDs(q["aaGuid"])
}

// parseAAGUIDs normalises the requested AAGUIDs, dropping repeats, and
// refuses more than policy.MaxAAGUIDs or any malformed one (naming them all).
func parseAAGUIDs(raw []string) ([]string, error) {
	if len(raw) > policy.MaxAAGUIDs {
		return nil, apperr.BadRequest("ask for at most %d aaGuid values at a time, not %d", policy.MaxAAGUIDs, len(raw))
	}
	ids := make([]string, 0, len(raw))
	seen := make(map[string]bool, len(raw))
	var bad []string
	for _, v := range raw {
		id, err := policy.NormalizeAAGUID(v)
		if err != nil {
			bad = append(bad, strconv.Quote(v))
			continue
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	switch {
	case len(bad) == 1:
		return nil, apperr.BadRequest("aaGuid %s is not an AAGUID (expected 32 hexadecimal digits such as ee882879-721c-4913-9775-3dfcce97072a)", bad[0])
	case len(bad) > 1:
		if len(bad) > 10 {
			bad = append(bad[:10], fmt.Sprintf("and %d more", len(bad)-10))
		}
		return nil, apperr.BadRequest("aaGuid values %s are not AAGUIDs (expected 32 hexadecimal digits such as ee882879-721c-4913-9775-3dfcce97072a)", strings.Join(bad, ", "))
	}
	return ids, nil
}

// metadata returns the stored MDS blob, or nil when there is none or it
// cannot be read: names are a convenience, so the built-in list serves then.
func (a *PasskeyAdminAPI) metadata(r *http.Request) *mds.Blob {
	if a.Metadata == nil {
		return nil
	}
	b, err := a.Metadata.Current(r.Context())
	if err != nil {
		a.Logger.WarnContext(r.Context(), "load MDS blob for model names", "err", err)
		return nil
	}
	return b
}

// --- a user's FIDO2 methods (admin) ---

// fido2Method is Graph's fido2AuthenticationMethod with Keyward's additions.
type fido2Method struct {
	ID                      string     `json:"id"`
	DisplayName             string     `json:"displayName"`
	CreatedDateTime         time.Time  `json:"createdDateTime"`
	LastUsedDateTime        *time.Time `json:"lastUsedDateTime"`
	AAGUID                  string     `json:"aaGuid"`
	Model                   string     `json:"model"`
	AttestationCertificates []string   `json:"attestationCertificates"`
	AttestationLevel        string     `json:"attestationLevel"`
	PasskeyType             string     `json:"passkeyType"`
	AttestationFormat       string     `json:"attestationFormat"`
	// AttestationKeyID names a U2F key's model in MDS (it has no AAGUID).
	AttestationKeyID string   `json:"attestationCertificateKeyIdentifier,omitempty"`
	Transports       []string `json:"transports"`
	BackupState      bool     `json:"backupState"`
	CloneWarning     bool     `json:"cloneWarning"`
	// AutomaticallyCreated is Keyward's own: the browser created this
	// passkey without asking, right after a password sign-in (conditional
	// create, an automatic upgrade).
	AutomaticallyCreated bool `json:"automaticallyCreated"`
}

func methodJSON(c storage.Credential) fido2Method {
	kind := "deviceBound"
	if c.BackupEligible {
		kind = "synced"
	}
	certs := c.AttestationCertSubjects
	if certs == nil {
		certs = []string{}
	}
	transports := c.Transports
	if transports == nil {
		transports = []string{}
	}
	return fido2Method{
		ID: c.ID, DisplayName: c.DisplayName, CreatedDateTime: c.CreatedAt, LastUsedDateTime: c.LastUsedAt,
		AAGUID: c.AAGUID, Model: cmp.Or(c.Model, policy.ModelName(c.AAGUID)), AttestationCertificates: certs, AttestationLevel: c.AttestationLevel,
		PasskeyType: kind, AttestationFormat: c.AttestationFormat, AttestationKeyID: c.AttestationKeyID, Transports: transports,
		BackupState: c.BackupState, CloneWarning: c.CloneWarning, AutomaticallyCreated: c.Automatic,
	}
}

func methodsJSON(creds []storage.Credential) map[string]any {
	out := make([]fido2Method, 0, len(creds))
	for _, c := range creds {
		out = append(out, methodJSON(c))
	}
	return map[string]any{"value": out}
}

func (a *PasskeyAdminAPI) user(r *http.Request) (storage.User, error) {
	return a.Directory.GetUser(r.Context(), r.PathValue("id"))
}

// registrant is the user a registration names in the path: a user ID is
// handed on as it is, since the ceremony reads the user itself with the rest
// of what it judges (one query; an unknown ID is a 404 there); a UPN is
// looked up first.
func (a *PasskeyAdminAPI) registrant(r *http.Request) (storage.User, error) {
	if id := directory.CanonicalID(r.PathValue("id")); id != "" {
		return storage.User{ID: id}, nil
	}
	return a.user(r)
}

func (a *PasskeyAdminAPI) listMethods(w http.ResponseWriter, r *http.Request) {
	u, err := a.user(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeMethods(w, r, a.Store, u.ID)
}

// writeMethods answers the user's passkeys as Graph's fido2Methods list.
func writeMethods(w http.ResponseWriter, r *http.Request, store storage.Storage, userID string) {
	creds, err := store.ListUserCredentials(r.Context(), userID)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, methodsJSON(creds))
}

func (a *PasskeyAdminAPI) method(r *http.Request) (storage.Credential, error) {
	u, err := a.user(r)
	if err != nil {
		return storage.Credential{}, err
	}
	c, err := a.Store.GetCredential(r.Context(), r.PathValue("methodId"))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && c.UserID != u.ID) {
		return storage.Credential{}, apperr.NotFound("user %s has no FIDO2 method %q", u.UserPrincipalName, r.PathValue("methodId"))
	}
	return c, err
}

func (a *PasskeyAdminAPI) getMethod(w http.ResponseWriter, r *http.Request) {
	c, err := a.method(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, methodJSON(c))
}

// patchMethod clears a passkey's possible-clone flag: {"cloneWarning": false}
// is the one change an administrator can make to someone's passkey.
func (a *PasskeyAdminAPI) patchMethod(w http.ResponseWriter, r *http.Request) {
	c, err := a.method(r)
	var body struct {
		CloneWarning *bool `json:"cloneWarning"`
	}
	if err == nil {
		err = DecodeJSON(w, r, &body)
	}
	if err == nil && (body.CloneWarning == nil || *body.CloneWarning) {
		err = apperr.BadRequest(`send {"cloneWarning": false} to clear the possible-clone flag; it is the only change an administrator can make to a passkey (a sign-in sets the flag)`)
	}
	if err == nil {
		c, err = a.Passkeys.ClearCloneWarning(r.Context(), actorFrom(r.Context()), c)
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, methodJSON(c))
}

func (a *PasskeyAdminAPI) deleteMethod(w http.ResponseWriter, r *http.Request) {
	c, err := a.method(r)
	if err == nil {
		actor := actorFrom(r.Context())
		err = a.Passkeys.DeleteCredential(r.Context(), actor, c, a.SignIn.RemovalCheck(r.Context(), actor, c.ID, "", confirmed(r)))
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// confirmed reads ?confirm=true: the administrator saw the warning that the
// method is the user's last one and removes it anyway.
func confirmed(r *http.Request) bool {
	return r.URL.Query().Get("confirm") == "true"
}

func (a *PasskeyAdminAPI) creationOptions(w http.ResponseWriter, r *http.Request) {
	u, err := a.registrant(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	minutes := 5
	if v := r.URL.Query().Get("challengeTimeoutInMinutes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 43200 {
			WriteError(w, r, apperr.BadRequest("challengeTimeoutInMinutes must be a whole number from 5 to 43200, not %q", v))
			return
		}
		minutes = n
	}
	c, err := a.Passkeys.BeginRegistration(r.Context(), passkey.Registration{
		User: u, ByAdmin: true, Actor: actorFrom(r.Context()), TTL: time.Duration(minutes) * time.Minute,
	})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{
		"challengeTimeoutDateTime": c.ExpiresAt,
		"publicKey":                c.Options.Response,
	})
}

// registrationBody is what a browser posts after navigator.credentials.create.
type registrationBody struct {
	DisplayName         string          `json:"displayName"`
	PublicKeyCredential json.RawMessage `json:"publicKeyCredential"`
}

// decodedRegistrationBody is registrationBody with the credential decoded
// with the body.
type decodedRegistrationBody struct {
	DisplayName         string                    `json:"displayName"`
	PublicKeyCredential *passkey.CreationResponse `json:"publicKeyCredential"`
}

func (b registrationBody) validate() error {
	if len(b.PublicKeyCredential) == 0 || string(b.PublicKeyCredential) == "null" {
		return apperr.BadRequest("publicKeyCredential is required: send the credential's JSON as PublicKeyCredential.toJSON() gives it")
	}
	return nil
}

func (a *PasskeyAdminAPI) provision(w http.ResponseWriter, r *http.Request) {
	u, err := a.registrant(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	raw, err := readJSON(w, r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	reg := passkey.Registration{User: u, ByAdmin: true, Actor: actorFrom(r.Context())}
	var c storage.Credential
	// A body of exactly the expected shape is decoded once, the credential
	// with it; anything else (an unknown field anywhere, a wrong type) is
	// read as before: the body, then the credential by go-webauthn, with
	// their messages, and fields the credential's JSON may grow are
	// ignored there as go-webauthn ignores them.
	var decoded decodedRegistrationBody
	if decodeStrict(raw, &decoded) && decoded.PublicKeyCredential != nil {
		c, err = a.Passkeys.FinishDecodedRegistration(r.Context(), reg, decoded.DisplayName, decoded.PublicKeyCredential)
	} else {
		var body registrationBody
		if err = decodeJSONBytes(raw, &body); err == nil {
			err = body.validate()
		}
		if err == nil {
			c, err = a.Passkeys.FinishRegistration(r.Context(), reg, body.DisplayName, body.PublicKeyCredential)
		}
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", BaseURL(a.PublicURL, r)+"/api/v1/users/"+u.ID+"/authentication/fido2Methods/"+c.ID)
	WriteJSON(w, http.StatusCreated, methodJSON(c))
}
