package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProbe(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready {
			http.Error(w, "database: connection refused", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	p := probeCmd{URL: srv.URL + "/readyz", Timeout: time.Second}
	require.NoError(t, p.Run(t.Context()))
	ready = false
	require.ErrorContains(t, p.Run(t.Context()), "503 Service Unavailable: database: connection refused")
	srv.Close()
	require.Error(t, p.Run(t.Context()), "nothing listening")
}
