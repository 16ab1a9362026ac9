package passkey

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// MaxDisplayNameLength bounds a passkey's display name.
const MaxDisplayNameLength = 200

// Registration describes who registers a key for whom.
type Registration struct {
	// User is the person the key is for. Only its ID is read: the ceremony
	// reads the user afresh with everything else it judges, in one query
	// (storage.GetRegistrant), and an unknown ID is a 404.
	User    storage.User
	ByAdmin bool        // provisioning on behalf: self-service setting does not apply
	Actor   authz.Actor // who registers: the user (self-service) or an administrator
	// Hints are WebAuthn hints from the page: security-key, client-device, hybrid.
	Hints []string
	// TTL overrides the challenge lifetime (provisioning allows long ones).
	TTL time.Duration
	// Session is the owner's session in self-service: adding a passkey to
	// one's own account needs a recent multi-factor sign-in
	// (authz.RecentMFA), at the start of the ceremony and at its end.
	Session storage.Session
	// Automatic asks for an automatic upgrade: right after a password
	// sign-in, a passkey the browser may create without asking (WebAuthn
	// Level 3 conditional create, where user presence may be absent).
	// Self-service only; policy.Fido2.CheckAutomaticUpgrade decides.
	Automatic bool
	// Models, when not empty, are the only key models (AAGUIDs) the person
	// wants now — a conditional access strength restricted to them sent
	// them here — and DeviceBound asks for a key that stays on one device:
	// a key that is neither is refused before it is stored, as it would
	// not give the sign-in they came for.
	Models      []string
	DeviceBound bool
}

// Creation is what a registration ceremony starts with.
type Creation struct {
	Options   *protocol.CredentialCreation
	ExpiresAt time.Time
}

func (r Registration) kind() string {
	if r.ByAdmin {
		return storage.ChallengeProvisioning
	}
	return storage.ChallengeRegistration
}

// permitted decides whether the actor may register this key at now: an
// administrator provisioning on behalf passes authz.MayChangeMethods;
// self-service registration is for the signed-in user's own account only,
// from a session with a recent multi-factor sign-in. Both are checked again
// when the ceremony finishes, so a role taken away or a proof grown stale
// meanwhile counts.
func (r Registration) permitted(now time.Time) error {
	if r.ByAdmin {
		return authz.MayChangeMethods(r.Actor, authz.ProvisionPasskey, r.User)
	}
	if r.Actor.Kind != authz.KindUser || r.Actor.UserID != r.User.ID {
		return apperr.Forbidden("a passkey is added in self-service by its owner only; administrators provision one on the user's behalf")
	}
	if !authz.RecentMFA(r.Session, now) {
		return authz.ErrRecentMFARequired
	}
	return nil
}

