package catalogue_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/catalogue"
	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
)

// TestMain stops the private PostgreSQL the tests may have started.
func TestMain(m *testing.M) { devtest.Main(m) }

// district is a small jurisdiction file; %DEPTS% are its extra departments.
const district = `
district: {code: DA, name: 大安区, timezone: Asia/Shanghai}
departments:
  - {code: CG, name: 区城市管理局}
  - {code: SCJG, name: 区市场监管局}
%DEPTS%
streets:
  - code: FH
    name: 凤凰街道
    communities:
      - {code: FH-01, name: 凤凰社区, grids: [FH-01-01]}
items:
  - code: SR-001
    name: 占道经营
    tier: department
    lead: CG
    cooperating: [SCJG]
    sla: {ack: 1h, resolve: 3wd, feedback: 3wd}
  - code: SR-002
    name: 乱堆乱放
    tier: community
    sla: {resolve: 2wd, feedback: 3wd}
`

func file(t *testing.T, extraDepts ...string) *jurisdiction.Jurisdiction {
	t.Helper()
	var depts []string
	for _, d := range extraDepts {
		depts = append(depts, "  - {code: "+d+", name: 部门 "+d+"}")
	}
	j, err := jurisdiction.Parse("district.yaml", []byte(strings.Replace(district, "%DEPTS%", strings.Join(depts, "\n"), 1)))
	require.NoError(t, err)
	return j
}

// newStore opens a store on databaseURL, migrating it.
func newStore(t *testing.T, databaseURL string) *store.Store {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, store.Migrate(ctx, databaseURL))
	s, err := store.Open(ctx, databaseURL)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

func open(t *testing.T, cfg catalogue.Config) *catalogue.Catalogue {
	t.Helper()
	if cfg.FileName == "" {
		cfg.FileName = "district.yaml"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := catalogue.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// vendingLedBy is SR-001 led by lead.
func vendingLedBy(lead string) jurisdiction.Item {
	return jurisdiction.Item{Code: "SR-001", Name: "占道经营", Tier: incident.TierDepartment, Lead: lead,
		SLA: jurisdiction.SLA{Ack: jurisdiction.Clock(time.Hour), Resolve: jurisdiction.WorkDays(3), Feedback: jurisdiction.WorkDays(3)}}
}

const admin = "admin:DA:alice"

func TestPutRetireHistory(t *testing.T) {
	ctx := context.Background()
	c := open(t, catalogue.Config{Store: newStore(t, devtest.Postgres(t)), File: file(t, "ZJ")})

	it, ok := c.Current().Item("SR-001")
	require.True(t, ok)
	assert.Equal(t, 1, it.Version, "the file's items start at version 1")
	assert.Equal(t, 1, it.Snapshot().Version)

	// A change by an admin is in force at once.
	v, created, err := c.Put(ctx, admin, vendingLedBy("ZJ"), "ZJ takes vending over", nil)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, 2, v.Version)
	it, _ = c.Current().Item("SR-001")
	assert.Equal(t, "ZJ", it.Lead)
	assert.Equal(t, 2, it.Version)

	// The same again writes nothing.
	v, _, err = c.Put(ctx, "admin:DA:bob", vendingLedBy("ZJ"), "again", nil)
	require.NoError(t, err)
	assert.Equal(t, 2, v.Version)
	assert.Equal(t, admin, v.Actor)

	// A new item.
	fire := jurisdiction.Item{Code: "XF-001", Name: "消防通道堵塞", Tier: incident.TierStreet,
		SLA: jurisdiction.SLA{Resolve: jurisdiction.Clock(4 * time.Hour), Feedback: jurisdiction.WorkDays(1)}}
	v, created, err = c.Put(ctx, admin, fire, "fire lanes", nil)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, 1, v.Version)
	_, ok = c.Current().Item("XF-001")
	assert.True(t, ok)

	// Invalid items are refused exactly as in the file, naming the field.
	bad := vendingLedBy("QQ")
	bad.SLA.Ack = jurisdiction.Duration{}
	_, _, err = c.Put(ctx, admin, bad, "typo", nil)
	var ie *catalogue.InvalidItemError
	require.ErrorAs(t, err, &ie)
	var fields []string
	for _, p := range ie.Problems {
		fields = append(fields, p.Field)
	}
	assert.Equal(t, []string{"lead", "sla.ack"}, fields)
	var de *incident.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, incident.CodeInvalid, de.Code)
	assert.Equal(t, "lead", de.Field)
	_, _, err = c.Put(ctx, admin, vendingLedBy("CG"), " ", nil)
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "reason", de.Field)

	// Retiring takes the item out of the list; Lookup still knows it.
	r, err := c.Retire(ctx, admin, "SR-001", "handed to the district", nil)
	require.NoError(t, err)
	assert.Equal(t, 3, r.Version)
	_, ok = c.Current().Item("SR-001")
	assert.False(t, ok)
	l, ok := c.Lookup("SR-001")
	require.True(t, ok)
	assert.True(t, l.Retired)
	assert.Equal(t, "handed to the district", l.Reason)
	assert.Equal(t, "ZJ", l.Item.Lead, "a retired item keeps its last content")
	it, ok = c.Item("SR-001")
	assert.True(t, ok, "the dispatcher still finds a retired item")
	assert.Equal(t, "ZJ", it.Lead)
	_, err = c.Retire(ctx, admin, "SR-001", "again", nil)
	assert.Equal(t, incident.CodeConflict, incident.ErrorCode(err))
	_, err = c.Retire(ctx, admin, "NOPE", "gone", nil)
	assert.Equal(t, incident.CodeNotFound, incident.ErrorCode(err))

	hist, err := c.History(ctx, "SR-001")
	require.NoError(t, err)
	require.Len(t, hist, 3)
	assert.Equal(t, store.CatalogueSourceFile, hist[0].Source)
	assert.Equal(t, "jurisdiction file district.yaml", hist[0].Actor)
	assert.Equal(t, "CG", hist[0].Item.Lead)
	assert.Equal(t, []string{"SCJG"}, hist[0].Item.Cooperating)
	assert.Equal(t, "ZJ takes vending over", hist[1].Reason)
	assert.True(t, hist[2].Retired)
	_, err = c.History(ctx, "NOPE")
	assert.Equal(t, incident.CodeNotFound, incident.ErrorCode(err))
}

