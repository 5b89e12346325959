package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics/rollup"
)

// RebuildStats says how a rebuild of the rollups went.
type RebuildStats struct {
	// Build is how long the one pass over every incident took (the shadow
	// tables, built from one snapshot).
	Build time.Duration
	// Journal is how many changes projected during the build were caught
	// up from the journal; Swap how long the last step held the writers
	// (catching up the rest and swapping the tables in), and SwapAttempts
	// how many times it tried (a reader holding a rollup table for longer
	// than swapLockTimeout makes it let go and try again).
	Journal      int64
	Swap         time.Duration
	SwapAttempts int
	// Total is the whole rebuild.
	Total time.Duration
}

// swapLockTimeout bounds how long the swap waits for the rollup lock and
// the tables (readers in flight) before it lets go and tries again: the
// projections queued behind it wait no longer than that plus the swap.
var swapLockTimeout = 500 * time.Millisecond

// RebuildRollups recomputes the rollups from every incident's stored rows
// and records that they hold DefinitionVersion: after a bulk load
// with DeferRollups, when the definitions or the time zone change
// (SyncRollups does it), or to repair them. The projections go on
// meanwhile: it builds shadow tables in one set-based pass over a
// snapshot, catches up the changes projected since (which writers record
// in metrics_journal while it runs), and swaps the shadow tables in,
// holding the writers for the last catch-up and the swap only (well under
// a second). Readers keep the old rollups until the swap. One rebuild runs
// at a time; a second call waits for the first and then rebuilds again.
func (m *Metrics) RebuildRollups(ctx context.Context) (RebuildStats, error) {
	st, _, err := m.rebuild(ctx, "", false)
	return st, err
}

// SyncRollups makes the rollups count on the calendar days of tz (an IANA
// name: the district's) under DefinitionVersion. When the stored
// time zone or definition differs (every stored day would move, or the
// counters mean something else), it rebuilds them (RebuildRollups) and
// returns rebuilt true; otherwise it writes nothing. Processes starting
// together serialise on the rebuild: the first rebuilds, the others find it
// done. A zone PostgreSQL does not know is a CodeInvalid *incident.Error
// and changes nothing.
func (m *Metrics) SyncRollups(ctx context.Context, tz string) (rebuilt bool, err error) {
	_, rebuilt, err = m.rebuild(ctx, tz, true)
	return rebuilt, err
}

