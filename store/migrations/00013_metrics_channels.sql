-- League tables and the monthly report split by channel (issue 14): the
-- daily and monthly rollups gain the incident's channel (incidents.channel,
-- incident.ChannelOf) as the last part of their key, so that a table of the
-- incidents of one channel is a sum of rows like any other. The latency
-- rollups keep one dimension per row and no channel: a table narrowed to a
-- channel has no latencies (docs/metrics.md).

-- +goose Up

-- A rebuild that an older binary had under way journals rows without a
-- channel: it is abandoned; the cleared definition makes the next start
-- rebuild every rollup with its channel (metrics.SyncRollups).
DELETE FROM metrics_journal;
DELETE FROM metrics_rebuild;
DROP TABLE IF EXISTS metrics_daily_next, metrics_monthly_next, metrics_latency_next, metrics_latency_monthly_next;

-- Existing rows are put under 'grid' until that rebuild; no default
-- afterwards, so a writer that forgot the channel fails loudly.
ALTER TABLE metrics_daily ADD COLUMN channel text NOT NULL DEFAULT 'grid';
ALTER TABLE metrics_daily ALTER COLUMN channel DROP DEFAULT;
ALTER TABLE metrics_monthly ADD COLUMN channel text NOT NULL DEFAULT 'grid';
ALTER TABLE metrics_monthly ALTER COLUMN channel DROP DEFAULT;

-- The primary keys (whatever a rebuild's swap named them) take the channel.
-- +goose StatementBegin
DO $$
DECLARE
    t text;
    k text;
BEGIN
    FOREACH t IN ARRAY ARRAY['metrics_daily', 'metrics_monthly'] LOOP
        SELECT conname INTO k FROM pg_constraint WHERE conrelid = t::regclass AND contype = 'p';
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t, k);
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (%s, department, street, item, domain, channel)',
                       t, t || '_pkey', CASE t WHEN 'metrics_daily' THEN 'day' ELSE 'month' END);
    END LOOP;
END
$$;
-- +goose StatementEnd

UPDATE metrics_settings SET definition = '';

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    t text;
    k text;
BEGIN
    FOREACH t IN ARRAY ARRAY['metrics_daily', 'metrics_monthly'] LOOP
        SELECT conname INTO k FROM pg_constraint WHERE conrelid = t::regclass AND contype = 'p';
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t, k);
    END LOOP;
END
$$;
-- +goose StatementEnd
DELETE FROM metrics_journal;
DELETE FROM metrics_rebuild;
TRUNCATE metrics_daily, metrics_monthly;
ALTER TABLE metrics_daily DROP COLUMN channel, ADD PRIMARY KEY (day, department, street, item, domain);
ALTER TABLE metrics_monthly DROP COLUMN channel, ADD PRIMARY KEY (month, department, street, item, domain);
UPDATE metrics_settings SET definition = '';
