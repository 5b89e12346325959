package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
)

// TestIntakeChannels: a system sending reports on residents' behalf (role
// intake, org its channel) reports by grid, records its channel and its
// own reference, unique per channel, and reads only what it sent.
func TestIntakeChannels(t *testing.T) {
	e := newEnv(t, envOptions{})
	hotline := token(t, incident.RoleIntake, "hotline")
	order := with(func(m map[string]any) { m["external_ref"] = "12345-20261203-0001" })

	var first, again struct {
		IncidentID string `json:"incident_id"`
	}
	r := e.do(http.MethodPost, "/v1/reports", hotline, order)
	if r.status != http.StatusAccepted {
		t.Fatalf("hotline report: %d %s", r.status, r.body)
	}
	r.json(t, &first)
	// The work order resent (another Idempotency-Key, another text): the
	// same incident, nothing new.
	resent := with(func(m map[string]any) {
		m["external_ref"] = "12345-20261203-0001"
		m["description"] = "重发的工单"
	})
	r = e.do(http.MethodPost, "/v1/reports", hotline, resent, "Idempotency-Key", "other")
	r.json(t, &again)
	if r.status != http.StatusAccepted || again.IncidentID != first.IncidentID {
		t.Fatalf("resent work order: %d %s, want %s", r.status, r.body, first.IncidentID)
	}
	if n := e.count("incidents"); n != 1 {
		t.Fatalf("%d incidents after a resent work order, want 1", n)
	}
	// The same reference in another channel is another sender's.
	r = e.do(http.MethodPost, "/v1/reports", token(t, incident.RoleIntake, "api"), order)
	r.json(t, &again)
	if r.status != http.StatusAccepted || again.IncidentID == first.IncidentID {
		t.Fatalf("the same reference by channel api: %d %s", r.status, r.body)
	}

	var in incident.Incident
	r = e.do(http.MethodGet, "/v1/incidents/"+first.IncidentID, hotline, nil)
	if r.status != http.StatusOK {
		t.Fatalf("the hotline reads its incident: %d %s", r.status, r.body)
	}
	r.json(t, &in)
	if in.Channel != "hotline" || in.ExternalRef != "12345-20261203-0001" || in.Grid != "FH-01-01" {
		t.Errorf("incident channel %q ref %q grid %q", in.Channel, in.ExternalRef, in.Grid)
	}
	// The workflow (not running here) starts it from its report: the
	// hotline is the reporter on the timeline, and the channel stays.
	it, _ := e.jur.Item("SR-001")
	started := incident.New(in.Report(), it.Snapshot(), in.ReportedAt,
		incident.DueFunc(func(_ incident.SLAKind, from time.Time) time.Time { return from.Add(time.Hour) }))
	if a := started.Timeline[0].Actor; !strings.HasPrefix(a, "intake:hotline:") || started.Channel != "hotline" ||
		started.ExternalRef != in.ExternalRef {
		t.Errorf("started: reported by %q, channel %q, ref %q", a, started.Channel, started.ExternalRef)
	}
	// It reads nothing else: not the api channel's, not a grid worker's.
	grid := e.project("FH-01-01", "SR-001", nil)
	for _, id := range []string{again.IncidentID, grid.ID} {
		if r := e.do(http.MethodGet, "/v1/incidents/"+id, hotline, nil); r.status != http.StatusNotFound {
			t.Errorf("the hotline reads %s: %d", id, r.status)
		}
	}
	var list struct {
		Items []incident.Incident `json:"items"`
	}
	e.do(http.MethodGet, "/v1/incidents", hotline, nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != first.IncidentID {
		t.Errorf("the hotline lists %d incidents", len(list.Items))
	}
	// A grid worker's report records its channel too.
	r = e.do(http.MethodPost, "/v1/reports", token(t, incident.RoleGridWorker, "FH-01-01"), validReport())
	var gw struct {
		IncidentID string `json:"incident_id"`
	}
	r.json(t, &gw)
	e.do(http.MethodGet, "/v1/incidents/"+gw.IncidentID, token(t, incident.RoleDistrict, "DA"), nil).json(t, &in)
	if in.Channel != incident.ChannelGrid {
		t.Errorf("a grid worker's channel %q", in.Channel)
	}

	t.Run("league tables of a channel", func(t *testing.T) {
		district := token(t, incident.RoleDistrict, "DA")
		var rep struct {
			Channel string           `json:"channel"`
			Items   []map[string]any `json:"items"`
		}
		r := e.do(http.MethodGet, "/v1/metrics/departments?channel=hotline", district, nil)
		r.json(t, &rep)
		if r.status != http.StatusOK || rep.Channel != "hotline" || rep.Items == nil {
			t.Errorf("departments of the hotline: %d %s", r.status, r.body)
		}
		r = e.do(http.MethodGet, "/v1/reports/monthly?month=2026-11&channel=hotline", district, nil)
		r.json(t, &rep)
		if r.status != http.StatusOK || rep.Channel != "hotline" {
			t.Errorf("the hotline's monthly report: %d %s", r.status, r.body)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		before := e.count("incidents")
		wantProblem(t, e.do(http.MethodPost, "/v1/reports", token(t, incident.RoleGridWorker, "FH-01-01"),
			with(func(m map[string]any) { m["channel"] = "hotline" })), http.StatusForbidden, "forbidden", "")
		wantProblem(t, e.do(http.MethodPost, "/v1/reports", hotline,
			with(func(m map[string]any) { m["channel"] = "api" })), http.StatusForbidden, "forbidden", "")
		wantProblem(t, e.do(http.MethodPost, "/v1/reports", token(t, incident.RoleIntake, "fax"), validReport()),
			http.StatusForbidden, "forbidden", "")
		// This district has no grid boundaries: a report must name its grid.
		p := wantProblem(t, e.do(http.MethodPost, "/v1/reports", hotline,
			with(func(m map[string]any) { delete(m, "grid") })), http.StatusUnprocessableEntity, "invalid", "body.grid")
		if !strings.Contains(p.Detail, "no grid boundaries") {
			t.Errorf("detail %q", p.Detail)
		}
		wantProblem(t, e.do(http.MethodPost, "/v1/reports", token(t, incident.RoleGridWorker, "FH-01-01"),
			with(func(m map[string]any) { delete(m, "grid") })), http.StatusUnprocessableEntity, "invalid", "body.grid")
		wantProblem(t, e.do(http.MethodPost, "/v1/reports", hotline,
			with(func(m map[string]any) { m["external_ref"] = " padded " })), http.StatusUnprocessableEntity, "invalid", "body.external_ref")
		if n := e.count("incidents"); n != before {
			t.Errorf("%d incidents after refusals, want %d", n, before)
		}
	})
}

// TestOpen311Keys: the admin creates, lists and revokes Open311 keys; the
// key itself is shown once; the district reads the list; others may not.
func TestOpen311Keys(t *testing.T) {
	e := newEnv(t, envOptions{})
	admin := token(t, incident.RoleAdmin, "DA")
	var created struct {
		Key           string   `json:"key"`
		ID            string   `json:"id"`
		Client        string   `json:"client"`
		Streets       []string `json:"streets"`
		RatePerMinute int      `json:"rate_per_minute"`
	}
	r := e.do(http.MethodPost, "/v1/open311/keys", admin, map[string]any{"client": "fixmystreet", "streets": []string{"FH"}})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r.json(t, &created)
	if !strings.HasPrefix(created.Key, "w311_") || created.Client != "fixmystreet" || created.RatePerMinute != 60 ||
		len(created.Streets) != 1 {
		t.Errorf("created %+v", created)
	}
	r = e.do(http.MethodGet, "/v1/open311/keys", token(t, incident.RoleDistrict, "DA"), nil)
	if r.status != http.StatusOK || strings.Contains(string(r.body), created.Key) || !strings.Contains(string(r.body), created.ID) {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	wantProblem(t, e.do(http.MethodPost, "/v1/open311/keys", admin, map[string]any{"client": "bad name", "streets": []string{"NOPE"}}),
		http.StatusUnprocessableEntity, "invalid", "body.streets[0]")
	wantProblem(t, e.do(http.MethodPost, "/v1/open311/keys", admin, map[string]any{"client": "x", "rate_per_minute": -1}),
		http.StatusUnprocessableEntity, "invalid", "body.rate_per_minute")
	wantProblem(t, e.do(http.MethodPost, "/v1/open311/keys", token(t, incident.RoleDistrict, "DA"), map[string]any{"client": "x"}),
		http.StatusForbidden, "forbidden", "")
	var revoked struct {
		RevokedAt *string `json:"revoked_at"`
		RevokedBy string  `json:"revoked_by"`
	}
	r = e.do(http.MethodDelete, "/v1/open311/keys/"+created.ID, admin, nil)
	r.json(t, &revoked)
	if r.status != http.StatusOK || revoked.RevokedAt == nil || !strings.HasPrefix(revoked.RevokedBy, "admin:DA:") {
		t.Errorf("revoke: %d %s", r.status, r.body)
	}
	wantProblem(t, e.do(http.MethodDelete, "/v1/open311/keys/nope", admin, nil), http.StatusNotFound, "not_found", "")
	if _, err := e.store.Open311KeyFor(t.Context(), created.Key); err == nil {
		t.Errorf("a revoked key still opens")
	}
}

// TestItemAttributes: an admin gives an item attributes through the
// catalogue (checked like the file), and a report must answer them:
// required ones present, each of its datatype; the answers are kept.
func TestItemAttributes(t *testing.T) {
	e := newEnv(t, envOptions{catalogue: true})
	admin := token(t, incident.RoleAdmin, "DA")
	bad := changed(vendingItem("CG", "attributes"), func(m map[string]any) {
		m["attributes"] = []map[string]any{{"code": "kind", "datatype": "singlevaluelist", "description": "摊位类型"}}
	})
	wantProblem(t, e.do(http.MethodPut, "/v1/catalogue/items/SR-001", admin, bad), http.StatusUnprocessableEntity, "invalid", "")
	good := changed(vendingItem("CG", "attributes"), func(m map[string]any) {
		m["attributes"] = []map[string]any{
			{"code": "stalls", "datatype": "number", "description": "摊位数", "required": true},
			{"code": "kind", "datatype": "singlevaluelist", "description": "摊位类型",
				"values": []map[string]string{{"key": "fruit", "name": "水果"}, {"key": "food", "name": "小吃"}}},
		}
	})
	if r := e.do(http.MethodPut, "/v1/catalogue/items/SR-001", admin, good); r.status != http.StatusOK {
		t.Fatalf("PUT with attributes: %d %s", r.status, r.body)
	}
	var version struct {
		Item struct {
			Attributes []map[string]any `json:"attributes"`
		} `json:"item"`
	}
	e.do(http.MethodGet, "/v1/catalogue/items/SR-001", admin, nil).json(t, &version)
	if len(version.Item.Attributes) != 2 {
		t.Fatalf("the item's attributes: %v", version.Item.Attributes)
	}
	// The catalogue reloads through NATS; poll until reports see it.
	grid := token(t, incident.RoleGridWorker, "FH-01-01")
	var r response
	if !wait.Within(10*time.Second, func() bool {
		r = e.do(http.MethodPost, "/v1/reports", grid, validReport())
		return r.status == http.StatusUnprocessableEntity
	}) {
		t.Fatalf("a report without the required answer: %d %s", r.status, r.body)
	}
	wantProblem(t, r, http.StatusUnprocessableEntity, "invalid", "body.attributes.stalls")
	before := e.count("incidents")
	p := wantProblem(t, e.do(http.MethodPost, "/v1/reports", grid, with(func(m map[string]any) {
		m["attributes"] = map[string][]string{"stalls": {"many"}, "kind": {"shoes"}}
	})), http.StatusUnprocessableEntity, "invalid", "body.attributes.kind")
	if len(p.Errors) != 2 {
		t.Errorf("errors %v, want stalls and kind", p.Errors)
	}
	if e.count("incidents") != before {
		t.Fatal("a refused report made an incident")
	}
	r = e.do(http.MethodPost, "/v1/reports", grid, with(func(m map[string]any) {
		m["attributes"] = map[string][]string{"stalls": {"3"}, "kind": {"fruit"}, "colour": {"red"}}
	}))
	var acc struct {
		IncidentID string `json:"incident_id"`
	}
	r.json(t, &acc)
	var in incident.Incident
	e.do(http.MethodGet, "/v1/incidents/"+acc.IncidentID, admin, nil).json(t, &in)
	if len(in.Attributes) != 2 || in.Attributes["stalls"][0] != "3" || in.Attributes["kind"][0] != "fruit" {
		t.Errorf("kept answers %v, want stalls and kind (colour is not the item's)", in.Attributes)
	}
}
