//go:build unix

package devstack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// runAs is the unprivileged account PostgreSQL runs as when we are root.
type runAs struct {
	name     string
	uid, gid uint32
	groups   []uint32 // primary and supplementary
}

// pgAccount returns the account to run PostgreSQL as, or nil when this
// process is not root and PostgreSQL can simply run as us.
func pgAccount() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if u == nil {
		return nil, fmt.Errorf("postgres: running as root and no postgres or nobody user to run PostgreSQL as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres: user %s: %w", u.Username, err)
	}
	a := &runAs{name: u.Username, uid: uint32(uid), gid: uint32(gid), groups: []uint32{uint32(gid)}}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil && !slices.Contains(a.groups, uint32(g)) {
				a.groups = append(a.groups, uint32(g))
			}
		}
	}
	return a, nil
}

// procAttr puts the child in its own process group (a Ctrl-C at the
// terminal reaches us, and we stop PostgreSQL after the app), drops to as
// when set, and on Linux asks the kernel to interrupt the child if we die.
func procAttr(as *runAs) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if as != nil {
		a.Credential = &syscall.Credential{Uid: as.uid, Gid: as.gid, Groups: as.groups}
	}
	setPdeathsig(a)
	return a
}

// canTraverse reports whether as may search every directory from dir up to
// the root (ignoring ACLs).
func (as *runAs) canTraverse(dir string) bool {
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		perm := fi.Mode().Perm()
		var x bool
		switch {
		case st.Uid == as.uid:
			x = perm&0o100 != 0
		case slices.Contains(as.groups, st.Gid):
			x = perm&0o010 != 0
		default:
			x = perm&0o001 != 0
		}
		if !x {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// chownTree gives everything under dir to as.
func (as *runAs) chownTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid == as.uid && st.Gid == as.gid {
			return nil
		}
		return os.Lchown(path, int(as.uid), int(as.gid))
	})
}

// ownedBy reports whether path belongs to root or as (used to refuse a
// planted directory in a shared temp dir).
func (as *runAs) ownedBy(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && (st.Uid == 0 || st.Uid == as.uid)
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// interruptPID asks process pid to stop (SIGINT: PostgreSQL's fast shutdown).
func interruptPID(pid int) error { return syscall.Kill(pid, syscall.SIGINT) }

// killPID kills process pid.
func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
