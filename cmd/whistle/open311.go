package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	var bad []string
	for _, s := range c.Streets {
		if _, ok := j.Street(s); !ok {
			bad = append(bad, "unknown street "+s)
		}
	}
	for _, it := range c.Items {
		if _, ok := j.Item(it); !ok {
			bad = append(bad, "unknown item "+it)
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	_, key, err := st.CreateOpen311Key(ctx, store.Everything, store.Open311Key{
		Client: c.Client, Streets: c.Streets, Items: c.Items, RatePerMinute: c.Rate, MaxBodyBytes: c.MaxBody,
		CreatedBy: "whistle open311-key",
	})
	if err != nil {
		if e := (*incident.Error)(nil); errors.As(err, &e) {
			return fmt.Errorf("--%s: %s", strings.ReplaceAll(strings.ReplaceAll(e.Field, "_", "-"), "rate-per-minute", "rate"), e.Message)
		}
		return err
	}
	fmt.Println(key)
	return nil
}
