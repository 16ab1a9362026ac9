package webui

import "testing"

func TestSafeNext(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"path", "/my/security-info", "/my/security-info"},
		{"path_with_query", "/my/security-info?add=passkey", "/my/security-info?add=passkey"},
		{"empty", "", ""},
		{"absolute_url", "https://evil.example/", ""},
		{"scheme_relative", "//evil.example/", ""},
		{"backslash_as_slash", "/\\evil.example", ""},
		{"javascript_url", "javascript:alert(1)", ""},
		{"relative_path", "my/security-info", ""},
		{"control_character", "/a\r\nLocation: x", ""},
		{"too_long", "/" + string(make([]byte, 3000)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := safeNext(tt.in); got != tt.want {
				t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestInitials(t *testing.T) {
	for in, want := range map[string]string{"Ada Lovelace": "AL", "bob": "B", "": "", "élodie de la tour": "ÉD"} {
		if got := initials(in); got != want {
			t.Errorf("initials(%q) = %q, want %q", in, got, want)
		}
	}
}
