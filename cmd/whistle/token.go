package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/incident"
)

type tokenCmd struct {
	Role    string        `name:"role" required:"" enum:"grid_worker,street,department,district,admin" help:"grid_worker, street, department, district or admin."`
	Org     string        `name:"org" required:"" help:"Grid, street, department or district code."`
	Sub     string        `name:"sub" help:"Subject (user name); default ROLE-ORG."`
	TTL     time.Duration `name:"ttl" default:"720h" help:"How long the token is valid."`
	DataDir string        `name:"data-dir" default:".whistle" help:"Where whistle dev keeps its secret (when WHISTLE_JWT_SECRET is unset)."`
}

func (c *tokenCmd) Run(ctx context.Context, log *slog.Logger) error {
	secret, err := readSecret(c.DataDir)
	if err != nil {
		return err
	}
	sub := c.Sub
	if sub == "" {
		sub = c.Role + "-" + c.Org
	}
	tok, err := auth.Sign(secret, incident.Actor{Sub: sub, Role: incident.Role(c.Role), Org: c.Org}, c.TTL)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
