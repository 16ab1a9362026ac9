// Package textlimit cuts text from outside (headers, names, identifiers) to
// a stored or displayed size.
package textlimit

// Truncate returns s cut to at most n bytes, on a rune boundary so the
// result stays valid UTF-8 when s is (PostgreSQL refuses invalid text).
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
