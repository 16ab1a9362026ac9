package directory

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/apperr"
)

// Length limits, counted in characters (runes) after trimming. They keep rows
// and log lines bounded; the UPN parts follow the e-mail address limits.
const (
	MaxUPNLength         = 256
	MaxUPNLocalLength    = 64
	MaxUPNDomainLength   = 253
	MaxDisplayNameLength = 256
	MaxDescriptionLength = 1024
	// MaxMailLength is the longest address SMTP carries (RFC 5321 §4.5.3.1.3).
	MaxMailLength = 254
)

// localPunct is the punctuation Entra ID allows in the part before the @, plus
// '+' for sub-addressing. Everything else (spaces, quotes, '/', '%', '@', ...)
// is refused so that a UPN is always safe in a URL path and a log line.
const localPunct = "'.-_!#^~+"

// NormalizeUPN trims s and checks that it looks like local@domain. It returns
// the trimmed UPN or an *apperr.Error naming the problem and the fix.
func NormalizeUPN(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkText("userPrincipalName", s); err != nil {
		return "", err
	}
	if s == "" {
		return "", apperr.BadRequest("userPrincipalName must not be empty; use the form name@domain, for example alice@example.com")
	}
	if n := utf8.RuneCountInString(s); n > MaxUPNLength {
		return "", apperr.BadRequest("userPrincipalName is %d characters long; it must be at most %d", n, MaxUPNLength)
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(domain, "@") {
		return "", apperr.BadRequest("userPrincipalName %s must contain exactly one @, as in name@domain (for example alice@example.com)", quote(s))
	}
	if err := checkUPNLocal(s, local); err != nil {
		return "", err
	}
	if err := checkUPNDomain(s, domain); err != nil {
		return "", err
	}
	return s, nil
}

func checkUPNLocal(upn, local string) error {
	if local == "" {
		return apperr.BadRequest("userPrincipalName %s has nothing before the @; use the form name@domain", quote(upn))
	}
	if n := utf8.RuneCountInString(local); n > MaxUPNLocalLength {
		return apperr.BadRequest("userPrincipalName %s has %d characters before the @; at most %d are allowed", quote(upn), n, MaxUPNLocalLength)
	}
	for _, r := range local {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(localPunct, r) {
			return apperr.BadRequest("userPrincipalName %s contains %s before the @; only letters, digits and %s are allowed there", quote(upn), describeRune(r), localPunct)
		}
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return apperr.BadRequest("userPrincipalName %s must not start or end with a dot before the @, or contain two dots in a row", quote(upn))
	}
	return nil
}

func checkUPNDomain(upn, domain string) error {
	if domain == "" {
		return apperr.BadRequest("userPrincipalName %s has no domain after the @; use the form name@domain, for example alice@example.com", quote(upn))
	}
	if n := utf8.RuneCountInString(domain); n > MaxUPNDomainLength {
		return apperr.BadRequest("userPrincipalName %s has a domain of %d characters; at most %d are allowed", quote(upn), n, MaxUPNDomainLength)
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" {
			return apperr.BadRequest("userPrincipalName %s has an empty part in its domain %s; domain parts are separated by single dots", quote(upn), quote(domain))
		}
		if utf8.RuneCountInString(label) > 63 {
			return apperr.BadRequest("userPrincipalName %s has a domain part longer than 63 characters", quote(upn))
		}
		if strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return apperr.BadRequest("userPrincipalName %s has a domain part that starts or ends with a hyphen", quote(upn))
		}
		for _, r := range label {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' {
				return apperr.BadRequest("userPrincipalName %s contains %s in its domain; only letters, digits, hyphens and dots are allowed there", quote(upn), describeRune(r))
			}
		}
	}
	return nil
}

// NormalizeMail trims s and checks that it is "" (no address) or one bare
// e-mail address (local@domain, no display name or angle brackets) of at
// most 254 characters. Unlike a UPN it may use every character RFC 5322
// allows in an address, since it names a mailbox that exists elsewhere.
func NormalizeMail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkText("mail", s); err != nil {
		return "", err
	}
	if s == "" {
		return "", nil
	}
	if n := utf8.RuneCountInString(s); n > MaxMailLength {
		return "", apperr.BadRequest("mail is %d characters long; it must be at most %d", n, MaxMailLength)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", apperr.BadRequest("mail %s contains %s; an address is one word such as alice@example.com", quote(s), describeRune(r))
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", apperr.BadRequest("mail %s is not an e-mail address; use the form name@domain, for example alice@example.com", quote(s))
	}
	return s, nil
}

// NormalizeDisplayName trims s and checks it is 1–256 characters of text
// without control characters.
func NormalizeDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkText("displayName", s); err != nil {
		return "", err
	}
	if s == "" {
		return "", apperr.BadRequest("displayName must not be empty")
	}
	if n := utf8.RuneCountInString(s); n > MaxDisplayNameLength {
		return "", apperr.BadRequest("displayName is %d characters long; it must be at most %d", n, MaxDisplayNameLength)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", apperr.BadRequest("displayName contains %s; use a single line of text", describeRune(r))
		}
	}
	return s, nil
}

// NormalizeDescription trims s and checks it is at most 1024 characters. Line
// breaks and tabs are allowed; other control characters are not.
func NormalizeDescription(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkText("description", s); err != nil {
		return "", err
	}
	if n := utf8.RuneCountInString(s); n > MaxDescriptionLength {
		return "", apperr.BadRequest("description is %d characters long; it must be at most %d", n, MaxDescriptionLength)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return "", apperr.BadRequest("description contains %s; only text, line breaks and tabs are allowed", describeRune(r))
		}
	}
	return s, nil
}

// checkText refuses bytes that are not UTF-8 (the CLI passes raw arguments).
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return apperr.BadRequest("%s is not valid UTF-8 text", field)
	}
	return nil
}

// quote renders user input for a message: quoted, escaped and cut short so an
// enormous value cannot flood an error response or a log line.
func quote(s string) string {
	const max = 80
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return strconv.Quote(s)
}

func describeRune(r rune) string {
	switch {
	case r == ' ':
		return "a space"
	case unicode.IsControl(r) || unicode.IsSpace(r):
		return "a control or space character (" + strings.Trim(strconv.Quote(string(r)), `"`) + ")"
	default:
		return "the character " + strconv.Quote(string(r))
	}
}
