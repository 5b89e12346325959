package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics/rollup"
)

// externalRef is the incidents.external_ref of a snapshot: NULL for none.
func externalRef(in *incident.Incident) *string {
	if in.ExternalRef == "" {
		return nil
	}
	r := clean(in.ExternalRef)
	return &r
}

// Columns written by Load, in COPY order. They are the columns Project
// writes; incidents.idempotency_key stays NULL as for a projected incident
// that the API did not create.
var (
	loadIncidentColumns = []string{"id", "status", "category", "item_name", "tier", "street", "community", "grid",
		"reporter", "reported_at", "updated_at", "closed_at", "version", "round", "escalation_level", "reopen_count",
		"overdue_from", "doc", "lat", "lng", "duplicate_of", "repeat_of", "domain", "channel", "external_ref"}
	loadTaskColumns = []string{"id", "incident_id", "department", "street", "category", "role", "status", "round",
		"created_at", "ack_due", "resolve_due", "acked_at", "completed_at", "result", "return_reason", "reassigned_to",
		"escalation_level", "ack_overdue", "resolve_overdue", "inbox_rank", "inbox_key", "running",
		"returns", "returned_at", "referred_at", "refer_note", "extensions", "max_level", "rating", "rated_at"}
	loadTimelineColumns = []string{"incident_id", "seq", "at", "type", "actor", "note", "task_id", "department", "status", "level", "street"}
	loadFeedbackColumns = []string{"incident_id", "round", "resolved", "rating", "comment", "by_actor", "at"}
	loadKeyColumns      = []string{"kind", "owner", "key", "incident_id", "reported_at"}
)

// LoadIncident is one incident for Load: its latest snapshot and the return
// visits (回访) of its earlier rounds. A snapshot keeps only its latest visit,
// while projecting each snapshot as it happened writes every round's.
type LoadIncident struct {
	Snapshot *incident.Incident
	// EarlierFeedback are the visits of rounds before the snapshot's
	// feedback; one of the snapshot's own round is ignored.
	EarlierFeedback []incident.Feedback
}

// LoadCounts says how many rows Load wrote to each table.
type LoadCounts struct {
	Incidents int64
	Tasks     int64
	Timeline  int64
	Feedback  int64
}

// LoadOption changes how Load loads.
type LoadOption func(*loadOptions)

type loadOptions struct{ deferRollups bool }

// DeferRollups makes Load leave the metrics rollups alone: the caller
// rebuilds them (RebuildRollups) when the whole load is done, and until then
// the league tables do not count the loaded incidents.
func DeferRollups() LoadOption { return func(o *loadOptions) { o.deferRollups = true } }

