package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/whistle-city/whistle/incident"
)

// CreateReceived records a just-accepted report as an incident in status
// "received" (Version 0, no tasks, empty timeline), so that GET right after
// the 202 never answers 404. idemKey ("" = none) is unique per reporter: a
// second call with the same (r.Reporter, idemKey) creates nothing and returns
// the first incident's id with created=false. r.ExternalRef ("" = none) is
// unique in r's channel (incident.ChannelOf) in the same way, and a second
// call with the same r.IncidentID likewise returns created=false.
func (s *Store) CreateReceived(ctx context.Context, r incident.Report, item incident.Item, idemKey string) (id string, created bool, err error) {
	if r.IncidentID == "" {
		return "", false, incident.Invalid("incident_id", "incident id is required")
	}
	in := &incident.Incident{
		ID: r.IncidentID, Status: incident.StatusReceived, Category: r.Category, Item: item, Tier: item.Tier,
		Street: r.Street, Community: r.Community, Grid: r.Grid, Description: r.Description,
		Location: r.Location, Photos: r.Photos, OccurredAt: r.OccurredAt, ReportedAt: r.ReportedAt,
		Reporter: r.Reporter, Delegation: r.Delegation, Round: 1, Tasks: []*incident.Task{}, Timeline: []incident.Entry{},
		UpdatedAt: r.ReportedAt, Channel: r.Channel, ExternalRef: r.ExternalRef, Attributes: r.Attributes,
	}
	if in.Photos == nil {
		in.Photos = []string{}
	}
	doc, err := json.Marshal(in)
	if err != nil {
		return "", false, fmt.Errorf("store: encode incident %s: %w", in.ID, err)
	}
	doc = cleanJSON(doc)
	var key, ref *string
	if idemKey != "" {
		k := clean(idemKey)
		key = &k
	}
	if r.ExternalRef != "" {
		x := clean(r.ExternalRef)
		ref = &x
	}
	channel := clean(incident.ChannelOf(in))
	reporter := clean(in.Reporter)
	// The location is a column from the start: Near finds a report that is
	// still received, so two dispatched at once see each other.
	lat, lng := locationColumns(in.Location)
	// The keys are claimed in incident_keys and the row inserted in one
	// transaction; a conflict on a key or on the id means the report is
	// already here: the transaction is rolled back and the first incident
	// looked up. The loop covers the rare case where the first incident is
	// deleted (DeleteReceived) between the conflict and the look-up.
	insert := func(tx pgx.Tx) (bool, error) {
		var claimed, wanted int
		if key != nil || ref != nil {
			err := tx.QueryRow(ctx, `
WITH k (kind, owner, key) AS (
    SELECT 'idempotency', $1::text, $2::text WHERE $2::text IS NOT NULL
    UNION ALL
    SELECT 'external_ref', $3::text, $4::text WHERE $4::text IS NOT NULL),
c AS (
    INSERT INTO incident_keys (kind, owner, key, incident_id, reported_at)
    SELECT kind, owner, key, $5, $6 FROM k
    ON CONFLICT DO NOTHING RETURNING 1)
SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM k)`,
				reporter, key, channel, ref, in.ID, in.ReportedAt).Scan(&claimed, &wanted)
			if err != nil || claimed < wanted {
				return false, err
			}
		}
		tag, err := tx.Exec(ctx, `
INSERT INTO incidents (id, status, category, item_name, tier, street, community, grid, reporter,
                       idempotency_key, reported_at, updated_at, version, round, doc, lat, lng, domain,
                       channel, external_ref)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 0, 1, $12, $13, $14, $15, $16, $17)
ON CONFLICT DO NOTHING`,
			in.ID, in.Status, clean(in.Category), clean(item.Name), in.Tier, clean(in.Street), clean(in.Community),
			clean(in.Grid), reporter, key, in.ReportedAt, doc, lat, lng, clean(item.Domain),
			channel, ref)
		return err == nil && tag.RowsAffected() == 1, err
	}
	for range 3 {
		err = s.inMonths(ctx, []string{in.ID}, func() error {
			return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				ok, err := insert(tx)
				if err == nil && !ok {
					return errAlreadyHere // rolls the claimed keys back
				}
				return err
			})
		})
		if err == nil {
			return in.ID, true, nil
		}
		if !errors.Is(err, errAlreadyHere) {
			return "", false, fmt.Errorf("store: create incident %s: %w", in.ID, err)
		}
		// The idempotency key decides first, then the sender's reference
		// in its channel; the id is the fallback for a call without either
		// (or a report projected before it was received).
		err = s.pool.QueryRow(ctx, `
SELECT id FROM (
    SELECT incident_id AS id, 0 AS pref FROM incident_keys WHERE kind = 'idempotency' AND owner = $1 AND key = $2
    UNION ALL
    SELECT incident_id, 1 FROM incident_keys WHERE kind = 'external_ref' AND owner = $4 AND key = $5
    UNION ALL
    SELECT id, 2 FROM incidents WHERE id = $3
) m ORDER BY pref LIMIT 1`, reporter, key, in.ID, channel, ref).Scan(&id)
		if err == nil {
			return id, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", false, fmt.Errorf("store: look up incident by idempotency key: %w", err)
		}
	}
	return "", false, fmt.Errorf("store: create incident %s: it kept conflicting and vanishing", in.ID)
}

