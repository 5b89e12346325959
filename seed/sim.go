package seed

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// sim lives one incident through with the domain, as its workflow would:
// planned human steps are applied in time order, and before each the
// clock steps that came fire (Tick). Nothing happens after Options.Now.
type sim struct {
	g        *generator
	r        *rand.Rand
	item     jurisdiction.Item
	p        place
	rules    incident.Rules
	reported time.Time
	in       *incident.Incident
	events   []event
	seq      int
	// stuck, when set, is the deadline that the incident's stuck tasks
	// miss: they are never acknowledged (SLAAck) or never completed
	// (SLAResolve).
	stuck      incident.SLAKind
	stuckTasks map[string]bool
	// feedback holds every return visit, in order; the snapshot keeps only
	// the latest.
	feedback []incident.Feedback
}

// event is a planned step.
type event struct {
	at  time.Time
	seq int
	do  func(at time.Time) error
}

// newSim prepares an incident of item it reported at p, with the rules
// its workflow would start with (what the dispatcher puts in its input).
func (g *generator) newSim(it jurisdiction.Item, p place) *sim {
	rules := g.o.Jurisdiction.RulesFor(it, g.cal)
	return &sim{g: g, r: g.rng, item: it, p: p, rules: rules, stuckTasks: map[string]bool{}}
}

// start sets when the incident is reported.
func (s *sim) start(reported time.Time) { s.reported = ms(reported) }

func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// schedule plans do at at.
func (s *sim) schedule(at time.Time, do func(at time.Time) error) {
	s.seq++
	s.events = append(s.events, event{at: ms(at), seq: s.seq, do: do})
}

// pop removes and returns the earliest planned step.
func (s *sim) pop() event {
	i := 0
	for j, e := range s.events {
		if e.at.Before(s.events[i].at) || (e.at.Equal(s.events[i].at) && e.seq < s.events[i].seq) {
			i = j
		}
	}
	e := s.events[i]
	s.events = slices.Delete(s.events, i, i+1)
	return e
}

// location draws where the incident is reported: within about 200 m of
// the point PointIn gives for its grid, kept only when Locate places it in
// that grid (else that point itself), or anywhere in 29.30–29.40 N,
// 104.72–104.82 E when the grid has no boundary. It draws the same numbers
// either way, so the rest of the simulation does not depend on the
// jurisdiction's boundaries.
func (s *sim) location(r *rand.Rand) incident.Location {
	dLat, dLng := float64(r.IntN(100000))/1e6, float64(r.IntN(100000))/1e6
	loc := incident.Location{Lat: 29.30 + dLat, Lng: 104.72 + dLng}
	j := s.g.o.Jurisdiction
	if lat, lng, ok := j.PointIn(s.p.grid); ok {
		loc.Lat, loc.Lng = lat, lng
		near := incident.Location{Lat: lat + (dLat-0.05)*0.04, Lng: lng + (dLng-0.05)*0.04}
		if g, _, _, ok := j.Locate(near.Lat, near.Lng); ok && g == s.p.grid {
			loc.Lat, loc.Lng = near.Lat, near.Lng
		}
	}
	loc.Address = roads[r.IntN(len(roads))] + strconv.Itoa(1+r.IntN(300)) + "号"
	return loc
}

// channel gives a report its channel from its id, drawing no number (the
// rest of the simulation stays as it was): of every 20 reports, 13 come
// from grid workers, 5 are 12345 hotline work orders (with the order's
// number) and 2 come from an Open311 app.
func channel(rep *incident.Report) {
	h := fnv.New32a()
	h.Write([]byte(rep.IncidentID))
	switch n := h.Sum32() % 20; {
	case n < 5:
		rep.Channel, rep.ExternalRef, rep.Reporter = incident.ChannelHotline, "12345-"+rep.IncidentID, "12345"
	case n < 7:
		rep.Channel, rep.Reporter = incident.ChannelOpen311Prefix+"seed-app", incident.ChannelOpen311Prefix+"seed-app"
	default:
		rep.Channel = incident.ChannelGrid
	}
}

