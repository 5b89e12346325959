package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/whatif"
)

// WhatifJobs runs whatif replays in the background and keeps them
// (whatif.Jobs).
type WhatifJobs interface {
	Start(ctx context.Context, month time.Time, rules []byte, who string) (*whatif.Job, error)
	Job(ctx context.Context, id string) (*whatif.Job, error)
	List(ctx context.Context, n int) ([]whatif.Job, error)
}

type whatifStartInput struct {
	Body struct {
		Month string `json:"month" example:"2026-11" doc:"The month to replay, YYYY-MM (local days in the district's time zone); not in the future."`
		Rules string `json:"rules" minLength:"1" maxLength:"4000000" doc:"The proposed rules: a whole jurisdiction file (YAML), as docs/jurisdiction.md describes it. Its SLAs, escalation ladder, calendar, enforcement deadline, limits and assessment are used; its organisation is not (docs/whatif.md)."`
	}
}

// WhatifJob is a replay as the API shows it: whatif.Job with the answer's
// tables in the rows of /v1/metrics/*.
type WhatifJob struct {
	ID          string          `json:"id"`
	Month       string          `json:"month" example:"2026-11"`
	RequestedBy string          `json:"requested_by" doc:"Who asked (role:org:sub)."`
	RequestedAt time.Time       `json:"requested_at"`
	Status      string          `json:"status" enum:"queued,running,done,failed"`
	Progress    whatif.Progress `json:"progress" doc:"Incidents replayed of those to replay."`
	FinishedAt  *time.Time      `json:"finished_at"`
	Error       string          `json:"error,omitempty" doc:"Why a failed replay failed."`
	Answer      *WhatifAnswer   `json:"answer,omitempty" doc:"The answer, once done (not in lists)."`
}

// WhatifAnswer is whatif.Answer with its tables in the rows of
// /v1/metrics/* (docs/whatif.md reads it).
type WhatifAnswer struct {
	Month     string          `json:"month"`
	AsOf      time.Time       `json:"as_of" doc:"The clocks ticked up to here: the record's latest change."`
	Incidents int             `json:"incidents"`
	Current   WhatifTables    `json:"current" doc:"The month's tables as the record has them: what it was graded on."`
	Proposed  WhatifTables    `json:"proposed" doc:"The tables of the replay under the proposed rules, graded by the proposed assessment."`
	Changes   whatif.Changes  `json:"changes"`
	Identity  whatif.Identity `json:"identity" doc:"Whether the replay under the rules the month ran by gives the record back."`
	Seconds   float64         `json:"seconds"`
}

// WhatifTables are a month's league tables.
type WhatifTables struct {
	Departments []LeagueRow `json:"departments"`
	Streets     []LeagueRow `json:"streets"`
	Items       []LeagueRow `json:"items"`
}

func whatifJob(j *whatif.Job) *WhatifJob {
	out := &WhatifJob{ID: j.ID, Month: j.Month, RequestedBy: j.RequestedBy, RequestedAt: j.RequestedAt, Status: j.Status,
		Progress: j.Progress, FinishedAt: j.FinishedAt, Error: j.Error}
	if j.Answer != nil {
		out.Answer = WhatifAnswerOf(j.Answer)
	}
	return out
}

// WhatifAnswerOf returns a as the API answers it (and whistle whatif
// prints it): its tables in the rows of /v1/metrics/*.
func WhatifAnswerOf(a *whatif.Answer) *WhatifAnswer {
	return &WhatifAnswer{Month: a.Month, AsOf: a.AsOf, Incidents: a.Incidents, Current: whatifTables(a.Current),
		Proposed: whatifTables(a.Proposed), Changes: a.Changes, Identity: a.Identity, Seconds: a.Seconds}
}

func whatifTables(t whatif.Tables) WhatifTables {
	rows := func(rs []metrics.LeagueRow) []LeagueRow {
		out := make([]LeagueRow, 0, len(rs))
		for _, r := range rs {
			out = append(out, LeagueRow{LeagueRow: r, Feedback: r.Visits})
		}
		return out
	}
	return WhatifTables{Departments: rows(t.Departments), Streets: rows(t.Streets), Items: rows(t.Items)}
}

