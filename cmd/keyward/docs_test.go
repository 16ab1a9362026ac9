package main

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/keyward/keyward/internal/config"
)

// README.md and docs/ are the user's manual; these tests keep them in step
// with the code.

// doc reads a file of the manual, named from the repository's root.
func doc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigurationDocumentsEverySetting(t *testing.T) {
	table := doc(t, "docs/configuration.md")
	for _, s := range config.Settings() {
		def := "(empty)"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		row := "| `--" + s.Flag + "` | `" + s.Env + "` | `" + s.Key + "` | " + def + " | " + s.Usage + " |"
		if !strings.Contains(table, row) {
			t.Errorf("docs/configuration.md lacks the row\n%s", row)
		}
	}
}

// Every setting the configuration table documents as a flag is one that keyward
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

// docs/cli.md is what the commands say about themselves; a command, flag or
// help text changed without generating it again fails here (and so in CI).
func TestCLIReferenceIsGenerated(t *testing.T) {
	want := cliReference((&app{}).rootCmd())
	if got := doc(t, "docs/cli.md"); got != want {
		t.Errorf("docs/cli.md is not what the commands produce: run go generate ./cmd/keyward and commit it\n%s", firstDifference(got, want))
	}
	for _, name := range []string{"keyward serve", "keyward user tap", "keyward policy passkey set", "keyward version"} {
		if !strings.Contains(want, "\n## "+name+"\n") && !strings.Contains(want, "\n### "+name+"\n") && !strings.Contains(want, "\n#### "+name+"\n") {
			t.Errorf("the reference has no section for %s", name)
		}
	}
}

// firstDifference shows the first line where two texts differ.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d\n  in the file:  %q\n  from the commands: %q", i+1, gl, wl)
		}
	}
	return ""
}

func TestCIRunsTheReadmeTestCommand(t *testing.T) {
	const cmd = "go test -count=1 -timeout 15m ./..."
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc(t, "README.md"), "```sh\n"+cmd+"\n```") || !strings.Contains(string(ci), "\n"+cmd+"\n") {
		t.Errorf("README and .ci/run must both run %q", cmd)
	}
}

// Every relative link of the manual leads to a file that exists, and every
// #anchor to one of its headings, so moving a section cannot leave a dead link.
func TestManualLinksResolve(t *testing.T) {
	root := filepath.Join("..", "..")
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, name := range files {
		for _, m := range link.FindAllStringSubmatch(withoutCode(doc(t, name)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			dest := name
			if file != "" {
				dest = path.Join(path.Dir(name), file)
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dest))); err != nil {
				t.Errorf("%s links to %s, which does not exist", name, target)
				continue
			}
			if anchor != "" && !slices.Contains(anchors(doc(t, dest)), anchor) {
				t.Errorf("%s links to %s, but %s has no heading #%s", name, target, dest, anchor)
			}
		}
	}
}

// withoutCode drops fenced code blocks, whose text is not Markdown.
func withoutCode(md string) string {
	var b strings.Builder
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// anchors lists the anchors GitHub gives a Markdown file's headings.
func anchors(md string) []string {
	var out []string
	for _, line := range strings.Split(withoutCode(md), "\n") {
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		var a strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				a.WriteRune(r)
			}
		}
		out = append(out, a.String())
	}
	return out
}

// Every page of the manual is reachable from its index, docs/README.md.
func TestDocsIndexLinksEveryPage(t *testing.T) {
	index := doc(t, "docs/README.md")
	root := filepath.Join("..", "..", "docs")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".md") || d.Name() == "README.md" {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if !strings.Contains(index, "]("+filepath.ToSlash(rel)+")") {
			t.Errorf("docs/README.md has no link to %s; add a line for it", filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
