package whatif

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics"
)

// Changes are what the proposed rules change.
type Changes struct {
	// Departments, Streets and Items compare each row of the current and
	// the proposed table, by key.
	Departments []RowChange `json:"departments"`
	Streets     []RowChange `json:"streets"`
	Items       []RowChange `json:"items"`
	// Levels are the tasks of the month that reached each escalation level
	// (overdue_level1..3), district-wide.
	Levels map[string]IntDelta `json:"levels"`
	// Flips are the tasks whose outcome flips (on time → late, or the
	// reverse; the highest escalation level reached), each with why: the
	// first Options.Limit by incident; FlipsTotal counts them all and
	// FlipsByKind by what flipped how ("ack: on_time → late").
	Flips       []Flip         `json:"flips"`
	FlipsTotal  int            `json:"flips_total"`
	FlipsByKind map[string]int `json:"flips_by_kind"`
	// Refused are the recorded steps the proposed rules refuse, the first
	// Options.Limit by incident; RefusedTotal counts them all and
	// RefusedByCommand by command.
	Refused          []Refused      `json:"refused"`
	RefusedTotal     int            `json:"refused_total"`
	RefusedByCommand map[string]int `json:"refused_by_command"`
	// UnchangedItems are the items of the month's incidents that the
	// proposed file does not have: their incidents were replayed under
	// the rules they ran by.
	UnchangedItems []string `json:"unchanged_items"`
}

// RowChange is one row of a table, current beside proposed.
type RowChange struct {
	Key   string   `json:"key"`
	Rank  IntDelta `json:"rank"`
	Score Delta    `json:"score"`
	// Rates are the row's rates and its mean rating, by their /v1/metrics
	// names.
	Rates           map[string]Delta `json:"rates"`
	MeetsTarget     BoolDelta        `json:"meets_target"`
	MeetsAllTargets BoolDelta        `json:"meets_all_targets"`
	// Counts are the counters that changed, by their /v1/metrics names.
	Counts map[string]IntDelta `json:"counts,omitempty"`
}

// Delta is a number as it is and as it would be; nil where it is null
// (Change is nil when either is).
type Delta struct {
	Current  *float64 `json:"current"`
	Proposed *float64 `json:"proposed"`
	Change   *float64 `json:"change"`
}

// IntDelta is a whole number as it is and as it would be (nil where it is
// null, as a rank of a row with too few cases).
type IntDelta struct {
	Current  *int64 `json:"current"`
	Proposed *int64 `json:"proposed"`
	Change   *int64 `json:"change"`
}

// BoolDelta is a yes or no as it is and as it would be.
type BoolDelta struct {
	Current  bool `json:"current"`
	Proposed bool `json:"proposed"`
}

// Flip is a task whose outcome the proposed rules change.
type Flip struct {
	Incident   string `json:"incident"`
	Task       string `json:"task"`
	Department string `json:"department"`
	Street     string `json:"street"`
	Item       string `json:"item"`
	// What flipped: "ack" (acknowledged on time), "resolve" (completed on
	// time) or "level" (the highest escalation level reached).
	What string `json:"what"`
	// Current and Proposed are the outcomes: on_time, late, open (not
	// decided by as_of), none (returned or cancelled first), or a level.
	Current  string `json:"current"`
	Proposed string `json:"proposed"`
	Why      string `json:"why"`
}