// BeginRegistration checks the policy allows the user to register at all and
// returns creation options that ask for direct attestation, a discoverable
// credential and user verification, excluding the user's existing keys.
func (s *Service) BeginRegistration(ctx context.Context, reg Registration) (Creation, error) {
	who, pol, err := s.registrant(ctx, &reg, true)
	if err != nil {
		return Creation{}, err
	}
	groups := who.GroupIDs
	if err := reg.permitted(s.now()); err != nil {
		return Creation{}, err
	}
	if !reg.User.AccountEnabled {
		return Creation{}, errAccountDisabled
	}
	if d := pol.CheckRegistrationStart(groups, reg.ByAdmin); !d.Allowed {
		return Creation{}, s.refusal(ctx, d)
	}
	hints, err := parseHints(reg.Hints)
	if err != nil {
		return Creation{}, err
	}
	mediation := protocol.MediationDefault
	if reg.Automatic {
		if reg.ByAdmin {
			return Creation{}, apperr.BadRequest("an automatic upgrade is for the signed-in user's own account only")
		}
		if d := pol.CheckAutomaticUpgrade(groups, len(who.Keys) > 0); !d.Allowed {
			return Creation{}, s.refusal(ctx, d)
		}
		mediation = protocol.MediationConditional
	}
	ttl := reg.TTL
	if ttl <= 0 {
		ttl = s.cfg.ChallengeTTL
	}
	if ttl > MaxChallengeTTL {
		return Creation{}, apperr.BadRequest("a passkey registration may take at most %d days", MaxChallengeTTL/(24*time.Hour))
	}
	// WebAuthn Level 2 §5.4.4 (Authenticator Selection Criteria): a
	// discoverable credential and user verification; §5.4.7: direct
	// attestation, under which browsers keep the AAGUID (under "none" they
	// zero it); §5.4 excludeCredentials: no second registration of a key.
	opts := []webauthn.RegistrationOption{
		webauthn.WithExclusions(descriptors(who.Keys)),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithConveyancePreference(protocol.PreferDirectAttestation),
	}
	if len(hints) > 0 {
		opts = append(opts, webauthn.WithPublicKeyCredentialHints(hints))
	}
	creation, sd, err := s.wa.BeginMediatedRegistration(newWAUser(reg.User, nil), mediation, opts...)
	if err != nil {
		return Creation{}, fmt.Errorf("begin registration: %w", err)
	}
	creation.Response.Timeout = int(ttl / time.Millisecond)
	// The ceremony's state travels sealed in the challenge (seal.go): the
	// options write nothing. Its kind and user; go-webauthn's session data
	// carries the user handle, user verification, the algorithms offered
	// and the mediation (an automatic upgrade). Not sealed, because the
	// finish judges them as they stand then: the passkey policy (AAGUID
	// restrictions, attestation), and the keys already registered — the
	// excludeCredentials of the options, which the store's unique
	// credential ID enforces for every user (WebAuthn Level 2 §7.1 step 22)
	// and which would make a challenge grow with the user's keys.
	expires, err := s.sealCeremony(ctx, sealedState{Kind: reg.kind(), UserID: reg.User.ID}, sd, ttl,
		(*[]byte)(&creation.Response.Challenge))
	if err != nil {
		return Creation{}, err
	}
	return Creation{Options: creation, ExpiresAt: expires}, nil
}

// registrant reads reg.User afresh (by ID) with their groups, the stored
// policy's version and the MDS blob's number, and with their passkeys when
// keys is set — one query — and returns it with the passkey policy (the
// cached one when the version is unchanged). reg.User becomes the user as
// read now.
func (s *Service) registrant(ctx context.Context, reg *Registration, keys bool) (storage.Registrant, policy.Fido2, error) {
	who, err := s.cfg.Store.GetRegistrant(ctx, reg.User.ID, keys)
	if errors.Is(err, storage.ErrNotFound) {
		return who, policy.Fido2{}, apperr.NotFound("no user with id %s", strconv.Quote(reg.User.ID)).Wrap(err)
	}
	if err != nil {
		return who, policy.Fido2{}, apperr.Internal(fmt.Errorf("read the user, their groups and passkeys: %w", err))
	}
	pol, _, err := s.cfg.Policies.Fido2AtVersion(ctx, who.Fido2PolicyVersion)
	if err != nil {
		return who, policy.Fido2{}, apperr.Internal(fmt.Errorf("load FIDO2 policy: %w", err))
	}
	reg.User = who.User
	return who, pol, nil
}

// AutomaticUpgradeOffered reports whether the page should ask the browser
// for a passkey without asking the user (conditional create) right after
// this sign-in: the session may register (recent multi-factor sign-in),
// and the policy's CheckAutomaticUpgrade allows it for this user, who has
// hasPasskey passkeys. Any error means no: the offer is a courtesy.
func (s *Service) AutomaticUpgradeOffered(ctx context.Context, u storage.User, session storage.Session, hasPasskey bool) bool {
	if !u.AccountEnabled || (Registration{User: u, Actor: authz.Actor{Kind: authz.KindUser, UserID: u.ID}, Session: session}).permitted(s.now()) != nil {
		return false
	}
	pol, groups, err := s.cfg.Policies.ForUser(ctx, u.ID)
	if err != nil {
		return false
	}
	return pol.CheckAutomaticUpgrade(groups, hasPasskey).Allowed
}

