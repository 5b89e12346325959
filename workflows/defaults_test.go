package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// streetDistrict has a street-tier item without an acknowledgement
// deadline (the default applies when the street whistles it) and leaves
// disputes.max_returns to the default.
const streetDistrict = `
district: {code: DA, name: 大安区, timezone: Asia/Shanghai}
departments:
  - {code: CG, name: 区城市管理局}
  - {code: ZJ, name: 区住房和城乡建设局}
streets:
  - code: FH
    name: 凤凰街道
    communities:
      - {code: FH-01, name: 凤凰社区, grids: [FH-01-01]}
items:
  - code: ST-001
    name: 邻里纠纷
    tier: street
    sla: {resolve: 3wd, feedback: 3wd}
`

// Every default an incident runs by is resolved into its start input: a
// release that changes a default in code (the test changes the variables
// while the incident runs) changes nothing for incidents already running.
// Started under one return and an hour to acknowledge, the incident still
// gives a task reassigned after the change an hour, and still refuses its
// second return, though the defaults now say two hours and three returns.
func TestDefaultsChangedInCodeLeaveARunningIncidentAlone(t *testing.T) {
	j, err := jurisdiction.Parse("street.yaml", []byte(streetDistrict))
	require.NoError(t, err)
	it, _ := j.Item("ST-001")
	in := NewInput(j, it, incident.Report{
		IncidentID: incID, Category: "ST-001", Street: "FH", Community: "FH-01", Grid: "FH-01-01",
		Description: "a quarrel over a wall", ReportedAt: start, Reporter: "wang",
	}, j.Calendar())
	require.Equal(t, 1, in.MaxReturns, "resolved into the input")
	require.Equal(t, time.Hour, in.SLA.Ack.Clock, "resolved into the input")

	h := newHarness(t)
	saved := [2]any{incident.DefaultLimits, jurisdiction.DefaultAck}
	t.Cleanup(func() {
		incident.DefaultLimits, jurisdiction.DefaultAck = saved[0].(incident.Limits), saved[1].(jurisdiction.Duration)
	})
	h.env.RegisterDelayedCallback(func() { // a new release
		incident.DefaultLimits.MaxReturns = 3
		jurisdiction.DefaultAck = jurisdiction.Clock(2 * time.Hour)
	}, 2*time.Minute)

	t1, t2 := incident.TaskID(incID, 1), incident.TaskID(incID, 2)
	final := h.run(in,
		step{at: time.Minute, actor: street, cmd: incident.Whistle{Departments: []string{"CG"}, Note: "a wall is the housing bureau's"}},
		step{at: 3 * time.Minute, actor: cg, cmd: incident.Return{TaskID: t1, Reason: "not ours"}},
		step{at: 4 * time.Minute, actor: street, cmd: incident.Reassign{TaskID: t1, Department: "ZJ"},
			check: func(t *testing.T, in *incident.Incident) {
				zjTask := in.Task(t2)
				require.Equal(t, time.Hour, zjTask.AckDue.Sub(zjTask.CreatedAt), "the hour it started with")
			}},
		step{at: 5 * time.Minute, actor: zj, cmd: incident.Return{TaskID: t2, Reason: "not ours either"}},
		step{at: 6 * time.Minute, actor: street, cmd: incident.Overrule{TaskID: t2, Note: "walls are ZJ's"}},
		step{at: 7 * time.Minute, actor: zj, cmd: incident.Return{TaskID: t2, Reason: "still not ours"}, want: incident.CodeConflict},
		step{at: 8 * time.Minute, actor: zj, cmd: incident.Ack{TaskID: t2}},
		step{at: 9 * time.Minute, actor: zj, cmd: incident.Complete{TaskID: t2, Result: "wall propped"}},
		step{at: 10 * time.Minute, actor: street, cmd: incident.Verify{Passed: true}},
		step{at: 11 * time.Minute, actor: street, cmd: incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}},
	)
	require.Equal(t, incident.StatusClosed, final.Status)
	require.Equal(t, 1, final.MaxReturns)
}
