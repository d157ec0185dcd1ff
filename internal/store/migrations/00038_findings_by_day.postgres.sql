-- findings grow with every day of evidence too (flow alerts, assessment
-- results, firmware findings: the largest table per day on PostgreSQL), so
-- on PostgreSQL they become a table partitioned by the UTC day their run
-- started, like services, credentials and flow_devices in 00020 (same
-- partition key, names TABLE_pYYYYMMDD, TABLE_default, partitions created by
-- iotwatch_day_partition), and retention drops their partitions whole.
-- SQLite keeps its layout (it does not read this file).

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    d DATE;
BEGIN
    ALTER TABLE findings RENAME TO findings_unpartitioned;
    ALTER INDEX findings_pkey RENAME TO findings_unpartitioned_pkey;
    CREATE TABLE findings (LIKE findings_unpartitioned INCLUDING DEFAULTS, day DATE NOT NULL,
        PRIMARY KEY (run_id, kind, subject, title, day),
        FOREIGN KEY (run_id) REFERENCES runs(id) ON DELETE CASCADE) PARTITION BY RANGE (day);
    CREATE TABLE findings_default PARTITION OF findings DEFAULT;
    FOR d IN SELECT DISTINCT substr(r.started_at, 1, 10)::date FROM findings_unpartitioned o JOIN runs r ON r.id = o.run_id
    LOOP
        PERFORM iotwatch_day_partition('findings', d);
    END LOOP;
    FOR d IN SELECT generate_series(current_date - 1, current_date + 7, interval '1 day')::date
    LOOP
        PERFORM iotwatch_day_partition('findings', d);
    END LOOP;
    INSERT INTO findings SELECT o.*, substr(r.started_at, 1, 10)::date FROM findings_unpartitioned o JOIN runs r ON r.id = o.run_id;
    DROP TABLE findings_unpartitioned;
    CREATE INDEX findings_subject ON findings (subject, kind);
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    CREATE TABLE findings_unpartitioned (LIKE findings INCLUDING DEFAULTS,
        PRIMARY KEY (run_id, kind, subject, title),
        FOREIGN KEY (run_id) REFERENCES runs(id) ON DELETE CASCADE);
    ALTER TABLE findings_unpartitioned DROP COLUMN day;
    EXECUTE format('INSERT INTO findings_unpartitioned SELECT %s FROM findings',
        (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'findings_unpartitioned'::regclass AND attnum > 0 AND NOT attisdropped));
    DROP TABLE findings;
    ALTER TABLE findings_unpartitioned RENAME TO findings;
    ALTER INDEX findings_unpartitioned_pkey RENAME TO findings_pkey;
    CREATE INDEX findings_subject ON findings (subject, kind);
END
$$;
-- +goose StatementEnd