type whatifJobOutput struct {
	Location string `header:"Location"`
	Body     *WhatifJob
}

type whatifJobInput struct {
	ID string `path:"id" maxLength:"64" doc:"The job's id."`
}

type whatifListOutput struct {
	Body struct {
		Items []*WhatifJob `json:"items" doc:"The latest 50 replays, newest first, without their answers."`
	}
}

func (s *Server) registerWhatif() {
	roles := []incident.Role{incident.RoleDistrict, incident.RoleAdmin}
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "startWhatif", Method: http.MethodPost, Path: "/v1/whatif", Tags: []string{"Metrics"},
		DefaultStatus: http.StatusAccepted,
		Summary:       "Replay a month under proposed rules",
		Description: "Starts a replay of the month's incidents from the record under the proposed rules (docs/whatif.md) and answers " +
			"at once with the job (202); GET /v1/whatif/{id} follows its progress and gives the answer when it is done. " +
			"Replays run one at a time per serve; the others queue. A file that is not a valid jurisdiction answers 422 with its problems.",
		Errors: []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, roles...), s.startWhatif)
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "getWhatif", Method: http.MethodGet, Path: "/v1/whatif/{id}", Tags: []string{"Metrics"},
		Summary:     "A replay: progress and answer",
		Description: "The job's status (queued, running, done, failed) and progress; once done, the answer: the current and proposed league tables, the changes, the flips, the refused steps and the identity check (docs/whatif.md).",
		Errors:      []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, roles...), s.getWhatif)
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "listWhatif", Method: http.MethodGet, Path: "/v1/whatif", Tags: []string{"Metrics"},
		Summary: "The latest replays",
		Errors:  []int{http.StatusServiceUnavailable},
	}, roles...), s.listWhatif)
}

func (s *Server) whatifJobs() (WhatifJobs, error) {
	if s.cfg.Whatif == nil {
		return nil, unavailable("whatif replays are not served here")
	}
	return s.cfg.Whatif, nil
}

func (s *Server) startWhatif(ctx context.Context, in *whatifStartInput) (*whatifJobOutput, error) {
	jobs, err := s.whatifJobs()
	if err != nil {
		return nil, err
	}
	loc := s.location()
	m, err := time.ParseInLocation("2006-01", in.Body.Month, loc)
	if err != nil {
		return nil, invalidField("body.month", "month %q is not YYYY-MM", in.Body.Month)
	}
	now := s.now().In(loc)
	if m.After(time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)) {
		return nil, invalidField("body.month", "month %s is in the future (this month is %s)", in.Body.Month, now.Format("2006-01"))
	}
	j, err := jobs.Start(ctx, m, []byte(in.Body.Rules), actorFrom(ctx).String())
	if err != nil {
		if errors.Is(err, jurisdiction.ErrInvalid) {
			return nil, invalidField("body.rules", "%v", err)
		}
		return nil, s.fail(ctx, err, "query", "start the replay")
	}
	return &whatifJobOutput{Location: "/v1/whatif/" + j.ID, Body: whatifJob(j)}, nil
}

func (s *Server) getWhatif(ctx context.Context, in *whatifJobInput) (*whatifJobOutput, error) {
	jobs, err := s.whatifJobs()
	if err != nil {
		return nil, err
	}
	j, err := jobs.Job(ctx, in.ID)
	if errors.Is(err, whatif.ErrNoJob) {
		return nil, newProblem(http.StatusNotFound, "no replay %s", in.ID)
	}
	if err != nil {
		return nil, s.fail(ctx, err, "query", "read the replay")
	}
	return &whatifJobOutput{Body: whatifJob(j)}, nil
}

func (s *Server) listWhatif(ctx context.Context, _ *struct{}) (*whatifListOutput, error) {
	jobs, err := s.whatifJobs()
	if err != nil {
		return nil, err
	}
	list, err := jobs.List(ctx, 50)
	if err != nil {
		return nil, s.fail(ctx, err, "query", "list the replays")
	}
	out := &whatifListOutput{}
	out.Body.Items = make([]*WhatifJob, 0, len(list))
	for i := range list {
		out.Body.Items = append(out.Body.Items, whatifJob(&list[i]))
	}
	return out, nil
}
