package loadgen_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/incident"
)

// fakeAPI is an in-memory stand-in for just enough of the HTTP contract of
// DESIGN.md §4 to drive the bench: the catalogue, reports with
// Idempotency-Key, reading an incident, ack, complete, verify and feedback.
// It checks tokens and who may do what like the real API, and publishes
// task_created events to whistle.tasks.<department> when given a NATS
// connection. It stands in for the HTTP contract only.
type fakeAPI struct {
	t      *testing.T
	secret []byte
	nc     *nats.Conn // nil: no events

	// dispatchAfter is how long an incident stays received before its tasks are out.
	dispatchAfter time.Duration
	// readLag is how long after dispatch GET still shows the incident received
	// (the read model lagging behind the workflow).
	readLag time.Duration
	// lostReplyEvery: every n-th new report key is recorded but answered 503,
	// as if the answer was lost, so the client must retry with the same key.
	lostReplyEvery int
	// conflictFirstAck answers the first ack of every task 409 "received".
	conflictFirstAck bool
	// rejectVerify answers 422 to the verification of incidents of this category.
	rejectVerify string

	mu         sync.Mutex
	incidents  map[string]*fakeIncident
	keys       map[string]string // reporter/Idempotency-Key → incident id
	ackTried   map[string]bool
	publishErr error
}

type fakeIncident struct {
	in           incident.Incident
	dispatchedAt time.Time
}

var fakeCatalogue = map[string]any{
	"district": map[string]any{"code": "DA", "name": "大安区", "timezone": "Asia/Shanghai"},
	"items": []map[string]any{
		{"code": "SR-001", "name": "占道经营", "tier": "department", "lead": "CG", "cooperating": []string{"SCJG"}},
		{"code": "SR-002", "name": "违法建设", "tier": "department", "lead": "ZJ"},
		{"code": "ST-001", "name": "邻里纠纷", "tier": "street"},
	},
	"departments": []map[string]any{{"code": "CG", "name": "城管"}, {"code": "SCJG", "name": "市场监管"}, {"code": "ZJ", "name": "住建"}},
	"streets": []map[string]any{
		{"code": "FH", "name": "凤凰街道", "communities": []map[string]any{{"code": "FH-01", "name": "凤凰社区", "grids": []string{"FH-01-01", "FH-01-02"}}}},
		{"code": "LY", "name": "柳阴街道", "communities": []map[string]any{{"code": "LY-01", "name": "柳阴社区", "grids": []string{"LY-01-01"}}}},
	},
}

var fakeItems = map[string][]string{"SR-001": {"CG", "SCJG"}, "SR-002": {"ZJ"}}

func newFakeAPI(t *testing.T, secret []byte) *fakeAPI {
	return &fakeAPI{t: t, secret: secret, incidents: map[string]*fakeIncident{}, keys: map[string]string{}, ackTried: map[string]bool{}}
}

func (f *fakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/catalogue", f.auth(nil, func(w http.ResponseWriter, r *http.Request, a incident.Actor) {
		writeJSON(w, http.StatusOK, fakeCatalogue)
	}))
	mux.HandleFunc("POST /v1/reports", f.auth([]incident.Role{incident.RoleGridWorker}, f.report))
	mux.HandleFunc("GET /v1/incidents/{id}", f.auth(nil, f.get))
	mux.HandleFunc("POST /v1/tasks/{id}/{cmd}", f.auth([]incident.Role{incident.RoleDepartment}, f.taskCommand))
	mux.HandleFunc("POST /v1/incidents/{id}/{cmd}", f.auth([]incident.Role{incident.RoleStreet}, f.incidentCommand))
	return mux
}

func (f *fakeAPI) auth(roles []incident.Role, h func(http.ResponseWriter, *http.Request, incident.Actor)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := auth.Parse(f.secret, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if err != nil {
			problem(w, http.StatusUnauthorized, "", err.Error())
			return
		}
		if len(roles) > 0 && a.Role != roles[0] {
			problem(w, http.StatusForbidden, "", "role "+string(a.Role))
			return
		}
		h(w, r, a)
	}
}

func (f *fakeAPI) report(w http.ResponseWriter, r *http.Request, a incident.Actor) {
	var body struct {
		Category, Grid, Description string
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Description == "" {
		problem(w, http.StatusBadRequest, "", "bad body")
		return
	}
	if body.Grid != a.Org {
		problem(w, http.StatusForbidden, "", "not your grid")
		return
	}
	deps, ok := fakeItems[body.Category]
	if !ok {
		problem(w, http.StatusUnprocessableEntity, "", "unknown category")
		return
	}
	key := a.Sub + "/" + r.Header.Get("Idempotency-Key")
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.keys[key]; ok && r.Header.Get("Idempotency-Key") != "" {
		writeJSON(w, http.StatusAccepted, map[string]string{"incident_id": id})
		return
	}
	id := fmt.Sprintf("inc-%04d", len(f.incidents)+1)
	street := strings.SplitN(body.Grid, "-", 2)[0]
	fi := &fakeIncident{in: incident.Incident{ID: id, Status: incident.StatusReceived, Category: body.Category,
		Street: street, Grid: body.Grid, Round: 1, Tasks: []*incident.Task{}}}
	f.incidents[id] = fi
	f.keys[key] = id
	time.AfterFunc(f.dispatchAfter, func() { f.dispatch(fi, deps) })
	if f.lostReplyEvery > 0 && len(f.incidents)%f.lostReplyEvery == 0 {
		problem(w, http.StatusServiceUnavailable, "", "reply lost")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"incident_id": id})
}