// errAlreadyHere rolls back CreateReceived's transaction when the report
// is already here (a key or the id taken): the claimed keys go with it.
var errAlreadyHere = errors.New("store: the report is already here")

// DeleteReceived removes an incident that is still at Version 0: the
// compensation when publishing its report failed. Its keys (incident_keys)
// and the accepted delegation that created it go with it. Deleting an
// incident that does not exist is not an error; one the workflow has
// already projected is left alone and answered with a CodeConflict
// *incident.Error.
func (s *Store) DeleteReceived(ctx context.Context, id string) error {
	var version int
	err := s.pool.QueryRow(ctx, `
WITH d AS (DELETE FROM incidents WHERE id = $1 AND version = 0 RETURNING id),
k AS (DELETE FROM incident_keys WHERE incident_id IN (SELECT id FROM d)),
g AS (DELETE FROM delegations WHERE incident_id IN (SELECT id FROM d))
SELECT coalesce((SELECT 0 FROM d), (SELECT version FROM incidents WHERE id = $1), 0)`, id).Scan(&version)
	if err != nil {
		return fmt.Errorf("store: delete incident %s: %w", id, err)
	}
	if version > 0 {
		return incident.Conflict("", "incident %s is already at version %d: not deleted", id, version)
	}
	return nil
}

