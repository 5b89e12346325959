package whatif

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics"
)

// record is one incident as the record holds it: what its replay starts
// from, and what Recompute counts.
type record struct {
	report  incident.Report
	item    incident.Item
	domain  string
	tl      []incident.Entry
	due     map[string]metrics.Due
	visits  []metrics.Visit
	channel string
}

// asCase returns the record as the league tables count it.
func (r *record) asCase() *metrics.Case {
	return &metrics.Case{ID: r.report.IncidentID, Street: r.report.Street, Item: r.report.Category, Domain: r.domain,
		Channel: r.channel, Reported: r.report.ReportedAt, Original: r.report.DuplicateOf == nil, Repeat: r.report.RepeatOf != nil,
		Timeline: r.tl, Due: r.due, Visits: r.visits}
}

// reader streams the incidents of a month in batches: first the earlier
// (or id-less) incidents with something counted in the month, then every
// incident whose id falls in it (the month's partitions).
type reader struct {
	pool *pgxpool.Pool
	// cuts are the bounds of the month's ids, split in two halves (by
	// report time) read at once.
	cuts         []string
	others       []string
	batch, total int
	latest       time.Time
}

func newReader(ctx context.Context, pool *pgxpool.Pool, from, to time.Time, batch int) (*reader, error) {
	r := &reader{pool: pool, batch: batch}
	fail := func(err error) (*reader, error) { return nil, fmt.Errorf("whatif: read the month: %w", err) }
	// Two readers: while one waits on PostgreSQL, the other decodes.
	var idLo, cut, idHi string
	if err := pool.QueryRow(ctx, `SELECT whistle_id_bound($1), whistle_id_bound($2), whistle_id_bound($3)`,
		from, from.Add(to.Sub(from)/2), to).Scan(&idLo, &cut, &idHi); err != nil {
		return fail(err)
	}
	r.cuts = []string{idLo, cut, idHi}
	// What Recompute selects, outside the month's ids: incidents received
	// earlier with a counted entry or a return visit in the month (only
	// earlier months' partitions are searched), and any whose report time
	// falls in the month though its id does not (clocks a millisecond
	// apart) or that has no time in its id.
	rows, err := pool.Query(ctx, `
SELECT incident_id FROM timeline WHERE (incident_id < $3 OR incident_id >= $4) AND type = ANY($5) AND at >= $1 AND at < $2
UNION SELECT incident_id FROM feedback WHERE (incident_id < $3 OR incident_id >= $4) AND at >= $1 AND at < $2
UNION SELECT id FROM incidents WHERE (id < $3 OR id >= $4) AND reported_at >= $1 AND reported_at < $2
ORDER BY 1`, from, to, idLo, idHi, metrics.CountedEvents)
	if err != nil {
		return fail(err)
	}
	if r.others, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return fail(err)
	}
	// The record's present is its latest change, of the month or later.
	var latest *time.Time
	if err := pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE id >= $1 AND id < $2 AND version > 0), max(updated_at) FROM incidents WHERE id >= $1 OR id = ANY($3)`,
		idLo, idHi, r.others).Scan(&r.total, &latest); err != nil {
		return fail(err)
	}
	r.total += len(r.others)
	if latest != nil {
		r.latest = *latest
	} else {
		r.latest = time.Now()
	}
	return r, nil
}

// incidentColumns read an incident's report and item. The snapshot (doc)
// is read once per row: each read of it unpacks the whole of it again,
// which cost PostgreSQL more than everything else here. The channel comes
// from its column (the same as the snapshot's; whatif's tables are not
// split by channel), the delegation only for a delegated incident.
const incidentColumns = `id, category, street, community, grid, reporter,
coalesce(CASE WHEN channel = 'delegation' THEN doc->>'delegation' END, ''), channel,
coalesce(external_ref, ''), reported_at, duplicate_of, repeat_of, domain, doc->'item'`

// each calls fn with each batch of records: the others first, in id
// order, then the month's ranges at once, each in id order. fn may be
// called from several goroutines at once.
func (r *reader) each(ctx context.Context, fn func([]*record) error) error {
	for i := 0; i < len(r.others); i += r.batch {
		b, err := r.read(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ANY($1) AND version > 0 ORDER BY id`,
			r.others[i:min(i+r.batch, len(r.others))])
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	for k := range len(r.cuts) - 1 {
		lo, hi := r.cuts[k], r.cuts[k+1]
		g.Go(func() error {
			last := ""
			for {
				b, err := r.read(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id >= $1 AND id > $2 AND id < $3 AND version > 0 ORDER BY id LIMIT $4`,
					lo, last, hi, r.batch)
				if err != nil {
					return err
				}
				if len(b) == 0 {
					return nil
				}
				last = b[len(b)-1].report.IncidentID
				if err := fn(b); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}

// read reads the incidents that sql selects, then their timelines, tasks
// and return visits, all in one snapshot: on a running Whistle, a change
// projected between the readings would otherwise tear an incident apart.
func (r *reader) read(ctx context.Context, sql string, args ...any) ([]*record, error) {
	fail := func(err error) ([]*record, error) { return nil, fmt.Errorf("whatif: read incidents: %w", err) }
	tx, err := r.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only: nothing to keep
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return fail(err)
	}
	var out []*record
	byID := map[string]*record{}
	var ids []string
	var itemDoc []byte
	var x record
	if _, err := pgx.ForEachRow(rows, []any{&x.report.IncidentID, &x.report.Category, &x.report.Street, &x.report.Community,
		&x.report.Grid, &x.report.Reporter, &x.report.Delegation, &x.report.Channel, &x.report.ExternalRef, &x.report.ReportedAt,
		&x.report.DuplicateOf, &x.report.RepeatOf, &x.domain, &itemDoc}, func() error {
		rec := x
		x.report.DuplicateOf, x.report.RepeatOf = nil, nil // scanned afresh, not into rec's
		if err := json.Unmarshal(itemDoc, &rec.item); err != nil {
			return fmt.Errorf("incident %s: its item: %w", rec.report.IncidentID, err)
		}
		rec.channel = incident.ChannelOf(&incident.Incident{Channel: rec.report.Channel, Delegation: rec.report.Delegation})
		rec.due = map[string]metrics.Due{}
		out = append(out, &rec)
		byID[rec.report.IncidentID] = &rec
		ids = append(ids, rec.report.IncidentID)
		return nil
	}); err != nil {
		return fail(err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	var id, task string
	var e incident.Entry
	b.Queue(`SELECT incident_id, seq, type, actor, note, coalesce(task_id, ''), coalesce(department, ''), at, level
FROM timeline WHERE incident_id = ANY($1) ORDER BY incident_id, seq`, ids).Query(func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&id, &e.Seq, &e.Type, &e.Actor, &e.Note, &e.TaskID, &e.Department, &e.At, &e.Level}, func() error {
			rec := byID[id]
			rec.tl = append(rec.tl, e)
			return nil
		})
		return err
	})
	var due metrics.Due
	b.Queue(`SELECT incident_id, id, ack_due, resolve_due FROM tasks WHERE incident_id = ANY($1)`, ids).Query(func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&id, &task, &due.Ack, &due.Resolve}, func() error {
			byID[id].due[task] = due
			return nil
		})
		return err
	})
	var v metrics.Visit
	b.Queue(`SELECT incident_id, round, resolved, coalesce(rating, ''), at FROM feedback WHERE incident_id = ANY($1) ORDER BY incident_id, round`, ids).Query(func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&id, &v.Round, &v.Resolved, &v.Rating, &v.At}, func() error {
			rec := byID[id]
			rec.visits = append(rec.visits, v)
			return nil
		})
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fail(err)
	}
	return out, nil
}
