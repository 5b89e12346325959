-- whatif replays asked for through the API (POST /v1/whatif, issue 16). A
-- city's month takes minutes, so a request starts a job and answers at
-- once; the job's row carries its progress and, when done, the answer, so
-- that any serve behind the load balancer can answer GET /v1/whatif/{id}.
-- The serve running a job beats its heartbeat every few seconds: a job
-- whose heartbeat stopped was left by a serve that stopped, and reads as
-- failed (whatif.Jobs). The proposed file is kept as sent: it is what the
-- answer is about.

-- +goose Up
CREATE TABLE whatif_jobs (
    id           text PRIMARY KEY,
    month        text NOT NULL,
    rules        text NOT NULL,
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL,
    status       text NOT NULL,           -- queued, running, done, failed
    done         integer NOT NULL DEFAULT 0,
    total        integer NOT NULL DEFAULT 0,
    heartbeat    timestamptz NOT NULL,
    finished_at  timestamptz,
    error        text NOT NULL DEFAULT '',
    answer       jsonb
);
-- GET /v1/whatif lists the latest first.
CREATE INDEX whatif_jobs_newest ON whatif_jobs (requested_at DESC, id DESC);

-- +goose Down
DROP TABLE whatif_jobs;
