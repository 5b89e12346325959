package devstack

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// setPdeathsig makes the kernel send the child SIGINT (PostgreSQL's fast
// shutdown) when this process dies without stopping it.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGINT }

// servesCluster reports whether process pid is a PostgreSQL server working
// in directory dir (a postmaster's working directory is its data directory);
// known is false when the system cannot tell.
func servesCluster(pid int, dir string) (is, known bool) {
	proc := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(proc + "/comm")
	if err != nil {
		return false, false
	}
	if comm := strings.TrimSpace(string(b)); comm != "postgres" && comm != "postmaster" {
		return false, true
	}
	cwd, err := os.Readlink(proc + "/cwd")
	if err != nil {
		return false, false
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return cwd == dir, true
}
