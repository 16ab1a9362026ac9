package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/apperr"
	"github.com/keyward/keyward/internal/directory"
	"github.com/keyward/keyward/internal/storage"
)

func (a *app) groupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Manage security groups and their members",
		Long:  "Manage security groups. GROUP is a group's ID or its display name (unique, case-insensitive).",
	}
	cmd.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print JSON (the admin API's field names) instead of a table")
	cmd.AddCommand(a.groupAddCmd(), a.groupListCmd(), a.groupDeleteCmd(),
		a.groupMembersCmd(), a.groupMemberCmd(true), a.groupMemberCmd(false))
	return cmd
}

func (a *app) groupAddCmd() *cobra.Command {
	var name, desc string
	cmd := &cobra.Command{
		Use:   "add --name NAME [--description TEXT]",
		Short: "Create a security group",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			in := directory.GroupInput{DisplayName: &name}
			if cmd.Flags().Changed("description") {
				in.Description = &desc
			}
			g, err := a.directory(st).CreateGroup(cmd.Context(), cliActor, in)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return writeJSON(a.stdout, toGroupJSON(g))
			}
			return a.printGroups([]storage.Group{g})
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "display name, unique (required)")
	cmd.Flags().StringVar(&desc, "description", "", "description")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func (a *app) groupListCmd() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List security groups, ordered by display name",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st store) error {
			groups, err := allGroups(cmd.Context(), a.directory(st), prefix)
			if err != nil {
				return err
			}
			if len(groups) == 0 && !a.jsonOut {
				fmt.Fprintln(a.stdout, "No groups.")
				return nil
			}
			return a.printGroups(groups)
		}),
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only groups whose display name starts with this (case-insensitive)")
	return cmd
}

func allGroups(ctx context.Context, dir *directory.Service, prefix string) ([]storage.Group, error) {
	return allPages(ctx, storage.Page{Prefix: prefix}, dir.ListGroups)
}

// resolveGroup finds a group by ID, or else by display name (unique,
// case-insensitive), so people can type names and scripts can pass IDs.
func resolveGroup(ctx context.Context, dir *directory.Service, idOrName string) (storage.Group, error) {
	g, err := dir.GetGroup(ctx, idOrName)
	if err == nil {
		return g, nil
	}
	if s := apperr.As(err).Status; s != http.StatusNotFound && s != http.StatusBadRequest {
		return storage.Group{}, err
	}
	groups, err := allGroups(ctx, dir, idOrName)
	if err != nil {
		return storage.Group{}, err
	}
	for _, g := range groups {
		if strings.EqualFold(g.DisplayName, idOrName) {
			return g, nil
		}
	}
	return storage.Group{}, apperr.NotFound("no group with ID or name %q (see keyward group list)", idOrName)
}

// withGroup runs fn with the store open and the group that args[0] names
// (ID or display name) loaded.
func (a *app) withGroup(fn func(cmd *cobra.Command, args []string, dir *directory.Service, g storage.Group) error) func(*cobra.Command, []string) error {
	return a.withStore(func(cmd *cobra.Command, args []string, st store) error {
		dir := a.directory(st)
		g, err := resolveGroup(cmd.Context(), dir, args[0])
		if err != nil {
			return err
		}
		return fn(cmd, args, dir, g)
	})
}

func (a *app) groupDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete a security group (its members stay in the directory)",
		Args:  cobra.ExactArgs(1),
		RunE: a.withGroup(func(cmd *cobra.Command, _ []string, dir *directory.Service, g storage.Group) error {
			if err := dir.DeleteGroup(cmd.Context(), cliActor, g.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Deleted group %s.\n", g.DisplayName)
			return nil
		}),
	}
}

func (a *app) groupMembersCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "members GROUP",
		Short: "List a group's members",
		Args:  cobra.ExactArgs(1),
		RunE: a.withGroup(func(cmd *cobra.Command, _ []string, dir *directory.Service, g storage.Group) error {
			all, err := allPages(cmd.Context(), storage.Page{}, func(ctx context.Context, p storage.Page) ([]storage.User, string, error) {
				return dir.ListMembers(ctx, g.ID, p)
			})
			if err != nil {
				return err
			}
			return a.printUsers(all, "No members.")
		}),
	}
}

// groupMemberCmd builds "add-member" (add=true) or "remove-member".
func (a *app) groupMemberCmd(add bool) *cobra.Command {
	use, short := "remove-member GROUP USER", "Remove a user (ID or UPN) from a group"
	if add {
		use, short = "add-member GROUP USER", "Add a user (ID or UPN) to a group"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: a.withGroup(func(cmd *cobra.Command, args []string, dir *directory.Service, g storage.Group) error {
			ctx := cmd.Context()
			u, err := dir.GetUser(ctx, args[1])
			if err != nil {
				return err
			}
			if add {
				err = dir.AddMember(ctx, cliActor, g.ID, u.ID)
			} else {
				err = dir.RemoveMember(ctx, cliActor, g.ID, u.ID)
			}
			if err != nil {
				return err
			}
			if add {
				fmt.Fprintf(a.stdout, "Added %s to %s.\n", u.UserPrincipalName, g.DisplayName)
			} else {
				fmt.Fprintf(a.stdout, "Removed %s from %s.\n", u.UserPrincipalName, g.DisplayName)
			}
			return nil
		}),
	}
}

func (a *app) printGroups(groups []storage.Group) error {
	if a.jsonOut {
		out := make([]groupJSON, 0, len(groups))
		for _, g := range groups {
			out = append(out, toGroupJSON(g))
		}
		return writeJSON(a.stdout, out)
	}
	t := newTable(a.stdout, "ID", "DISPLAY NAME", "DESCRIPTION", "CREATED")
	for _, g := range groups {
		t.row(g.ID, g.DisplayName, g.Description, timestamp(g.CreatedAt))
	}
	return t.flush()
}
