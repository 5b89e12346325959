package main

import "syscall"

// childAttr makes the kernel send a child SIGTERM (a clean stop) should this
// test process die without stopping it.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} }
