package seed

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
)

// Bounds of how long a stuck task has been overdue at Now: log-uniform, so
// that every rung of the escalation ladder is well populated.
const (
	minOverdueBy = time.Minute
	maxOverdueBy = 120 * 24 * time.Hour
)

// place is a grid and where it lies.
type place struct {
	grid, community, street, streetName string
}

// generator makes incidents one at a time and keeps the totals.
type generator struct {
	o       Options
	rng     *rand.Rand
	cal     jurisdiction.Calendar
	items   []jurisdiction.Item
	whistle []jurisdiction.Item // department-tier items: the ones stuck incidents are made of
	places  []place
	deps    []string
	stats   Stats
}

func newGenerator(o Options) (*generator, error) {
	j := o.Jurisdiction
	g := &generator{
		o:     o,
		rng:   rand.New(rand.NewPCG(o.Seed, 0x77686973746c65)),
		cal:   j.Calendar(),
		items: j.Items,
		stats: Stats{ByStatus: map[string]int{}, OverdueByLevel: make([]int, 1), Now: o.Now},
	}
	for _, it := range j.Items {
		if it.Tier == incident.TierDepartment && len(it.Departments()) > 0 {
			g.whistle = append(g.whistle, it)
		}
	}
	for _, s := range j.Streets {
		for _, c := range s.Communities {
			for _, gr := range c.Grids {
				g.places = append(g.places, place{grid: gr, community: c.Code, street: s.Code, streetName: s.Name})
			}
		}
	}
	for _, d := range j.Departments {
		g.deps = append(g.deps, d.Code)
	}
	if len(g.items) == 0 || len(g.places) == 0 || len(g.deps) < 2 {
		return nil, fmt.Errorf("%w: the jurisdiction needs items, grids and at least two departments", ErrOptions)
	}
	if len(g.whistle) == 0 && o.Overdue > 0 {
		return nil, fmt.Errorf("%w: overdue tasks need a department-tier item", ErrOptions)
	}
	return g, nil
}

// snapshot returns a copy of the totals.
func (g *generator) snapshot() Stats {
	s := g.stats
	s.OverdueByLevel = append([]int(nil), g.stats.OverdueByLevel...)
	s.ByStatus = make(map[string]int, len(g.stats.ByStatus))
	for k, v := range g.stats.ByStatus {
		s.ByStatus[k] = v
	}
	return s
}

// next generates one incident: a stuck one (a task left open past a
// deadline) while the overdue share is below Options.Overdue, else one
// reported at the next time of the span (reportTime) and lived through up to Now.
func (g *generator) next() (store.LoadIncident, error) {
	stuck := g.o.Overdue > 0 && float64(g.stats.OverdueTasks) < g.o.Overdue*float64(g.stats.Tasks+1)
	var s *sim
	if stuck {
		it := g.whistle[g.rng.IntN(len(g.whistle))]
		kind := incident.SLAAck
		if g.rng.Float64() < 0.5 {
			kind = incident.SLAResolve
		}
		s = g.newSim(it, g.place())
		s.stuck = kind
		// Overdue by d at Now: reported so long before that the deadline of
		// kind fell d before Now (working days make it approximate).
		d := logUniform(g.rng, minOverdueBy, maxOverdueBy)
		deadline := g.o.Now.Add(-d)
		at := deadline
		for range 2 {
			at = at.Add(deadline.Sub(s.rules.Due(kind, at)))
		}
		s.start(at)
	} else {
		s = g.newSim(g.items[g.rng.IntN(len(g.items))], g.place())
		s.start(g.reportTime())
	}
	if err := s.run(); err != nil {
		return store.LoadIncident{}, err
	}
	g.count(s.in, s.feedback)
	return store.LoadIncident{Snapshot: s.in, EarlierFeedback: s.feedback}, nil
}

// reportTime is when the next incident that is not stuck is reported:
// reports walk forward through the span as the tasks seeded so far grow
// towards Options.Tasks, each a few tasks' worth of the span later than
// the last at random. Consecutive batches are then near in time, so the
// ids (UUID v7 of the report time) and the indexes keyed by time are
// written near their ends rather than at random places all over ten
// million rows: the load keeps its rate as the tables grow.
func (g *generator) reportTime() time.Time {
	p := min((float64(g.stats.Tasks)+4*g.rng.Float64())/float64(g.o.Tasks), 1)
	return g.o.Now.Add(-g.o.Span + time.Duration(p*float64(g.o.Span)))
}

// count adds in, with the return visits of all its rounds, to the totals.
func (g *generator) count(in *incident.Incident, feedback []incident.Feedback) {
	st := &g.stats
	st.Incidents++
	st.Tasks += len(in.Tasks)
	st.Timeline += len(in.Timeline)
	rounds := map[int]bool{}
	for _, f := range feedback {
		rounds[f.Round] = true
	}
	if in.Feedback != nil {
		rounds[in.Feedback.Round] = true
	}
	st.Feedback += len(rounds)
	st.ByStatus[string(in.Status)]++
	if in.Status != incident.StatusDispatched {
		return
	}
	now := g.o.Now
	for _, t := range in.Tasks {
		if !t.Open() {
			continue
		}
		st.OpenTasks++
		if !t.Overdue(now) {
			continue
		}
		st.OverdueTasks++
		if t.Status == incident.TaskPendingAck && now.After(t.AckDue) {
			st.OverdueRows++
		}
		if now.After(t.ResolveDue) {
			st.OverdueRows++
		}
		for len(st.OverdueByLevel) <= t.EscalationLevel {
			st.OverdueByLevel = append(st.OverdueByLevel, 0)
		}
		st.OverdueByLevel[t.EscalationLevel]++
	}
}

func (g *generator) place() place { return g.places[g.rng.IntN(len(g.places))] }

// logUniform returns a duration between lo and hi whose logarithm is uniform.
func logUniform(r *rand.Rand, lo, hi time.Duration) time.Duration {
	l, h := math.Log(float64(lo)), math.Log(float64(hi))
	return time.Duration(math.Exp(l + r.Float64()*(h-l)))
}

// between returns a duration uniform in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// incidentID is a UUID v7 of at (as the API makes them) with random bits
// from r.
func incidentID(r *rand.Rand, at time.Time) string {
	var u uuid.UUID
	ms := uint64(at.UnixMilli())
	binary.BigEndian.PutUint64(u[8:], r.Uint64())
	binary.BigEndian.PutUint16(u[6:], uint16(r.Uint32()))
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u.String()
}

// Actors of the simulated district: a few people per grid, street and
// department.
func gridWorker(r *rand.Rand, p place) incident.Actor {
	return incident.Actor{Sub: "gw-" + strings.ToLower(p.grid) + "-" + strconv.Itoa(1+r.IntN(3)), Role: incident.RoleGridWorker, Org: p.grid}
}

func streetOfficer(r *rand.Rand, street string) incident.Actor {
	return incident.Actor{Sub: "st-" + strings.ToLower(street) + "-" + strconv.Itoa(1+r.IntN(4)), Role: incident.RoleStreet, Org: street}
}

func clerk(r *rand.Rand, dept string) incident.Actor {
	return incident.Actor{Sub: strings.ToLower(dept) + "-" + strconv.Itoa(1+r.IntN(6)), Role: incident.RoleDepartment, Org: dept}
}

// roads name where things are reported.
var roads = []string{"凤凰路", "人民路", "新街", "滨江路", "学府路", "建设路", "光明巷", "东环路", "西街", "南华路"}
