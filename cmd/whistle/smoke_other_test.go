//go:build !linux

package main

import "syscall"

// childAttr is the default: only Linux can tie a child's life to ours.
func childAttr() *syscall.SysProcAttr { return nil }
