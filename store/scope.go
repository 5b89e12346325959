package store

import (
	"github.com/whistle-city/whistle/incident"
)

// Scope is the part of the read model a caller may read: the one read
// policy of Whistle. ScopeOf turns a caller into it, and every read of
// incidents, tasks, the supervision lists and delegations takes one and
// applies it in its SQL, so that no endpoint can forget it:
//
//   - a grid worker reads the incidents of its grid;
//   - a street, those of its street, their tasks, its supervision lists
//     and the delegations towards it;
//   - a department, the incidents it has a task on or handed down to a
//     street (准入), its own tasks and its own delegations;
//   - an intake system (the hotline, an Open311 client), the incidents
//     that came in by its channel;
//   - the district and the admin, everything.
//
// A filter that asks for more than the scope (another street, say) is a
// CodeForbidden *incident.Error; an incident outside it is CodeNotFound, as
// if it did not exist.
type Scope struct {
	role incident.Role
	org  string
}

// Everything is the scope of Whistle itself (the workflow, the sweeper,
// the commands that read their own rows).
var Everything = Scope{role: incident.RoleDistrict}

// ScopeOf returns the scope of caller a.
func ScopeOf(a incident.Actor) Scope { return Scope{role: a.Role, org: a.Org} }

func (sc Scope) all() bool { return sc.role == incident.RoleDistrict || sc.role == incident.RoleAdmin }

// narrow returns the value a filter field of the scope's own kind (role)
// is restricted to: the scope's organisation, and a CodeForbidden error
// when the filter asked for another. Fields of another kind stay as asked.
func (sc Scope) narrow(kind incident.Role, what, asked string) (string, error) {
	if sc.role != kind || sc.all() {
		return asked, nil
	}
	if asked != "" && asked != sc.org {
		return "", incident.Errorf(incident.CodeForbidden, "%s %s may not read the %s of %s %s", sc.role, sc.org, what, kind, asked)
	}
	return sc.org, nil
}

// only returns a CodeForbidden error unless the scope's role is one of
// roles (or reads everything): for lists that have no rows of the others.
func (sc Scope) only(what string, roles ...incident.Role) error {
	if sc.all() {
		return nil
	}
	for _, r := range roles {
		if sc.role == r {
			return nil
		}
	}
	return incident.Errorf(incident.CodeForbidden, "%s %s may not read %s", sc.role, sc.org, what)
}

// incidents adds to w the condition that incident i is in the scope.
func (sc Scope) incidents(w *where) {
	switch {
	case sc.all():
	case sc.role == incident.RoleGridWorker:
		w.and("i.grid = " + w.arg(sc.org))
	case sc.role == incident.RoleStreet:
		w.and("i.street = " + w.arg(sc.org))
	case sc.role == incident.RoleIntake:
		// An intake system (the hotline, an Open311 client) reads what
		// came in by its own channel, and nothing else.
		w.and("i.channel = " + w.arg(sc.org))
	case sc.role == incident.RoleDepartment:
		d := w.arg(sc.org)
		w.and("(EXISTS (SELECT 1 FROM tasks st WHERE st.incident_id = i.id AND st.department = " + d + ")" +
			" OR EXISTS (SELECT 1 FROM delegations sd WHERE sd.incident_id = i.id AND sd.department = " + d + "))")
	default:
		w.and("FALSE")
	}
}

// tasks narrows the street and department filters of a list of tasks
// (inbox, overdue board, disputes) to the scope: a street's tasks, a
// department's own; a grid worker reads no such list.
func (sc Scope) tasks(what string, street, department *string) error {
	if err := sc.only(what, incident.RoleStreet, incident.RoleDepartment); err != nil {
		return err
	}
	var err error
	if *street, err = sc.narrow(incident.RoleStreet, what, *street); err != nil {
		return err
	}
	*department, err = sc.narrow(incident.RoleDepartment, what, *department)
	return err
}
