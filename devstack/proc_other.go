//go:build !unix

package devstack

import (
	"io/fs"
	"os"
	"syscall"
)

// runAs is unused where there is no root.
type runAs struct{ name string }

func pgAccount() (*runAs, error)                 { return nil, nil }
func procAttr(*runAs) *syscall.SysProcAttr       { return nil }
func (*runAs) canTraverse(string) bool           { return true }
func (*runAs) chownTree(string) error            { return nil }
func (*runAs) ownedBy(fs.FileInfo) bool          { return true }
func servesCluster(int, string) (is, known bool) { return false, false }
func interruptPID(pid int) error                 { return killPID(pid) }

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}

func killPID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
