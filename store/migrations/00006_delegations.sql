-- Admission control (准入制度, issue 4): a department may hand a matter down
-- to a street only when the responsibility list makes the street
-- responsible. Every attempt is kept, accepted or refused, because the
-- district reviews exactly these lines: which departments try to push work
-- down, how often, and what the list said.

-- +goose Up

CREATE TABLE delegations (
    id          text        PRIMARY KEY,
    at          timestamptz NOT NULL,
    department  text        NOT NULL,
    -- actor is who asked ("department:CG:sub").
    actor       text        NOT NULL,
    item        text        NOT NULL,
    street      text        NOT NULL,
    note        text        NOT NULL DEFAULT '',
    accepted    boolean     NOT NULL,
    -- reason is why a refused attempt was refused (what the list says).
    reason      text        NOT NULL DEFAULT '',
    -- incident_id is the incident an accepted delegation created. It goes
    -- with its incident: when a report cannot be queued the API withdraws
    -- the incident (DeleteReceived), the client is told to retry, and the
    -- attempt that never happened must not stay behind. Unique, so a retry
    -- with the same Idempotency-Key finds the same delegation.
    incident_id text        UNIQUE REFERENCES incidents (id) ON DELETE CASCADE
);

-- GET /v1/delegations pages newest first, for the district as a whole, a
-- street or a department.
CREATE INDEX delegations_newest ON delegations (at DESC, id DESC);
CREATE INDEX delegations_street_newest ON delegations (street, at DESC, id DESC);
CREATE INDEX delegations_department_newest ON delegations (department, at DESC, id DESC);

-- +goose Down
DROP TABLE delegations;