// rebuild is RebuildRollups on the days of tz ("": the stored zone); with
// onlyIfStale it does nothing when the stored zone and definition are
// already tz and DefinitionVersion.
func (m *Metrics) rebuild(ctx context.Context, tz string, onlyIfStale bool) (st RebuildStats, rebuilt bool, err error) {
	start := time.Now()
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return st, false, fmt.Errorf("metrics: rebuild rollups: %w", err)
	}
	defer conn.Release()
	fail := func(err error) (RebuildStats, bool, error) {
		var ie *incident.Error
		if errors.As(err, &ie) {
			return st, false, err
		}
		return st, false, fmt.Errorf("metrics: rebuild rollups: %w", err)
	}
	// One rebuild at a time: a session lock, let go when done (or, if the
	// connection is lost, by the server).
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+rollup.RebuildLockKey+`)`); err != nil {
		return fail(err)
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(c, `SELECT pg_advisory_unlock(`+rollup.RebuildLockKey+`)`); err != nil {
			conn.Conn().Close(c) // the server lets the lock go with the session
		}
	}()

	var cur, def string
	if err := conn.QueryRow(ctx, `SELECT timezone, definition FROM metrics_settings`).Scan(&cur, &def); err != nil {
		return fail(err)
	}
	if tz == "" {
		tz = cur
	}
	if onlyIfStale && cur == tz && def == DefinitionVersion {
		return st, false, nil
	}
	var known bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)`, tz).Scan(&known); err != nil {
		return fail(err)
	}
	if !known {
		return fail(incident.Invalid("district.timezone", "PostgreSQL does not know the time zone %q", tz))
	}

	r := &rebuilder{pool: m.pool, conn: conn}
	if err := r.run(ctx, tz, &st); err != nil {
		r.abandon()
		return fail(err)
	}
	st.Total = time.Since(start)
	return st, true, nil
}

// rebuilder runs one rebuild on its own connection (of pool).
type rebuilder struct {
	pool *pgxpool.Pool
	conn *pgxpool.Conn
	// snapshot is the build's snapshot (pg_snapshot as text): a journal
	// entry of a transaction visible in it is already in the build.
	snapshot string
}

// run rebuilds the rollups on the days of tz.
func (r *rebuilder) run(ctx context.Context, tz string, st *RebuildStats) error {
	// What a rebuild that stopped half-way (its process died) left behind.
	if _, err := r.conn.Exec(ctx, `DELETE FROM metrics_rebuild; DELETE FROM metrics_journal`); err != nil {
		return err
	}
	// From here on every writer records its change in the journal. Taking
	// the rollup lock exclusively lets the writers in flight finish first
	// (their change is in the snapshot taken next) and makes every later one
	// read the new time zone. The definition stays '' until the swap, so
	// that a rebuild cut short is done again at the next start.
	if err := pgx.BeginFunc(ctx, r.conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+rollup.LockKey+`)`)
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO metrics_rebuild DEFAULT VALUES`)
		}
		if err == nil {
			_, err = tx.Exec(ctx, `UPDATE metrics_settings SET timezone = $1, definition = ''`, tz)
		}
		return err
	}); err != nil {
		return fmt.Errorf("start: %w", err)
	}

	t := time.Now()
	if err := r.build(ctx); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	for _, tbl := range rollup.Next.List() {
		if _, err := r.conn.Exec(ctx, `ANALYZE `+tbl); err != nil {
			return err
		}
	}
	st.Build = time.Since(t)
	rebuildStep("built")

	// Catch up outside the lock while the journal keeps filling, so that
	// what is left for the swap is small.
	for range 10 {
		t := time.Now()
		n, err := r.catchUp(ctx, r.conn)
		if err != nil {
			return fmt.Errorf("catch up: %w", err)
		}
		st.Journal += n
		if n < 500 || time.Since(t) < 100*time.Millisecond {
			break
		}
	}

	for {
		st.SwapAttempts++
		t := time.Now()
		var n int64
		err := pgx.BeginFunc(ctx, r.conn, func(tx pgx.Tx) error {
			var err error
			if n, err = r.swap(ctx, tx); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `DELETE FROM metrics_rebuild; DELETE FROM metrics_journal`)
			if err == nil {
				_, err = tx.Exec(ctx, `UPDATE metrics_settings SET definition = $1`, DefinitionVersion)
			}
			return err
		})
		if err == nil {
			st.Journal += n
			st.Swap = time.Since(t)
			return nil
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55P03" || st.SwapAttempts >= 100 {
			return fmt.Errorf("swap: %w", err)
		}
		// A reader held a table: catch up and try again.
		rebuildStep("swap retry")
		n, err = r.catchUp(ctx, r.conn)
		if err != nil {
			return fmt.Errorf("catch up: %w", err)
		}
		st.Journal += n
	}
}

// rebuildStep runs at steps of a rebuild: "snapshot" (in the build's
// transaction, once its snapshot is taken), "built" (before the catch-up)
// and "swap retry" (a swap let go of the locks): tests project there.
var rebuildStep = func(step string) {}

