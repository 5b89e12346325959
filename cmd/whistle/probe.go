package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// probeCmd asks a serve whether it is ready, for a container's healthcheck
// where the image has no shell and no curl (distroless).
type probeCmd struct {
	URL     string        `arg:"" default:"http://127.0.0.1:8080/readyz" help:"Address to GET."`
	Timeout time.Duration `name:"timeout" default:"3s" help:"Give up after this long."`
}

// Run exits 0 when the URL answers 2xx, 1 otherwise, saying why on stderr.
func (c *probeCmd) Run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s: %s", c.URL, resp.Status, body)
	}
	return nil
}
