package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// Debug is the optional profiling listener shared by the long-running commands.
type Debug struct {
	PprofAddr string `name:"pprof" env:"WHISTLE_PPROF_ADDR" help:"Serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060; off when empty."`
}

// start serves /debug/pprof/ on PprofAddr until ctx is done.
func (d Debug) start(ctx context.Context, log *slog.Logger) error {
	if d.PprofAddr == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	addr, err := serveUntilDone(ctx, d.PprofAddr, mux)
	if err != nil {
		return err
	}
	log.Info("profiles on", "addr", "http://"+addr+"/debug/pprof/")
	return nil
}

// serveUntilDone listens on addr and serves h in the background until ctx
// is done; it returns the address it listens on (a ":0" picks a port).
func serveUntilDone(ctx context.Context, addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}