// run reports the incident, then applies its planned steps up to Now.
func (s *sim) run() error {
	now := s.g.o.Now
	r := s.r
	id := incidentID(r, s.reported)
	rep := incident.Report{
		IncidentID: id, Category: s.item.Code, Street: s.p.street, Community: s.p.community, Grid: s.p.grid,
		Description: fmt.Sprintf("%s：%s%s%d号附近", s.item.Name, s.p.streetName, roads[r.IntN(len(roads))], 1+r.IntN(300)),
		Location:    s.location(r),
		Photos:      []string{},
		ReportedAt:  s.reported,
		Reporter:    gridWorker(r, s.p).Sub,
	}
	if r.Float64() < 0.6 {
		rep.Photos = append(rep.Photos, "https://img.example/seed/"+id+"/1.jpg")
	}
	if r.Float64() < 0.5 {
		occurred := ms(s.reported.Add(-between(r, time.Minute, 2*time.Hour)))
		rep.OccurredAt = &occurred
	}
	channel(&rep)
	// The workflow starts a moment after the report.
	started := ms(s.reported.Add(between(r, 50*time.Millisecond, 1500*time.Millisecond)))
	if started.After(now) {
		started = s.reported
	}
	s.in = incident.New(rep, s.item.Snapshot(), started, s.rules)
	if s.stuck != "" && len(s.in.Tasks) > 0 {
		if r.Float64() < 0.7 {
			s.stuckTasks[s.in.Tasks[r.IntN(len(s.in.Tasks))].ID] = true
		} else {
			for _, t := range s.in.Tasks {
				s.stuckTasks[t.ID] = true
			}
		}
	}
	s.changed(started, incident.StatusReceived, 0)
	for len(s.events) > 0 {
		e := s.pop()
		if e.at.After(now) {
			break
		}
		s.advance(e.at)
		if err := e.do(e.at); err != nil {
			return err
		}
	}
	s.advance(now)
	return nil
}

// apply runs a planned command; a refusal is a bug of the plan.
func (s *sim) apply(a incident.Actor, c incident.Command, at time.Time) error {
	prev, n := s.in.Status, len(s.in.Tasks)
	if err := s.in.Apply(a, c, at, s.rules); err != nil {
		return fmt.Errorf("seed: %s by %s on incident %s (%s) at %s: %w", c.Name(), a, s.in.ID, s.in.Status, at.Format(time.RFC3339), err)
	}
	if _, ok := c.(incident.GiveFeedback); ok {
		s.feedback = append(s.feedback, *s.in.Feedback)
	}
	s.changed(at, prev, n)
	return nil
}

// advance fires, in time order, every step of the incident's clocks that
// comes by to — warnings, escalation levels, the end of the return-visit
// window — as the workflow's timers would (Tick).
func (s *sim) advance(to time.Time) {
	for {
		d, ok := s.in.NextDeadline()
		if !ok || d.After(to) {
			return
		}
		prev, n := s.in.Status, len(s.in.Tasks)
		if !s.in.Tick(d) {
			return // cannot happen: the step is due
		}
		s.changed(d, prev, n)
	}
}

