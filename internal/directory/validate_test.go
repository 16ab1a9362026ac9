package directory

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/apperr"
)

func ptr[T any](v T) *T { return &v }

// wantBadRequest checks err is a 400 whose message contains every part.
func wantBadRequest(t *testing.T, err error, parts ...string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v (%T), want *apperr.Error", err, err)
	}
	if ae.Status != http.StatusBadRequest || ae.Code != "invalidRequest" {
		t.Fatalf("error = %d %s, want 400 invalidRequest", ae.Status, ae.Code)
	}
	for _, p := range parts {
		if !strings.Contains(ae.Message, p) {
			t.Errorf("message %q does not contain %q", ae.Message, p)
		}
	}
}

func TestNormalizeUPN(t *testing.T) {
	ok := []struct{ name, in, want string }{
		{"plain", "alice@example.com", "alice@example.com"},
		{"trims_spaces", "  alice@example.com\t", "alice@example.com"},
		{"keeps_case", "Alice.Smith@Example.COM", "Alice.Smith@Example.COM"},
		{"single_label_domain", "admin@localhost", "admin@localhost"},
		{"allowed_punctuation", "o'neil_j-x!#^~+1@sub.example-corp.org", "o'neil_j-x!#^~+1@sub.example-corp.org"},
		{"unicode_letters", "zoë@bücher.example", "zoë@bücher.example"},
		{"local_at_limit", strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com"},
	}
	for _, tc := range ok {
		t.Run("accepts_"+tc.name, func(t *testing.T) {
			got, err := NormalizeUPN(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeUPN(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	bad := []struct{ name, in, want string }{
		{"empty", "", "must not be empty"},
		{"only_spaces", "   ", "must not be empty"},
		{"no_at", "alice", "exactly one @"},
		{"two_ats", "a@b@example.com", "exactly one @"},
		{"nothing_before_at", "@example.com", "nothing before the @"},
		{"no_domain", "alice@", "no domain"},
		{"space_inside", "alice smith@example.com", "a space"},
		{"control_char", "ali\x01ce@example.com", "control"},
		{"slash", "a/b@example.com", `"/"`},
		{"leading_dot", ".alice@example.com", "dot"},
		{"double_dot", "al..ice@example.com", "two dots"},
		{"empty_domain_label", "alice@example..com", "empty part"},
		{"hyphen_label", "alice@-example.com", "hyphen"},
		{"underscore_in_domain", "alice@ex_ample.com", `"_"`},
		{"local_too_long", strings.Repeat("a", 65) + "@example.com", "65 characters before the @"},
		{"too_long", strings.Repeat("a", 60) + "@" + strings.Repeat("b.", 100) + "com", "at most 256"},
		{"invalid_utf8", "al\xffice@example.com", "UTF-8"},
	}
	for _, tc := range bad {
		t.Run("rejects_"+tc.name, func(t *testing.T) {
			_, err := NormalizeUPN(tc.in)
			wantBadRequest(t, err, "userPrincipalName", tc.want)
		})
	}
}

func TestNormalizeUPNQuotesLongInputShortly(t *testing.T) {
	_, err := NormalizeUPN(strings.Repeat("x", 200) + " @example.com")
	var ae *apperr.Error
	if !errors.As(err, &ae) || len(ae.Message) > 300 {
		t.Fatalf("message should quote a shortened value, got %v", err)
	}
}

func TestNormalizeDisplayName(t *testing.T) {
	if got, err := NormalizeDisplayName("  Alice Smith "); err != nil || got != "Alice Smith" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := NormalizeDisplayName(strings.Repeat("é", 256)); err != nil {
		t.Fatalf("256 characters must be accepted (counted as characters, not bytes): %v", err)
	}
	bad := []struct{ name, in, want string }{
		{"empty", " ", "must not be empty"},
		{"too_long", strings.Repeat("a", 257), "at most 256"},
		{"newline", "Alice\nSmith", "single line"},
		{"invalid_utf8", "\xff", "UTF-8"},
	}
	for _, tc := range bad {
		t.Run("rejects_"+tc.name, func(t *testing.T) {
			_, err := NormalizeDisplayName(tc.in)
			wantBadRequest(t, err, "displayName", tc.want)
		})
	}
}

func TestNormalizeDescription(t *testing.T) {
	if got, err := NormalizeDescription(" line one\nline two\t "); err != nil || got != "line one\nline two" {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, err := NormalizeDescription(""); err != nil || got != "" {
		t.Fatalf("empty description must be allowed: %q, %v", got, err)
	}
	_, err := NormalizeDescription(strings.Repeat("a", 1025))
	wantBadRequest(t, err, "description", "at most 1024")
	_, err = NormalizeDescription("bell\a")
	wantBadRequest(t, err, "description", "control")
}

func TestNewUser(t *testing.T) {
	t.Run("defaults_account_enabled_and_trims", func(t *testing.T) {
		u, err := NewUser(UserInput{UserPrincipalName: ptr(" bob@example.com "), DisplayName: ptr(" Bob ")})
		if err != nil {
			t.Fatal(err)
		}
		if u.UserPrincipalName != "bob@example.com" || u.DisplayName != "Bob" || !u.AccountEnabled || u.IsEmergencyAccess {
			t.Fatalf("unexpected user %+v", u)
		}
	})
	t.Run("keeps_explicit_flags", func(t *testing.T) {
		u, err := NewUser(UserInput{UserPrincipalName: ptr("bg@example.com"), DisplayName: ptr("Break glass"),
			AccountEnabled: ptr(false), IsEmergencyAccess: ptr(true)})
		if err != nil || u.AccountEnabled || !u.IsEmergencyAccess {
			t.Fatalf("got %+v, %v", u, err)
		}
	})
	t.Run("requires_upn", func(t *testing.T) {
		_, err := NewUser(UserInput{DisplayName: ptr("Bob")})
		wantBadRequest(t, err, "userPrincipalName is required")
	})
	t.Run("requires_display_name", func(t *testing.T) {
		_, err := NewUser(UserInput{UserPrincipalName: ptr("bob@example.com")})
		wantBadRequest(t, err, "displayName is required")
	})
}

func TestNewGroup(t *testing.T) {
	g, err := NewGroup(GroupInput{DisplayName: ptr(" Keys "), Description: ptr(" all key users ")})
	if err != nil || g.DisplayName != "Keys" || g.Description != "all key users" {
		t.Fatalf("got %+v, %v", g, err)
	}
	_, err = NewGroup(GroupInput{Description: ptr("x")})
	wantBadRequest(t, err, "displayName is required")
}

func TestCanonicalID(t *testing.T) {
	cases := map[string]string{
		"6F9619FF-8B86-D011-B42D-00C04FC964FF":          "6f9619ff-8b86-d011-b42d-00c04fc964ff",
		"6f9619ff8b86d011b42d00c04fc964ff":              "6f9619ff-8b86-d011-b42d-00c04fc964ff",
		"urn:uuid:6f9619ff-8b86-d011-b42d-00c04fc964ff": "6f9619ff-8b86-d011-b42d-00c04fc964ff",
		"not-a-uuid":        "",
		"alice@example.com": "",
		"":                  "",
	}
	for in, want := range cases {
		if got := canonicalID(in); got != want {
			t.Errorf("canonicalID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeMail(t *testing.T) {
	ok := []struct{ name, in, want string }{
		{"plain", "alice@example.com", "alice@example.com"},
		{"trims_spaces", " alice@example.com\t", "alice@example.com"},
		{"empty_clears", "", ""},
		{"spaces_clear", "   ", ""},
		{"keeps_case", "Alice.Smith@Example.COM", "Alice.Smith@Example.COM"},
		{"plus_and_punctuation_a_upn_refuses", "a/b=c%d+tag@example.com", "a/b=c%d+tag@example.com"},
		{"unicode", "zoë@bücher.example", "zoë@bücher.example"},
		{"at_limit", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com"},
	}
	for _, tc := range ok {
		t.Run("accepts_"+tc.name, func(t *testing.T) {
			got, err := NormalizeMail(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeMail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	bad := []struct{ name, in, want string }{
		{"no_at", "alice", "not an e-mail address"},
		{"two_ats", "a@b@example.com", "not an e-mail address"},
		{"nothing_before_at", "@example.com", "not an e-mail address"},
		{"no_domain", "alice@", "not an e-mail address"},
		{"display_name_form", "Alice <alice@example.com>", "a space"},
		{"angle_brackets", "<alice@example.com>", "not an e-mail address"},
		{"two_addresses", "a@example.com,b@example.com", "not an e-mail address"},
		{"space_inside", "alice smith@example.com", "a space"},
		{"newline_header_injection", "alice@example.com\nBcc: eve@example.com", "control"},
		{"control", "ali\x01ce@example.com", "control"},
		{"invalid_utf8", "ali\xffce@example.com", "not valid UTF-8"},
		{"too_long", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", "255 characters long; it must be at most 254"},
	}
	for _, tc := range bad {
		t.Run("refuses_"+tc.name, func(t *testing.T) {
			got, err := NormalizeMail(tc.in)
			if got != "" {
				t.Errorf("returned %q with the error", got)
			}
			wantBadRequest(t, err, tc.want)
		})
	}
}

// FuzzNormalizeMail: any input gives a clear 400 or an address that is
// already normal, short enough, and one word.
func FuzzNormalizeMail(f *testing.F) {
	for _, s := range []string{"alice@example.com", "", "a@b", `"a b"@example.com`, "a@[127.0.0.1]", "A <a@b.c>", "a@b@c", "\xff@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeMail(s)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
				t.Fatalf("NormalizeMail(%q): %v is not a 400", s, err)
			}
			return
		}
		if again, err := NormalizeMail(got); err != nil || again != got {
			t.Fatalf("NormalizeMail(%q) = %q, which normalizes to %q, %v", s, got, again, err)
		}
		if len([]rune(got)) > MaxMailLength || strings.ContainsAny(got, " \t\r\n<>,") {
			t.Fatalf("NormalizeMail(%q) = %q", s, got)
		}
	})
}