// dispatch whistles the item's departments, like the workflow of a
// department-tier incident, and publishes a task_created event per task.
func (f *fakeAPI) dispatch(fi *fakeIncident, deps []string) {
	f.mu.Lock()
	fi.in.Status = incident.StatusDispatched
	fi.dispatchedAt = time.Now()
	var events []*nats.Msg
	for n, d := range deps {
		tid := incident.TaskID(fi.in.ID, n+1)
		fi.in.Tasks = append(fi.in.Tasks, &incident.Task{ID: tid, Department: d, Status: incident.TaskPendingAck, Round: 1})
		data, _ := json.Marshal(map[string]any{"incident_id": fi.in.ID, "type": incident.EventTaskCreated, "task_id": tid, "department": d, "at": time.Now()})
		events = append(events, &nats.Msg{Subject: "whistle.tasks." + d, Data: data})
	}
	f.mu.Unlock()
	if f.nc == nil {
		return
	}
	for _, m := range events {
		if err := f.nc.PublishMsg(m); err != nil {
			f.mu.Lock()
			f.publishErr = err
			f.mu.Unlock()
		}
	}
}

// view is the incident as GET shows it: received until readLag after dispatch.
func (f *fakeAPI) view(fi *fakeIncident) incident.Incident {
	in := fi.in
	if in.Status == incident.StatusDispatched && time.Since(fi.dispatchedAt) < f.readLag && in.Tasks[0].Status == incident.TaskPendingAck {
		in.Status, in.Tasks = incident.StatusReceived, []*incident.Task{}
	}
	return in
}

func (f *fakeAPI) get(w http.ResponseWriter, r *http.Request, a incident.Actor) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, ok := f.incidents[r.PathValue("id")]
	if !ok || (a.Role == incident.RoleStreet && fi.in.Street != a.Org) {
		problem(w, http.StatusNotFound, "", "no such incident")
		return
	}
	writeJSON(w, http.StatusOK, f.view(fi))
}

func (f *fakeAPI) taskCommand(w http.ResponseWriter, r *http.Request, a incident.Actor) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tid := r.PathValue("id")
	fi, ok := f.incidents[incident.IncidentOfTask(tid)]
	if !ok {
		problem(w, http.StatusNotFound, "", "no such task")
		return
	}
	if fi.in.Status == incident.StatusReceived {
		problem(w, http.StatusConflict, "received", "incident not started yet")
		return
	}
	t := fi.in.Task(tid)
	switch {
	case t == nil:
		problem(w, http.StatusNotFound, "", "no such task")
		return
	case t.Department != a.Org:
		problem(w, http.StatusForbidden, "", "task not assigned to your department")
		return
	}
	now := time.Now()
	switch cmd := r.PathValue("cmd"); {
	case cmd == "ack" && f.conflictFirstAck && !f.ackTried[tid]:
		f.ackTried[tid] = true
		problem(w, http.StatusConflict, "received", "not yet")
		return
	case cmd == "ack" && t.Status == incident.TaskPendingAck:
		t.Status, t.AckedAt = incident.TaskAcknowledged, &now
	case cmd == "complete" && t.Status == incident.TaskAcknowledged:
		t.Status, t.CompletedAt = incident.TaskCompleted, &now
		done := true
		for _, x := range fi.in.Tasks {
			done = done && x.Status == incident.TaskCompleted
		}
		if done {
			fi.in.Status = incident.StatusVerifying
		}
	default:
		problem(w, http.StatusConflict, string(t.Status), cmd+" does not fit")
		return
	}
	writeJSON(w, http.StatusOK, fi.in)
}

func (f *fakeAPI) incidentCommand(w http.ResponseWriter, r *http.Request, a incident.Actor) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, ok := f.incidents[r.PathValue("id")]
	if !ok || fi.in.Street != a.Org {
		problem(w, http.StatusNotFound, "", "no such incident in your street")
		return
	}
	var body struct {
		Passed   *bool           `json:"passed"`
		Resolved *bool           `json:"resolved"`
		Rating   incident.Rating `json:"rating"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		problem(w, http.StatusBadRequest, "", "bad body")
		return
	}
	switch cmd := r.PathValue("cmd"); {
	case cmd == "verify" && fi.in.Category == f.rejectVerify:
		problem(w, http.StatusUnprocessableEntity, "", "verification refused")
		return
	case cmd == "verify" && fi.in.Status == incident.StatusVerifying && body.Passed != nil && *body.Passed:
		fi.in.Status = incident.StatusAwaitingFeedback
	case cmd == "feedback" && fi.in.Status == incident.StatusAwaitingFeedback && body.Resolved != nil && body.Rating.Valid():
		fi.in.Status = incident.StatusClosed
		fi.in.Feedback = &incident.Feedback{Round: 1, Resolved: *body.Resolved, Rating: body.Rating, By: a.String()}
	default:
		problem(w, http.StatusConflict, string(fi.in.Status), cmd+" does not fit")
		return
	}
	writeJSON(w, http.StatusOK, fi.in)
}

// count returns how many incidents exist and how many are closed with a
// satisfied return visit.
func (f *fakeAPI) count() (all, closed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fi := range f.incidents {
		all++
		if fi.in.Status == incident.StatusClosed && fi.in.Feedback != nil && fi.in.Feedback.Rating == incident.RatingSatisfied {
			closed++
		}
	}
	return all, closed
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, status int, current, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "https://whistle.city/problems/x", "status": status, "detail": detail, "current_status": current,
	})
}
