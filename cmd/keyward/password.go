package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"
)

// maxPasswordLine bounds what --password-stdin reads: the longest valid
// password (256 characters of up to 4 bytes) fits with room to spare, and a
// file piped in by mistake is not read whole.
const maxPasswordLine = 4096

const passwordStdinHint = "pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | keyward user add … --password-stdin"

// readPassword returns the password for --password-stdin: the first line of
// standard input without its line ending. It never comes from a flag, so it
// stays out of shell history and process listings. On a terminal it asks
// twice without echo, so a typo does not set a password nobody knows.
func (a *app) readPassword() (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return a.promptPassword(int(f.Fd()))
	}
	if a.stdin == nil {
		return "", errors.New("--password-stdin: there is no standard input; " + passwordStdinHint)
	}
	r := bufio.NewReader(io.LimitReader(a.stdin, maxPasswordLine+1))
	line, err := r.ReadString('\n')
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		return "", fmt.Errorf("--password-stdin: reading standard input: %w", err)
	case len(line) > maxPasswordLine:
		return "", fmt.Errorf("--password-stdin: the first line of standard input is longer than %d bytes; it should hold just the password", maxPasswordLine)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if pw == "" {
		return "", errors.New("--password-stdin: the first line of standard input is empty; " + passwordStdinHint)
	}
	return pw, nil
}

// promptPassword reads a password twice from the terminal fd without echo.
func (a *app) promptPassword(fd int) (string, error) {
	var entries []string
	for _, prompt := range []string{"Password: ", "Password again: "} {
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("--password-stdin: reading the password from the terminal: %w", err)
		}
		entries = append(entries, string(b))
	}
	switch {
	case entries[0] == "":
		return "", errors.New("--password-stdin: no password entered")
	case entries[0] != entries[1]:
		return "", errors.New("--password-stdin: the two passwords differ; nothing was changed")
	}
	return entries[0], nil
}

// parseAdminRole checks an --admin-role value before anything is opened:
// one of the roles, or "none" (or "") for no role.
func parseAdminRole(v string) (string, error) {
	switch {
	case v == "none" || v == "":
		return "", nil
	case slices.Contains(roles, v):
		return v, nil
	}
	return "", fmt.Errorf("--admin-role: unknown role %q; use %s, or none", v, strings.Join(roles, ", "))
}
