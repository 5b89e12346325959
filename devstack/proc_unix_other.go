//go:build unix && !linux

package devstack

import "syscall"

// setPdeathsig does nothing: only Linux has a parent-death signal.
func setPdeathsig(*syscall.SysProcAttr) {}

// servesCluster cannot tell on this system.
func servesCluster(int, string) (is, known bool) { return false, false }