// Project stores the snapshot in: the incident row, every task, the
// timeline entries not stored yet (by (incident id, seq)) and the latest
// feedback, all in one transaction. It applies only a snapshot newer than the
// stored one (in.Version greater); an older or equal one is a no-op, not an
// error, so a retried or late activity cannot move an incident backwards.
// The row's idempotency key, written by CreateReceived, is kept.
func (s *Store) Project(ctx context.Context, in *incident.Incident) error {
	if in == nil || in.ID == "" {
		return incident.Invalid("id", "a snapshot with an incident id is required")
	}
	doc, err := snapshotDoc(in)
	if err != nil {
		return err
	}

	lat, lng := locationColumns(in.Location)

	// One batch is one round trip and runs as one implicit transaction.
	// The incident upsert changes the row only when the snapshot is newer;
	// every later statement is guarded by "the stored version is this
	// snapshot's", which is false when an equal-or-newer snapshot was
	// already there (then re-applying it changes nothing anyway) and false
	// when a newer one arrived concurrently (the row lock orders them).
	// The batch is made afresh for each try: a sent batch keeps the
	// statements it prepared on its connection.
	batch := func() *pgx.Batch {
		b := &pgx.Batch{}
		queueRollupBefore(b, in)
		b.Queue(`
INSERT INTO incidents AS i (id, status, category, item_name, tier, street, community, grid, reporter,
                            reported_at, updated_at, closed_at, version, round, escalation_level,
                            reopen_count, overdue_from, doc, lat, lng, duplicate_of, repeat_of, domain, channel)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
ON CONFLICT (id) DO UPDATE SET
    status = EXCLUDED.status, category = EXCLUDED.category, item_name = EXCLUDED.item_name,
    tier = EXCLUDED.tier, street = EXCLUDED.street, community = EXCLUDED.community, grid = EXCLUDED.grid,
    reporter = EXCLUDED.reporter, reported_at = EXCLUDED.reported_at, updated_at = EXCLUDED.updated_at,
    closed_at = EXCLUDED.closed_at, version = EXCLUDED.version, round = EXCLUDED.round,
    escalation_level = EXCLUDED.escalation_level, reopen_count = EXCLUDED.reopen_count,
    overdue_from = EXCLUDED.overdue_from, doc = EXCLUDED.doc, lat = EXCLUDED.lat, lng = EXCLUDED.lng,
    duplicate_of = EXCLUDED.duplicate_of, repeat_of = EXCLUDED.repeat_of, domain = EXCLUDED.domain,
    channel = EXCLUDED.channel
WHERE i.version < EXCLUDED.version`,
			in.ID, in.Status, clean(in.Category), clean(in.Item.Name), in.Tier, clean(in.Street), clean(in.Community),
			clean(in.Grid), clean(in.Reporter), in.ReportedAt, in.UpdatedAt, in.ClosedAt, in.Version, in.Round, in.EscalationLevel,
			in.ReopenCount, overdueFrom(in), doc, lat, lng, cleanPtr(in.DuplicateOf), cleanPtr(in.RepeatOf), clean(in.Item.Domain),
			clean(incident.ChannelOf(in)))

		if len(in.Tasks) > 0 {
			queueTasks(b, in)
		}
		if len(in.Timeline) > 0 {
			queueTimeline(b, in)
		}
		if fb := in.Feedback; fb != nil {
			var rating *string
			if fb.Rating != "" {
				r := clean(string(fb.Rating))
				rating = &r
			}
			b.Queue(`
INSERT INTO feedback (incident_id, round, resolved, rating, comment, by_actor, at)
SELECT $1, $2, $3, $4, $5, $6, $7
WHERE (SELECT version FROM incidents WHERE id = $1) = $8
ON CONFLICT (incident_id, round) DO UPDATE SET
    resolved = EXCLUDED.resolved, rating = EXCLUDED.rating, comment = EXCLUDED.comment,
    by_actor = EXCLUDED.by_actor, at = EXCLUDED.at`,
				in.ID, fb.Round, fb.Resolved, rating, clean(fb.Comment), clean(fb.By), fb.At, in.Version)
		}
		queueRollupAfter(b, in)
		return b
	}
	err = s.inMonths(ctx, []string{in.ID}, func() error { return s.pool.SendBatch(ctx, batch()).Close() })
	if err != nil {
		return fmt.Errorf("store: project incident %s version %d: %w", in.ID, in.Version, err)
	}
	return nil
}

// snapshotDoc is the incidents.doc of a snapshot: its JSON with Overdue
// false (computed at read time, never stored) and NULs replaced.
func snapshotDoc(in *incident.Incident) ([]byte, error) {
	snap := *in
	snap.Overdue = false
	doc, err := json.Marshal(&snap)
	if err != nil {
		return nil, fmt.Errorf("store: encode incident %s: %w", in.ID, err)
	}
	return cleanJSON(doc), nil
}

