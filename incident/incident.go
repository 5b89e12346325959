package incident

import (
	"reflect"
	"strings"
	"time"
)

// Incident is one report and everything that happened to it.
type Incident struct {
	ID          string     `json:"id"`
	Status      Status     `json:"status"`
	Category    string     `json:"category"`
	Item        Item       `json:"item"`
	Tier        Tier       `json:"tier"`
	Street      string     `json:"street"`
	Community   string     `json:"community"`
	Grid        string     `json:"grid"`
	Description string     `json:"description"`
	Location    Location   `json:"location"`
	Photos      []string   `json:"photos"`
	OccurredAt  *time.Time `json:"occurred_at"`
	ReportedAt  time.Time  `json:"reported_at"`
	Reporter    string     `json:"reporter"`
	// Delegation is the id of the delegation that handed the matter down
	// to the street, if a department did.
	Delegation string `json:"delegation,omitempty"`
	// Channel is how the report came in (ChannelGrid, ChannelHotline,
	// ChannelAPI, "open311:<client>", ChannelDelegation); "" in an incident
	// started before channels were recorded, which ChannelOf reads as its
	// grid or delegation.
	Channel string `json:"channel,omitempty"`
	// ExternalRef is the sender's own reference (a 12345 work order
	// number, an Open311 client's id), unique per channel; "" for none.
	ExternalRef string `json:"external_ref,omitempty"`
	// Attributes are the answers to the item's attributes (Open311
	// service attributes), by code; nil when it has none.
	Attributes map[string][]string `json:"attributes,omitempty"`
	Tasks      []*Task             `json:"tasks"`
	Round      int                 `json:"round"`

	EscalationLevel int  `json:"escalation_level"`
	Overdue         bool `json:"overdue"` // computed when read; see OverdueAt
	ReopenCount     int  `json:"reopen_count"`
	// MaxReturns is how often a department may return the same task (退单),
	// and MaxReopens how often an unsatisfied return visit reopens the
	// incident (重办): its rules' Limits, set when it starts (New).
	MaxReturns int `json:"max_returns,omitempty"`
	MaxReopens int `json:"max_reopens,omitempty"`
	// DuplicateOf is the open incident this one duplicates (it was closed
	// at once, without tasks); RepeatOf the closed one it repeats (重复诉求).
	DuplicateOf *string `json:"duplicate_of"`
	RepeatOf    *string `json:"repeat_of"`
	// Duplicates counts the later reports linked to this incident as its
	// duplicates.
	Duplicates  int         `json:"duplicates"`
	Feedback    *Feedback   `json:"feedback"`
	FeedbackDue *time.Time  `json:"feedback_due"`
	Suspension  *Suspension `json:"suspension,omitempty"`
	ClosedAt    *time.Time  `json:"closed_at"`
	Timeline    []Entry     `json:"timeline"`
	// Version counts the incident's state changes; the read model applies a
	// snapshot only if it is newer than the one it holds.
	Version   int       `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Task returns the task with the given id, or nil.
func (in *Incident) Task(id string) *Task {
	for _, t := range in.Tasks {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// OverdueAt reports whether any open task has a passed deadline at now.
func (in *Incident) OverdueAt(now time.Time) bool {
	if in.Status != StatusDispatched {
		return false
	}
	for _, t := range in.Tasks {
		if t.Overdue(now) {
			return true
		}
	}
	return false
}

// TaskID is the id of the n-th task (from 1) of an incident. The incident id
// can be recovered from it with IncidentOfTask, so a command on a task reaches
// its workflow without a database lookup.
func TaskID(incidentID string, n int) string {
	return incidentID + "-t" + itoa(n)
}

// IncidentOfTask returns the incident id a task id belongs to, or "" when
// taskID is not a task id.
func IncidentOfTask(taskID string) string {
	i := strings.LastIndex(taskID, "-t")
	if i <= 0 || i+2 >= len(taskID) {
		return ""
	}
	for _, c := range taskID[i+2:] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return taskID[:i]
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Clone returns a copy of the incident that shares nothing with it (no
// pointer, slice or map), so a snapshot handed to another goroutine never
// sees later changes. It copies every field, those added later too.
func (in *Incident) Clone() *Incident {
	c := deepCopy(reflect.ValueOf(in).Elem()).Interface().(Incident)
	return &c
}

// deepCopy returns a copy of v that shares no pointer, slice or map with
// it. Structs are copied field by field (time.Time, immutable, as a whole).
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(deepCopy(v.Elem()))
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			c.Index(i).Set(deepCopy(v.Index(i)))
		}
		return c
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			c.SetMapIndex(it.Key(), deepCopy(it.Value()))
		}
		return c
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v) // every field, unexported ones and time.Time's included
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return c
		}
		for i := range v.NumField() {
			if f := c.Field(i); f.CanSet() {
				f.Set(deepCopy(v.Field(i)))
			}
		}
		return c
	}
	return v
}

// Report returns the report the incident was started from.
func (in *Incident) Report() Report {
	return Report{
		IncidentID: in.ID, Category: in.Category, Street: in.Street, Community: in.Community, Grid: in.Grid,
		Description: in.Description, Location: in.Location, Photos: in.Photos, OccurredAt: in.OccurredAt,
		ReportedAt: in.ReportedAt, Reporter: in.Reporter, Delegation: in.Delegation,
		Channel: in.Channel, ExternalRef: in.ExternalRef, Attributes: in.Attributes,
		DuplicateOf: in.DuplicateOf, RepeatOf: in.RepeatOf,
	}
}
