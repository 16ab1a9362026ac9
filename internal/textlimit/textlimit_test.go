package textlimit

import "testing"

func TestTruncate(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		n    int
		want string
	}{
		"short_kept":               {"Mozilla", 512, "Mozilla"},
		"exact_kept":               {"abc", 3, "abc"},
		"cut_at_n":                 {"abcdef", 3, "abc"},
		"cut_before_a_split_rune":  {"aé", 2, "a"},   // é is 2 bytes: a cut at 2 would split it
		"cut_before_a_4_byte_rune": {"ab😀", 4, "ab"}, // 😀 is 4 bytes
		"rune_ending_at_n_kept":    {"aéb", 3, "aé"},
		"zero":                     {"abc", 0, ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := Truncate(tc.in, tc.n); got != tc.want {
				t.Fatalf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}
