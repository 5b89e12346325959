package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// Update is one timeline entry of an incident, as a list of what happened
// to the incidents of a scope reads it (Open311's service request updates).
type Update struct {
	IncidentID string
	incident.Entry
}

// Updates lists the timeline entries of the given types made in [from, to)
// to the incidents of sc, oldest first (by time, incident, sequence), at
// most limit (DefaultLimit when 0, at most 1000). It walks the entries by
// type and time (timeline_type_at) and keeps those of incidents in sc.
func (s *Store) Updates(ctx context.Context, sc Scope, from, to time.Time, types []string, limit int) ([]Update, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, 1000)
	var w where
	sc.incidents(&w)
	w.and("tl.type = ANY(" + w.arg(types) + ")")
	w.and("tl.at >= " + w.arg(from))
	w.and("tl.at < " + w.arg(to))
	rows, err := s.pool.Query(ctx, `
SELECT tl.incident_id, tl.seq, tl.at, tl.type, tl.actor, tl.note, coalesce(tl.task_id, ''), coalesce(tl.department, ''),
       coalesce(tl.status, ''), tl.level
FROM timeline tl JOIN incidents i ON i.id = tl.incident_id `+w.sql()+`
ORDER BY tl.at, tl.incident_id, tl.seq LIMIT `+strconv.Itoa(limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list updates: %w", err)
	}
	defer rows.Close()
	out := []Update{}
	for rows.Next() {
		var u Update
		var st string
		if err := rows.Scan(&u.IncidentID, &u.Seq, &u.At, &u.Type, &u.Actor, &u.Note, &u.TaskID, &u.Department, &st, &u.Level); err != nil {
			return nil, fmt.Errorf("store: list updates: %w", err)
		}
		u.Status = incident.Status(st)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list updates: %w", err)
	}
	return out, nil
}
