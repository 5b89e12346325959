package e2e

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/app"
	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
)

// listDistrict is a small district whose street-tier item ST-001 names CG
// as its lead: the department the street whistles by default.
const listDistrict = smallOrg + `
items:
  - code: ST-001
    name: 违章搭建
    gloss: an illegal structure
    domain: 城市管理
    tier: street
    lead: CG
    sla: {ack: 1h, resolve: 3wd, feedback: 3wd}
`

// stItem is the PUT body of ST-001 led by lead.
func stItem(lead, reason string) map[string]any {
	return map[string]any{
		"name": "违章搭建", "gloss": "an illegal structure", "domain": "城市管理", "tier": "street", "lead": lead,
		"sla": map[string]any{"ack": "1h", "resolve": "3wd", "feedback": "3wd"}, "reason": reason,
	}
}

func writeListDistrict(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "district.yaml")
	require.NoError(t, os.WriteFile(file, []byte(listDistrict), 0o644))
	return file
}

// TestIncidentKeepsItsItemVersion changes an item's lead through the API
// while an incident of it waits in triage: whistled afterwards with the
// item's default departments, the old incident calls the old lead (its item
// version 1), a new incident the new one (version 2). The change survives a
// restart with the unchanged file, and a retired item can no longer be
// reported while incidents already started carry on.
func TestIncidentKeepsItsItemVersion(t *testing.T) {
	file := writeListDistrict(t)
	s := newStackWith(t, devtest.Postgres(t), file)
	st := token(t, incident.RoleStreet, street)
	admin := token(t, incident.RoleAdmin, "DA")
	gw := token(t, incident.RoleGridWorker, grid)

	old := s.report("ST-001")
	in := s.waitStatus(old, st, incident.StatusTriage)
	require.Equal(t, 1, in.Item.Version)
	require.Equal(t, "CG", in.Item.Lead)

	res := s.must(200, "PUT", "/v1/catalogue/items/ST-001", admin, stItem("ZJ", "illegal structures move to housing"))
	require.EqualValues(t, 2, res.Body["version"])

	fresh := s.report("ST-001")
	in = s.waitStatus(fresh, st, incident.StatusTriage)
	require.Equal(t, 2, in.Item.Version)
	require.Equal(t, "ZJ", in.Item.Lead)

	// Whistled with the default departments: each incident calls the lead of its own version.
	for id, lead := range map[string]string{old: "CG", fresh: "ZJ"} {
		s.must(200, "POST", "/v1/incidents/"+id+"/whistle", st, map[string]any{"note": "please handle"})
		in = s.waitStatus(id, st, incident.StatusDispatched)
		require.Len(t, in.Tasks, 1)
		require.Equal(t, lead, in.Tasks[0].Department, "incident %s (item version %d)", id, in.Item.Version)
	}
	res = s.must(200, "GET", "/v1/incidents/"+old, st, nil)
	require.EqualValues(t, 1, res.Body["item"].(map[string]any)["version"], "GET /v1/incidents/{id} shows item.version")

	// A restart with the unchanged file keeps the admin's change.
	s.restart(file)
	res = s.must(200, "GET", "/v1/catalogue/items/ST-001", gw, nil)
	require.EqualValues(t, 2, res.Body["version"])
	require.Equal(t, "ZJ", res.Body["item"].(map[string]any)["lead"])

	// Retired: reports are refused; the incidents already started carry on.
	s.must(200, "DELETE", "/v1/catalogue/items/ST-001?reason="+url.QueryEscape("now a district matter"), admin, nil)
	res = s.must(422, "POST", "/v1/reports", gw, report("ST-001", grid))
	require.Contains(t, res.Body["detail"], "now a district matter")
	zj := token(t, incident.RoleDepartment, "ZJ")
	tid := s.incident(fresh, st).Tasks[0].ID
	s.must(200, "POST", "/v1/tasks/"+tid+"/ack", zj, map[string]any{})
	s.must(200, "POST", "/v1/tasks/"+tid+"/complete", zj, map[string]any{"result": "demolished"})
	s.waitStatus(fresh, st, incident.StatusVerifying)

	hist := s.must(200, "GET", "/v1/catalogue/items/ST-001/history", gw, nil).Body["versions"].([]any)
	require.Len(t, hist, 3)
	for i, want := range []string{"loaded from file", "illegal structures move to housing", "now a district matter"} {
		require.Equal(t, want, hist[i].(map[string]any)["reason"])
	}

	s.checkMetrics()
}

// TestCatalogueChangeReachesAnotherInstance runs two Whistles on the same
// Postgres, NATS and Temporal, as `serve` processes do: an item changed
// through one is in force in the other well before its periodic reload.
func TestCatalogueChangeReachesAnotherInstance(t *testing.T) {
	file := writeListDistrict(t)
	s := newStackWith(t, devtest.Postgres(t), file)
	other := s.another(time.Hour) // reloads only on notices
	admin := token(t, incident.RoleAdmin, "DA")
	gw := token(t, incident.RoleGridWorker, grid)
	st := token(t, incident.RoleStreet, street)

	leadAt := func(base string) string {
		res := s.mustAt(base, 200, "GET", "/v1/catalogue/items/ST-001", gw, nil)
		return res.Body["item"].(map[string]any)["lead"].(string)
	}
	waitLead := func(base, want string) {
		t.Helper()
		// The periodic reloads are 30 s and 1 h away: within 10 s it is the notice.
		if !wait.Within(10*time.Second, func() bool { return leadAt(base) == want }) {
			t.Fatalf("%s: lead of ST-001 is %s after 10s, want %s", base, leadAt(base), want)
		}
	}

	require.Equal(t, "CG", leadAt(other))
	s.must(200, "PUT", "/v1/catalogue/items/ST-001", admin, stItem("ZJ", "to housing"))
	waitLead(other, "ZJ")

	// A report through the other instance gets the new version.
	res := s.mustAt(other, 202, "POST", "/v1/reports", gw, report("ST-001", grid))
	id := res.Body["incident_id"].(string)
	in := s.waitStatus(id, st, incident.StatusTriage)
	require.Equal(t, 2, in.Item.Version)
	require.Equal(t, "ZJ", in.Item.Lead)

	// And back the other way.
	s.mustAt(other, 200, "PUT", "/v1/catalogue/items/ST-001", admin, stItem("CG", "back to urban management"))
	waitLead(s.base, "CG")

	s.checkMetrics()
}

// another starts a second Whistle (API, dispatcher and sweeper) on the
// stack's database, NATS and Temporal, reloading the catalogue every
// reload, and returns its base URL. It stops when the test ends.
func (s *stack) another(reload time.Duration) string {
	s.t.Helper()
	cfg := s.cfg
	cfg.CatalogueReload = reload
	svc, err := app.Open(s.ctx, cfg)
	require.NoError(s.t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(s.t, err)
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	s.t.Cleanup(func() {
		cancel()
		require.NoError(s.t, <-done)
		svc.Close()
	})
	return "http://" + ln.Addr().String()
}

// mustAt is must against the Whistle at base.
func (s *stack) mustAt(base string, want int, method, path, tok string, body any) response {
	s.t.Helper()
	saved := s.base
	s.base = base
	defer func() { s.base = saved }()
	return s.must(want, method, path, tok, body)
}
