-- rota's PostgreSQL schema as it stands after every migration (the reference the migration
-- test compares against). Never applied directly: `rota db upgrade` runs the migrations.
-- Every object lives in the schema named by the database URL (?schema=..., default rota).

-- Blocks of 1,000: a batch draws one value and numbers its rows from it (SEQ_BLOCK).
CREATE SEQUENCE rota_task_seq INCREMENT BY 1000;

CREATE TABLE rota_tasks (
    id               TEXT COLLATE "C" PRIMARY KEY,
    seq              BIGINT      NOT NULL DEFAULT nextval('rota_task_seq'),
    queue            TEXT COLLATE "C" NOT NULL,
    kind             TEXT        NOT NULL,
    payload          JSONB       NOT NULL,
    priority         INTEGER     NOT NULL,
    state            TEXT        NOT NULL,
    enqueued_state   TEXT        NOT NULL,
    attempt          INTEGER     NOT NULL DEFAULT 0,
    max_attempts     INTEGER     NOT NULL,
    timeout          DOUBLE PRECISION,
    tenant           TEXT,
    job_id           TEXT,
    run_at           TIMESTAMPTZ NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    worker_id        TEXT,
    lease_token      BIGINT      NOT NULL DEFAULT 0,
    lease_expires_at TIMESTAMPTZ,
    cancel_requested BOOLEAN     NOT NULL DEFAULT FALSE,
    result           JSONB,
    error            TEXT,
    retry            JSONB,        -- the task's own retry policy, if any
    expires_at       TIMESTAMPTZ,  -- not started by then: never run
    progress         JSONB,        -- last progress report of the running attempt
    claim_seq        BIGINT,       -- the running (or succeeded) attempt's place in the history
    finished_by      TEXT,         -- the actor of the finish, NULL for the lease's worker
                                   -- (a success stores no event row)
    place            DOUBLE PRECISION NOT NULL DEFAULT 0,  -- place in line among its
                                   -- priority: seq, unless its queue has fairness (0014)
    requires         TEXT[],       -- capabilities a worker needs, sorted (0016)
    trace            TEXT,         -- the submit's W3C traceparent (0019)
    -- rota.core.priority's range; listings read queued rows over it (migration 0005)
    CONSTRAINT rota_tasks_priority_range CHECK (priority BETWEEN 0 AND 100)
);

-- Listings, newest first. Running rows are left out (listed through rota_tasks_leased), so
-- a claim writes no entry here; queued rows too (listed through the claim index, one scan
-- per queue and priority), so an enqueue writes none either.
CREATE INDEX rota_tasks_seq ON rota_tasks (seq) WHERE state NOT IN ('queued', 'running');
-- The claim index: exactly the ordering contract within each queue, holding only ready
-- rows. Keyed first on a hash of the queue's name (fixed width, cheaper to write; migration
-- 0005); queries add `queue = name` against collisions. Claims across every queue merge
-- the queues' heads (migration 0006 dropped the all-queues index).
CREATE INDEX rota_tasks_ready_by_queue
    ON rota_tasks (hashtextextended(queue, 0), priority DESC, place, seq) WHERE state = 'queued';
CREATE INDEX rota_tasks_scheduled ON rota_tasks (run_at) WHERE state = 'scheduled';
CREATE INDEX rota_tasks_leased ON rota_tasks (lease_expires_at) WHERE state = 'running';
CREATE INDEX rota_tasks_timed ON rota_tasks (started_at)
    WHERE state = 'running' AND timeout IS NOT NULL;
