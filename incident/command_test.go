package incident

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
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
		if want := map[bool]string{true: "i1-t7"}[d.OnTask]; TaskOf(got) != want {
			t.Errorf("%T: task %q, want %q", c, TaskOf(got), want)
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
