package incident

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Command is a human step on an incident. Each command is one type: its
// input (the fields, which are also the HTTP body, with their docs), its
// rule (check), its effect (apply) and its documentation (Doc). Commands
// lists every one; the workflow's Updates, the API's routes with their
// OpenAPI operations and the tests' helpers are derived from that list, so
// adding a command is one type and one line there.
type Command interface {
	// Name is the command's name: its Update name, and the last part of
	// its route (an underscore is a slash: "extension_decision" is
	// /extension/decision).
	Name() string
	// Doc says who may send the command and what it does.
	Doc() Doc
	// permit reports whether a may send the command to in at all, before
	// anything of its state is looked at: a *Error with CodeForbidden or
	// CodeNotFound (a task the incident does not have), or nil.
	permit(in *Incident, a Actor) error
	// check reports whether the permitted command fits in at now, changing
	// nothing: a *Error with CodeConflict, CodeInvalid or (a rule that
	// depends on the state) CodeForbidden, or nil. The incident's terminal
	// state is checked before.
	check(in *Incident, a Actor, now time.Time) error
	// apply runs the checked command by who (an Actor.String()) at now,
	// with the incident's rules.
	apply(in *Incident, who string, now time.Time, rules Rules)
}

// Doc documents a command for the API and the people who read its OpenAPI
// document.
type Doc struct {
	// Operation is the OpenAPI operation id.
	Operation string
	Summary   string
	// Description says what the command does; the API adds what every
	// command answers.
	Description string
	// Roles are the roles that may send the command at all; the command's
	// rule decides which of their organisations may, in which state.
	Roles []Role
	// OnTask says the command names a task (its TaskID field, the route's
	// id); otherwise it names the incident.
	OnTask bool
	// OptionalBody says every field may be left out: the request may have
	// no body.
	OptionalBody bool
	// AfterClosing says the command is still taken while the closed
	// incident's workflow runs (the rating window).
	AfterClosing bool
}

// Commands are every command on incidents and tasks (DESIGN.md §4), in the
// order of the API's documentation.
var Commands = []Command{
	Resolve{}, Escalate{}, Whistle{}, Verify{}, GiveFeedback{},
	Ack{}, Complete{}, Return{}, Reassign{}, Rate{}, Overrule{}, Refer{},
	Urge{}, AddNote{}, Suspend{}, Resume{}, RequestExtension{}, DecideExtension{},
}

// CommandNamed returns the command of Commands named name (its zero value).
func CommandNamed(name string) (Command, bool) {
	for _, c := range Commands {
		if c.Name() == name {
			return c, true
		}
	}
	return nil, false
}

// Route is the path of command c's endpoint: /v1/incidents/{id}/<name> or
// /v1/tasks/{id}/<name>, an underscore in the name a slash.
func Route(c Command) string {
	target := "incidents"
	if c.Doc().OnTask {
		target = "tasks"
	}
	return "/v1/" + target + "/{id}/" + strings.ReplaceAll(c.Name(), "_", "/")
}

// Decode returns a command of the same type as c with the fields of body,
// a JSON object (empty for none). A command on a task gets taskID as its
// TaskID when taskID is not "", whatever the body says.
func Decode(c Command, body []byte, taskID string) (Command, error) {
	v := reflect.New(reflect.TypeOf(c))
	if len(body) > 0 {
		if err := json.Unmarshal(body, v.Interface()); err != nil {
			return nil, Invalid("body", "the body is not a %s command: %v", c.Name(), err)
		}
	}
	if taskID != "" && c.Doc().OnTask {
		f := v.Elem().FieldByName("TaskID")
		if !f.IsValid() || f.Kind() != reflect.String {
			return nil, fmt.Errorf("incident: command %s names a task but has no TaskID", c.Name())
		}
		f.SetString(taskID)
	}
	return v.Elem().Interface().(Command), nil
}

// Permit reports whether actor may send cmd to the incident at all: who it
// is, before anything of the incident's state (a *Error with CodeForbidden
// or CodeNotFound, or nil). A caller who may not act learns nothing of the
// state from the answer.
func (in *Incident) Permit(a Actor, cmd Command) error { return cmd.permit(in, a) }

// Check reports whether actor may run cmd at now on the incident as it
// stands, without changing anything: first Permit, then the state and the
// command's fields (a *Error with CodeConflict or CodeInvalid), or nil.
func (in *Incident) Check(a Actor, cmd Command, now time.Time) error {
	if err := cmd.permit(in, a); err != nil {
		return err
	}
	if in.Status.Terminal() && !(cmd.Doc().AfterClosing && in.Status == StatusClosed) {
		return Conflict(string(in.Status), "incident %s is %s", in.ID, in.Status)
	}
	return cmd.check(in, a, now)
}

// Apply runs cmd for actor at now under the incident's rules: it checks it
// (see Check), then changes the incident and appends its timeline entries.
// On error nothing has changed. Nothing here reads a package default: the
// limits are the incident's own (New), the deadlines rules'.
func (in *Incident) Apply(a Actor, cmd Command, now time.Time, rules Rules) error {
	if err := in.Check(a, cmd, now); err != nil {
		return err
	}
	cmd.apply(in, a.String(), now, rules)
	return nil
}

// ---- what checks share ----

func (in *Incident) isStreet(a Actor) bool { return a.Role == RoleStreet && a.Org == in.Street }

func (in *Incident) allow(a Actor, cmd string, ok bool) error {
	if ok {
		return nil
	}
	return Errorf(CodeForbidden, "%s %s may not %s incident %s", a.Role, a.Org, cmd, in.ID)
}

func (in *Incident) conflict(cmd string) error {
	return Conflict(string(in.Status), "incident %s is %s: cannot %s", in.ID, in.Status, cmd)
}

// ownTask permits a command on task id to its department only.
func (in *Incident) ownTask(a Actor, id string) error {
	t := in.Task(id)
	if t == nil {
		return Errorf(CodeNotFound, "incident %s has no task %s", in.ID, id)
	}
	if a.Role != RoleDepartment || a.Org != t.Department {
		return Errorf(CodeForbidden, "task %s is not assigned to %s %s", t.ID, a.Role, a.Org)
	}
	return nil
}

// dispatchedTask returns task id of a permitted task command, checking
// that the incident takes task commands.
func (in *Incident) dispatchedTask(id string) (*Task, error) {
	t := in.Task(id)
	if in.Status != StatusDispatched {
		return nil, Conflict(string(t.Status), "incident %s is %s: its tasks take no commands now", in.ID, in.Status)
	}
	return t, nil
}

// streetTask permits a command on task id to the incident's street only.
func (in *Incident) streetTask(a Actor, cmd, id string) error {
	if err := in.allow(a, cmd, in.isStreet(a)); err != nil {
		return err
	}
	if in.Task(id) == nil {
		return Errorf(CodeNotFound, "incident %s has no task %s", in.ID, id)
	}
	return nil
}

func checkNote(field, s string, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return Invalid(field, "%s is required", field)
	}
	if len(s) > MaxNoteLen {
		return Invalid(field, "%s is longer than %d bytes", field, MaxNoteLen)
	}
	return nil
}

func noteSuffix(note string) string {
	if note == "" {
		return ""
	}
	return " — " + note
}
