package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/whistle-city/whistle/loadgen"
)

// defaultBenchURL is where the bench goes when neither --url nor dev.json
// says otherwise: the default address of `whistle dev`.
const defaultBenchURL = "http://127.0.0.1:8080"

type benchCmd struct {
	N               int           `name:"n" default:"1000" help:"Incidents to push through the loop."`
	Concurrency     int           `name:"concurrency" default:"50" help:"Incidents in flight at once."`
	URL             []string      `name:"url" sep:"," help:"API root (default: from DATA_DIR/dev.json, else http://127.0.0.1:8080); several, comma-separated, are taken in turn and a retry goes to the next (serve processes without a load balancer)."`
	NATS            string        `name:"nats" help:"NATS URL to see task_created events on, several comma-separated for a cluster (default: from DATA_DIR/dev.json when the API is the one it names); without one, tasks are found by polling."`
	RunID           string        `name:"run-id" help:"Name of the run (letters, digits, - and _; default random): its reports are described \"whistle bench RUN-ID #i\"."`
	Attempts        int           `name:"attempts" default:"8" help:"Tries of one request that fails with a 5xx, 429, timeout or network error."`
	Poll            bool          `name:"poll" help:"Find tasks by polling GET /v1/incidents/{id} even when a NATS URL is known."`
	DataDir         string        `name:"data-dir" default:".whistle" help:"Where whistle dev keeps dev.json and its JWT secret (when WHISTLE_JWT_SECRET is unset)."`
	Category        []string      `name:"category" help:"Item codes to report, round-robin (default: every department-tier item of GET /v1/catalogue)."`
	Timeout         time.Duration `name:"timeout" default:"10m" help:"Give up on the whole run after this long."`
	IncidentTimeout time.Duration `name:"incident-timeout" default:"2m" help:"Count an incident as failed when it is not closed this long after its report."`
	AllowRemote     bool          `name:"allow-remote" help:"Allow an API or NATS URL that is not on this machine (the bench creates real incidents)."`
	JSON            bool          `name:"json" help:"Also print the result as JSON."`
}

func (c *benchCmd) Run(ctx context.Context, log *slog.Logger) error {
	secret, err := readSecret(c.DataDir)
	if err != nil {
		return err
	}
	dev, err := readDevEndpoints(c.DataDir)
	if err != nil {
		return err
	}
	urls, natsURL := c.URL, c.NATS
	if len(urls) == 0 {
		urls = []string{defaultBenchURL}
		if dev != nil && dev.HTTP != "" {
			urls = []string{dev.HTTP}
		}
	}
	url := urls[0]
	// NATS from dev.json only when the API is the one dev.json describes.
	if natsURL == "" && dev != nil && (len(c.URL) == 0 || len(c.URL) == 1 && c.URL[0] == dev.HTTP) {
		natsURL = dev.NATS
	}
	if c.Poll {
		natsURL = ""
	}
	log.Info("bench", "url", urls, "nats", natsURL)

	res, err := loadgen.Run(ctx, loadgen.Config{
		BaseURL: url, OtherURLs: urls[1:], RunID: c.RunID, MaxAttempts: c.Attempts, NATSURL: natsURL, AllowRemote: c.AllowRemote, Secret: secret,
		N: c.N, Concurrency: c.Concurrency, Categories: c.Category,
		Timeout: c.Timeout, IncidentTimeout: c.IncidentTimeout, Logger: log,
	})
	if err != nil {
		return err
	}
	fmt.Print(res.String())
	if c.JSON {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		fmt.Printf("\n%s\n", b)
	}
	if res.Failed > 0 {
		return fmt.Errorf("%d of %d incidents did not close", res.Failed, res.N)
	}
	return nil
}

// readDevEndpoints reads DATA_DIR/dev.json written by `whistle dev`; nil
// when there is none.
func readDevEndpoints(dir string) (*devEndpoints, error) {
	path := filepath.Join(dir, "dev.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ep devEndpoints
	if err := json.Unmarshal(b, &ep); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &ep, nil
}
