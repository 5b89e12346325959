package incident

import (
	"errors"
	"testing"
	"time"
)

// limited is DueFunc(hours) with other limits.
type limited struct {
	DueFunc
	lim Limits
}

func (l limited) Limits() Limits { return l.lim }

// The commands the seeds never send — suspension, routing overrides,
// enforcement, urges, notes, referred and overruled returns, refused
// extensions, duplicates, comments and notes everywhere — read back from
// the timeline and replayed under the same rules write the same history.
func TestStepsOfEveryCommandReplay(t *testing.T) {
	rules := limited{DueFunc(hours), Limits{MaxReopens: 2, MaxReturns: 2}}
	item := Item{Code: "SR-001", Tier: TierStreet, Lead: "CG", Cooperating: []string{"SCJG"}, Enforcement: []string{"ZF"}}
	rep := Report{IncidentID: "i1", Category: "SR-001", Street: "FH", Community: "FH-01", Grid: "FH-01-01", Reporter: "w", ReportedAt: t0}
	in := New(rep, item, t0, rules)
	district := Actor{Sub: "d", Role: RoleDistrict, Org: "DA"}
	zj := Actor{Sub: "z", Role: RoleDepartment, Org: "ZJ"}
	zf := Actor{Sub: "f", Role: RoleDepartment, Org: "ZF"}
	scjg := Actor{Sub: "m", Role: RoleDepartment, Org: "SCJG"}
	at := t0
	do := func(a Actor, c Command) {
		t.Helper()
		at = at.Add(10 * time.Minute)
		for {
			d, ok := in.NextDeadline()
			if !ok || d.After(at) || !in.Tick(d) {
				break
			}
		}
		if err := in.Apply(a, c, at, rules); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
	}
	do(street, AddNote{Note: "看过现场"})
	do(street, Suspend{Reason: "等预算: 下月", ReviewAt: t0.Add(48 * time.Hour)})
	do(street, Resume{Note: "预算到位"})
	do(street, Whistle{Departments: []string{"ZJ", "CG"}, Note: "住建牵头: 涉及结构"})
	do(street, Whistle{Departments: []string{"ZF"}, Enforcement: true, Note: "联合执法"})
	in.RecordDuplicate(Duplicate{IncidentID: "i2", Grid: "FH-01-02", Reporter: "w2", ReportedAt: at}, at.Add(time.Minute))
	do(street, Urge{Note: "抓紧"})
	do(zj, Return{TaskID: "i1-t1", Reason: "不属本部门"})
	do(street, Refer{TaskID: "i1-t1", Note: "街道无法裁定"})
	do(district, Overrule{TaskID: "i1-t1", Note: "属住建职责"})
	do(zj, Return{TaskID: "i1-t1", Reason: "仍不属本部门"}) // the second return: allowed by these rules
	do(street, Reassign{TaskID: "i1-t1", Department: "SCJG", Note: "改派"})
	do(cg, Ack{TaskID: "i1-t2"})
	do(zf, Ack{TaskID: "i1-t3", Note: "已出发"})
	do(scjg, Ack{TaskID: "i1-t4"})
	do(cg, RequestExtension{TaskID: "i1-t2", Until: t0.Add(200 * time.Hour), Reason: "需协调: 施工"})
	do(street, DecideExtension{TaskID: "i1-t2", Approve: false, Note: "不批"})
	do(scjg, RequestExtension{TaskID: "i1-t4", Until: t0.Add(300 * time.Hour), Reason: "材料"})
	do(street, DecideExtension{TaskID: "i1-t4", Approve: true, Note: "同意 — 但要快"})
	do(cg, Complete{TaskID: "i1-t2", Result: "已修复", Note: "附照片"})
	do(zf, Complete{TaskID: "i1-t3", Result: "已处罚"})
	do(scjg, Complete{TaskID: "i1-t4", Result: "已清理"})
	do(street, Verify{Passed: true, Note: "现场恢复"})
	do(street, GiveFeedback{Resolved: false, Rating: RatingUnsatisfied, Comment: "还是漏: 楼上"})
	do(cg, Ack{TaskID: "i1-t5"})
	do(street, Rate{TaskID: "i1-t3", Score: 90, Note: "及时 — 好"})

	steps, err := StepsOf(in.Timeline)
	if err != nil {
		t.Fatal(err)
	}
	got, visits, refused := Replay{Rules: rules}.Run(rep, item, t0, steps, at)
	if len(refused) > 0 {
		t.Fatalf("refused: %v", refused[0].Err)
	}
	for i := range max(len(in.Timeline), len(got.Timeline)) {
		var a, b Entry
		if i < len(in.Timeline) {
			a = in.Timeline[i]
		}
		if i < len(got.Timeline) {
			b = got.Timeline[i]
		}
		if a != b {
			t.Errorf("entry %d:\n recorded %+v\n replayed %+v", i+1, a, b)
		}
	}
	if len(visits) != 1 || *in.Feedback != visits[0] {
		t.Errorf("visits %+v, want %+v", visits, *in.Feedback)
	}

	// Under one return per task, the second return is refused, and so is
	// the reassignment that followed it (the task was never returned
	// again); the replay goes on without them.
	strict := limited{DueFunc(hours), Limits{MaxReopens: 2, MaxReturns: 1}}
	_, _, refused = Replay{Rules: strict}.Run(rep, item, t0, steps, at)
	if len(refused) < 2 || refused[0].Step.Name() != CmdReturn || refused[1].Step.Name() != CmdReassign {
		t.Fatalf("refused %+v, want the second return and the reassignment", refused)
	}
	var e *Error
	if !errors.As(refused[0].Err, &e) || e.Code != CodeConflict {
		t.Errorf("refusal %v, want a conflict", refused[0].Err)
	}

	// Without reopenings, the unsatisfied visit closes the incident: the
	// acknowledgement of the new round's task is refused; the rating of a
	// closed incident is refused once its window is over.
	closing := limited{DueFunc(hours), Limits{MaxReopens: 0, MaxReturns: 2}}
	got, _, refused = Replay{Rules: closing, RatingEnd: func(c time.Time) time.Time { return c.Add(5 * time.Minute) }}.Run(rep, item, t0, steps, at)
	if got.Status != StatusClosed || len(refused) != 2 || refused[0].Step.Name() != CmdAck || refused[1].Step.Name() != CmdRate {
		t.Fatalf("status %s, refused %+v", got.Status, refused)
	}
}

// A timeline no command writes is an error, not a silent gap.
func TestStepsOfRefusesWhatNoCommandWrites(t *testing.T) {
	bad := [][]Entry{
		{{Seq: 1, Type: EventRated, Actor: "street:FH:s", Note: "very good"}},
		{{Seq: 1, Type: EventSuspended, Actor: "street:FH:s", Note: "no date"}},
		{{Seq: 1, Type: EventWhistled, Actor: "street:FH:s", Note: "CG"}},
		{{Seq: 1, Type: "teleported", Actor: "street:FH:s"}},
		{{Seq: 1, Type: EventAcknowledged, Actor: "nobody"}},
	}
	for _, tl := range bad {
		if _, err := StepsOf(tl); err == nil {
			t.Errorf("StepsOf(%+v) = nil error", tl)
		}
	}
}
