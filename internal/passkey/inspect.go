package passkey

import (
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// InspectInput is a registration response to judge offline.
type InspectInput struct {
	Response  []byte // the registration response JSON (id, rawId, type, response{clientDataJSON, attestationObject})
	Challenge string // base64url, as the server sent it
	Origin    string
	RPID      string
	// Profile is the passkey profile the key is judged against.
	Profile  policy.PasskeyProfile
	Metadata *mds.Blob // nil: no key counts as attested
	Now      time.Time
}

// InspectResult is what an administrator learns about a key.
type InspectResult struct {
	AAGUID              string   `json:"aaguid"`
	Format              string   `json:"format"`
	AttestationType     string   `json:"attestationType"`
	AttestationLevel    string   `json:"attestationLevel"`
	Model               string   `json:"model"`
	CertificateSubjects []string `json:"certificateSubjects"`
	BackupEligible      bool     `json:"backupEligible"`
	BackupState         bool     `json:"backupState"`
	UserVerified        bool     `json:"userVerified"`
	Verdict             string   `json:"verdict"` // allowed | refused
	Reasons             []string `json:"reasons"`
}

// Inspect verifies a registration response the way a registration would —
// statement, challenge, origin, RP ID — then judges its attestation against
// MDS and the profile, without storing anything. A response that cannot be
// parsed is an error; one that parses but fails verification is "refused"
// with the reason.
func Inspect(in InspectInput) (InspectResult, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Response)
	if err != nil {
		return InspectResult{}, responseError("registration response", err)
	}
	att := parsed.Response.AttestationObject
	res := InspectResult{
		Format:              att.Format,
		AAGUID:              uuid.Nil.String(),
		CertificateSubjects: []string{},
		Reasons:             []string{},
		BackupEligible:      att.AuthData.Flags.HasBackupEligible(),
		BackupState:         att.AuthData.Flags.HasBackupState(),
		UserVerified:        att.AuthData.Flags.HasUserVerified(),
	}
	if id, err := uuid.FromBytes(att.AuthData.AttData.AAGUID); err == nil {
		res.AAGUID = id.String()
	}
	chain := attestationChain(att.AttStatement, nil)
	for _, c := range chain {
		res.CertificateSubjects = append(res.CertificateSubjects, c.Subject.String())
	}

	wa, err := webauthn.New(&webauthn.Config{RPID: in.RPID, RPDisplayName: "Keyward", RPOrigins: []string{in.Origin},
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore})
	if err != nil {
		return InspectResult{}, fmt.Errorf("relying party %q / %q: %w", in.RPID, in.Origin, err)
	}
	sd := webauthn.SessionData{Challenge: in.Challenge, UserVerification: protocol.VerificationPreferred,
		CredParams: webauthn.CredentialParametersDefault()}
	wc, verr := wa.CreateCredential(&waUser{}, sd, parsed)

	level, problem, model := storage.AttestationNotAttested, "", ""
	if in.Metadata != nil {
		if e, _, ok := in.Metadata.Identify(res.AAGUID, chain); ok {
			model = e.Description
		}
		var ok bool
		if ok, problem = in.Metadata.CheckAttestation(res.AAGUID, chain, in.Now); ok {
			level = storage.AttestationAttested
		}
	} else {
		problem = "no FIDO Metadata Service blob is loaded, so no key can be verified as genuine"
	}
	if model == "" {
		model = policy.ModelName(res.AAGUID)
	}
	res.Model = model
	if verr != nil {
		level = storage.AttestationNotAttested
		res.Reasons = append(res.Reasons, "the registration response does not verify: "+protocolDetails(verr))
	} else {
		res.AttestationType = wc.AttestationType
	}
	res.AttestationLevel = level

	single := policy.Fido2{
		State:           policy.StateEnabled,
		IncludeTargets:  []policy.IncludeTarget{{TargetType: policy.TargetTypeGroup, ID: policy.AllUsers, AllowedPasskeyProfiles: []string{in.Profile.ID}}},
		PasskeyProfiles: []policy.PasskeyProfile{in.Profile},
	}
	d := single.CheckRegistration(nil, true, policy.Key{
		AAGUID: res.AAGUID, Model: model, BackupEligible: res.BackupEligible,
		Attested: level == storage.AttestationAttested, AttestationProblem: problem,
	})
	if !d.Allowed {
		res.Reasons = append(res.Reasons, d.Reason)
	}
	res.Verdict = "allowed"
	if len(res.Reasons) > 0 {
		res.Verdict = "refused"
	}
	return res, nil
}