CREATE INDEX rota_tasks_dead ON rota_tasks (seq) WHERE state IN ('failed', 'canceled');
CREATE INDEX rota_tasks_by_job ON rota_tasks (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX rota_tasks_expiring ON rota_tasks (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('queued', 'scheduled');

-- Every statement that inserts tasks wakes long-polling claimers when it commits (migration
-- 0007): on channel rota_ and the schema's name, the channel the backend listens on, naming
-- the queues of its ready rows ('q ' and the names one space apart; '' for a list over
-- 7,000 bytes: every claimer), read from its transition table (migration 0024). An insert
-- with a claim behind it in its transaction (rota.insert_claim) announces its task itself,
-- only when the claim left it queued (migration 0023, wake_unclaimed).
CREATE FUNCTION rota_wake_claimers() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lo    TEXT;
    hi    TEXT;
    names TEXT;
BEGIN
    IF current_setting('rota.insert_claim', true) IS DISTINCT FROM 'on' THEN
        SELECT min(queue), max(queue) INTO lo, hi FROM inserted WHERE state = 'queued';
        IF lo = hi THEN
            names := lo;
        ELSIF lo IS NOT NULL THEN
            SELECT string_agg(DISTINCT queue, ' ' ORDER BY queue) INTO names
            FROM inserted WHERE state = 'queued';
        END IF;
        IF names IS NOT NULL THEN
            PERFORM pg_notify('rota_' || TG_TABLE_SCHEMA,
                              CASE WHEN length(names) > 7000 THEN '' ELSE 'q ' || names END);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER rota_tasks_inserted AFTER INSERT ON rota_tasks REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION rota_wake_claimers();
-- A scheduled row adds the wake-up 's': claims promote before they claim (migration 0020).
CREATE FUNCTION rota_wake_scheduled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rota_' || TG_TABLE_SCHEMA, 's');
    RETURN NULL;
END
$$;
CREATE TRIGGER rota_tasks_inserted_scheduled AFTER INSERT ON rota_tasks
    FOR EACH ROW WHEN (NEW.state = 'scheduled') EXECUTE FUNCTION rota_wake_scheduled();

CREATE TABLE rota_events (
    seq        BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id    TEXT COLLATE "C" NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    kind       TEXT        NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    worker_id  TEXT,
    message    TEXT,
    actor      TEXT         -- worker:<id>, system, or the API caller
);
CREATE INDEX rota_events_by_task ON rota_events (task_id, seq);

-- The whole history of every task: stored events, and the ones read from the task row
-- (its enqueue; the claim of its running or succeeded attempt, and that success).
CREATE VIEW rota_history AS
SELECT id AS task_id, created_at AS at, 'enqueued' AS kind, NULL::text AS from_state,
       enqueued_state AS to_state, NULL::text AS worker_id, NULL::text AS message,
       0::bigint AS seq, NULL::text AS actor
FROM rota_tasks
UNION ALL
SELECT task_id, at, kind, from_state, to_state, worker_id, message, seq, actor FROM rota_events
UNION ALL
SELECT id, started_at, 'claimed', 'queued', 'running', worker_id, NULL, claim_seq,
       'worker:' || worker_id
FROM rota_tasks WHERE claim_seq IS NOT NULL AND state IN ('running', 'succeeded')
UNION ALL
SELECT t.id, t.finished_at, 'succeeded', 'running', 'succeeded', t.worker_id, NULL,
       greatest(t.claim_seq, (SELECT max(e.seq) FROM rota_events AS e WHERE e.task_id = t.id)) + 1,
       coalesce(t.finished_by, 'worker:' || t.worker_id)
FROM rota_tasks AS t WHERE t.claim_seq IS NOT NULL AND t.state = 'succeeded';

CREATE TABLE rota_jobs (
    id         TEXT        PRIMARY KEY,
    name       TEXT        NOT NULL,
    tenant     TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    needs      JSONB       -- task id -> the ids it waits for (migration 0018)
);

CREATE TABLE rota_workers (
    id           TEXT        PRIMARY KEY,
    name         TEXT        NOT NULL,
    host         TEXT        NOT NULL,
    queues       JSONB,
    capabilities JSONB       NOT NULL,
    concurrency  INTEGER     NOT NULL,
    version      TEXT        NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX rota_workers_by_last_seen ON rota_workers (last_seen_at);
-- API tokens made by `rota token create`: only the SHA-256 digest of the secret is kept.
CREATE TABLE rota_tokens (
    name         TEXT        PRIMARY KEY,
    digest       TEXT        NOT NULL UNIQUE,
    role         TEXT        NOT NULL,
    tenant       TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);

-- Operator controls (intake blocks), a JSON text by key.
CREATE TABLE rota_controls (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The audit log: operator actions (service/audit.py), in the order they happened.
CREATE TABLE rota_audit (
    seq    BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     TIMESTAMPTZ NOT NULL,
    actor  TEXT        NOT NULL,
    action TEXT        NOT NULL,
    target TEXT,
    reason TEXT,
    detail TEXT        NOT NULL
);

-- Schedules (service/schedules.py): the definition is the service's JSON; the store finds
-- the due ones by rota_schedules_due, so an evaluation reads what is due and no more.
CREATE TABLE rota_schedules (
    id           TEXT        PRIMARY KEY,
    name         TEXT        NOT NULL UNIQUE,
    definition   TEXT        NOT NULL,
    enabled      BOOLEAN     NOT NULL,
    next_run_at  TIMESTAMPTZ,
    last_run_at  TIMESTAMPTZ,
    last_task_id TEXT,
    version      BIGINT      NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX rota_schedules_due ON rota_schedules (next_run_at)
    WHERE enabled AND next_run_at IS NOT NULL;

-- Fairness: each key's pass per queue, and the queue's clock (key ''); rota.core.fairness.
CREATE TABLE rota_fairness (
    queue TEXT COLLATE "C" NOT NULL,
    key   TEXT COLLATE "C" NOT NULL,
    pass  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (queue, key)
);

-- A fair insert's places, given inside the insert statement under the queue's fairness
-- lock: rota.core.fairness.places in PL/pgSQL (migration 0021).
CREATE FUNCTION rota_fair_places(queues TEXT[], keys TEXT[], strides DOUBLE PRECISION[])
RETURNS DOUBLE PRECISION[] LANGUAGE plpgsql AS $$
-- The places of an insert's tasks (queues[i], keys[i]: the task's fairness key, NULL when
-- its queue has none; strides[i]: its stride), NULL where a task has no key: the arithmetic
-- of rota.core.fairness.places, kept in step with it by the contract tests. Per queue, in
-- byte order (the order the backend's other fair paths lock in): take the queue's fairness
-- lock (held to the end of the transaction; the function is volatile, so each statement
-- after the lock reads what the last holder committed), read the floor (lowest: the place
-- of the ready head, else the queue's clock), move each key once from max(its pass, floor)
-- by its stride (its first task's) times its tasks, keys in order of first appearance, and
-- give its n-th task base + stride * n.
DECLARE
    qs     TEXT[] := '{}';
    q      TEXT;
    lowest DOUBLE PRECISION;
    clock  DOUBLE PRECISION;
    ks     TEXT[];
    steps  DOUBLE PRECISION[];
    counts INT[];
    bases  DOUBLE PRECISION[];
    passes DOUBLE PRECISION[];
    nth    INT[];
    places DOUBLE PRECISION[];
    place  DOUBLE PRECISION;
    i      INT;
    j      INT;
BEGIN
    IF cardinality(queues) = 1 AND keys[1] IS NOT NULL THEN
        -- One task, the common case, in a third of the time: the same rule for n = 1, with
        -- fewer statements and expressions (PL/pgSQL sets each up again per transaction).
        q := queues[1];
        PERFORM pg_advisory_xact_lock(hashtextextended('rota_fairness:' || q, 0));
        SELECT coalesce((SELECT f.pass FROM rota_fairness f WHERE f.queue = q AND f.key = ''), 0),
               (SELECT t.place FROM rota_tasks t
                WHERE t.state = 'queued' AND hashtextextended(t.queue, 0) = hashtextextended(q, 0)
                  AND t.queue = q
                ORDER BY t.priority DESC, t.place, t.seq LIMIT 1),
               coalesce((SELECT f.pass FROM rota_fairness f WHERE f.queue = q AND f.key = keys[1]),
                        0)
        INTO clock, lowest, place;
        place := greatest(place, coalesce(lowest, clock)) + strides[1];
        INSERT INTO rota_fairness (queue, key, pass)
        VALUES (q, keys[1], place), (q, '', greatest(clock, place))
        ON CONFLICT (queue, key) DO UPDATE SET pass = excluded.pass;
        RETURN ARRAY[place];
    END IF;
    nth := array_fill(0, ARRAY[cardinality(queues)]);
    places := array_fill(NULL::DOUBLE PRECISION, ARRAY[cardinality(queues)]);
    -- the queues with keys, in byte order
    FOR i IN 1 .. cardinality(queues) LOOP
        IF keys[i] IS NOT NULL AND NOT queues[i] = ANY(qs) THEN
            qs := qs || queues[i];
        END IF;
    END LOOP;
    IF cardinality(qs) > 1 THEN
        qs := ARRAY(SELECT u.q FROM unnest(qs) AS u(q) ORDER BY u.q COLLATE "C");
    END IF;
    FOREACH q IN ARRAY qs LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('rota_fairness:' || q, 0));
        ks := '{}';
        steps := '{}';
        counts := '{}';
        FOR i IN 1 .. cardinality(queues) LOOP
            CONTINUE WHEN queues[i] <> q OR keys[i] IS NULL;
            j := array_position(ks, keys[i]);
            IF j IS NULL THEN
                ks := ks || keys[i];
                steps := steps || strides[i];
                counts := counts || 0;
                j := cardinality(ks);
            END IF;
            counts[j] := counts[j] + 1;
            nth[i] := counts[j];
        END LOOP;
        -- one read: the clock, the ready head's place, the keys' passes
        SELECT coalesce((SELECT f.pass FROM rota_fairness f WHERE f.queue = q AND f.key = ''), 0),
               (SELECT t.place FROM rota_tasks t
                WHERE t.state = 'queued' AND hashtextextended(t.queue, 0) = hashtextextended(q, 0)
                  AND t.queue = q
                ORDER BY t.priority DESC, t.place, t.seq LIMIT 1),
               ARRAY(SELECT coalesce(f.pass, 0) FROM unnest(ks) WITH ORDINALITY AS u(key, n)
                     LEFT JOIN rota_fairness f ON f.queue = q AND f.key = u.key ORDER BY u.n)
        INTO clock, lowest, bases;
        lowest := coalesce(lowest, clock);
        passes := '{}';
        FOR j IN 1 .. cardinality(ks) LOOP
            bases[j] := greatest(bases[j], lowest);
            passes := passes || (bases[j] + steps[j] * counts[j]);
            clock := greatest(clock, passes[j]);
        END LOOP;
        INSERT INTO rota_fairness (queue, key, pass)
        SELECT q, p.key, p.pass FROM unnest(ks || ''::TEXT, passes || clock) AS p(key, pass)
        ON CONFLICT (queue, key) DO UPDATE SET pass = excluded.pass;
        FOR i IN 1 .. cardinality(queues) LOOP
            CONTINUE WHEN queues[i] <> q OR keys[i] IS NULL;
            j := array_position(ks, keys[i]);
            places[i] := bases[j] + steps[j] * nth[i];
        END LOOP;
    END LOOP;
    RETURN places;
END
$$;

-- Unique keys (rota.core.dedup): the task that holds each key, and how (migration 0015).
CREATE TABLE rota_uniques (
    key           TEXT COLLATE "C" PRIMARY KEY,
    task_id       TEXT COLLATE "C" NOT NULL,
    while_running BOOLEAN NOT NULL,
    held_until    TIMESTAMPTZ
);

-- Rate limits (rota.core.admission): each limited queue's token bucket (migration 0017).
CREATE TABLE rota_rate_buckets (
    queue      TEXT COLLATE "C" PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- A limited claim's slots and gate, taken inside the claim statement when it may run
-- beside others (migration 0022; see limit_lock and LIMIT_GATE in queries.sql).
CREATE FUNCTION rota_limit_gate(queues TEXT[], running_max INT[], tenant_max INT[],
                                rates DOUBLE PRECISION[], slot INT, slots INT, room INT)
RETURNS BOOLEAN LANGUAGE plpgsql AS $$
-- For each limited queue (queues, sorted; running_max, tenant_max, rates: its limits, NULL
-- for none), in order: one slot of its lock (key hashtext('rota_limits:' || queue), slots
-- 0 .. slots - 1), the first free one, or, all taken, the claim's own `slot`, waited for;
-- held to the end of the transaction. Then true when every queue has room for `room`
-- more running tasks (slots whole claims) beyond what runs in it, a tenant's running
-- tasks counting as at most the queue's, and no rate limit (a bucket is one row that
-- claims side by side would both write; no slot is taken then).
DECLARE
    i       INT;
    s       INT;
    running BIGINT;
BEGIN
    FOR i IN 1 .. cardinality(queues) LOOP
        IF rates[i] IS NOT NULL THEN
            RETURN false;
        END IF;
    END LOOP;
    FOR i IN 1 .. cardinality(queues) LOOP
        s := 0;
        WHILE s < slots AND NOT pg_try_advisory_xact_lock(hashtext('rota_limits:' || queues[i]), s)
        LOOP
            s := s + 1;
        END LOOP;
        IF s = slots THEN
            PERFORM pg_advisory_xact_lock(hashtext('rota_limits:' || queues[i]), slot);
        END IF;
    END LOOP;
    FOR i IN 1 .. cardinality(queues) LOOP
        SELECT count(*) INTO running FROM rota_tasks
        WHERE state = 'running' AND queue = queues[i];
        IF running + room > least(coalesce(running_max[i], 2147483647),
                                  coalesce(tenant_max[i], 2147483647)) THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$$;
