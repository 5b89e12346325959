package api

import (
	"context"
	"time"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/store"
)

// Store is what the API reads and writes in Postgres; *store.Store
// implements it.
type Store interface {
	// CreateReceived records an accepted report as an incident in status
	// received. A second call with the same reporter and idemKey creates
	// nothing and returns the first incident's id with created false.
	CreateReceived(ctx context.Context, r incident.Report, item incident.Item, idemKey string) (id string, created bool, err error)
	// DeleteReceived removes an incident still at version 0 (the workflow
	// has not projected it); one already projected is a CodeConflict error.
	DeleteReceived(ctx context.Context, id string) error
	// Every read takes the caller's store.Scope (store.ScopeOf): the one
	// read policy, applied in the store's SQL.

	// Incident returns an incident; an unknown id, or one outside the
	// scope, is a CodeNotFound error.
	Incident(ctx context.Context, sc store.Scope, id string) (*incident.Incident, error)
	// Incidents lists incidents newest first, a page at a time.
	Incidents(ctx context.Context, sc store.Scope, f store.IncidentFilter) ([]*incident.Incident, string, error)
	// Tasks lists tasks in inbox order, a page at a time.
	Tasks(ctx context.Context, sc store.Scope, f store.TaskFilter) ([]store.TaskRow, string, error)
	// OverdueTasks lists the deadlines open tasks have missed, most
	// overdue first, a page at a time; an unknown kind is a CodeInvalid
	// error.
	OverdueTasks(ctx context.Context, sc store.Scope, f store.OverdueFilter) ([]store.OverdueTask, string, error)
	// Disputes lists the returned tasks awaiting arbitration, oldest
	// return first, a page at a time.
	Disputes(ctx context.Context, sc store.Scope, f store.DisputeFilter) ([]store.OpenDispute, string, error)
	// Extensions lists the extension requests awaiting a decision,
	// oldest request first, a page at a time.
	Extensions(ctx context.Context, sc store.Scope, f store.ExtensionFilter) ([]store.PendingExtension, string, error)
	// Review lists the timeline entries the district reviews, newest
	// first, a page at a time; an unknown type is a CodeInvalid error.
	Review(ctx context.Context, sc store.Scope, f store.ReviewFilter) ([]store.ReviewEntry, string, error)
	// RecordRefusedDelegation stores a refused delegation attempt.
	RecordRefusedDelegation(ctx context.Context, d store.Delegation) error
	// Delegate stores an accepted delegation and the incident it hands
	// down (as received); a repeat with the same idempotency key returns
	// the first with created false.
	Delegate(ctx context.Context, d store.Delegation, r incident.Report, item incident.Item, idemKey string) (store.Delegation, bool, error)
	// Delegations lists delegation attempts newest first, a page at a time.
	Delegations(ctx context.Context, sc store.Scope, f store.DelegationFilter) ([]store.Delegation, string, error)
	// CreateOpen311Key stores a new Open311 API key (admin only) and
	// returns it, the key itself only this once.
	CreateOpen311Key(ctx context.Context, sc store.Scope, k store.Open311Key) (store.Open311Key, string, error)
	// Open311Keys lists every Open311 key, revoked ones included.
	Open311Keys(ctx context.Context, sc store.Scope) ([]store.Open311Key, error)
	// RevokeOpen311Key revokes an Open311 key (admin only).
	RevokeOpen311Key(ctx context.Context, sc store.Scope, id, by string) (store.Open311Key, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
}

var _ Store = (*store.Store)(nil)

// Metrics is what the API reads of the metrics; *metrics.Metrics
// implements it.
type Metrics interface {
	// League returns the league table of a dimension over the local days
	// [from, to), from the metrics rollups, ranked.
	League(ctx context.Context, d metrics.Dimension, from, to time.Time, g metrics.Grading) ([]metrics.LeagueRow, error)
	// ChannelLeague is League narrowed to the incidents of one channel,
	// without latencies.
	ChannelLeague(ctx context.Context, d metrics.Dimension, from, to time.Time, channel string, g metrics.Grading) ([]metrics.LeagueRow, error)
	// MonthlyReport builds the monthly report of a month (for the
	// district, or narrowed to one street).
	MonthlyReport(ctx context.Context, q metrics.MonthlyReportQuery) (*metrics.MonthlyReport, error)
}

var _ Metrics = (*metrics.Metrics)(nil)