// MayRegisterFor checks, before anything is asked of the person, that user
// may register in self-service a passkey of one of models (any model when
// empty) that stays on one device when deviceBound: nil, or the passkey
// policy's refusal as a 403 a person can act on.
func (s *Service) MayRegisterFor(ctx context.Context, user storage.User, deviceBound bool, models []string) error {
	if !user.AccountEnabled {
		return errAccountDisabled
	}
	pol, groups, err := s.cfg.Policies.ForUser(ctx, user.ID)
	if err != nil {
		return err
	}
	if d := pol.CheckRegistrationFor(groups, deviceBound, models); !d.Allowed {
		return s.refusal(ctx, d)
	}
	return nil
}

// codeNotWantedModel refuses a new key that is not of the model (or kind)
// the registration asked for.
const codeNotWantedModel = "notAcceptedModel"

// wanted refuses a new key that is not what reg.Models and reg.DeviceBound
// ask for.
func (r Registration) wanted(c storage.Credential) error {
	if len(r.Models) > 0 && !slices.Contains(r.Models, strings.ToLower(c.AAGUID)) {
		name := c.Model
		if name == "" {
			name = "a key of another model"
		}
		return apperr.New(http.StatusForbidden, codeNotWantedModel,
			"this key (%s, AAGUID %s) is not one of the models accepted here; use a passkey of model %s", name, c.AAGUID, policy.ModelNames(r.Models))
	}
	if r.DeviceBound && c.BackupEligible {
		return apperr.New(http.StatusForbidden, codeNotWantedModel,
			"this passkey is synced across devices, and a security key or another passkey that stays on one device is needed here")
	}
	return nil
}

// CreationResponse is a browser's answer to navigator.credentials.create
// (PublicKeyCredential.toJSON()) as a request's own JSON decoder decodes
// it, for FinishDecodedRegistration: the JSON is then read once, not
// decoded by the request and again by go-webauthn (whose base64url members
// each decode their JSON string once more). Its members are go-webauthn's
// CredentialCreationResponse's, the binary ones as their base64url text.
type CreationResponse struct {
	ID                      string                                         `json:"id"`
	Type                    string                                         `json:"type"`
	RawID                   *string                                        `json:"rawId"`
	ClientExtensionResults  protocol.AuthenticationExtensionsClientOutputs `json:"clientExtensionResults"`
	AuthenticatorAttachment string                                         `json:"authenticatorAttachment"`
	Response                struct {
		ClientDataJSON     *string  `json:"clientDataJSON"`
		Transports         []string `json:"transports"`
		AuthenticatorData  *string  `json:"authenticatorData"`
		PublicKey          *string  `json:"publicKey"`
		PublicKeyAlgorithm int64    `json:"publicKeyAlgorithm"`
		AttestationObject  *string  `json:"attestationObject"`
	} `json:"response"`
}

// protocol is r as go-webauthn's decoder makes it of the same JSON: each
// base64url member decoded as protocol.URLEncodedBase64 decodes it (padding
// allowed, a null or absent member is none), a member that is not base64url
// the same refusal.
func (r *CreationResponse) protocol() (*protocol.CredentialCreationResponse, error) {
	var out protocol.CredentialCreationResponse
	out.ID, out.Type = r.ID, r.Type
	out.ClientExtensionResults, out.AuthenticatorAttachment = r.ClientExtensionResults, r.AuthenticatorAttachment
	a := &out.AttestationResponse
	a.Transports, a.PublicKeyAlgorithm = r.Response.Transports, r.Response.PublicKeyAlgorithm
	for _, m := range []struct {
		text *string
		dst  *protocol.URLEncodedBase64
	}{
		{r.RawID, &out.RawID},
		{r.Response.ClientDataJSON, &a.ClientDataJSON},
		{r.Response.AuthenticatorData, &a.AuthenticatorData},
		{r.Response.PublicKey, &a.PublicKey},
		{r.Response.AttestationObject, &a.AttestationObject},
	} {
		if m.text == nil {
			continue
		}
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(*m.text, "="))
		if err != nil {
			return nil, protocol.ErrBadRequest.WithDetails("Parse error for Registration").WithInfo(err.Error()).WithError(err)
		}
		*m.dst = b
	}
	return &out, nil
}