// build fills the shadow tables from every incident, in one transaction
// whose snapshot it keeps for the catch-up.
func (r *rebuilder) build(ctx context.Context) error {
	return pgx.BeginTxFunc(ctx, r.conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&r.snapshot); err != nil {
			return err
		}
		rebuildStep("snapshot")
		// Large sorts and hash joins stay in memory longer.
		stmts := []string{`SET LOCAL work_mem = '256MB'`}
		for i, next := range rollup.Next.List() {
			stmts = append(stmts, `DROP TABLE IF EXISTS `+next,
				`CREATE TABLE `+next+` (LIKE `+rollup.Live.List()[i]+` INCLUDING ALL)`)
		}
		n := rollup.Next
		cols := rollup.Format("%[1]s", ", ")
		stmts = append(stmts, `
INSERT INTO `+n.Days+` (day, `+rollup.Key+`, `+cols+`)
SELECT day, `+rollup.Key+`, `+cols+` FROM (`+rollup.Contribution(rollup.AllIncidents)+`) c
ORDER BY 1, 2, 3, 4, 5, 6`, `
INSERT INTO `+n.Months+` (month, `+rollup.Key+`, `+cols+`)
SELECT date_trunc('month', day)::date, `+rollup.Key+`, `+rollup.Format("sum(%[1]s)", ", ")+`
FROM `+n.Days+` GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`, `
INSERT INTO `+n.LatencyDays+` (day, dim, value, kind, bucket, n)
SELECT day, dim, value, kind, bucket, n FROM (`+rollup.LatencyContribution(rollup.AllIncidents)+`) c
ORDER BY dim, day, value, kind, bucket`, `
INSERT INTO `+n.LatencyMonths+` (month, dim, value, kind, bucket, n)
SELECT date_trunc('month', day)::date, dim, value, kind, bucket, sum(n) FROM `+n.LatencyDays+`
GROUP BY 1, 2, 3, 4, 5 ORDER BY 2, 1, 3, 4, 5`)
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// catchUpSQL moves the journal into the temporary table
// metrics_journal_batch, leaving out the changes of transactions visible
// in the build's snapshot ($1), which the build counted.
const catchUpSQL = `
WITH j AS (DELETE FROM metrics_journal RETURNING xid, daily, latency)
INSERT INTO metrics_journal_batch SELECT daily, latency FROM j WHERE NOT pg_visible_in_snapshot(xid, $1::pg_snapshot)`

// catchUpAddSQL adds the batch's changes, summed per key, to the shadow
// tables.
var catchUpAddSQL = rollup.Add(rollup.Next, `(
    SELECT day, `+rollup.Key+`, `+rollup.Format("sum(%[1]s) AS %[1]s", ", ")+`
    FROM metrics_journal_batch b, json_to_recordset(b.daily) AS x(`+rollup.DailyColumns+`)
    GROUP BY 1, 2, 3, 4, 5, 6) s`, `(
    SELECT day, dim, value, kind, bucket, sum(n) AS n
    FROM metrics_journal_batch b, json_to_recordset(b.latency) AS x(`+rollup.LatencyColumns+`)
    GROUP BY 1, 2, 3, 4, 5) s`)

// catchUp adds the changes journaled so far to the shadow tables, in q (a
// transaction of its own when q is the connection), and says how many it
// added.
func (r *rebuilder) catchUp(ctx context.Context, q interface {
	Begin(context.Context) (pgx.Tx, error)
}) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS metrics_journal_batch (daily json, latency json) ON COMMIT DELETE ROWS;
DELETE FROM metrics_journal_batch`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, catchUpSQL, r.snapshot)
		if err != nil {
			return err
		}
		if n = tag.RowsAffected(); n == 0 {
			return nil
		}
		for _, q := range catchUpAddSQL {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// swap, in tx, holds the writers (the rollup lock) and the live tables,
// each for at most swapLockTimeout, catches up the last changes and puts
// the shadow tables (and their indexes) in place of the live ones.
func (r *rebuilder) swap(ctx context.Context, tx pgx.Tx) (int64, error) {
	if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = %d`, swapLockTimeout.Milliseconds())); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+rollup.LockKey+`)`); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(rollup.Live.List(), ", ")+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		return 0, err
	}
	n, err := r.catchUp(ctx, tx)
	if err != nil {
		return 0, err
	}
	for i, next := range rollup.Next.List() {
		live := rollup.Live.List()[i]
		rows, err := tx.Query(ctx, `SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::regclass`, next)
		if err != nil {
			return 0, err
		}
		indexes, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return 0, err
		}
		stmts := []string{`DROP TABLE ` + live, `ALTER TABLE ` + next + ` RENAME TO ` + live}
		for _, ix := range indexes {
			stmts = append(stmts, `ALTER INDEX `+ix+` RENAME TO `+live+strings.TrimPrefix(ix, next))
		}
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// abandon undoes what a failed rebuild left: the journal stops and the
// shadow tables go. The definition stays empty, so the next start rebuilds.
// When the rebuild's connection is gone (a cancelled context closes it,
// and the server lets its lock go), it cleans up on another connection,
// provided no other rebuild has started meanwhile.
func (r *rebuilder) abandon() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const undo = `DELETE FROM metrics_rebuild; DELETE FROM metrics_journal; DROP TABLE IF EXISTS `
	stmt := undo + strings.Join(rollup.Next.List(), ", ")
	if _, err := r.conn.Exec(ctx, stmt); err == nil {
		return
	}
	// The server lets the lost connection's lock go when its backend has
	// ended, which may take a moment; a rebuild that took it meanwhile
	// holds it longer than that.
	_ = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`)
		if err == nil {
			_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+rollup.RebuildLockKey+`)`)
		}
		if err == nil {
			_, err = tx.Exec(ctx, stmt)
		}
		return err
	})
}