func queueTasks(b *pgx.Batch, in *incident.Incident) {
	n := len(in.Tasks)
	var (
		ids, deps, roles, statuses, results, reasons, reassigned = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		rounds, levels, ranks                                    = make([]int32, n), make([]int32, n), make([]int16, n)
		created, ackDue, resolveDue                              = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		ackedAt, completedAt                                     = make([]*time.Time, n), make([]*time.Time, n)
		ackOver, resolveOver, running                            = make([]bool, n), make([]bool, n), make([]bool, n)
		keys                                                     = make([]int64, n)
		returns                                                  = make([]int32, n)
		returnedAt, referredAt                                   = make([]*time.Time, n), make([]*time.Time, n)
		referNotes                                               = make([]string, n)
		extensions, maxLevels                                    = make([]int32, n), make([]int32, n)
		ratings                                                  = make([]*int32, n)
		ratedAt, extRequested                                    = make([]*time.Time, n), make([]*time.Time, n)
	)
	for i, t := range in.Tasks {
		ids[i], deps[i], roles[i], statuses[i] = t.ID, clean(t.Department), string(t.Role), string(t.Status)
		results[i], reasons[i], reassigned[i] = clean(t.Result), clean(t.ReturnReason), t.ReassignedTo
		rounds[i], levels[i] = int32(t.Round), int32(t.EscalationLevel)
		created[i], ackDue[i], resolveDue[i] = t.CreatedAt, t.AckDue, t.ResolveDue
		ackedAt[i], completedAt[i] = t.AckedAt, t.CompletedAt
		ackOver[i], resolveOver[i], running[i] = t.AckOverdue, t.ResolveOverdue, clockRunning(in, t)
		r, k := inboxOrder(t)
		ranks[i], keys[i] = r, k
		d := disputeOf(in, t)
		returns[i], returnedAt[i], referredAt[i], referNotes[i] = int32(t.Returns), d.returnedAt, d.referredAt, clean(d.referNote)
		extensions[i], maxLevels[i] = int32(t.Extensions), maxLevel(in, t)
		ratings[i], ratedAt[i] = taskRating(t)
		extRequested[i] = pendingExtension(t)
	}
	b.Queue(`
INSERT INTO tasks (id, incident_id, department, street, category, role, status, round, created_at,
                   ack_due, resolve_due, acked_at, completed_at, result, return_reason, reassigned_to,
                   escalation_level, ack_overdue, resolve_overdue, inbox_rank, inbox_key, running,
                   returns, returned_at, referred_at, refer_note, extensions, max_level, rating, rated_at,
                   extension_requested_at)
SELECT t.id, $1, t.department, $2, $3, t.role, t.status, t.round, t.created_at,
       t.ack_due, t.resolve_due, t.acked_at, t.completed_at, t.result, t.return_reason, t.reassigned_to,
       t.escalation_level, t.ack_overdue, t.resolve_overdue, t.inbox_rank, t.inbox_key, t.running,
       t.returns, t.returned_at, t.referred_at, t.refer_note, t.extensions, t.max_level, t.rating, t.rated_at,
       t.extension_requested_at
FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::timestamptz[],
            $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::timestamptz[],
            $15::text[], $16::text[], $17::text[], $18::int[], $19::bool[], $20::bool[],
            $21::smallint[], $22::bigint[], $23::bool[],
            $24::int[], $25::timestamptz[], $26::timestamptz[], $27::text[],
            $28::int[], $29::int[], $30::int[], $31::timestamptz[], $32::timestamptz[])
     AS t(id, department, role, status, round, created_at, ack_due, resolve_due, acked_at, completed_at,
          result, return_reason, reassigned_to, escalation_level, ack_overdue, resolve_overdue,
          inbox_rank, inbox_key, running, returns, returned_at, referred_at, refer_note,
          extensions, max_level, rating, rated_at, extension_requested_at)
WHERE (SELECT version FROM incidents WHERE id = $1) = $4
ON CONFLICT (id, incident_id) DO UPDATE SET
    department = EXCLUDED.department, street = EXCLUDED.street, category = EXCLUDED.category,
    role = EXCLUDED.role, status = EXCLUDED.status, round = EXCLUDED.round,
    created_at = EXCLUDED.created_at, ack_due = EXCLUDED.ack_due, resolve_due = EXCLUDED.resolve_due,
    acked_at = EXCLUDED.acked_at, completed_at = EXCLUDED.completed_at, result = EXCLUDED.result,
    return_reason = EXCLUDED.return_reason, reassigned_to = EXCLUDED.reassigned_to,
    escalation_level = EXCLUDED.escalation_level, ack_overdue = EXCLUDED.ack_overdue,
    resolve_overdue = EXCLUDED.resolve_overdue, inbox_rank = EXCLUDED.inbox_rank,
    inbox_key = EXCLUDED.inbox_key, running = EXCLUDED.running, returns = EXCLUDED.returns,
    returned_at = EXCLUDED.returned_at, referred_at = EXCLUDED.referred_at, refer_note = EXCLUDED.refer_note,
    extensions = EXCLUDED.extensions, max_level = EXCLUDED.max_level, rating = EXCLUDED.rating,
    rated_at = EXCLUDED.rated_at, extension_requested_at = EXCLUDED.extension_requested_at`,
		in.ID, clean(in.Street), clean(in.Category), in.Version,
		ids, deps, roles, statuses, rounds, created, ackDue, resolveDue, ackedAt, completedAt,
		results, reasons, reassigned, levels, ackOver, resolveOver, ranks, keys, running,
		returns, returnedAt, referredAt, referNotes, extensions, maxLevels, ratings, ratedAt, extRequested)
}

