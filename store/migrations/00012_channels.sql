-- Reports from other channels (issue 14): the 12345 hotline's work orders,
-- other systems through POST /v1/reports, and Open311 GeoReport v2 clients.
-- Every incident records the channel it came in by and the sender's own
-- reference, so that a resent work order makes no second incident and the
-- league tables can be read per channel; Open311 clients hold API keys.

-- +goose Up

-- channel is incident.ChannelOf of the snapshot: 'grid', 'hotline', 'api',
-- 'delegation' or 'open311:<client>'. Adding it with a default is instant;
-- only incidents a department handed down are rewritten.
ALTER TABLE incidents ADD COLUMN channel text NOT NULL DEFAULT 'grid';
UPDATE incidents SET channel = 'delegation' WHERE coalesce(doc->>'delegation', '') <> '';

-- external_ref is the sender's own reference (a 12345 work order number);
-- NULL when none was sent. Like idempotency_key only the API writes it.
ALTER TABLE incidents ADD COLUMN external_ref text;

-- A work order resent by the hotline finds the first incident instead of
-- creating another: the reference is unique within its channel.
CREATE UNIQUE INDEX incidents_external_ref ON incidents (channel, external_ref)
    WHERE external_ref IS NOT NULL;

-- An intake system reads only what it sent (store.Scope), newest first:
-- Open311's GET requests pages along this index.
CREATE INDEX incidents_channel_newest ON incidents (channel, reported_at DESC, id DESC);

-- open311_keys holds the API keys of Open311 clients. Only a SHA-256 of
-- each key is kept: a key is 32 random bytes, so a plain hash cannot be
-- guessed back, and a stolen table opens nothing. A client may hold several
-- keys (to rotate one); a revoked key stays for the record.
CREATE TABLE open311_keys (
    id             text        PRIMARY KEY,
    client         text        NOT NULL,
    key_hash       bytea       NOT NULL UNIQUE,
    -- streets and items limit where and what the client may report; empty
    -- is everywhere and every item of the responsibility list.
    streets        text[]      NOT NULL DEFAULT '{}',
    items          text[]      NOT NULL DEFAULT '{}',
    -- rate_per_minute bounds the client's requests (token bucket, per
    -- serving process); max_body_bytes a POST's body.
    rate_per_minute integer    NOT NULL,
    max_body_bytes integer     NOT NULL,
    created_at     timestamptz NOT NULL,
    created_by     text        NOT NULL,
    revoked_at     timestamptz,
    revoked_by     text
);
CREATE INDEX open311_keys_client ON open311_keys (client, created_at);

-- +goose Down
DROP TABLE open311_keys;
DROP INDEX incidents_channel_newest;
DROP INDEX incidents_external_ref;
ALTER TABLE incidents DROP COLUMN external_ref;
ALTER TABLE incidents DROP COLUMN channel;
