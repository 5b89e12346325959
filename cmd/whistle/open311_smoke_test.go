package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// TestOpen311Smoke is issue 14's "done": from `whistle dev`, a key from
// `whistle open311-key` lets a form-encoded POST with only service_code,
// lat, long and description create an incident in the grid that holds the
// point; requests/{id}.json and .xml show it open with its agency, and
// closed once the loop closes; the rollups then equal the recomputation.
func TestOpen311Smoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the whistle binary with embedded Temporal, NATS and PostgreSQL")
	}
	whistleBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	env := append(childEnv(), "DATABASE_URL="+database(t))
	addr := freeAddr(t)
	a := newAPI(addr)
	dev := startProc(t, "whistle dev", env, "dev", "--http", addr, "--data-dir", dataDir, "--temporal-port", "127.0.0.1:0")
	dev.waitStdout(t, "Whistle is running", startTimeout)
	a.waitReady(t, dev, startTimeout)
	defer dev.stop()

	// The key alone on stdout; bad input refused with a word on stderr.
	r := run(t, env, time.Minute, "open311-key", "--client", "fixmystreet", "--data-dir", dataDir)
	key := strings.TrimSuffix(r.stdout, "\n")
	if r.code != 0 || !strings.HasPrefix(key, "w311_") || strings.ContainsAny(key, " \n") {
		t.Fatalf("whistle open311-key: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	for _, bad := range [][]string{{"--client", "bad name"}, {"--client", "x", "--streets", "NOPE"}, {"--client", "x", "--rate", "0"}} {
		r := run(t, env, time.Minute, append([]string{"open311-key", "--data-dir", dataDir}, bad...)...)
		if r.code == 0 || r.stdout != "" || r.stderr == "" {
			t.Errorf("whistle open311-key %v: exit %d, stdout %q, stderr %q: want a refusal", bad, r.code, r.stdout, r.stderr)
		}
	}

	lat, lng, ok := jurisdiction.Default().PointIn(smokeGrid)
	if !ok {
		t.Fatalf("the shipped district has no boundary for %s", smokeGrid)
	}
	form := url.Values{"api_key": {key}, "service_code": {"SR-001"}, "description": {"路口有流动摊贩占道"},
		"lat": {strconv.FormatFloat(lat, 'f', 6, 64)}, "long": {strconv.FormatFloat(lng, 'f', 6, 64)}}
	post := func(f url.Values) (int, []byte) {
		t.Helper()
		res, err := http.PostForm(a.base+"/open311/v2/requests.json", f)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	code, raw := post(form)
	var created []struct {
		ID string `json:"service_request_id"`
	}
	if err := json.Unmarshal(raw, &created); code != http.StatusOK || err != nil || len(created) != 1 || created[0].ID == "" {
		t.Fatalf("POST requests.json: %d %s", code, raw)
	}
	id := created[0].ID
	if code, raw := post(form); code != http.StatusOK || !strings.Contains(string(raw), id) {
		t.Errorf("the same request again: %d %s, want %s", code, raw, id)
	}
	bad := url.Values{"api_key": {"w311_not-a-key"}, "service_code": {"SR-001"}, "lat": form["lat"], "long": form["long"]}
	if code, raw := post(bad); code != http.StatusForbidden {
		t.Errorf("a bad key: %d %s", code, raw)
	}

	tok := func(role, org string) string {
		t.Helper()
		r := run(t, env, time.Minute, "token", "--role", role, "--org", org, "--data-dir", dataDir)
		return strings.TrimSuffix(r.stdout, "\n")
	}
	d := &driver{api: a, grid: tok("grid_worker", smokeGrid), street: tok("street", smokeStreet),
		cg: tok("department", "CG"), scjg: tok("department", "SCJG")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in, err := a.waitIncident(ctx, id, d.street, "dispatched with 2 tasks", dispatchedWith(2))
	if err != nil {
		t.Fatal(err)
	}
	if in.Grid != smokeGrid || in.Street != smokeStreet || in.Channel != "open311:fixmystreet" {
		t.Fatalf("placed in %s/%s by %q, want %s/%s by open311:fixmystreet", in.Street, in.Grid, in.Channel, smokeStreet, smokeGrid)
	}

	type request struct {
		ID       string `xml:"service_request_id" json:"service_request_id"`
		Status   string `xml:"status" json:"status"`
		Agency   string `xml:"agency_responsible" json:"agency_responsible"`
		Expected string `xml:"expected_datetime" json:"expected_datetime"`
		Notes    string `xml:"status_notes" json:"status_notes"`
	}
	read := func(ext string) request {
		t.Helper()
		res, err := http.Get(a.base + "/open311/v2/requests/" + id + "." + ext + "?api_key=" + url.QueryEscape(key))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var list []request
		if ext == "xml" {
			var doc struct {
				Requests []request `xml:"request"`
			}
			err = xml.Unmarshal(b, &doc)
			list = doc.Requests
		} else {
			err = json.Unmarshal(b, &list)
		}
		if res.StatusCode != http.StatusOK || err != nil || len(list) != 1 || list[0].ID != id {
			t.Fatalf("requests/%s.%s: %d %v %s", id, ext, res.StatusCode, err, b)
		}
		return list[0]
	}
	for _, ext := range []string{"json", "xml"} {
		if rq := read(ext); rq.Status != "open" || rq.Agency != "区城市管理局" || rq.Expected == "" {
			t.Errorf("%s while dispatched: %+v, want open with 区城市管理局 and a deadline", ext, rq)
		}
	}

	if err := d.steps(ctx, id, d.loop(id)...); err != nil {
		t.Fatal(err)
	}
	in, err = a.waitIncident(ctx, id, d.street, "closed", statusIs(incident.StatusClosed))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkClosedLoop(in); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"json", "xml"} {
		if rq := read(ext); rq.Status != "closed" || !strings.HasPrefix(rq.Notes, "Closed") {
			t.Errorf("%s once the loop closed: %+v", ext, rq)
		}
	}
	metricsCheck(t, env, "--data-dir", dataDir)
}
