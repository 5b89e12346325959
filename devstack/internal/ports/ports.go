// Package ports finds free TCP ports for the embedded servers.
package ports

import (
	"fmt"
	"net"
	"runtime"
	"strconv"
)

// Free asks the kernel for a TCP port that is free on host right now.
// Another process may take it before the caller binds it. On Linux, where
// the kernel hands out ports at random and may soon give the same one again,
// the port is left in TIME_WAIT (connected to, closed from the listening
// side), so bind(":0") and outgoing connections avoid it for about a minute
// while an explicit bind still succeeds.
func Free(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	addr := l.Addr().(*net.TCPAddr)
	if runtime.GOOS == "linux" {
		client, err := net.DialTCP("tcp", nil, addr)
		if err != nil {
			return 0, fmt.Errorf("find a free port on %s: %w", host, err)
		}
		defer client.Close()
		server, err := l.Accept()
		if err != nil {
			return 0, fmt.Errorf("find a free port on %s: %w", host, err)
		}
		_ = server.Close() // the listening side closes first: TIME_WAIT is on the port
	}
	return addr.Port, nil
}

// IsFree reports whether host:port can be bound right now.
func IsFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