// FinishRegistration verifies the browser's response (its JSON), judges
// its attestation, applies the policy to the key and stores it.
func (s *Service) FinishRegistration(ctx context.Context, reg Registration, displayName string, response []byte) (storage.Credential, error) {
	return s.finishRegistration(ctx, reg, displayName, func() (*protocol.ParsedCredentialCreationData, error) {
		return protocol.ParseCredentialCreationResponseBytes(response)
	})
}

// FinishDecodedRegistration is FinishRegistration with the response
// already decoded from its JSON; it is checked and parsed as go-webauthn
// parses the JSON, and judged the same way.
func (s *Service) FinishDecodedRegistration(ctx context.Context, reg Registration, displayName string, response *CreationResponse) (storage.Credential, error) {
	return s.finishRegistration(ctx, reg, displayName, func() (*protocol.ParsedCredentialCreationData, error) {
		if response == nil {
			return nil, protocol.ErrBadRequest.WithDetails("Parse error for Registration").WithInfo("no response")
		}
		ccr, err := response.protocol()
		if err != nil {
			return nil, err
		}
		return ccr.Parse()
	})
}

func (s *Service) finishRegistration(ctx context.Context, reg Registration, displayName string, parse func() (*protocol.ParsedCredentialCreationData, error)) (storage.Credential, error) {
	who, pol, err := s.registrant(ctx, &reg, false)
	if err != nil {
		return storage.Credential{}, err
	}
	groups := who.GroupIDs
	if err := reg.permitted(s.now()); err != nil {
		return storage.Credential{}, err
	}
	displayName = strings.TrimSpace(displayName)
	if utf8.RuneCountInString(displayName) > MaxDisplayNameLength {
		return storage.Credential{}, apperr.BadRequest("displayName must be at most %d characters", MaxDisplayNameLength)
	}
	parsed, err := parse()
	if err != nil {
		return storage.Credential{}, responseError("registration response", err)
	}
	// A challenge of another kind (a sign-in's, a provisioning's in
	// self-service) or sealed for another user is unknown here.
	_, sd, used, err := s.openCeremony(ctx, parsed.Response.CollectedClientData.Challenge, reg.kind(), reg.User.ID)
	if err != nil {
		return storage.Credential{}, err
	}
	// From here every refusal uses the challenge up.
	if !reg.User.AccountEnabled {
		return storage.Credential{}, s.useUp(ctx, used, errAccountDisabled)
	}
	// WebAuthn Level 2 §7.1 step 9: C.origin must be Keyward's origin.
	if err := s.checkOrigin(parsed.Response.CollectedClientData.Origin, http.StatusBadRequest); err != nil {
		return storage.Credential{}, s.useUp(ctx, used, err)
	}
	// The challenge says whether this is an automatic upgrade; only then
	// does go-webauthn let user presence be absent (WebAuthn Level 3
	// §7.1 step 14: not required for conditional mediation).
	automatic := sd.Mediation == protocol.MediationConditional
	wc, err := s.wa.CreateCredential(newWAUser(reg.User, nil), sd, parsed)
	if err != nil {
		return storage.Credential{}, s.useUp(ctx, used, verifyError(http.StatusBadRequest, err))
	}
	cred := s.newCredential(ctx, reg.User.ID, wc, parsed, who.MDSBlobNumber)
	cred.Automatic = automatic
	if err := reg.wanted(cred.Credential); err != nil {
		return storage.Credential{}, err
	}

	d := pol.CheckRegistration(groups, reg.ByAdmin, policy.Key{
		AAGUID: cred.AAGUID, Model: cred.Model, BackupEligible: cred.BackupEligible,
		Attested: cred.AttestationLevel == storage.AttestationAttested, AttestationProblem: cred.attestationProblem,
	})
	if !d.Allowed {
		return storage.Credential{}, s.useUp(ctx, used, s.refusal(ctx, d))
	}
	if automatic {
		// The switch and scope as they are now, not when the ceremony began.
		if d := pol.CheckAutomaticUpgrade(groups, false); !d.Allowed {
			return storage.Credential{}, s.useUp(ctx, used, s.refusal(ctx, d))
		}
	}
	if displayName == "" {
		displayName = cred.Model
	}
	if displayName == "" {
		displayName = "Passkey"
	}
	cred.DisplayName = displayName
	err = s.audited(ctx, reg.Actor, "user.fido2Method.create", reg.User.ID, map[string]any{
		"methodId": cred.ID, "aaGuid": cred.AAGUID, "model": cred.Model,
		"attestationLevel": cred.AttestationLevel, "byAdmin": reg.ByAdmin,
		"passkeyType": policy.Key{BackupEligible: cred.BackupEligible}.Type().String(),
		"automatic":   cred.Automatic,
	}, func(ctx context.Context) error {
		// Used up in the transaction that stores the key: of two finishes
		// with one challenge (a replay, or two at once on any nodes) the
		// second finds its ID and stores nothing.
		if err := s.cfg.Store.UseChallenge(ctx, *used); errors.Is(err, storage.ErrNotFound) {
			return errChallenge
		} else if err != nil {
			return fmt.Errorf("use challenge: %w", err)
		}
		if cred.Automatic {
			// Inside the write: an automatic upgrade is for a user with no
			// passkey, so of two racing ones only the first is kept. The
			// unchanged update holds the user's row until commit (PostgreSQL
			// FOR UPDATE), so the second one reads after the first committed.
			if _, err := s.cfg.Store.UpdateUser(ctx, reg.User.ID, func(u storage.User) (storage.User, error) { return u, nil }); err != nil {
				return fmt.Errorf("lock the user: %w", err)
			}
			existing, err := s.cfg.Store.ListUserCredentials(ctx, reg.User.ID)
			if err != nil {
				return fmt.Errorf("list credentials: %w", err)
			}
			if len(existing) > 0 {
				return pol.CheckAutomaticUpgrade(groups, true).Err()
			}
		}
		err := s.cfg.Store.CreateCredential(ctx, cred.Credential)
		if errors.Is(err, storage.ErrAlreadyExists) {
			return errCredentialExists
		}
		if err != nil {
			return fmt.Errorf("store credential: %w", err)
		}
		return nil
	})
	if errors.Is(err, errChallenge) {
		return storage.Credential{}, err
	}
	if err != nil {
		// The transaction was undone, the challenge's use with it.
		return storage.Credential{}, s.useUp(ctx, used, err)
	}
	return cred.Credential, nil
}

