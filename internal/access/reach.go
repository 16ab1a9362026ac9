package access

import "time"

// Means is what an account can sign in with.
type Means struct {
	PasskeyAAGUIDs   []string
	Password         bool
	AuthenticatorApp bool
}

// Proofs lists what the means can prove in one sign-in: each passkey, a
// password with the authenticator app, a password alone.
func (m Means) Proofs() []Proof {
	var out []Proof
	for _, a := range m.PasskeyAAGUIDs {
		out = append(out, Proof{Methods: []string{ModeFido2}, AAGUID: a})
	}
	if m.Password && m.AuthenticatorApp {
		out = append(out, Proof{Methods: []string{ModePassword, ModeSoftOATH}})
	}
	if m.Password {
		out = append(out, Proof{Methods: []string{ModePassword}})
	}
	return out
}

// CanReach reports whether the subject can get into appID with one of its
// means: some proof they can make is granted by every enforced policy. The
// address is taken as unknown (in no named location), so a policy that
// spares only trusted places is assumed to apply.
func (s *Set) CanReach(sub Subject, m Means, appID string, now time.Time) bool {
	for _, p := range m.Proofs() {
		if s.Evaluate(Request{User: sub, AppID: appID, Proof: p, Now: now}).Decision == Grant {
			return true
		}
	}
	return false
}
