package incident

import (
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

func hours(kind SLAKind, from time.Time) time.Time {
	switch kind {
	case SLAAck:
		return from.Add(time.Hour)
	case SLAResolve:
		return from.Add(72 * time.Hour)
	}
	return from.Add(72 * time.Hour)
}

func newIncident(tier Tier) *Incident {
	item := Item{Code: "SR-001", Tier: tier, Lead: "CG", Cooperating: []string{"SCJG", "CG"}}
	return New(Report{IncidentID: "i1", Category: "SR-001", Street: "FH", Community: "FH-01", Grid: "FH-01-01", Reporter: "w"}, item, t0, DueFunc(hours))
}

var (
	grid   = Actor{Sub: "w", Role: RoleGridWorker, Org: "FH-01-01"}
	street = Actor{Sub: "s", Role: RoleStreet, Org: "FH"}
	cg     = Actor{Sub: "c", Role: RoleDepartment, Org: "CG"}
)

func TestTaskIDRoundTrip(t *testing.T) {
	for _, id := range []string{"i1", "01a20284-e152-7786-95b9-9ad9570a5d14", "a-t", "x-t1"} {
		for _, n := range []int{1, 9, 10, 123} {
			if got := IncidentOfTask(TaskID(id, n)); got != id {
				t.Errorf("IncidentOfTask(TaskID(%q, %d)) = %q", id, n, got)
			}
		}
	}
	for _, bad := range []string{"", "-t1", "abc", "abc-t", "abc-tx", "abc-t1x"} {
		if got := IncidentOfTask(bad); got != "" {
			t.Errorf("IncidentOfTask(%q) = %q, want \"\"", bad, got)
		}
	}
}

func TestNewRoutesByTier(t *testing.T) {
	if in := newIncident(TierCommunity); in.Status != StatusCommunity || len(in.Tasks) != 0 {
		t.Fatalf("community: %s with %d tasks", in.Status, len(in.Tasks))
	}
	if in := newIncident(TierStreet); in.Status != StatusTriage {
		t.Fatalf("street: %s", in.Status)
	}
	in := newIncident(TierDepartment)
	// The lead listed again as cooperating gets one task, not two.
	if in.Status != StatusDispatched || len(in.Tasks) != 2 || in.Tasks[0].Department != "CG" || in.Tasks[0].Role != TaskLead {
		t.Fatalf("department: %s %+v", in.Status, in.Tasks)
	}
	if !in.Tasks[0].AckDue.Equal(t0.Add(time.Hour)) {
		t.Fatalf("ack due %s", in.Tasks[0].AckDue)
	}
	for i, e := range in.Timeline {
		if e.Seq != i+1 {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
	}
}

// A role that may not act is told so (403) before it learns the state (409).
func TestForbiddenBeforeConflict(t *testing.T) {
	in := newIncident(TierDepartment)
	if c := ErrorCode(in.Check(grid, Whistle{Note: "x"}, t0)); c != CodeForbidden {
		t.Fatalf("grid worker whistling: %s", c)
	}
	if c := ErrorCode(in.Check(street, Whistle{Note: "x"}, t0)); c != CodeConflict {
		t.Fatalf("street whistling a dispatched incident: %s", c)
	}
	err := in.Check(street, Escalate{Note: "x"}, t0)
	if c := ErrorCode(err); c != CodeForbidden {
		t.Fatalf("street escalating: %s", c)
	}
}

func TestApplyRefusedChangesNothing(t *testing.T) {
	in := newIncident(TierDepartment)
	before := in.Clone()
	err := in.Apply(cg, Complete{TaskID: in.Tasks[0].ID, Result: "done"}, t0, DueFunc(hours))
	var e *Error
	if err == nil || ErrorCode(err) != CodeConflict {
		t.Fatalf("complete before ack: %v", err)
	}
	if ok := asError(err, &e); !ok || e.Status != string(TaskPendingAck) {
		t.Fatalf("conflict should carry the task's status: %+v", e)
	}
	if in.Version != before.Version || len(in.Timeline) != len(before.Timeline) || in.Tasks[0].Status != TaskPendingAck {
		t.Fatal("a refused command changed the incident")
	}
}

func TestCloneSharesNothingMutable(t *testing.T) {
	in := newIncident(TierDepartment)
	c := in.Clone()
	if err := in.Apply(cg, Ack{TaskID: in.Tasks[0].ID}, t0.Add(time.Minute), DueFunc(hours)); err != nil {
		t.Fatal(err)
	}
	if c.Tasks[0].Status != TaskPendingAck || len(c.Timeline) == len(in.Timeline) || c.Version == in.Version {
		t.Fatal("the clone saw a later change")
	}
}

func TestReopenWithoutDepartmentsGoesBackToItsTier(t *testing.T) {
	in := newIncident(TierCommunity)
	must(t, in.Apply(grid, Resolve{Note: "done"}, t0, DueFunc(hours)))
	must(t, in.Apply(street, GiveFeedback{Resolved: false, Rating: RatingUnsatisfied}, t0, DueFunc(hours)))
	if in.Status != StatusCommunity || in.ReopenCount != 1 || in.Round != 2 {
		t.Fatalf("after unsatisfied feedback: %s reopen=%d round=%d", in.Status, in.ReopenCount, in.Round)
	}
	// max_reopens 0 (the incident's own limit): unsatisfied closes at once.
	in = newIncident(TierStreet)
	in.MaxReopens = 0
	must(t, in.Apply(street, Resolve{Note: "done"}, t0, DueFunc(hours)))
	must(t, in.Apply(street, GiveFeedback{Resolved: false, Rating: RatingUnsatisfied}, t0, DueFunc(hours)))
	if in.Status != StatusClosed || in.ReopenCount != 0 {
		t.Fatalf("max_reopens 0: %s reopen=%d", in.Status, in.ReopenCount)
	}
}

func TestTickFiresEachDeadlineOnce(t *testing.T) {
	in := newIncident(TierDepartment)
	next, ok := in.NextDeadline()
	if !ok || !next.Equal(t0.Add(time.Hour)) {
		t.Fatalf("next deadline %s %v", next, ok)
	}
	if in.Tick(t0.Add(59 * time.Minute)) {
		t.Fatal("fired early")
	}
	if !in.Tick(t0.Add(time.Hour)) || in.EscalationLevel != 1 || !in.Tasks[0].AckOverdue {
		t.Fatal("did not fire at the deadline")
	}
	if in.Tick(t0.Add(2 * time.Hour)) {
		t.Fatal("fired twice")
	}
	if !in.OverdueAt(t0.Add(2 * time.Hour)) {
		t.Fatal("not overdue after the ack deadline")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}

func TestNewDuplicateIsClosedWithoutTasks(t *testing.T) {
	orig := "i0"
	r := Report{IncidentID: "i1", Category: "SR-001", Street: "FH", Community: "FH-01", Grid: "FH-01-02", Reporter: "w2", DuplicateOf: &orig}
	item := Item{Code: "SR-001", Tier: TierDepartment, Lead: "CG", Cooperating: []string{"SCJG"}}
	in := New(r, item, t0, DueFunc(hours))
	orig = "changed" // the incident keeps its own copy
	if in.Status != StatusClosed || in.ClosedAt == nil || !in.ClosedAt.Equal(t0) || len(in.Tasks) != 0 {
		t.Fatalf("duplicate: %s closed at %v with %d tasks", in.Status, in.ClosedAt, len(in.Tasks))
	}
	if in.DuplicateOf == nil || *in.DuplicateOf != "i0" || in.RepeatOf != nil {
		t.Fatalf("duplicate_of %v, repeat_of %v", in.DuplicateOf, in.RepeatOf)
	}
	if len(in.Timeline) != 2 || in.Timeline[1].Type != EventDuplicate || in.Timeline[1].Note != "duplicate of i0" ||
		in.Timeline[1].Status != StatusClosed {
		t.Fatalf("timeline %+v", in.Timeline)
	}
	if _, ok := in.NextDeadline(); ok {
		t.Fatal("a duplicate waits on a clock")
	}
	if err := in.Check(street, Whistle{Note: "x"}, t0); ErrorCode(err) != CodeConflict {
		t.Fatalf("whistling a duplicate: %v, want a conflict", err)
	}
}

func TestNewRepeatIsRoutedAndFlagged(t *testing.T) {
	orig := "i0"
	r := Report{IncidentID: "i1", Category: "SR-001", Street: "FH", Community: "FH-01", Grid: "FH-01-01", Reporter: "w", RepeatOf: &orig}
	in := New(r, Item{Code: "SR-001", Tier: TierDepartment, Lead: "CG"}, t0, DueFunc(hours))
	if in.Status != StatusDispatched || len(in.Tasks) != 1 || in.DuplicateOf != nil || in.RepeatOf == nil || *in.RepeatOf != "i0" {
		t.Fatalf("repeat: %s, %d tasks, duplicate_of %v, repeat_of %v", in.Status, len(in.Tasks), in.DuplicateOf, in.RepeatOf)
	}
	if e := in.Timeline[1]; e.Type != EventRepeat || e.Note != "repeat (重复诉求) of i0" || !IsEscalation(e.Type) {
		t.Fatalf("second entry %+v", e)
	}
	if got := in.Report(); got.RepeatOf == nil || *got.RepeatOf != "i0" {
		t.Fatalf("Report() lost repeat_of: %+v", got)
	}
}

func TestRecordDuplicate(t *testing.T) {
	in := newIncident(TierStreet)
	v := in.Version
	at := t0.Add(time.Hour)
	in.RecordDuplicate(Duplicate{IncidentID: "i2", Grid: "FH-01-02", Reporter: "w2", ReportedAt: at}, at)
	last := in.Timeline[len(in.Timeline)-1]
	if in.Duplicates != 1 || in.Version != v+1 || last.Type != EventDuplicateReported || last.Actor != "grid_worker:FH-01-02:w2" ||
		last.Note != "duplicate i2 reported 2026-11-23T02:00:00Z" || last.Status != StatusTriage || IsEscalation(last.Type) {
		t.Fatalf("after RecordDuplicate: duplicates %d, version %d (was %d), last entry %+v", in.Duplicates, in.Version, v, last)
	}
	// A closed incident still records it.
	in.Status = StatusClosed
	in.RecordDuplicate(Duplicate{IncidentID: "i3", Grid: "FH-01-01", Reporter: "w"}, at)
	if in.Duplicates != 2 || in.Timeline[len(in.Timeline)-1].Status != StatusClosed {
		t.Fatalf("closed: duplicates %d, %+v", in.Duplicates, in.Timeline[len(in.Timeline)-1])
	}
}

// Clone copies every field: an incident with a value in every field
// (pointers, slices and maps filled, recursively) clones into an equal one
// that shares no pointer, slice or map with it, whatever fields are added.
func TestCloneCopiesEveryField(t *testing.T) {
	var in Incident
	fill(reflect.ValueOf(&in).Elem())
	c := in.Clone()
	if !reflect.DeepEqual(&in, c) {
		t.Fatalf("the clone differs:\n%+v\n%+v", in, *c)
	}
	shares(t, "Incident", reflect.ValueOf(&in).Elem(), reflect.ValueOf(c).Elem())
}

// fill puts a value in every settable field of v.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(t0))
			return
		}
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				fill(f)
			}
		}
	}
}

// shares fails t where a and b (at path) share a pointer, a slice's array
// or a map.
func shares(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() {
			t.Errorf("%s: the clone shares the pointer", path)
		}
		shares(t, path, a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: the clone shares the slice", path)
		}
		for i := range a.Len() {
			shares(t, path+"["+itoa(i)+"]", a.Index(i), b.Index(i))
		}
	case reflect.Map:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: the clone shares the map", path)
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				shares(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	}
}

// BenchmarkClone clones an incident dispatched to two departments and
// taken through acknowledgement, completion and verification, as the
// workflow does for every version it records.
func BenchmarkClone(b *testing.B) {
	in := newIncident(TierDepartment)
	for _, task := range in.Tasks {
		a := Actor{Sub: "c", Role: RoleDepartment, Org: task.Department}
		must(b, in.Apply(a, Ack{TaskID: task.ID}, t0, DueFunc(hours)))
		must(b, in.Apply(a, Complete{TaskID: task.ID, Result: "done"}, t0, DueFunc(hours)))
	}
	b.ResetTimer()
	for range b.N {
		_ = in.Clone()
	}
}
