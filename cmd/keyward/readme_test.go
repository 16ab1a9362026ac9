package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/config"
)

// The README is the user's manual; these tests keep it in step with the code.

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadmeDocumentsEverySetting(t *testing.T) {
	doc := readme(t)
	for _, s := range config.Settings() {
		def := "(empty)"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		row := "| `--" + s.Flag + "` | `" + s.Env + "` | `" + s.Key + "` | " + def + " | " + s.Usage + " |"
		if !strings.Contains(doc, row) {
			t.Errorf("README lacks the row\n%s", row)
		}
	}
}

// Every setting the README's table documents as a flag is one that keyward
// serve (the command that reads them all) accepts.
func TestServeTakesEverySettingAsAFlag(t *testing.T) {
	serve, _, err := (&app{}).rootCmd().Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range config.Settings() {
		if serve.Flags().Lookup(s.Flag) == nil && serve.InheritedFlags().Lookup(s.Flag) == nil {
			t.Errorf("keyward serve has no flag --%s for the setting %s", s.Flag, s.Key)
		}
	}
}

func TestReadmeDocumentsEveryCommand(t *testing.T) {
	doc := readme(t)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if !sub.HasSubCommands() && !strings.Contains(doc, sub.CommandPath()) {
				t.Errorf("README does not mention %q", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk((&app{}).rootCmd())
}

func TestCIRunsTheReadmeTestCommand(t *testing.T) {
	const cmd = "go test -count=1 -timeout 15m ./..."
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readme(t), "```sh\n"+cmd+"\n```") || !strings.Contains(string(ci), "\n"+cmd+"\n") {
		t.Errorf("README and .ci/run must both run %q", cmd)
	}
}
