package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

//go:generate go run . docs cli --output ../../docs/cli.md

// The command-line reference, docs/cli.md, is written from the commands
// themselves — their Use, Long, Example and flags — so that it says what
// --help says and cannot go stale: TestCLIReferenceIsGenerated fails when the
// checked-in file differs from what the commands produce.

func (a *app) docsCmd() *cobra.Command {
	docs := &cobra.Command{
		Use:    "docs",
		Short:  "Write documentation generated from the commands",
		Hidden: true,
	}
	var output string
	cli := &cobra.Command{
		Use:   "cli [--output FILE]",
		Short: "Write the command-line reference (docs/cli.md) in Markdown",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			text := cliReference(cmd.Root())
			if output == "" {
				_, err := io.WriteString(a.stdout, text)
				return err
			}
			return os.WriteFile(output, []byte(text), 0o644)
		},
	}
	cli.Flags().StringVar(&output, "output", "", "write to this file instead of standard output")
	docs.AddCommand(cli)
	return docs
}

// documented lists the commands the reference describes, in the order of the
// command tree: no hidden ones, no help and no shell completion.
func documented(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		out = append(out, sub)
	}
	return out
}

// cliReference renders root's command tree as docs/cli.md.
func cliReference(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("# Command-line reference\n\n")
	b.WriteString("<!-- Generated from the commands by `go generate ./cmd/keyward`; do not edit here.\n" +
		"     Change the commands' help in cmd/keyward and generate again. -->\n\n")
	b.WriteString(markdown(root.Long))
	b.WriteString("\n## Commands\n\n```\n")
	var synopsis func(c *cobra.Command)
	synopsis = func(c *cobra.Command) {
		for _, sub := range documented(c) {
			if sub.Runnable() {
				b.WriteString(strings.TrimSuffix(sub.Parent().CommandPath()+" "+sub.Use, " [flags]") + "\n")
			}
			synopsis(sub)
		}
	}
	synopsis(root)
	b.WriteString("```\n\n")
	b.WriteString("## Flags of every command\n\n")
	b.WriteString(flagTable(root.PersistentFlags()))
	var section func(c *cobra.Command, level int)
	section = func(c *cobra.Command, level int) {
		for _, sub := range documented(c) {
			writeCommand(&b, sub, level)
			section(sub, level+1)
		}
	}
	section(root, 2)
	return b.String()
}

func writeCommand(b *strings.Builder, c *cobra.Command, level int) {
	fmt.Fprintf(b, "\n%s %s\n\n", strings.Repeat("#", level), c.CommandPath())
	if c.Long != "" {
		b.WriteString(markdown(c.Long))
	} else {
		b.WriteString(markdown(c.Short + "."))
	}
	if c.Runnable() {
		fmt.Fprintf(b, "\n```\n%s\n```\n", c.UseLine())
	}
	if subs := documented(c); len(subs) > 0 {
		b.WriteString("\n")
		for _, sub := range subs {
			fmt.Fprintf(b, "- [`%s`](#%s): %s\n", sub.CommandPath(), strings.ReplaceAll(sub.CommandPath(), " ", "-"), sub.Short)
		}
	}
	own := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			own.AddFlag(f)
		}
	})
	if own.HasFlags() {
		b.WriteString("\n")
		if c.HasSubCommands() {
			fmt.Fprintf(b, "Flags of every `%s` command:\n\n", c.CommandPath())
		}
		b.WriteString(flagTable(own))
	}
	if c.Example != "" {
		fmt.Fprintf(b, "\n```sh\n%s\n```\n", dedent(strings.Trim(c.Example, "\n")))
	}
}

// flagTable renders a flag set as a Markdown table, in name order.
func flagTable(fs *pflag.FlagSet) string {
	var b strings.Builder
	b.WriteString("| Flag | Default | Meaning |\n|------|---------|---------|\n")
	fs.VisitAll(func(f *pflag.Flag) {
		name, usage := pflag.UnquoteUsage(f)
		flag := "--" + f.Name
		if name != "" {
			flag += " " + name
		}
		def := ""
		if !zeroDefault(f) {
			def = "`" + f.DefValue + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", flag, def, cell(usage))
	})
	return b.String()
}

// zeroDefault reports a default that says nothing: empty, false, zero, [].
func zeroDefault(f *pflag.Flag) bool {
	switch f.DefValue {
	case "", "false", "0", "0s", "[]":
		return true
	}
	return false
}

func cell(s string) string {
	return strings.ReplaceAll(escapeHTML(s), "|", `\|`)
}

// escapeHTML keeps help text such as "keyward: <what is wrong>" from being
// read as HTML by Markdown.
func escapeHTML(s string) string {
	return strings.ReplaceAll(s, "<", "&lt;")
}

// markdown turns a command's help text into Markdown: paragraphs stay
// paragraphs ("- " lines are lists already) and an indented paragraph — a
// command and its output — becomes a code block.
func markdown(help string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.Trim(help, "\n"), "\n\n") {
		para = strings.Trim(para, "\n")
		if para == "" {
			continue
		}
		if strings.HasPrefix(para, "  ") {
			fmt.Fprintf(&b, "```\n%s\n```\n\n", dedent(para))
			continue
		}
		b.WriteString(escapeHTML(para) + "\n\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// dedent removes the indentation every non-empty line shares.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if common < 0 || n < common {
			common = n
		}
	}
	for i, l := range lines {
		if len(l) >= common && common > 0 {
			lines[i] = l[common:]
		}
	}
	return strings.Join(lines, "\n")
}
