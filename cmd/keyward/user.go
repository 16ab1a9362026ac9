package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/storage"
)

func (a *app) directory(st storage.Storage) *directory.Service {
	return &directory.Service{Store: st, Now: a.now}
}

func (a *app) userCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage directory users",
		Long: "Manage directory users. ID|UPN is a user's ID or user principal name (UPN,\n" +
			"local@domain, matched case-insensitively). A bad role, an empty or refused password,\n" +
			"or any other bad flag changes nothing.",
		Example: `  $ keyward user list
  ID                                    USER PRINCIPAL NAME  DISPLAY NAME   ENABLED  EMERGENCY ACCESS  ADMIN ROLE    CREATED
  0193…                                 admin@example.com    Admin          yes      no                global-admin  2026-11-25T15:30:00Z
  0193…                                 alice@example.com    Alice Liddell  yes      no                none          2026-11-25T15:35:00Z
  $ keyward user show alice@example.com --json
  {
    "id": "0193…",
    "userPrincipalName": "alice@example.com",
    "displayName": "Alice Liddell",
    "accountEnabled": true,
    "isEmergencyAccess": false,
    "adminRole": "",
    "createdDateTime": "2026-11-25T15:35:00Z"
  }`,
	}
	cmd.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print JSON (the admin API's field names) instead of a table")
	cmd.AddCommand(a.userAddCmd(), a.userListCmd(), a.userShowCmd(), a.userUpdateCmd(),
		a.userEnableCmd(true), a.userEnableCmd(false), a.userDeleteCmd(), a.userTAPCmd())
	return cmd
}

// adminRoleHelp and passwordStdinHelp describe the flags user add and user
// update share.
var (
	adminRoleHelp = "--admin-role gives the person an admin role for the admin center and the admin API\n" +
		"with their own sign-in (docs/api/admin.md, Administrators): " + strings.Join(roles, ", ") + ";\n" +
		"none (on update) removes it. show and list print it (adminRole with --json)."
	passwordStdinHelp = "--password-stdin sets the user's password, read from the first line of standard input\n" +
		"(its line ending, \\n or \\r\\n, is not part of it; anything after it is ignored). It is never a\n" +
		"flag value, so it stays out of shell history and process lists. On a terminal it asks twice,\n" +
		"without showing what you type. The password must have 8 to 256 characters and must not be\n" +
		"the UPN or the part before the @; it is stored as an argon2id hash and never printed."
)

func (a *app) userAddCmd() *cobra.Command {
	var upn, name, role, mail string
	var emergency, disabled, passwordStdin bool
	cmd := &cobra.Command{
		Use:   "add --upn UPN --display-name NAME [--mail ADDRESS] [--admin-role ROLE] [--password-stdin]",
		Short: "Create a user",
		Long: "Create a user. --mail sets the e-mail address applications get in the email claim\n" +
			"(without it they get the UPN).\n\n" + adminRoleHelp + "\n\n" + passwordStdinHelp,
		Example: `  printf '%s\n' "$ALICE_PASSWORD" | keyward user add --upn alice@example.com --display-name "Alice Liddell" --password-stdin`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			enabled := !disabled
			in := directory.UserInput{UserPrincipalName: &upn, DisplayName: &name,
				AccountEnabled: &enabled, IsEmergencyAccess: &emergency}
			if cmd.Flags().Changed("mail") {
				in.Mail = &mail
			}
			// Flags and the password are checked before the database is opened,
			// so a bad value changes nothing at all.
			if err := a.userFlags(cmd, &in, role, passwordStdin); err != nil {
				return err
			}
			return a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
				u, err := a.directory(st).CreateUser(cmd.Context(), cliActor, in)
				if err != nil {
					return err
				}
				return a.printUser(u)
			})(cmd, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&upn, "upn", "", "user principal name, local@domain (required)")
	f.StringVar(&name, "display-name", "", "display name (required)")
	f.StringVar(&mail, "mail", "", "e-mail address (applications get it in the email claim; without it they get the UPN)")
	f.BoolVar(&emergency, "emergency-access", false, "mark as an emergency-access (break-glass) account")
	f.BoolVar(&disabled, "disabled", false, "create the account disabled")
	addUserSecretFlags(f, &role, &passwordStdin)
	_ = cmd.MarkFlagRequired("upn")
	_ = cmd.MarkFlagRequired("display-name")
	return cmd
}

// addUserSecretFlags defines --admin-role and --password-stdin, shared by add and update.
func addUserSecretFlags(f *pflag.FlagSet, role *string, passwordStdin *bool) {
	f.StringVar(role, "admin-role", "", "admin role of the person: "+strings.Join(roles, ", ")+", or none")
	f.BoolVar(passwordStdin, "password-stdin", false,
		"set the password, read from the first line of standard input (never a flag, so it stays out of shell history)")
}

// userFlags adds --admin-role and --password-stdin, when given, to in.
func (a *app) userFlags(cmd *cobra.Command, in *directory.UserInput, role string, passwordStdin bool) error {
	if cmd.Flags().Changed("admin-role") {
		r, err := parseAdminRole(role)
		if err != nil {
			return err
		}
		in.AdminRole = &r
	}
	if passwordStdin {
		pw, err := a.readPassword()
		if err != nil {
			return err
		}
		in.Password = &pw
	}
	return nil
}

func (a *app) userListCmd() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users, ordered by user principal name",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			users, err := allUsers(cmd.Context(), a.directory(st), prefix)
			if err != nil {
				return err
			}
			return a.printUsers(users, "No users.")
		}),
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only users whose user principal name starts with this (case-insensitive)")
	return cmd
}