// Load inserts incidents that are not stored yet, in bulk: one transaction
// of four COPYs (incidents, tasks, timeline, feedback). Each incident gets
// exactly the rows that projecting every snapshot of its life would have
// left (Project), so a loaded incident reads, lists, counts and projects
// further like a projected one, and the metrics rollups include them. An incident id already stored fails the whole load
// with a unique violation and writes nothing. It is for seeding and imports;
// the workflow's projection is Project.
//
// With DeferRollups the rollups are left alone, for the caller to rebuild
// once at the end (RebuildRollups): for a bulk load that is about twice as
// fast as adding each batch's contributions.
func (s *Store) Load(ctx context.Context, items []LoadIncident, opts ...LoadOption) (LoadCounts, error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	var n LoadCounts
	incidents := make([][]any, 0, len(items))
	ids := make([]string, 0, len(items))
	var tasks, timeline, feedback, keys [][]any
	addFeedback := func(id string, fb *incident.Feedback) {
		var rating *string
		if fb.Rating != "" {
			r := clean(string(fb.Rating))
			rating = &r
		}
		feedback = append(feedback, []any{id, int32(fb.Round), fb.Resolved, rating, clean(fb.Comment), clean(fb.By), fb.At})
	}
	for _, it := range items {
		in := it.Snapshot
		if in == nil || in.ID == "" {
			return n, incident.Invalid("id", "a snapshot with an incident id is required")
		}
		doc, err := snapshotDoc(in)
		if err != nil {
			return n, err
		}
		lat, lng := locationColumns(in.Location)
		channel, ref := clean(incident.ChannelOf(in)), externalRef(in)
		incidents = append(incidents, []any{
			in.ID, string(in.Status), clean(in.Category), clean(in.Item.Name), string(in.Tier), clean(in.Street),
			clean(in.Community), clean(in.Grid), clean(in.Reporter), in.ReportedAt, in.UpdatedAt, in.ClosedAt,
			int32(in.Version), int32(in.Round), int32(in.EscalationLevel), int32(in.ReopenCount), overdueFrom(in), doc,
			lat, lng, cleanPtr(in.DuplicateOf), cleanPtr(in.RepeatOf), clean(in.Item.Domain),
			channel, ref,
		})
		ids = append(ids, in.ID)
		if ref != nil {
			keys = append(keys, []any{"external_ref", channel, *ref, in.ID, in.ReportedAt})
		}
		for _, t := range in.Tasks {
			rank, key := inboxOrder(t)
			d := disputeOf(in, t)
			rating, ratedAt := taskRating(t)
			tasks = append(tasks, []any{
				t.ID, in.ID, clean(t.Department), clean(in.Street), clean(in.Category), string(t.Role), string(t.Status),
				int32(t.Round), t.CreatedAt, t.AckDue, t.ResolveDue, t.AckedAt, t.CompletedAt, clean(t.Result),
				clean(t.ReturnReason), t.ReassignedTo, int32(t.EscalationLevel), t.AckOverdue, t.ResolveOverdue, rank, key,
				clockRunning(in, t), int32(t.Returns), d.returnedAt, d.referredAt, clean(d.referNote),
				int32(t.Extensions), maxLevel(in, t), rating, ratedAt,
			})
		}
		for _, e := range in.Timeline {
			timeline = append(timeline, []any{
				in.ID, int32(e.Seq), e.At, e.Type, clean(e.Actor), clean(e.Note), nonEmpty(e.TaskID),
				nonEmpty(clean(e.Department)), nonEmpty(string(e.Status)), int32(e.Level), clean(in.Street),
			})
		}
		for i := range it.EarlierFeedback {
			if fb := &it.EarlierFeedback[i]; in.Feedback == nil || fb.Round != in.Feedback.Round {
				addFeedback(in.ID, fb)
			}
		}
		if in.Feedback != nil {
			addFeedback(in.ID, in.Feedback)
		}
	}
	err := s.inMonths(ctx, ids, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			copyRows := func(table string, cols []string, rows [][]any, count *int64) {
				if err != nil || len(rows) == 0 {
					return
				}
				*count, err = tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
				if err != nil {
					err = fmt.Errorf("copy %s: %w", table, err)
				}
			}
			copyRows("incidents", loadIncidentColumns, incidents, &n.Incidents)
			copyRows("tasks", loadTaskColumns, tasks, &n.Tasks)
			copyRows("timeline", loadTimelineColumns, timeline, &n.Timeline)
			copyRows("feedback", loadFeedbackColumns, feedback, &n.Feedback)
			var nkeys int64
			copyRows("incident_keys", loadKeyColumns, keys, &nkeys)
			if err != nil {
				return err
			}
			if o.deferRollups {
				return nil
			}
			// The rollups of exactly these incidents, as Project would have
			// left them, under the rollup lock like every writer of them.
			if _, err := tx.Exec(ctx, rollup.LockSQL); err != nil {
				return fmt.Errorf("add rollups: %w", err)
			}
			if _, err := tx.Exec(ctx, rollup.LoadDeltaSQL, ids); err != nil {
				return fmt.Errorf("add rollups: %w", err)
			}
			for _, q := range rollup.AddLive {
				if _, err := tx.Exec(ctx, q); err != nil {
					return fmt.Errorf("add rollups: %w", err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return LoadCounts{}, fmt.Errorf("store: load %d incidents: %w", len(items), err)
	}
	return n, nil
}