// TestChangeReachesOtherProcesses runs two catalogues on one database, as
// serve and worker do: a change through one is seen by the other through
// the NATS notice, and through the periodic reload without NATS.
func TestChangeReachesOtherProcesses(t *testing.T) {
	ctx := context.Background()
	db, natsURL := devtest.Postgres(t), devtest.NATS(t)
	a := open(t, catalogue.Config{Store: newStore(t, db), File: file(t, "ZJ", "GA"), Conn: connect(t, natsURL), ReloadEvery: time.Hour})
	b := open(t, catalogue.Config{Store: newStore(t, db), File: file(t, "ZJ", "GA"), Conn: connect(t, natsURL), ReloadEvery: time.Hour})
	polled := open(t, catalogue.Config{Store: newStore(t, db), File: file(t, "ZJ", "GA"), ReloadEvery: 50 * time.Millisecond})

	leadIn := func(c *catalogue.Catalogue) string { it, _ := c.Current().Item("SR-001"); return it.Lead }
	waitLead := func(c *catalogue.Catalogue, name, want string) {
		t.Helper()
		if !wait.Within(10*time.Second, func() bool { return leadIn(c) == want }) {
			t.Fatalf("catalogue %s: lead of SR-001 is %s after 10s, want %s", name, leadIn(c), want)
		}
	}

	_, _, err := a.Put(ctx, admin, vendingLedBy("ZJ"), "ZJ takes vending over", nil)
	require.NoError(t, err)
	assert.Equal(t, "ZJ", leadIn(a), "the writer has it at once")
	waitLead(b, "b (notice)", "ZJ")
	waitLead(polled, "polled", "ZJ")

	_, _, err = b.Put(ctx, admin, vendingLedBy("GA"), "and now GA", nil)
	require.NoError(t, err)
	waitLead(a, "a (notice)", "GA")
	waitLead(polled, "polled", "GA")
}

// TestFailedReloadKeepsTheList checks that a reload that cannot read the
// database keeps the list in force.
func TestFailedReloadKeepsTheList(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, devtest.Postgres(t))
	c := open(t, catalogue.Config{Store: st, File: file(t)})
	before := c.Current()
	st.Close() // the database is gone for this process
	err := c.Reload(ctx)
	require.Error(t, err)
	assert.Same(t, before, c.Current())
	_, ok := c.Current().Item("SR-001")
	assert.True(t, ok)
}

// TestOpenRefusesAListThatDoesNotFit: a file that drops a department an
// API item still names fails at start, and writes nothing.
func TestOpenRefusesAListThatDoesNotFit(t *testing.T) {
	ctx := context.Background()
	db := devtest.Postgres(t)
	st := newStore(t, db)
	c := open(t, catalogue.Config{Store: st, File: file(t, "ZJ")})
	fire := jurisdiction.Item{Code: "XF-001", Name: "消防通道堵塞", Tier: incident.TierDepartment, Lead: "ZJ",
		SLA: jurisdiction.SLA{Ack: jurisdiction.Clock(time.Hour), Resolve: jurisdiction.Clock(4 * time.Hour), Feedback: jurisdiction.WorkDays(1)}}
	_, _, err := c.Put(ctx, admin, fire, "fire lanes", nil)
	require.NoError(t, err)
	c.Close()

	// The new file drops ZJ and changes SR-002.
	next := file(t)
	next.Items[1].Name = "乱堆乱放（新）"
	_, err = catalogue.Open(ctx, catalogue.Config{Store: st, File: next, FileName: "next.yaml"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `item XF-001 version 1 (api, admin:DA:alice): lead: unknown department "ZJ"`)
	hist, err := st.CatalogueHistory(ctx, "SR-002")
	require.NoError(t, err)
	assert.Len(t, hist, 1, "nothing written")

	// Retiring the item makes the file acceptable.
	_, err = st.RetireCatalogueItem(ctx, "XF-001", admin, "ZJ is gone", nil)
	require.NoError(t, err)
	c2 := open(t, catalogue.Config{Store: st, File: next, FileName: "next.yaml"})
	it, ok := c2.Current().Item("SR-002")
	require.True(t, ok)
	assert.Equal(t, "乱堆乱放（新）", it.Name)
	assert.Equal(t, 2, it.Version)
}