// changed plans what follows a change made at at: work on the tasks
// created since there were n, and the next step of the incident when its
// status moved on from prev.
func (s *sim) changed(at time.Time, prev incident.Status, n int) {
	for _, t := range s.in.Tasks[n:] {
		s.planTask(t)
	}
	r, in := s.r, s.in
	if in.Status == prev {
		return
	}
	street := func() incident.Actor { return streetOfficer(r, in.Street) }
	switch in.Status {
	case incident.StatusCommunity:
		if r.Float64() < 0.85 {
			s.schedule(at.Add(between(r, 30*time.Minute, 48*time.Hour)), func(at time.Time) error {
				return s.apply(gridWorker(r, s.p), incident.Resolve{Note: "社区已协调处理"}, at)
			})
		} else {
			s.schedule(at.Add(between(r, time.Hour, 24*time.Hour)), func(at time.Time) error {
				return s.apply(gridWorker(r, s.p), incident.Escalate{Note: "社区无法处理，报街道"}, at)
			})
		}
	case incident.StatusTriage:
		if r.Float64() < 0.35 {
			s.schedule(at.Add(between(r, time.Hour, 72*time.Hour)), func(at time.Time) error {
				return s.apply(street(), incident.Resolve{Note: "街道已协调解决"}, at)
			})
		} else {
			s.schedule(at.Add(between(r, 10*time.Minute, 4*time.Hour)), func(at time.Time) error {
				var deps []string
				if len(s.item.Departments()) == 0 {
					deps = []string{s.g.deps[r.IntN(len(s.g.deps))]}
				}
				return s.apply(street(), incident.Whistle{Departments: deps, Note: "请按职责处置"}, at)
			})
		}
	case incident.StatusVerifying:
		s.schedule(at.Add(between(r, 30*time.Minute, 24*time.Hour)), func(at time.Time) error {
			if r.Float64() < 0.04 {
				return s.apply(street(), incident.Verify{Passed: false, Note: "现场未整改到位"}, at)
			}
			who := street()
			if r.Float64() < 0.5 {
				who = gridWorker(r, s.p)
			}
			return s.apply(who, incident.Verify{Passed: true, Note: "现场已恢复"}, at)
		})
	case incident.StatusAwaitingFeedback:
		if r.Float64() < 0.08 || in.FeedbackDue == nil {
			return // no return visit: the clock closes it unrated
		}
		latest := in.FeedbackDue.Sub(at) - time.Minute
		s.schedule(at.Add(between(r, min(time.Hour, latest), min(60*time.Hour, latest))), func(at time.Time) error {
			fb := incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied}
			switch x := r.Float64(); {
			case x < 0.05:
				fb.Rating, fb.Resolved, fb.Comment = incident.RatingUnsatisfied, r.Float64() < 0.5, "问题依旧"
			case x < 0.15:
				fb.Rating = incident.RatingBasicallySatisfied
			case x < 0.3:
				fb.Comment = "处理及时"
			}
			return s.apply(street(), fb, at)
		})
	case incident.StatusDispatched:
		if prev == incident.StatusVerifying { // verification failed: rework
			for _, t := range in.Tasks {
				if t.Round == in.Round && t.Status == incident.TaskAcknowledged {
					s.planComplete(t, at)
				}
			}
		}
	}
}

// planTask plans a new task's life: mostly acknowledged and completed in
// time, sometimes late, now and then returned (退单) and reassigned by the
// street; a stuck task stops short.
func (s *sim) planTask(t *incident.Task) {
	r := s.r
	win := t.AckDue.Sub(t.CreatedAt)
	stuck := s.stuckTasks[t.ID]
	if stuck && s.stuck == incident.SLAAck {
		return // never acknowledged
	}
	if s.stuck == "" && r.Float64() < 0.02 && len(s.free()) > 0 {
		s.schedule(t.CreatedAt.Add(between(r, win/20, win*8/10)), func(at time.Time) error {
			if err := s.apply(clerk(r, t.Department), incident.Return{TaskID: t.ID, Reason: "不属本部门职责"}, at); err != nil {
				return err
			}
			s.schedule(at.Add(between(r, 10*time.Minute, 3*time.Hour)), func(at time.Time) error {
				deps := s.free()
				if len(deps) == 0 {
					return nil // a tiny district: the street never arbitrates
				}
				return s.apply(streetOfficer(r, s.in.Street), incident.Reassign{TaskID: t.ID, Department: deps[r.IntN(len(deps))]}, at)
			})
			return nil
		})
		return
	}
	ackAt := t.CreatedAt.Add(between(r, win/20, win*95/100))
	if !stuck && r.Float64() < 0.1 {
		ackAt = t.AckDue.Add(between(r, time.Minute, 3*win))
	}
	s.schedule(ackAt, func(at time.Time) error {
		note := ""
		if r.Float64() < 0.3 {
			note = "已派员前往"
		}
		if err := s.apply(clerk(r, t.Department), incident.Ack{TaskID: t.ID, Note: note}, at); err != nil {
			return err
		}
		if !stuck {
			s.planComplete(t, at)
			s.planExtension(t, at)
		}
		return nil
	})
}

