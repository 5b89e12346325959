package api_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
)

// view is GET /v1/incidents/{id} with the original's summary.
type view struct {
	incident.Incident
	Original *api.OriginalSummary `json:"original"`
}

func TestDuplicateShowsItsOriginal(t *testing.T) {
	e := newEnv(t, envOptions{})
	// The original: department tier in FH-01-01, CG's task acknowledged.
	orig := e.project("FH-01-01", "SR-001", func(in *incident.Incident) {
		in.Tasks[0].Status = incident.TaskAcknowledged
	})
	// The duplicate, reported in another grid, whose worker may not read
	// the original.
	dup := e.project("FH-01-02", "SR-001", func(in *incident.Incident) {
		in.DuplicateOf = &orig.ID
		in.Status = incident.StatusClosed
	})
	gw := token(t, incident.RoleGridWorker, "FH-01-02")
	wantProblem(t, e.do(http.MethodGet, "/v1/incidents/"+orig.ID, gw, nil), http.StatusNotFound, api.ProblemNotFound, "")

	var v view
	r := e.do(http.MethodGet, "/v1/incidents/"+dup.ID, gw, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET duplicate: %d %s", r.status, r.body)
	}
	r.json(t, &v)
	want := api.OriginalSummary{ID: orig.ID, Status: incident.StatusDispatched, Tasks: []api.OriginalTask{
		{Department: "CG", Status: incident.TaskAcknowledged}, {Department: "SCJG", Status: incident.TaskPendingAck}}}
	if v.Original == nil || v.Original.ID != want.ID || v.Original.Status != want.Status ||
		!slices.Equal(v.Original.Tasks, want.Tasks) || v.Original.ClosedAt != nil {
		t.Fatalf("original = %+v, want %+v", v.Original, want)
	}
	if v.DuplicateOf == nil || *v.DuplicateOf != orig.ID || v.ID != dup.ID || len(v.Timeline) == 0 {
		t.Errorf("the duplicate itself: %s", r.body)
	}

	// The original closes: the duplicate's reader sees it.
	closed := time.Now().UTC().Truncate(time.Second)
	orig.Status, orig.ClosedAt, orig.Version = incident.StatusClosed, &closed, orig.Version+1
	if err := e.store.Project(t.Context(), orig); err != nil {
		t.Fatal(err)
	}
	e.do(http.MethodGet, "/v1/incidents/"+dup.ID, gw, nil).json(t, &v)
	if v.Original.Status != incident.StatusClosed || v.Original.ClosedAt == nil || !v.Original.ClosedAt.Equal(closed) {
		t.Errorf("after the original closed: %+v", v.Original)
	}

	// A chain (the original itself linked as a duplicate) is followed to its end.
	chained := e.project("FH-01-02", "SR-001", func(in *incident.Incident) {
		in.DuplicateOf = &dup.ID
		in.Status = incident.StatusClosed
	})
	e.do(http.MethodGet, "/v1/incidents/"+chained.ID, gw, nil).json(t, &v)
	if v.Original == nil || v.Original.ID != orig.ID {
		t.Errorf("original of a chained duplicate: %+v, want %s", v.Original, orig.ID)
	}

	// An incident that is no duplicate has no original member; a duplicate
	// of an incident that is not there has none either.
	var m map[string]any
	e.do(http.MethodGet, "/v1/incidents/"+orig.ID, token(t, incident.RoleStreet, "FH"), nil).json(t, &m)
	if _, ok := m["original"]; ok {
		t.Errorf("an original carries original: %v", m["original"])
	}
	if m["duplicates"] != float64(0) {
		t.Errorf("duplicates = %v", m["duplicates"])
	}
	lost := e.project("FH-01-02", "SR-001", func(in *incident.Incident) {
		in.DuplicateOf = ptr("no-such-incident")
		in.Status = incident.StatusClosed
	})
	m = nil
	r = e.do(http.MethodGet, "/v1/incidents/"+lost.ID, gw, nil)
	r.json(t, &m)
	if _, ok := m["original"]; ok || r.status != http.StatusOK {
		t.Errorf("duplicate of a missing incident: %d %s", r.status, r.body)
	}
}

func TestListRepeatsAndDuplicates(t *testing.T) {
	e := newEnv(t, envOptions{})
	orig := e.project("FH-01-01", "SR-001", nil)
	dupFH := e.project("FH-01-02", "SR-001", func(in *incident.Incident) { in.DuplicateOf = &orig.ID })
	dupMCK := e.project("MCK-01-01", "SR-001", func(in *incident.Incident) { in.DuplicateOf = &orig.ID })
	repFH := e.project("FH-01-01", "SR-002", func(in *incident.Incident) { in.RepeatOf = ptr("old-1") })
	repMCK := e.project("MCK-01-01", "SR-002", func(in *incident.Incident) { in.RepeatOf = ptr("old-2") })

	list := func(tok, query string) []string {
		t.Helper()
		var p page
		r := e.do(http.MethodGet, "/v1/incidents?"+query, tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		r.json(t, &p)
		return ids(p)
	}
	fh, district := token(t, incident.RoleStreet, "FH"), token(t, incident.RoleDistrict, "DA")
	for _, c := range []struct {
		tok, query string
		want       []string
	}{
		{fh, "repeat=true", []string{repFH.ID}},
		{district, "repeat=true", sorted(repFH.ID, repMCK.ID)},
		{fh, "repeat=false", sorted(orig.ID, dupFH.ID)},
		{district, "duplicate_of=" + orig.ID, sorted(dupFH.ID, dupMCK.ID)},
		{fh, "duplicate_of=" + orig.ID, []string{dupFH.ID}},
		{district, "duplicate_of=" + dupFH.ID, nil},
		{district, "repeat=true&duplicate_of=" + orig.ID, nil},
	} {
		if got := list(c.tok, c.query); !slices.Equal(got, c.want) {
			t.Errorf("%s lists %v, want %v", c.query, got, c.want)
		}
	}
	wantProblem(t, e.do(http.MethodGet, "/v1/incidents?repeat=often", district, nil), 422, api.ProblemInvalid, "query.repeat")
}

func ptr[T any](v T) *T { return &v }