func allUsers(ctx context.Context, dir *directory.Service, prefix string) ([]storage.User, error) {
	return allPages(ctx, storage.Page{Prefix: prefix}, dir.ListUsers)
}

func (a *app) userShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID|UPN",
		Short: "Show one user",
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			u, err := a.directory(st).GetUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printUser(u)
		}),
	}
}

func (a *app) userUpdateCmd() *cobra.Command {
	var upn, name, role, mail string
	var emergency, passwordStdin bool
	cmd := &cobra.Command{
		Use:   "update ID|UPN [--upn UPN] [--display-name NAME] [--mail ADDRESS|\"\"] [--emergency-access=true|false] [--admin-role ROLE|none] [--password-stdin]",
		Short: "Change a user's name, e-mail address, emergency-access flag, admin role or password",
		Long: "Change a user's name, e-mail address, emergency-access flag, admin role or password; only\n" +
			"what the flags name changes. --mail \"\" removes the address (the email claim is then the UPN).\n\n" +
			adminRoleHelp + "\n\n" + passwordStdinHelp,
		Example: `  keyward user update bob@example.com --admin-role authentication-admin --password-stdin < bob-password.txt`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in directory.UserInput
			f := cmd.Flags()
			if f.Changed("upn") {
				in.UserPrincipalName = &upn
			}
			if f.Changed("display-name") {
				in.DisplayName = &name
			}
			if f.Changed("mail") {
				in.Mail = &mail
			}
			if f.Changed("emergency-access") {
				in.IsEmergencyAccess = &emergency
			}
			if err := a.userFlags(cmd, &in, role, passwordStdin); err != nil {
				return err
			}
			if in == (directory.UserInput{}) {
				return fmt.Errorf("nothing to change: give --upn, --display-name, --mail, --emergency-access, --admin-role or --password-stdin")
			}
			return a.withStore(func(cmd *cobra.Command, args []string, st store) error {
				u, err := a.directory(st).UpdateUser(cmd.Context(), cliActor, args[0], in)
				if err != nil {
					return err
				}
				return a.printUser(u)
			})(cmd, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&upn, "upn", "", "new user principal name")
	f.StringVar(&name, "display-name", "", "new display name")
	f.StringVar(&mail, "mail", "", `new e-mail address; "" removes it (the email claim is then the UPN)`)
	f.BoolVar(&emergency, "emergency-access", false, "whether this is an emergency-access (break-glass) account")
	addUserSecretFlags(f, &role, &passwordStdin)
	return cmd
}

// userEnableCmd builds "enable" (enable=true) or "disable".
func (a *app) userEnableCmd(enable bool) *cobra.Command {
	verb, done, short := "disable", "Disabled", "Disable a user's account: no sign-in, and their sessions stop working at once"
	if enable {
		verb, done, short = "enable", "Enabled", "Enable a user's account"
	}
	return &cobra.Command{
		Use:   verb + " ID|UPN",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			u, err := a.directory(st).UpdateUser(cmd.Context(), cliActor, args[0],
				directory.UserInput{AccountEnabled: &enable})
			if err != nil {
				return err
			}
			if a.jsonOut {
				return writeJSON(a.stdout, toUserJSON(u))
			}
			fmt.Fprintf(a.stdout, "%s user %s.\n", done, u.UserPrincipalName)
			return nil
		}),
	}
}

func (a *app) userDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID|UPN",
		Short: "Delete a user with their memberships, methods and sessions",
		Args:  cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			dir := a.directory(st)
			u, err := dir.GetUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := dir.DeleteUser(cmd.Context(), cliActor, u.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted user %s.\n", u.UserPrincipalName)
			return nil
		}),
	}
}

func (a *app) printUser(u storage.User) error {
	if a.jsonOut {
		return writeJSON(a.stdout, toUserJSON(u))
	}
	return details(a.stdout,
		"ID", u.ID,
		"User principal name", u.UserPrincipalName,
		"Display name", u.DisplayName,
		"Mail", mailOrNone(u.Mail),
		"Account enabled", yesNo(u.AccountEnabled),
		"Emergency access", yesNo(u.IsEmergencyAccess),
		"Admin role", orNone(u.AdminRole),
		"Created", timestamp(u.CreatedAt))
}

// printUsers prints a list of users, or none when the list is empty.
func (a *app) printUsers(users []storage.User, none string) error {
	if a.jsonOut {
		out := make([]userJSON, 0, len(users))
		for _, u := range users {
			out = append(out, toUserJSON(u))
		}
		return writeJSON(a.stdout, out)
	}
	if len(users) == 0 {
		fmt.Fprintln(a.stdout, none)
		return nil
	}
	t := newTable(a.stdout, "ID", "USER PRINCIPAL NAME", "DISPLAY NAME", "ENABLED", "EMERGENCY ACCESS", "ADMIN ROLE", "CREATED")
	for _, u := range users {
		t.row(u.ID, u.UserPrincipalName, u.DisplayName, yesNo(u.AccountEnabled), yesNo(u.IsEmergencyAccess),
			orNone(u.AdminRole), timestamp(u.CreatedAt))
	}
	return t.flush()
}

// orNone shows an empty admin role as "none".
func orNone(role string) string {
	if role == "" {
		return "none"
	}
	return role
}

// mailOrNone shows an unset address as what applications get instead.
func mailOrNone(mail string) string {
	if mail == "" {
		return "none (applications get the user principal name)"
	}
	return mail
}
