package directory_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/mfa"
	"github.com/keyward/keyward/internal/storage"
)

func TestPasswordAndAdminRole(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u, err := s.CreateUser(ctx, cli, userInput("erin@example.com", "Erin", func(in *inputT) {
		in.Password, in.AdminRole = ptr("first password"), ptr(storage.RoleReader)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if u.AdminRole != storage.RoleReader {
		t.Fatalf("adminRole = %q", u.AdminRole)
	}
	if ok, err := mfa.VerifyPassword(u.PasswordHash, "first password"); !ok || err != nil {
		t.Fatalf("stored hash %q does not verify the password: %v", u.PasswordHash, err)
	}

	u, err = s.UpdateUser(ctx, cli, u.ID, userInputUpdate(func(in *inputT) {
		in.Password, in.AdminRole = ptr("second password"), ptr("")
	}))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := mfa.VerifyPassword(u.PasswordHash, "second password"); !ok || u.AdminRole != "" {
		t.Fatalf("after update: role %q, password reset %v", u.AdminRole, ok)
	}
	audit, err := s.Store.ListAudit(ctx, storage.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range audit {
		if bytes.Contains(e.Details, []byte("first password")) || bytes.Contains(e.Details, []byte("second password")) ||
			bytes.Contains(e.Details, []byte("argon2")) {
			t.Fatalf("audit %s leaks the password: %s", e.Action, e.Details)
		}
	}
	if len(audit) != 2 || !bytes.Contains(audit[0].Details, []byte(`"passwordChanged":true`)) {
		t.Fatalf("audit = %+v", audit)
	}
}

func TestBadPasswordOrRoleChangesNothing(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u, err := s.CreateUser(ctx, cli, userInput("frank@example.com", "Frank", nil))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		set      func(*inputT)
		fragment string
	}{
		{"short_password", func(in *inputT) { in.Password = ptr("short") }, "at least 8"},
		{"empty_password", func(in *inputT) { in.Password = ptr("") }, "at least 8"},
		{"password_is_the_upn", func(in *inputT) { in.Password = ptr("FRANK@example.com") }, "user name"},
		{"password_is_the_new_upn", func(in *inputT) {
			in.UserPrincipalName, in.Password = ptr("franklin@example.com"), ptr("franklin")
		}, "user name"},
		{"unknown_role", func(in *inputT) { in.AdminRole = ptr("superuser") }, "not a role"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdateUser(ctx, cli, u.ID, userInputUpdate(tc.set))
			wantAppErr(t, err, http.StatusBadRequest, "invalidRequest")
			if !strings.Contains(err.Error(), tc.fragment) {
				t.Fatalf("error %v does not mention %q", err, tc.fragment)
			}
			got, _ := s.GetUser(ctx, u.ID)
			if got != u {
				t.Fatalf("refused update changed the user: %+v", got)
			}
		})
	}
	_, err = s.CreateUser(ctx, cli, userInput("gina@example.com", "Gina", func(in *inputT) { in.Password = ptr("gina") }))
	wantAppErr(t, err, http.StatusBadRequest, "invalidRequest")
	if _, err := s.GetUser(ctx, "gina@example.com"); err == nil {
		t.Fatal("a user with a refused password was created")
	}
}

type inputT = directory.UserInput

func userInput(upn, name string, set func(*inputT)) inputT {
	in := inputT{UserPrincipalName: ptr(upn), DisplayName: ptr(name)}
	if set != nil {
		set(&in)
	}
	return in
}

func userInputUpdate(set func(*inputT)) inputT {
	var in inputT
	set(&in)
	return in
}
