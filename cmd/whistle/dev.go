package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/whistle-city/whistle/app"
	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/devstack"
	"github.com/whistle-city/whistle/devstack/temporaldev"
	"github.com/whistle-city/whistle/incident"
)

type devCmd struct {
	HTTP         string `name:"http" env:"WHISTLE_HTTP_ADDR" default:"127.0.0.1:8080" help:"Address the API listens on."`
	DataDir      string `name:"data-dir" default:".whistle" help:"Where Temporal, NATS, PostgreSQL and the JWT secret keep their data."`
	Jurisdiction string `name:"jurisdiction" env:"WHISTLE_JURISDICTION" type:"existingfile" help:"Jurisdiction YAML (default: the shipped district)."`
	DatabaseURL  string `name:"database-url" env:"DATABASE_URL" help:"Use this PostgreSQL instead of a private one."`
	Debug
	Temporal      string `name:"temporal-port" default:"127.0.0.1:7233" help:"Where the embedded Temporal listens (a free port is used if taken)."`
	WorkflowCache int    `name:"workflow-cache" env:"WHISTLE_WORKFLOW_CACHE" help:"Incidents' workflows the worker keeps in memory between steps (default: the SDK's 10000); fewer use less memory and replay more."`
	MapTiles      string `name:"map-tiles" env:"WHISTLE_MAP_TILES" help:"Tile address template of the console's map (https://{s}.tile.example/{z}/{x}/{y}.png); none draws the markers on a plain background."`
}

// devEndpoints is written to DATA_DIR/dev.json so other commands (bench,
// token) and operators find the running stack.
type devEndpoints struct {
	HTTP        string `json:"http"`
	NATS        string `json:"nats"`
	Temporal    string `json:"temporal"`
	DatabaseURL string `json:"database_url"`
	// Jurisdiction is the jurisdiction file it runs ("" for the shipped
	// district): whistle token checks organisations against it.
	Jurisdiction string `json:"jurisdiction,omitempty"`
}

func (c *devCmd) Run(ctx context.Context, log *slog.Logger) (err error) {
	app.SetWorkflowCache(c.WorkflowCache) // before the embedded Temporal starts its own workers
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := c.Debug.start(ctx, log); err != nil {
		return err
	}
	secret, err := loadOrCreateSecret(dir)
	if err != nil {
		return err
	}
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()

	log.Info("starting PostgreSQL")
	// Postgres outlives ctx: it is stopped last, after everything using it.
	pg, err := devstack.StartPostgres(context.WithoutCancel(ctx), devstack.PostgresOptions{DatabaseURL: c.DatabaseURL, DataDir: filepath.Join(dir, "postgres"), Logger: log})
	if err != nil {
		return err
	}
	stops = append(stops, func() { _ = pg.Stop() })

	log.Info("starting NATS")
	nats, err := devstack.StartNATS(ctx, devstack.NATSOptions{DataDir: filepath.Join(dir, "nats"), Logger: log})
	if err != nil {
		return err
	}
	stops = append(stops, nats.Stop)

	if _, err := os.Stat(filepath.Join(dir, "temporal")); errors.Is(err, fs.ErrNotExist) {
		log.Info("starting Temporal (a first start creates its SQLite schema)")
	} else {
		log.Info("starting Temporal")
	}
	tmp, err := temporaldev.Start(ctx, temporaldev.Options{DataDir: filepath.Join(dir, "temporal"), HostPort: c.Temporal, Logger: log})
	if err != nil {
		return err
	}
	stops = append(stops, func() { _ = tmp.Stop() })

	s, err := app.Open(ctx, app.Config{
		DatabaseURL: pg.URL(), NATSURL: nats.ClientURL(), TemporalAddress: tmp.HostPort(),
		TemporalNamespace: tmp.Namespace(), HTTPAddr: c.HTTP, JurisdictionFile: c.Jurisdiction,
		JWTSecret: secret, Version: version, Logger: log, MapTiles: c.MapTiles,
	})
	if err != nil {
		return err
	}
	stops = append(stops, s.Close)

	ln, err := net.Listen("tcp", c.HTTP)
	if err != nil {
		return fmt.Errorf("listen on %s (use --http to pick another address): %w", c.HTTP, err)
	}
	ep := devEndpoints{HTTP: "http://" + ln.Addr().String(), NATS: nats.ClientURL(), Temporal: tmp.HostPort(), DatabaseURL: pg.URL()}
	if c.Jurisdiction != "" {
		if ep.Jurisdiction, err = filepath.Abs(c.Jurisdiction); err != nil {
			return err
		}
	}
	if b, err := json.MarshalIndent(ep, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "dev.json"), b, 0o600)
	}
	if err := printBanner(os.Stdout, ep, secret, s.Jurisdiction.District.Code); err != nil {
		return err
	}
	err = s.RunAll(ctx, ln)
	log.Info("stopping")
	return err
}

