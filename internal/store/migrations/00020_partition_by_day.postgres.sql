-- Growth of the store on PostgreSQL: services, credentials and flow_devices
-- (the hourly roll-ups and device↔peer relations of flow ingests) become
-- tables partitioned by day (native declarative range partitioning), so that
-- retention (`iotwatch store prune --retain 400d`) drops whole partitions
-- instead of deleting rows. SQLite keeps its simple layout: SQLite does not
-- read this file (see migrationFS).
--
-- The partition key "day" is the UTC day the row's run started: it is the
-- same for every row of a run, so the primary keys (which must include the
-- partition key) keep their meaning and every ON CONFLICT of a run still
-- finds the row it updates, and retention never keeps half of a run. The
-- store fills it in (Store.RunDay); no foreign key points into these tables.
--
-- Partitions are named TABLE_pYYYYMMDD and are created ahead by
-- iotwatch_day_partition (at open for yesterday..+7 days, and for the day of
-- every run started); TABLE_default catches anything else, so no insert
-- ever fails for want of a partition.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION iotwatch_day_partition(parent TEXT, d DATE) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    name TEXT := parent || '_p' || to_char(d, 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN TRUE;
    END IF;
    -- Creating a partition locks its parent: wait a little for writers and
    -- readers, never indefinitely (rows of that day then go to the default).
    PERFORM set_config('lock_timeout', '5s', TRUE);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', name, parent, d, d + 1);
    RETURN TRUE;
EXCEPTION
    WHEN duplicate_table OR unique_violation THEN
        RETURN TRUE; -- another process created it at the same time
    WHEN check_violation OR lock_not_available THEN
        RETURN FALSE; -- the default partition holds rows of that day, or the parent is busy
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    t RECORD;
    d DATE;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('services', 'run_id, ip, port, transport, day', 'ip'),
        ('credentials', 'run_id, ip, port, protocol, username, password, day', ''),
        ('flow_devices', 'run_id, device, day', 'device')) AS v(name, pk, idx)
    LOOP
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t.name, t.name || '_unpartitioned');
        EXECUTE format('ALTER INDEX %I RENAME TO %I', t.name || '_pkey', t.name || '_unpartitioned_pkey');
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS, day DATE NOT NULL, PRIMARY KEY (%s),
            FOREIGN KEY (run_id) REFERENCES runs(id) ON DELETE CASCADE) PARTITION BY RANGE (day)',
            t.name, t.name || '_unpartitioned', t.pk);
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t.name || '_default', t.name);
        FOR d IN EXECUTE format('SELECT DISTINCT substr(r.started_at, 1, 10)::date FROM %I o JOIN runs r ON r.id = o.run_id',
            t.name || '_unpartitioned')
        LOOP
            PERFORM iotwatch_day_partition(t.name, d);
        END LOOP;
        FOR d IN SELECT generate_series(current_date - 1, current_date + 7, interval '1 day')::date
        LOOP
            PERFORM iotwatch_day_partition(t.name, d);
        END LOOP;
        EXECUTE format('INSERT INTO %I SELECT o.*, substr(r.started_at, 1, 10)::date FROM %I o JOIN runs r ON r.id = o.run_id',
            t.name, t.name || '_unpartitioned');
        EXECUTE format('DROP TABLE %I', t.name || '_unpartitioned');
        IF t.idx <> '' THEN
            EXECUTE format('CREATE INDEX %I ON %I (%I)', t.name || '_' || t.idx, t.name, t.idx);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    t RECORD;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('services', 'run_id, ip, port, transport', 'ip'),
        ('credentials', 'run_id, ip, port, protocol, username, password', ''),
        ('flow_devices', 'run_id, device', 'device')) AS v(name, pk, idx)
    LOOP
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS, PRIMARY KEY (%s),
            FOREIGN KEY (run_id) REFERENCES runs(id) ON DELETE CASCADE)', t.name || '_unpartitioned', t.name, t.pk);
        EXECUTE format('ALTER TABLE %I DROP COLUMN day', t.name || '_unpartitioned');
        EXECUTE format('INSERT INTO %I SELECT %s FROM %I', t.name || '_unpartitioned',
            (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
             WHERE attrelid = (t.name || '_unpartitioned')::regclass AND attnum > 0 AND NOT attisdropped), t.name);
        EXECUTE format('DROP TABLE %I', t.name);
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t.name || '_unpartitioned', t.name);
        EXECUTE format('ALTER INDEX %I RENAME TO %I', t.name || '_unpartitioned_pkey', t.name || '_pkey');
        IF t.idx <> '' THEN
            EXECUTE format('CREATE INDEX %I ON %I (%I)', t.name || '_' || t.idx, t.name, t.idx);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP FUNCTION iotwatch_day_partition(TEXT, DATE);
