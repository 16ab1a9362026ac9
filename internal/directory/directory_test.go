package directory_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/authz"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/storage"
	"github.com/keyward/keyward/internal/storage/sqlite"
)

var now = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// cli is the local operator, who may do everything.
var cli = authz.CLI()

func newService(t *testing.T) *directory.Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "keyward.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return &directory.Service{Store: st, Now: func() time.Time { return now }}
}

func ptr[T any](v T) *T { return &v }

// wantAppErr checks err is an *apperr.Error with the status and code.
func wantAppErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Status != status || ae.Code != code {
		t.Fatalf("error = %v, want %d %s", err, status, code)
	}
}

func TestServiceUsersForTheCLI(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u, err := s.CreateUser(ctx, cli, directory.UserInput{UserPrincipalName: ptr("Bob@Example.com"), DisplayName: ptr("Bob")})
	if err != nil {
		t.Fatal(err)
	}
	if !u.AccountEnabled || !u.CreatedAt.Equal(now) || len(u.ID) != 36 {
		t.Fatalf("created %+v", u)
	}
	got, err := s.GetUser(ctx, "bob@example.COM")
	if err != nil || got.ID != u.ID {
		t.Fatalf("GetUser by UPN = %+v, %v", got, err)
	}
	_, err = s.CreateUser(ctx, cli, directory.UserInput{UserPrincipalName: ptr("BOB@example.com"), DisplayName: ptr("Bob 2")})
	wantAppErr(t, err, http.StatusConflict, "conflict")
	_, err = s.GetUser(ctx, "bob")
	wantAppErr(t, err, http.StatusNotFound, "notFound")
	_, err = s.CreateUser(ctx, cli, directory.UserInput{UserPrincipalName: ptr("bob"), DisplayName: ptr("Bob")})
	wantAppErr(t, err, http.StatusBadRequest, "invalidRequest")

	users, next, err := s.ListUsers(ctx, storage.Page{Limit: 10})
	if err != nil || len(users) != 1 || next != "" {
		t.Fatalf("ListUsers = %v, %q, %v", users, next, err)
	}
	if err := s.DeleteUser(ctx, cli, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	wantAppErr(t, s.DeleteUser(ctx, cli, "bob@example.com"), http.StatusNotFound, "notFound")

	audit, err := s.Store.ListAudit(ctx, storage.EventFilter{})
	if err != nil || len(audit) != 2 || audit[0].Action != "user.delete" || audit[1].Action != "user.create" ||
		audit[1].Actor != "cli" || audit[1].Target != "user:"+u.ID || !audit[1].Time.Equal(now) {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
}

func TestServiceGroupsAndMembersForTheCLI(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	g, err := s.CreateGroup(ctx, cli, directory.GroupInput{DisplayName: ptr("Keys")})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, cli, directory.UserInput{UserPrincipalName: ptr("carol@example.com"), DisplayName: ptr("Carol")})
	if err != nil {
		t.Fatal(err)
	}
	// The CLI adds members by UPN.
	if err := s.AddMember(ctx, cli, g.ID, "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	wantAppErr(t, s.AddMember(ctx, cli, g.ID, u.ID), http.StatusConflict, "conflict")
	wantAppErr(t, s.AddMember(ctx, cli, "Keys", u.ID), http.StatusNotFound, "notFound")
	members, _, err := s.ListMembers(ctx, g.ID, storage.Page{})
	if err != nil || len(members) != 1 || members[0].ID != u.ID {
		t.Fatalf("members = %+v, %v", members, err)
	}
	if err := s.RemoveMember(ctx, cli, g.ID, "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	wantAppErr(t, s.RemoveMember(ctx, cli, g.ID, u.ID), http.StatusNotFound, "notFound")
	groups, _, err := s.ListGroups(ctx, storage.Page{Prefix: "ke"})
	if err != nil || len(groups) != 1 {
		t.Fatalf("groups = %+v, %v", groups, err)
	}
	if err := s.DeleteGroup(ctx, cli, g.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetGroup(ctx, g.ID)
	wantAppErr(t, err, http.StatusNotFound, "notFound")
}

func TestServiceUpdates(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u, err := s.CreateUser(ctx, cli, directory.UserInput{UserPrincipalName: ptr("dave@example.com"), DisplayName: ptr("Dave")})
	if err != nil {
		t.Fatal(err)
	}
	// `keyward user disable` is an update of one field.
	got, err := s.UpdateUser(ctx, cli, "dave@example.com", directory.UserInput{AccountEnabled: ptr(false)})
	if err != nil || got.AccountEnabled || got.DisplayName != "Dave" || got.ID != u.ID {
		t.Fatalf("UpdateUser = %+v, %v", got, err)
	}
	_, err = s.UpdateUser(ctx, cli, u.ID, directory.UserInput{})
	wantAppErr(t, err, http.StatusBadRequest, "invalidRequest")
	g, err := s.CreateGroup(ctx, cli, directory.GroupInput{DisplayName: ptr("Keys")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGroup(ctx, cli, directory.GroupInput{DisplayName: ptr("Other")}); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateGroup(ctx, cli, g.ID, directory.GroupInput{DisplayName: ptr("OTHER")})
	wantAppErr(t, err, http.StatusConflict, "conflict")
	gg, err := s.UpdateGroup(ctx, cli, g.ID, directory.GroupInput{Description: ptr("  d  ")})
	if err != nil || gg.Description != "d" || gg.DisplayName != "Keys" {
		t.Fatalf("UpdateGroup = %+v, %v", gg, err)
	}
}

func TestServiceUserMail(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u, err := s.CreateUser(ctx, cli, directory.UserInput{UserPrincipalName: ptr("ann@example.com"),
		DisplayName: ptr("Ann"), Mail: ptr(" Ann.Lee@mail.example.com ")})
	if err != nil || u.Mail != "Ann.Lee@mail.example.com" {
		t.Fatalf("created %+v, %v", u, err)
	}
	_, err = s.UpdateUser(ctx, cli, u.ID, directory.UserInput{DisplayName: ptr("Changed"), Mail: ptr("not an address")})
	wantAppErr(t, err, http.StatusBadRequest, "invalidRequest")
	got, _ := s.GetUser(ctx, u.ID)
	if got.Mail != "Ann.Lee@mail.example.com" || got.DisplayName != "Ann" {
		t.Fatalf("a refused update changed the user: %+v", got)
	}
	u, err = s.UpdateUser(ctx, cli, u.ID, directory.UserInput{Mail: ptr("")})
	if err != nil || u.Mail != "" {
		t.Fatalf("clearing mail: %+v, %v", u, err)
	}
	audit, err := s.Store.ListAudit(ctx, storage.EventFilter{})
	if err != nil || len(audit) != 2 || !strings.Contains(string(audit[0].Details), `"mail":""`) ||
		!strings.Contains(string(audit[1].Details), `"mail":"Ann.Lee@mail.example.com"`) {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
}
