package devstack

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// pgBin is a PostgreSQL installation: where initdb and postgres are.
type pgBin struct {
	initdb, postgres string
}

// pgBinDirs are searched, after PATH, for a directory holding both initdb
// and postgres. Globs expand to every installed version, highest first.
var pgBinDirs = []string{
	"/usr/lib/postgresql/*/bin",         // Debian, Ubuntu
	"/usr/pgsql-*/bin",                  // PGDG packages for Fedora, RHEL
	"/usr/local/pgsql/bin",              // built from source
	"/opt/homebrew/opt/postgresql*/bin", // Homebrew, Apple silicon (keg-only versions)
	"/usr/local/opt/postgresql*/bin",    // Homebrew, Intel
	"/Applications/Postgres.app/Contents/Versions/latest/bin",
}

// findPostgres locates initdb and postgres. A cluster created by a given
// major version needs that version's server, so when wantMajor is set (from
// the cluster's PG_VERSION) an installation of it is preferred.
func findPostgres(wantMajor string) (pgBin, bool) {
	var candidates []string
	for _, pattern := range pgBinDirs {
		matches, _ := filepath.Glob(pattern)
		slices.SortFunc(matches, func(a, b string) int { return compareVersionPaths(b, a) })
		candidates = append(candidates, matches...)
	}
	if wantMajor != "" {
		for _, dir := range candidates {
			if strings.Contains(dir, "/"+wantMajor+"/") || strings.Contains(dir, "-"+wantMajor+"/") || strings.Contains(dir, "@"+wantMajor+"/") {
				if b, ok := binIn(dir); ok {
					return b, true
				}
			}
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		// Prefer the postgres next to initdb, so the two match.
		if b, ok := binIn(filepath.Dir(initdb)); ok {
			return b, true
		}
		return pgBin{initdb: initdb, postgres: postgres}, true
	}
	for _, dir := range candidates {
		if b, ok := binIn(dir); ok {
			return b, true
		}
	}
	return pgBin{}, false
}

// binIn returns the installation in dir if it has both programs.
func binIn(dir string) (pgBin, bool) {
	b := pgBin{initdb: filepath.Join(dir, exe("initdb")), postgres: filepath.Join(dir, exe("postgres"))}
	if isExecutable(b.initdb) && isExecutable(b.postgres) {
		return b, true
	}
	return pgBin{}, false
}

func exe(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode().Perm()&0o111 != 0)
}

// compareVersionPaths orders paths by the first number in them, so that
// /usr/lib/postgresql/16/bin sorts after /usr/lib/postgresql/9.6/bin.
func compareVersionPaths(a, b string) int {
	va, vb := firstNumber(a), firstNumber(b)
	if va != vb {
		if va < vb {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func firstNumber(s string) int {
	start := strings.IndexAny(s, "0123456789")
	if start < 0 {
		return -1
	}
	end := start
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(s[start:end])
	return n
}