// pendingExtension is when t's extension request awaiting a decision was
// made, while t is open; nil otherwise (the extension queue's column).
func pendingExtension(t *incident.Task) *time.Time {
	if x := t.Extension; x != nil && x.Decision == "" && t.Open() {
		at := x.RequestedAt
		return &at
	}
	return nil
}

func queueTimeline(b *pgx.Batch, in *incident.Incident) {
	n := len(in.Timeline)
	var (
		seqs, levels                                  = make([]int32, n), make([]int32, n)
		at                                            = make([]time.Time, n)
		types, actors, notes, taskIDs, deps, statuses = make([]string, n), make([]string, n), make([]string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	)
	for i, e := range in.Timeline {
		seqs[i], levels[i], at[i] = int32(e.Seq), int32(e.Level), e.At
		types[i], actors[i], notes[i] = e.Type, clean(e.Actor), clean(e.Note)
		taskIDs[i], deps[i], statuses[i] = nonEmpty(e.TaskID), nonEmpty(clean(e.Department)), nonEmpty(string(e.Status))
	}
	b.Queue(`
INSERT INTO timeline (incident_id, seq, at, type, actor, note, task_id, department, status, level, street)
SELECT $1, e.seq, e.at, e.type, e.actor, e.note, e.task_id, e.department, e.status, e.level, $12
FROM unnest($3::int[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::text[], $11::int[])
     AS e(seq, at, type, actor, note, task_id, department, status, level)
WHERE (SELECT version FROM incidents WHERE id = $1) = $2
ON CONFLICT (incident_id, seq) DO NOTHING`,
		in.ID, in.Version, seqs, at, types, actors, notes, taskIDs, deps, statuses, levels, clean(in.Street))
}

// overdueFrom is the instant after which in counts as overdue
// (incident.Incident.OverdueAt): the earliest running deadline of its open
// tasks while it is dispatched; nil when no clock runs.
func overdueFrom(in *incident.Incident) *time.Time {
	if in.Status != incident.StatusDispatched {
		return nil
	}
	var first *time.Time
	consider := func(t time.Time) {
		if first == nil || t.Before(*first) {
			first = &t
		}
	}
	for _, t := range in.Tasks {
		switch t.Status {
		case incident.TaskPendingAck:
			consider(t.AckDue)
			consider(t.ResolveDue)
		case incident.TaskAcknowledged:
			consider(t.ResolveDue)
		}
	}
	return first
}

// clockRunning reports whether t's deadlines run: it is open and its
// incident is dispatched (a suspended incident's clocks stand still). It is
// tasks.running, which the overdue board's indexes are partial on.
func clockRunning(in *incident.Incident, t *incident.Task) bool {
	return t.Open() && in.Status == incident.StatusDispatched
}

// dispute is what tasks keeps of a task's latest return (退单).
type dispute struct {
	returnedAt, referredAt *time.Time
	referNote              string
}

// disputeOf returns the columns of t's latest return: when it was made
// (nil if never) and, while it is referred to the district, when and why.
// They come from t.Dispute; a task returned in a history older than
// Task.Dispute (whose settling may leave a Dispute without ReturnedAt) has
// the time of its last `returned` entry, so every returned task has one.
func disputeOf(in *incident.Incident, t *incident.Task) dispute {
	var d dispute
	if x := t.Dispute; x != nil {
		if !x.ReturnedAt.IsZero() {
			at := x.ReturnedAt
			d.returnedAt = &at
		}
		d.referredAt, d.referNote = x.ReferredAt, x.ReferNote
	}
	if d.returnedAt == nil {
		for i := len(in.Timeline) - 1; i >= 0; i-- {
			if e := in.Timeline[i]; e.Type == incident.EventReturned && e.TaskID == t.ID {
				at := e.At
				d.returnedAt = &at
				break
			}
		}
	}
	return d
}

// inboxOrder is a task's place in its department's inbox: open tasks first
// (rank 0) by nearest deadline, the others (rank 1) newest first.
func inboxOrder(t *incident.Task) (rank int16, key int64) {
	switch t.Status {
	case incident.TaskPendingAck:
		return 0, t.AckDue.UnixMicro()
	case incident.TaskAcknowledged:
		return 0, t.ResolveDue.UnixMicro()
	}
	return 1, -t.CreatedAt.UnixMicro()
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
