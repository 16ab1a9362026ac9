package methodpolicy

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/mds"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// Distrust says why the FIDO Metadata Service distrusts the model of a
// stored passkey ("" = it does not). nil distrusts nothing.
type Distrust func(storage.Credential) string

// DistrustIn is the Distrust of blob at time at: a key is distrusted when
// its MDS entry (by AAGUID; a U2F key's by its attestation certificate key
// identifier) carries an undesired status report. A nil blob distrusts
// nothing.
func DistrustIn(blob *mds.Blob, at time.Time) Distrust {
	if blob == nil {
		return nil
	}
	return func(c storage.Credential) string {
		e, ok := mds.EntryOf(blob, c.AAGUID, c.AttestationKeyID)
		if !ok {
			return ""
		}
		if bad, why := e.Undesired(at); bad {
			return why
		}
		return ""
	}
}

// PasskeySignIn is the passkey policy's verdict at sign-in on the stored
// passkey c of a member of groupIDs: policy.Fido2.CheckSignIn on the key as
// stored, with its model's distrust counted when a profile blocks
// compromised models (distrust is asked only then, so a sign-in under a
// policy that does not reads no MDS blob). Sign-in, the way forward after
// a refusal and the lockout guards all ask this one function.
func PasskeySignIn(pol policy.Fido2, groupIDs []string, c storage.Credential, distrust Distrust) policy.Decision {
	k := policy.Key{AAGUID: c.AAGUID, Model: c.Model, BackupEligible: c.BackupEligible}
	if distrust != nil && pol.BlocksCompromisedModels() {
		k.Compromised = distrust(c)
	}
	return pol.CheckSignIn(groupIDs, k)
}

// PasskeyWorks says whether c can sign its owner in: not flagged as a
// possible clone (such a key is refused until an administrator clears the
// flag) and accepted by PasskeySignIn.
func PasskeyWorks(pol policy.Fido2, groupIDs []string, c storage.Credential, distrust Distrust) bool {
	return !c.CloneWarning && PasskeySignIn(pol, groupIDs, c, distrust).Allowed
}

// Removing names a method about to be removed ("" = none), which WaysIn
// leaves out.
type Removing struct {
	CredentialID string // storage.Credential.ID
	TAPID        string // storage.TemporaryAccessPass.ID
}

// Ways are the methods with which a person can sign in, as WaysIn finds them.
type Ways struct {
	Password bool
	Passkeys []string // storage.Credential.IDs
	TAPs     []string // storage.TemporaryAccessPass.IDs
}

// Any reports whether there is at least one way in.
func (w Ways) Any() bool { return w.Password || len(w.Passkeys) > 0 || len(w.TAPs) > 0 }

// WaysIn lists the methods of m with which m.User can sign in under pol at
// now, leaving out the one being removed: a password; a passkey that
// PasskeyWorks accepts (scope, key restrictions, a distrusted model where a
// profile blocks those, the clone flag); a Temporary Access Pass usable now
// or later. An authenticator app alone never signs anyone in, and whether
// the account is enabled is not a property of its methods, so neither
// counts here. It is the one notion of "a way to sign in" behind the
// last-method check and the passkey policy's lockout guard.
func WaysIn(pol policy.Fido2, m storage.UserMethods, distrust Distrust, now time.Time, removing Removing) Ways {
	var w Ways
	w.Password = m.User.PasswordHash != ""
	for _, c := range m.Credentials {
		if c.ID != removing.CredentialID && PasskeyWorks(pol, m.GroupIDs, c, distrust) {
			w.Passkeys = append(w.Passkeys, c.ID)
		}
	}
	for _, t := range m.TAPs {
		if t.ID != removing.TAPID && t.UsableNowOrLater(now) {
			w.TAPs = append(w.TAPs, t.ID)
		}
	}
	return w
}

// Metadata gives the current verified FIDO MDS blob (nil when none is
// loaded); *mds.Service is one.
type Metadata interface {
	Current(ctx context.Context) (*mds.Blob, error)
}

// Distrust is DistrustIn of the current MDS blob at the service's time.
// Without a Metadata source, or when the blob cannot be read, nothing is
// distrusted — as at sign-in, which then accepts the key too — and the
// error says why.
func (p *Service) Distrust(ctx context.Context) (Distrust, error) {
	if p.Metadata == nil {
		return nil, nil
	}
	blob, err := p.Metadata.Current(ctx)
	if err != nil {
		return nil, err
	}
	return DistrustIn(blob, p.Now()), nil
}

// Fido2Of is the policy stored as s (the zero Policy: none was saved, so
// the defaults), served from the cache when s is at its version.
func (p *Service) Fido2Of(s storage.Policy) (policy.Fido2, error) {
	if s.Version == 0 {
		return policy.Default(), nil
	}
	p.mu.RLock()
	if p.loaded && p.version == s.Version {
		f := p.fido2
		p.mu.RUnlock()
		return f, nil
	}
	p.mu.RUnlock()
	return policy.Load(s.Data)
}
