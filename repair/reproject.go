// Package repair brings the read model back in line with the workflows,
// which are the source of truth for where each incident is (DESIGN.md §2):
// after PostgreSQL was restored from a backup older than Temporal's state,
// or lost, or behind because of the recording bug fixed in 234763a (an
// outage of more than 10 s left an incident's recorder stopped for good).
package repair

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/whistle-city/whistle/activities"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
	"github.com/whistle-city/whistle/workflows"
)

// Behind is one incident whose read model is older than its workflow.
type Behind struct {
	ID string `json:"id"`
	// Stored is the version in the read model, -1 when it has no row.
	Stored int `json:"stored"`
	// Workflow is the version the workflow holds.
	Workflow int             `json:"workflow"`
	Status   incident.Status `json:"status"`

	snapshot *incident.Incident
	// entries is how many timeline entries the read model had: the
	// workflow's entries from there on were never published.
	entries int
}

// Result counts what Reproject looked at and did.
type Result struct {
	// Workflows is how many incident workflows Temporal still has
	// (running, and closed ones within the namespace's retention).
	Workflows int `json:"workflows"`
	// Behind lists those whose read model is older, in the order found.
	Behind []Behind `json:"behind"`
	// Recorded is how many of them were recorded (0 on a dry run).
	Recorded int `json:"recorded"`
}

// Options says how Reproject runs.
type Options struct {
	// Apply records each incident found behind (RecordIncident: its
	// snapshot into the read model with the metrics rollups, and the
	// timeline entries the read model lacked as events); false only lists
	// them.
	Apply bool
	// Concurrency is how many workflows are asked at once; 4 when 0.
	Concurrency int
}

// Reproject asks every incident workflow Temporal still has for its state
// (workflows.QueryIncident) and compares its version with the read model's.
// With opts.Apply it records the newer state through rec, exactly as the
// workflow's own recording would have; the store's version guard makes a
// second run, or a race with the workflow recording the same version, a
// no-op. A workflow that cannot be asked (a worker is needed to answer) is
// an error, after the others were looked at.
func Reproject(ctx context.Context, tc client.Client, st *store.Store, rec *activities.Activities, opts Options) (Result, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	var res Result
	var mu sync.Mutex
	var failed []error
	// The group only bounds how many run at once: a failure is collected,
	// not returned, so that the others are still looked at.
	var g errgroup.Group
	g.SetLimit(opts.Concurrency)
	var token []byte
	for {
		page, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         "WorkflowType = '" + workflows.IncidentWorkflowName + "'",
			NextPageToken: token,
		})
		if err != nil {
			_ = g.Wait()
			return res, fmt.Errorf("repair: list incident workflows: %w", err)
		}
		for _, ex := range page.GetExecutions() {
			id, run := ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId()
			res.Workflows++
			g.Go(func() error {
				b, err := compare(ctx, tc, st, id, run)
				if err == nil && b != nil && opts.Apply {
					err = rec.RecordIncident(ctx, workflows.RecordInput{Incident: b.snapshot, FromSeq: b.entries})
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = append(failed, fmt.Errorf("incident %s: %w", id, err))
					return nil
				}
				if b != nil {
					res.Behind = append(res.Behind, *b)
					if opts.Apply {
						res.Recorded++
					}
				}
				return nil
			})
		}
		if token = page.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	_ = g.Wait() // every function returns nil
	return res, errors.Join(failed...)
}

// compare returns the incident when its read model is older than its
// workflow, nil when it is up to date.
func compare(ctx context.Context, tc client.Client, st *store.Store, id, run string) (*Behind, error) {
	v, err := tc.QueryWorkflow(ctx, id, run, workflows.QueryIncident)
	if err != nil {
		return nil, fmt.Errorf("ask the workflow: %w", err)
	}
	var snap incident.Incident
	if err := v.Get(&snap); err != nil {
		return nil, fmt.Errorf("read the workflow's answer: %w", err)
	}
	stored, entries := -1, 0
	in, err := st.Incident(ctx, store.Everything, id)
	switch {
	case err == nil:
		stored, entries = in.Version, len(in.Timeline)
	case incident.ErrorCode(err) != incident.CodeNotFound:
		return nil, fmt.Errorf("read the read model: %w", err)
	}
	if snap.Version <= stored {
		return nil, nil
	}
	return &Behind{ID: id, Stored: stored, Workflow: snap.Version, Status: snap.Status, snapshot: &snap, entries: entries}, nil
}
