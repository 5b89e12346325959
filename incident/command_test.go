package incident

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The registry: every command has its own name, operation and route, says
// who may send it and what it does, and names a task exactly when it has a
// TaskID; Decode fills a command from a body and the route's task id.
func TestCommandRegistry(t *testing.T) {
	names, ops, routes := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range Commands {
		d := c.Doc()
		if names[c.Name()] || ops[d.Operation] || routes[Route(c)] {
			t.Errorf("%T: name %q, operation %q or route %q is taken", c, c.Name(), d.Operation, Route(c))
		}
		names[c.Name()], ops[d.Operation], routes[Route(c)] = true, true, true
		if d.Operation == "" || d.Summary == "" || d.Description == "" || len(d.Roles) == 0 {
			t.Errorf("%T: incomplete doc %+v", c, d)
		}
		f, hasTask := reflect.TypeOf(c).FieldByName("TaskID")
		if hasTask != d.OnTask || hasTask && f.Tag.Get("hidden") != "true" {
			t.Errorf("%T: OnTask %v, TaskID field %v (tag %q): a task command has a hidden TaskID, no other one has", c, d.OnTask, hasTask, f.Tag)
		}
		if got, ok := CommandNamed(c.Name()); !ok || reflect.TypeOf(got) != reflect.TypeOf(c) {
			t.Errorf("CommandNamed(%q) = %T, %v", c.Name(), got, ok)
		}

		// A body with every field as the JSON of a filled value.
		body, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(c, body, "i1-t7")
		if err != nil {
			t.Fatalf("%T: %v", c, err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(c) {
			t.Errorf("Decode(%T) = %T", c, got)
		}
		if f := reflect.ValueOf(got).FieldByName("TaskID"); d.OnTask && f.String() != "i1-t7" {
			t.Errorf("%T: task %q, want the route's", c, f.String())
		}
		var ie *Error
		if _, err := Decode(c, []byte(`{"note": 5`), ""); !errors.As(err, &ie) || ie.Code != CodeInvalid {
			t.Errorf("%T: a broken body: %v, want an invalid *Error", c, err)
		}
	}
	if Route(DecideExtension{}) != "/v1/tasks/{id}/extension/decision" || Route(Whistle{}) != "/v1/incidents/{id}/whistle" {
		t.Errorf("routes %q %q", Route(DecideExtension{}), Route(Whistle{}))
	}
}

// A finished incident takes no command but a rating of a closed one; and
// a caller who may not send a command learns nothing of the state: it is
// refused for who it is (403, or 404 for a task the incident does not
// have) before the incident's state is looked at.
func TestPermissionBeforeState(t *testing.T) {
	in := newIncident(TierDepartment)
	in.Status = StatusClosed
	task := in.Tasks[0].ID // CG's
	insiders := map[Role]Actor{RoleGridWorker: grid, RoleStreet: street, RoleDepartment: cg,
		RoleDistrict: {Sub: "d", Role: RoleDistrict, Org: "DA"}}
	strangers := []Actor{{Sub: "o", Role: RoleStreet, Org: "XY"}, {Sub: "o", Role: RoleDepartment, Org: "ZJ"},
		{Sub: "o", Role: RoleGridWorker, Org: "XY-01-01"}}
	for _, c := range Commands {
		cmd, err := Decode(c, nil, task)
		if err != nil {
			t.Fatal(err)
		}
		permitted := 0
		for _, r := range c.Doc().Roles {
			a := insiders[r]
			if in.Permit(a, cmd) != nil {
				continue
			}
			permitted++
			var ie *Error
			err := in.Check(a, cmd, t0)
			if _, rate := c.(Rate); rate {
				if errors.As(err, &ie) && ie.Code == CodeConflict && ie.Status == string(StatusClosed) {
					t.Errorf("rate on a closed incident refused for being closed: %v", err)
				}
			} else if !errors.As(err, &ie) || ie.Code != CodeConflict {
				t.Errorf("%s by %s on a closed incident: %v, want a conflict", c.Name(), r, err)
			}
		}
		if permitted == 0 && c.Name() != CmdEscalate && c.Name() != CmdResolve { // those need a community-tier incident
			t.Errorf("%s: none of its roles %v may send it on this incident", c.Name(), c.Doc().Roles)
		}
		for _, a := range strangers {
			var ie *Error
			if err := in.Check(a, cmd, t0); !errors.As(err, &ie) || ie.Code != CodeForbidden || ie.Status != "" {
				t.Errorf("%s by %s %s: %v, want forbidden without a status", c.Name(), a.Role, a.Org, err)
			}
		}
	}
}

// A note: the incident's street or the district writes it on the
// timeline; nothing else changes.
func TestAddNote(t *testing.T) {
	in := newIncident(TierDepartment)
	status, version, n := in.Status, in.Version, len(in.Timeline)
	must(t, in.Apply(street, AddNote{Note: "called the resident"}, t0, DueFunc(hours)))
	e := in.Timeline[len(in.Timeline)-1]
	if len(in.Timeline) != n+1 || e.Type != EventNoted || e.Note != "called the resident" || e.Actor != street.String() ||
		in.Status != status || in.Version != version+1 {
		t.Fatalf("after a note: %+v, %s v%d", e, in.Status, in.Version)
	}
	district := Actor{Sub: "d", Role: RoleDistrict, Org: "DA"}
	must(t, in.Apply(district, AddNote{Note: "seen"}, t0, DueFunc(hours)))
	other := Actor{Sub: "o", Role: RoleStreet, Org: "XY"}
	for _, tc := range []struct {
		a    Actor
		note string
		want Code
	}{{other, "not mine", CodeForbidden}, {cg, "a department", CodeForbidden}, {street, "  ", CodeInvalid}} {
		var ie *Error
		if err := in.Check(tc.a, AddNote{Note: tc.note}, t0); !errors.As(err, &ie) || ie.Code != tc.want {
			t.Errorf("%s %s %q: %v, want %s", tc.a.Role, tc.a.Org, tc.note, err, tc.want)
		}
	}
}

// The state machine of the commands, command × status: with the task
// state a command needs prepared (an acknowledgement before completing, a
// return before arbitrating, a request before deciding), each is accepted
// in exactly the statuses listed here; and a role its Doc does not list
// is refused by its rule in every status (the API and the workflow agree).
func TestCommandsByStatus(t *testing.T) {
	const (
		community, triage, dispatched = StatusCommunity, StatusTriage, StatusDispatched
		verifying, awaiting           = StatusVerifying, StatusAwaitingFeedback
		suspended, closed             = StatusSuspended, StatusClosed
	)
	statuses := []Status{community, triage, dispatched, verifying, awaiting, suspended, closed}
	accepted := map[string][]Status{
		CmdResolve: {community, triage}, CmdEscalate: {community}, CmdWhistle: {community, triage},
		CmdVerify: {verifying}, CmdFeedback: {awaiting},
		CmdAck: {dispatched}, CmdComplete: {dispatched}, CmdReturn: {dispatched},
		CmdReassign: {dispatched}, CmdOverrule: {dispatched}, CmdRefer: {dispatched},
		CmdRate:    {dispatched, verifying, awaiting, closed},
		CmdUrge:    {community, triage, dispatched, verifying, awaiting, suspended},
		CmdNote:    {community, triage, dispatched, verifying, awaiting, suspended},
		CmdSuspend: {community, triage, dispatched}, CmdResume: {suspended},
		CmdExtend: {dispatched}, CmdDecide: {dispatched},
	}
	district := Actor{Sub: "d", Role: RoleDistrict, Org: "DA"}
	actors := map[Role]Actor{RoleGridWorker: grid, RoleStreet: street, RoleDepartment: cg, RoleDistrict: district}
	apply := func(in *Incident, a Actor, c Command) {
		t.Helper()
		must(t, in.Apply(a, c, t0, DueFunc(hours)))
	}
	// incidentIn returns an incident in status st, the tier its status
	// needs (the community's for escalate), its task t1 CG's.
	incidentIn := func(st Status, cmd string) *Incident {
		tier := map[Status]Tier{community: TierCommunity, triage: TierStreet}[st]
		if tier == "" {
			tier = TierDepartment
		}
		in := newIncident(tier)
		switch st {
		case verifying, awaiting, closed:
			for _, task := range in.Tasks {
				a := Actor{Sub: "c", Role: RoleDepartment, Org: task.Department}
				apply(in, a, Ack{TaskID: task.ID})
				apply(in, a, Complete{TaskID: task.ID, Result: "done"})
			}
			if st != verifying {
				apply(in, street, Verify{Passed: true})
			}
			if st == closed {
				apply(in, street, GiveFeedback{Resolved: true, Rating: RatingSatisfied})
			}
		case suspended:
			apply(in, street, Suspend{Reason: "budget", ReviewAt: t0.Add(time.Hour)})
		case dispatched:
			t1 := in.Tasks[0].ID
			switch cmd {
			case CmdComplete:
				apply(in, cg, Ack{TaskID: t1})
			case CmdRate:
				apply(in, cg, Ack{TaskID: t1})
				apply(in, cg, Complete{TaskID: t1, Result: "done"})
			case CmdReassign, CmdOverrule, CmdRefer:
				apply(in, cg, Return{TaskID: t1, Reason: "not ours"})
			case CmdDecide:
				apply(in, cg, RequestExtension{TaskID: t1, Until: in.Tasks[0].ResolveDue.Add(time.Hour), Reason: "permit"})
			}
		}
		return in
	}
	samples := map[string]Command{
		CmdResolve: Resolve{Note: "done"}, CmdEscalate: Escalate{Note: "too big"}, CmdWhistle: Whistle{},
		CmdVerify: Verify{Passed: true}, CmdFeedback: GiveFeedback{Resolved: true, Rating: RatingSatisfied},
		CmdAck: Ack{}, CmdComplete: Complete{Result: "done"}, CmdReturn: Return{Reason: "not ours"},
		CmdReassign: Reassign{Department: "ZJ"}, CmdOverrule: Overrule{Note: "yours"}, CmdRefer: Refer{Note: "decide"},
		CmdRate: Rate{Score: 80}, CmdUrge: Urge{Note: "hurry"}, CmdNote: AddNote{Note: "seen"},
		CmdSuspend: Suspend{Reason: "budget", ReviewAt: t0.Add(time.Hour)}, CmdResume: Resume{},
		CmdExtend: RequestExtension{Until: t0.Add(100 * time.Hour), Reason: "permit"}, CmdDecide: DecideExtension{Approve: true},
	}
	for _, c := range Commands {
		sample, ok := samples[c.Name()]
		if !ok {
			t.Errorf("%s: no sample in this test", c.Name())
			continue
		}
		roles := c.Doc().Roles
		acting := actors[RoleStreet]
		if !slices.Contains(roles, RoleStreet) {
			acting = actors[roles[0]]
		}
		for _, st := range statuses {
			in := incidentIn(st, c.Name())
			if in.Status != st {
				t.Fatalf("fixture for %s: %s, want %s", c.Name(), in.Status, st)
			}
			cmd, err := Decode(sample, mustJSON(t, sample), firstTask(in))
			if err != nil {
				t.Fatal(err)
			}
			err = in.Check(acting, cmd, t0)
			if want := slices.Contains(accepted[c.Name()], st); (err == nil) != want {
				t.Errorf("%s by %s on a %s incident: %v, want accepted %v", c.Name(), acting.Role, st, err, want)
			}
			for role, a := range actors {
				if slices.Contains(roles, role) {
					continue
				}
				var ie *Error
				if err := in.Check(a, cmd, t0); !errors.As(err, &ie) || ie.Code != CodeForbidden && ie.Code != CodeNotFound {
					t.Errorf("%s by %s (not one of its roles) on a %s incident: %v, want refused for who it is", c.Name(), role, st, err)
				}
			}
		}
	}
}

// firstTask is the id of the incident's first task, or "" without tasks.
func firstTask(in *Incident) string {
	if len(in.Tasks) == 0 {
		return ""
	}
	return in.Tasks[0].ID
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