// devUsers are the sample users whose tokens `whistle dev` prints, one per
// role, in the shipped district.
var devUsers = []incident.Actor{
	{Sub: "wang.grid", Role: incident.RoleGridWorker, Org: "FH-01-01"},
	{Sub: "li.street", Role: incident.RoleStreet, Org: "FH"},
	{Sub: "chen.cg", Role: incident.RoleDepartment, Org: "CG"},
	{Sub: "zhou.scjg", Role: incident.RoleDepartment, Org: "SCJG"},
	{Sub: "sun.district", Role: incident.RoleDistrict, Org: ""},
	{Sub: "admin", Role: incident.RoleAdmin, Org: ""},
	{Sub: "12345", Role: incident.RoleIntake, Org: incident.ChannelHotline},
}

func printBanner(w *os.File, ep devEndpoints, secret []byte, district string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nWhistle is running.\n  Console   %s/   (sign in at %s/login with a token below)\n  API       %s   (reference: %s/docs, OpenAPI: %s/openapi.json)\n  Open311   %s/open311/v2/   (discovery: %s/open311/discovery.json; a key: whistle open311-key --client NAME)\n  Temporal  %s\n  NATS      %s\n  Postgres  %s\n\nTokens (valid 30 days; mint more with `whistle token`); paste one at the sign-in address beside it:\n",
		ep.HTTP, ep.HTTP, ep.HTTP, ep.HTTP, ep.HTTP, ep.HTTP, ep.HTTP, ep.Temporal, ep.NATS, redact(ep.DatabaseURL))
	for _, u := range devUsers {
		if u.Org == "" {
			u.Org = district
		}
		tok, err := auth.Sign(secret, u, 30*24*time.Hour)
		if err != nil {
			return err
		}
		signIn := ep.HTTP + "/login"
		if u.Role == incident.RoleIntake {
			signIn = "(API only)"
		}
		fmt.Fprintf(&b, "  %-11s %-9s %s  export TOKEN_%s=%s\n", u.Role, u.Org, signIn, strings.ToUpper(strings.ReplaceAll(string(u.Role)+"_"+u.Org, "-", "_")), tok)
	}
	b.WriteString("\nCtrl-C stops it; a restart carries on every incident in flight.\n")
	_, err := w.WriteString(b.String())
	return err
}

func redact(url string) string {
	if i := strings.Index(url, "@"); i > 0 {
		if j := strings.Index(url, "://"); j > 0 && j < i {
			if k := strings.Index(url[j+3:i], ":"); k >= 0 {
				return url[:j+3+k] + ":***" + url[i:]
			}
		}
	}
	return url
}

const secretFile = "jwt-secret"

// loadOrCreateSecret returns WHISTLE_JWT_SECRET, or the secret kept in dir,
// creating it on first use.
func loadOrCreateSecret(dir string) ([]byte, error) {
	if s := os.Getenv("WHISTLE_JWT_SECRET"); s != "" {
		return []byte(s), nil
	}
	path := filepath.Join(dir, secretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// readSecret returns WHISTLE_JWT_SECRET or the secret `whistle dev` keeps in dir.
func readSecret(dir string) ([]byte, error) {
	if s := os.Getenv("WHISTLE_JWT_SECRET"); s != "" {
		return []byte(s), nil
	}
	b, err := os.ReadFile(filepath.Join(dir, secretFile))
	if err != nil {
		return nil, fmt.Errorf("no WHISTLE_JWT_SECRET and no secret in %s (run `whistle dev` once, or set the variable): %w", dir, err)
	}
	return []byte(strings.TrimSpace(string(b))), nil
}