// planComplete plans the completion of an acknowledged task: mostly before
// its deadline, sometimes after.
func (s *sim) planComplete(t *incident.Task, from time.Time) {
	r := s.r
	win := t.ResolveDue.Sub(from)
	at := t.ResolveDue.Add(between(r, time.Minute, max(time.Hour, t.ResolveDue.Sub(t.CreatedAt)/2)))
	if win > 10*time.Minute && r.Float64() < 0.9 {
		at = from.Add(between(r, win/10, win*95/100))
	}
	s.schedule(at, func(at time.Time) error {
		if err := s.apply(clerk(r, t.Department), incident.Complete{TaskID: t.ID, Result: "已按要求处置完毕"}, at); err != nil {
			return err
		}
		s.planRating(t, at)
		return nil
	})
}

// planExtension plans, for a few acknowledged tasks, a request to extend
// the resolution deadline (延期) before it passes, which the street
// mostly approves. A task done or no longer dispatched by then asks
// nothing; one done before the decision gets none.
func (s *sim) planExtension(t *incident.Task, acked time.Time) {
	r := s.r
	if r.Float64() >= 0.04 || t.ResolveDue.Sub(acked) < time.Hour {
		return
	}
	s.schedule(acked.Add(between(r, 10*time.Minute, t.ResolveDue.Sub(acked)/2)), func(at time.Time) error {
		if !t.Open() || s.in.Status != incident.StatusDispatched || t.Extension != nil {
			return nil
		}
		// A date a person picks: whole seconds, as the timeline notes it.
		until := t.ResolveDue.Add(between(r, 24*time.Hour, 5*24*time.Hour)).Truncate(time.Second)
		if err := s.apply(clerk(r, t.Department), incident.RequestExtension{TaskID: t.ID, Until: until, Reason: "需协调施工队伍"}, at); err != nil {
			return err
		}
		approve := r.Float64() < 0.8
		s.schedule(at.Add(between(r, 30*time.Minute, 8*time.Hour)), func(at time.Time) error {
			if !t.Open() || s.in.Status != incident.StatusDispatched {
				return nil
			}
			return s.apply(streetOfficer(r, s.in.Street), incident.DecideExtension{TaskID: t.ID, Approve: approve}, at)
		})
		return nil
	})
}

// planRating plans the street's rating (考核) of a task just completed: for
// most tasks, within five days (inside the rating window), lower when the
// task was completed late. A task sent back by a failed verification
// meanwhile is not rated then; its next completion plans again.
func (s *sim) planRating(t *incident.Task, completed time.Time) {
	r := s.r
	if r.Float64() >= 0.8 {
		return
	}
	score := 75 + r.IntN(26)
	if completed.After(t.ResolveDue) {
		score = 50 + r.IntN(41)
	}
	s.schedule(completed.Add(between(r, time.Hour, 5*24*time.Hour)), func(at time.Time) error {
		if t.Status != incident.TaskCompleted || t.Rating != nil {
			return nil
		}
		return s.apply(streetOfficer(r, s.in.Street), incident.Rate{TaskID: t.ID, Score: score}, at)
	})
}

// free returns the departments without a task in the current round: those
// a returned task may be reassigned to.
func (s *sim) free() []string {
	var out []string
	for _, d := range s.g.deps {
		if !slices.ContainsFunc(s.in.Tasks, func(t *incident.Task) bool { return t.Round == s.in.Round && t.Department == d }) {
			out = append(out, d)
		}
	}
	return out
}