// judgedCredential is a new credential with the reason it is not attested.
type judgedCredential struct {
	storage.Credential
	attestationProblem string
}

func (s *Service) newCredential(ctx context.Context, userID string, wc *webauthn.Credential, parsed *protocol.ParsedCredentialCreationData, blobNumber int) judgedCredential {
	aaguid := uuid.Nil
	if id, err := uuid.FromBytes(wc.Authenticator.AAGUID); err == nil {
		aaguid = id
	}
	transports := make([]string, 0, len(wc.Transport))
	for _, t := range wc.Transport {
		transports = append(transports, string(t))
	}
	chain := attestationChain(parsed.Response.AttestationObject.AttStatement, s.certs)
	subjects := make([]string, 0, len(chain))
	for _, c := range chain {
		subjects = append(subjects, c.Subject.String())
	}
	level, problem, model, keyID := s.judgeAttestation(ctx, aaguid.String(), chain, blobNumber)
	if model == "" {
		model = policy.ModelName(aaguid.String())
	}
	return judgedCredential{
		Credential: storage.Credential{
			ID:                      uuid.NewString(),
			UserID:                  userID,
			CredentialID:            wc.ID,
			PublicKey:               wc.PublicKey,
			AAGUID:                  aaguid.String(),
			Model:                   model,
			AttestationFormat:       wc.AttestationFormat,
			AttestationType:         wc.AttestationType,
			AttestationLevel:        level,
			AttestationCertSubjects: subjects,
			AttestationKeyID:        keyID,
			Transports:              transports,
			UserVerified:            wc.Flags.UserVerified,
			BackupEligible:          wc.Flags.BackupEligible,
			BackupState:             wc.Flags.BackupState,
			SignCount:               wc.Authenticator.SignCount,
			CreatedAt:               s.now(),
		},
		attestationProblem: problem,
	}
}

