package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

type tokenCmd struct {
	Role    string        `name:"role" required:"" enum:"grid_worker,street,department,district,admin,intake" help:"grid_worker, street, department, district, admin or intake (a system sending reports: the hotline, another app)."`
	Org     string        `name:"org" required:"" help:"Grid, street, department or district code; for intake its channel: hotline, api or open311:<client>."`
	Sub     string        `name:"sub" help:"Subject (user name); default ROLE-ORG."`
	TTL     time.Duration `name:"ttl" default:"720h" help:"How long the token is valid."`
	DataDir string        `name:"data-dir" default:".whistle" help:"Where whistle dev keeps its secret (when WHISTLE_JWT_SECRET is unset)."`
	// Jurisdiction is only read to check --org.
	Jurisdiction string `name:"jurisdiction" env:"WHISTLE_JURISDICTION" type:"existingfile" help:"Jurisdiction YAML to check --org against (default: the one whistle dev in DATA_DIR runs, else the shipped district)."`
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
	// The token alone goes to stdout; a word about an organisation the
	// district does not have goes to stderr (a token for one that is to be
	// added is legitimate, so it is not refused).
	if warning := c.checkOrg(); warning != "" {
		log.Warn(warning)
	}
	fmt.Println(tok)
	return nil
}

// checkOrg returns why --org is not an organisation of the role in the
// jurisdiction (the one given, the one whistle dev runs, or the shipped
// one), or "".
func (c *tokenCmd) checkOrg() string {
	file := c.Jurisdiction
	if file == "" {
		if ep, err := readDevEndpoints(c.DataDir); err == nil && ep != nil {
			file = ep.Jurisdiction
		}
	}
	j := jurisdiction.Default()
	if file != "" {
		var err error
		if j, _, err = jurisdiction.Load(file); err != nil {
			return fmt.Sprintf("could not check --org %s: %v", c.Org, err)
		}
	}
	var ok bool
	var kind string
	switch incident.Role(c.Role) {
	case incident.RoleGridWorker:
		_, _, ok = j.LocateGrid(c.Org)
		kind = "grid"
	case incident.RoleStreet:
		_, ok = j.Street(c.Org)
		kind = "street"
	case incident.RoleDepartment:
		_, ok = j.Department(c.Org)
		kind = "department"
	case incident.RoleIntake:
		if !incident.ValidChannel(c.Org) {
			return fmt.Sprintf("the intake token's org %q is not a channel (hotline, api or open311:<client>): it may report nothing", c.Org)
		}
		return ""
	default:
		ok, kind = c.Org == j.District.Code, "district"
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("the token is for %s %q, which %s (%s) does not have: it will read nothing and may do nothing there",
		kind, c.Org, j.District.Name, j.District.Code)
}
