package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	httpapi "github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
)

// open311KeyCmd mints an Open311 API key, reaching the database as
// `whistle metrics check` does.
type open311KeyCmd struct {
	seedDB
	Client  string   `name:"client" required:"" help:"The client's name (letters, digits, '-', '_', '.'); its reports come in by channel open311:NAME."`
	Streets []string `name:"streets" sep:"," help:"Streets it may report in (default: all)."`
	Items   []string `name:"items" sep:"," help:"Items of the responsibility list it may report (default: all)."`
	Rate    int      `name:"rate" default:"60" help:"Requests a minute."`
	MaxBody int      `name:"max-body" default:"65536" help:"Largest POST body in bytes."`
}

// Run prints the new key alone on stdout.
func (c *open311KeyCmd) Run() error {
	ctx := context.Background()
	st, j, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	k, err := httpapi.Open311KeyOf(j, httpapi.Open311KeyRequest{Client: c.Client, Streets: c.Streets, Items: c.Items,
		RatePerMinute: c.Rate, MaxBodyBytes: c.MaxBody})
	if err != nil {
		return flagErrors(err)
	}
	// The flags have their defaults: a 0 is asked for, not left out, and
	// the store refuses it.
	k.RatePerMinute, k.MaxBodyBytes = c.Rate, c.MaxBody
	k.CreatedBy = "whistle open311-key"
	_, key, err := st.CreateOpen311Key(ctx, store.Everything, k)
	if err != nil {
		return flagErrors(err)
	}
	fmt.Println(key)
	return nil
}

// flagErrors says a refusal of a key request (the API's check or the
// store's) in the command's flags: "--streets: unknown street \"NOPE\"".
func flagErrors(err error) error {
	flag := func(field string) string {
		name, _, _ := strings.Cut(strings.TrimPrefix(field, "body."), "[")
		return "--" + strings.NewReplacer("rate_per_minute", "rate", "max_body_bytes", "max-body").Replace(name)
	}
	var de *incident.Error
	if errors.As(err, &de) && de.Field != "" {
		return fmt.Errorf("%s: %s", flag(de.Field), de.Message)
	}
	var p *httpapi.Problem
	if !errors.As(err, &p) || len(p.Errors) == 0 {
		return err
	}
	msgs := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		msgs[i] = flag(e.Location) + ": " + e.Message
	}
	return errors.New(strings.Join(msgs, "; "))
}