// Refused is a recorded step that the proposed rules refuse.
type Refused struct {
	Incident string    `json:"incident"`
	Seq      int       `json:"seq"` // of the timeline entry it was read from
	Command  string    `json:"command"`
	Task     string    `json:"task,omitempty"`
	Actor    string    `json:"actor"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
}

// worker replays incidents into its own tallies and lists.
type worker struct {
	o        Options
	rules    *rulebook
	loc      *time.Location
	from, to time.Time

	record, current, proposed *metrics.Tally

	n                int // incidents replayed
	unfaithful       int
	firstUnfaithful  []string
	flips            []Flip
	flipsTotal       int
	flipsByKind      map[string]int
	refused          []Refused
	refusedTotal     int
	refusedByCommand map[string]int
	unchanged        map[string]bool
	err              error
}

func newWorker(from, to time.Time, loc *time.Location, o Options, rules *rulebook) *worker {
	return &worker{o: o, rules: rules, loc: loc, from: from, to: to,
		record: metrics.NewTally(from, to, loc, dims...), current: metrics.NewTally(from, to, loc, dims...),
		proposed: metrics.NewTally(from, to, loc, dims...), flipsByKind: map[string]int{}, refusedByCommand: map[string]int{},
		unchanged: map[string]bool{}}
}

// replay counts one incident as recorded, as replayed under the rules it
// ran by, and as replayed under the proposed ones, and notes what flips
// and what is refused. An incident that cannot be replayed (its item is
// unknown, its timeline unreadable) counts as recorded in all three and
// breaks the identity.
func (w *worker) replay(r *record) error {
	w.n++
	rec := r.asCase()
	if err := w.record.Count(rec); err != nil {
		return err
	}
	asRan, known := w.rules.asRan(r.item)
	steps, err := incident.StepsOf(r.tl)
	if !known || err != nil || len(r.tl) == 0 {
		w.noteUnfaithful(r.report.IncidentID)
		if err := w.current.Count(rec); err != nil {
			return err
		}
		return w.proposed.Count(rec)
	}
	start := r.tl[0].At
	cur, curVisits, curRefused := asRan.Run(r.report, r.item, start, steps, w.o.AsOf)
	if len(curRefused) > 0 || !sameTimeline(cur.Timeline, r.tl) {
		w.noteUnfaithful(r.report.IncidentID)
	}
	if err := w.current.Count(metrics.CaseOf(cur, curVisits)); err != nil {
		return err
	}
	proposed, changed := w.rules.proposedFor(r.item)
	if !changed {
		w.unchanged[r.item.Code] = true
	}
	prop, propVisits, refused := proposed.Run(r.report, r.item, start, steps, w.o.AsOf)
	if err := w.proposed.Count(metrics.CaseOf(prop, propVisits)); err != nil {
		return err
	}
	for _, x := range refused {
		w.refusedTotal++
		w.refusedByCommand[x.Step.Name()]++
		if len(w.refused) < w.o.Limit {
			w.refused = append(w.refused, Refused{Incident: prop.ID, Seq: x.Step.Seq, Command: x.Step.Name(), Task: taskOf(x.Step.Command),
				Actor: x.Step.Actor.String(), At: x.Step.At, Reason: x.Err.Error()})
		}
	}
	w.compare(cur, prop)
	return nil
}

func (w *worker) noteUnfaithful(id string) {
	w.unfaithful++
	if len(w.firstUnfaithful) < max(w.o.Limit, 10) {
		w.firstUnfaithful = append(w.firstUnfaithful, id)
	}
}

// sameTimeline reports whether a replayed timeline a has the recorded
// one's entries: their types, tasks, levels and times. The clock's steps
// are replayed at their deadlines, while the record has them when the
// workflow's timer fired, which is that instant or later (a worker was
// busy or down): for them the recorded time may be later.
func sameTimeline(a, b []incident.Entry) bool {
	return slices.EqualFunc(a, b, func(x, y incident.Entry) bool {
		at := x.At.Equal(y.At) || y.Actor == incident.SystemActor && y.At.After(x.At)
		return at && x.Type == y.Type && x.TaskID == y.TaskID && x.Level == y.Level
	})
}

// taskOf returns the task a command names, or "".
func taskOf(c incident.Command) string {
	if c == nil {
		return ""
	}
	if f := reflect.ValueOf(c).FieldByName("TaskID"); f.IsValid() {
		return f.String()
	}
	return ""
}

// compare notes the flips of the tasks of the month between the replay
// under the rules the incident ran by and under the proposed ones.
func (w *worker) compare(cur, prop *incident.Incident) {
	for _, a := range cur.Tasks {
		b := prop.Task(a.ID)
		if b == nil || a.Department != b.Department || a.CreatedAt.Before(w.from) || !a.CreatedAt.Before(w.to) {
			continue
		}
		// why is only worked out for the flips listed: a city's month
		// has millions.
		note := func(what, x, y string, why func() string) {
			if x == y {
				return
			}
			w.flipsTotal++
			w.flipsByKind[what+": "+x+" → "+y]++
			if len(w.flips) < w.o.Limit {
				w.flips = append(w.flips, Flip{Incident: cur.ID, Task: a.ID, Department: a.Department, Street: cur.Street,
					Item: cur.Category, What: what, Current: x, Proposed: y, Why: why()})
			}
		}
		note("ack", ackOutcome(a), ackOutcome(b), func() string { return w.why("acknowledged", a.AckedAt, a.AckDue, b.AckDue) })
		note("resolve", resolveOutcome(a), resolveOutcome(b), func() string {
			var done *time.Time
			if a.Status == incident.TaskCompleted {
				done = a.CompletedAt
			}
			return w.why("completed", done, a.ResolveDue, b.ResolveDue)
		})
		if a.EscalationLevel != b.EscalationLevel {
			note("level", strconv.Itoa(a.EscalationLevel), strconv.Itoa(b.EscalationLevel), func() string {
				return fmt.Sprintf("the ladder reached %s as it ran, %s under the proposed rules (acknowledgement due %s → %s, resolution due %s → %s)",
					levelName(a.EscalationLevel), levelName(b.EscalationLevel), w.at(a.AckDue), w.at(b.AckDue), w.at(a.ResolveDue), w.at(b.ResolveDue))
			})
		}
	}
}

func levelName(l int) string {
	if l == 0 {
		return "no level"
	}
	return "level " + strconv.Itoa(l)
}

// why says when a task was acknowledged or completed and by when, under
// either rules.
func (w *worker) why(done string, at *time.Time, due, proposed time.Time) string {
	when := "not " + done + " by " + w.at(w.o.AsOf)
	if at != nil {
		when = done + " " + w.at(*at)
	}
	return when + "; due " + w.at(proposed) + " under the proposed rules, " + w.at(due) + " as it ran"
}

func (w *worker) at(t time.Time) string { return t.In(w.loc).Format("2006-01-02 15:04:05") }

// ackOutcome is how a task's acknowledgement turned out: on_time, late
// (acknowledged late, or its deadline passed unacknowledged), open (still
// in its window) or none (returned or cancelled first).
func ackOutcome(t *incident.Task) string {
	switch {
	case t.AckedAt != nil && !t.AckedAt.After(t.AckDue):
		return "on_time"
	case t.AckedAt != nil || t.Ack.Level >= 1:
		return "late"
	case t.Open():
		return "open"
	}
	return "none"
}

// resolveOutcome is ackOutcome for the completion.
func resolveOutcome(t *incident.Task) string {
	switch {
	case t.Status == incident.TaskCompleted && !t.CompletedAt.After(t.ResolveDue):
		return "on_time"
	case t.Status == incident.TaskCompleted || t.Resolve.Level >= 1:
		return "late"
	case t.Open():
		return "open"
	}
	return "none"
}

// rowChanges compares two tables of one dimension row by row, in key
// order.
func rowChanges(cur, prop []metrics.LeagueRow) []RowChange {
	a, b := map[string]*metrics.LeagueRow{}, map[string]*metrics.LeagueRow{}
	var keys []string
	for i := range cur {
		a[cur[i].Key] = &cur[i]
		keys = append(keys, cur[i].Key)
	}
	for i := range prop {
		b[prop[i].Key] = &prop[i]
		if a[prop[i].Key] == nil {
			keys = append(keys, prop[i].Key)
		}
	}
	slices.Sort(keys)
	out := make([]RowChange, 0, len(keys))
	for _, k := range keys {
		x, y := a[k], b[k]
		if x == nil {
			x = &metrics.LeagueRow{Key: k}
		}
		if y == nil {
			y = &metrics.LeagueRow{Key: k}
		}
		c := RowChange{Key: k, Rates: map[string]Delta{}, Counts: map[string]IntDelta{},
			MeetsTarget: BoolDelta{x.MeetsTarget, y.MeetsTarget}, MeetsAllTargets: BoolDelta{x.MeetsAllTargets, y.MeetsAllTargets}}
		c.Rank = intDelta(ptr64(x.Rank), ptr64(y.Rank))
		xv, yv := reflect.ValueOf(*x), reflect.ValueOf(*y)
		for _, f := range reflect.VisibleFields(xv.Type()) {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || f.Anonymous || name == "" {
				continue
			}
			p, q := xv.FieldByIndex(f.Index), yv.FieldByIndex(f.Index)
			switch v := p.Interface().(type) {
			case *float64:
				d := delta(v, q.Interface().(*float64))
				if name == "score" {
					c.Score = d
				} else {
					c.Rates[name] = d
				}
			case int64:
				if w := q.Int(); w != v {
					c.Counts[name] = intDelta(&v, &w)
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// levelChanges sums the tasks that reached each escalation level over
// the rows of a table that counts every task once (the streets').
func levelChanges(cur, prop []metrics.LeagueRow) map[string]IntDelta {
	sum := func(rows []metrics.LeagueRow) [3]int64 {
		var s [3]int64
		for _, r := range rows {
			s[0], s[1], s[2] = s[0]+r.Level1, s[1]+r.Level2, s[2]+r.Level3
		}
		return s
	}
	a, b := sum(cur), sum(prop)
	out := map[string]IntDelta{}
	for i := range a {
		out["overdue_level"+strconv.Itoa(i+1)] = intDelta(&a[i], &b[i])
	}
	return out
}

func delta(a, b *float64) Delta {
	d := Delta{Current: a, Proposed: b}
	if a != nil && b != nil {
		c := *b - *a
		d.Change = &c
	}
	return d
}

func intDelta(a, b *int64) IntDelta {
	d := IntDelta{Current: a, Proposed: b}
	if a != nil && b != nil {
		c := *b - *a
		d.Change = &c
	}
	return d
}

func ptr64(p *int) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}