// judgeAttestation decides attested/notAttested against the MDS blob and
// returns the MDS model name when MDS lists the key's model — by AAGUID, or
// for a U2F key (zero AAGUID) by its attestation certificate's key
// identifier, which is returned so later status reports reach the key. It
// is WebAuthn Level 2 §7.1 steps 20 and 21: the trust anchors come from the
// FIDO Metadata Service by the AAGUID (or key identifier), and the chain is
// assessed against them. An untrustworthy statement does not fail the
// ceremony here (step 24's note: register it, treated as self attestation);
// the passkey policy decides whether notAttested is acceptable. blobNumber
// is the newest stored blob's number, read with the user: the cached blob
// serves when it is that one.
func (s *Service) judgeAttestation(ctx context.Context, aaguid string, chain []*x509.Certificate, blobNumber int) (level, problem, model, keyID string) {
	if aaguid == policy.ZeroAAGUID && len(chain) > 0 {
		keyID = mds.KeyIdentifier(chain[0])
	}
	if s.cfg.Metadata == nil {
		return storage.AttestationNotAttested, "no FIDO Metadata Service blob is loaded, so no key can be verified as genuine", "", keyID
	}
	blob, err := s.cfg.Metadata.CurrentAt(ctx, blobNumber)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "load MDS blob", "err", err)
		return storage.AttestationNotAttested, "the FIDO Metadata Service blob could not be loaded", "", keyID
	}
	if blob == nil {
		return storage.AttestationNotAttested, "no FIDO Metadata Service blob is loaded, so no key can be verified as genuine", "", keyID
	}
	if e, _, ok := blob.Identify(aaguid, chain); ok {
		model = e.Description
	}
	ok, reason := blob.CheckAttestation(aaguid, chain, s.now())
	if ok {
		// Verified to a root MDS lists for the model: the next key of the
		// model need not parse these certificates again.
		s.certs.add(chain)
		return storage.AttestationAttested, "", model, keyID
	}
	return storage.AttestationNotAttested, reason, model, keyID
}

// attestationChain returns the x5c certificates of an attestation statement
// (leaf first); empty for self and none attestation. Certificates in cache
// (which may be nil) are not parsed again.
func attestationChain(stmt map[string]any, cache *certCache) []*x509.Certificate {
	raw, _ := stmt["x5c"].([]any)
	chain := make([]*x509.Certificate, 0, len(raw))
	for _, item := range raw {
		der, ok := item.([]byte)
		if !ok {
			return nil
		}
		c, err := cache.parse(der)
		if err != nil {
			return nil
		}
		chain = append(chain, c)
	}
	return chain
}

func parseHints(in []string) ([]protocol.PublicKeyCredentialHints, error) {
	out := make([]protocol.PublicKeyCredentialHints, 0, len(in))
	for _, h := range in {
		switch hint := protocol.PublicKeyCredentialHints(h); hint {
		case protocol.PublicKeyCredentialHintSecurityKey, protocol.PublicKeyCredentialHintClientDevice, protocol.PublicKeyCredentialHintHybrid:
			out = append(out, hint)
		default:
			return nil, apperr.BadRequest("unknown hint %q: use security-key, client-device or hybrid", h)
		}
	}
	return out, nil
}
