package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
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
	ln, err := net.Listen("tcp", d.PprofAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	go func() { _ = srv.Serve(ln) }()
	log.Info("profiles on", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}
