-- rota's SQLite schema. PRAGMA user_version holds the version; the backend refuses a newer one.
-- seq is the enqueue order (the ordering contract's second key) and the rowid.
CREATE TABLE IF NOT EXISTS tasks (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    queue            TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    timeout          REAL,
    tenant           TEXT,
    job_id           TEXT,
    run_at           INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    worker_id        TEXT,
    lease_token      INTEGER NOT NULL DEFAULT 0,
    lease_expires_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    enqueued_state   TEXT    NOT NULL,  -- the first history event is derived from the row
    result           TEXT,
    error            TEXT,
    retry            TEXT,     -- the task's own retry policy (JSON), if any
    expires_at       INTEGER,  -- not started by then: never run
    progress         TEXT,     -- last progress report of the running attempt (JSON)
    place            REAL NOT NULL DEFAULT 0, -- place in line (= seq without fairness)
    requires         TEXT,     -- capabilities a worker needs (JSON list, sorted), or NULL
    trace            TEXT      -- the submit's W3C traceparent, or NULL
);

-- The claim index: exactly the ordering contract, holding only ready rows so it stays small.
CREATE INDEX IF NOT EXISTS tasks_ready_by_queue ON tasks (queue, priority DESC, place, seq)
    WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS tasks_ready ON tasks (priority DESC, place, seq)
    WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS tasks_scheduled ON tasks (run_at) WHERE state = 'scheduled';
CREATE INDEX IF NOT EXISTS tasks_leased ON tasks (lease_expires_at) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (state, seq);
CREATE INDEX IF NOT EXISTS tasks_by_job ON tasks (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_expiring ON tasks (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('queued', 'scheduled');

CREATE TABLE IF NOT EXISTS events (
    seq        INTEGER PRIMARY KEY,
    task_id    TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    worker_id  TEXT,
    message    TEXT,
    actor      TEXT      -- who made the change: worker:<id>, system, or the API caller
);
CREATE INDEX IF NOT EXISTS events_by_task ON events (task_id, seq);

CREATE TABLE IF NOT EXISTS jobs (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    tenant     TEXT,
    created_at INTEGER NOT NULL,
    needs      TEXT      -- task id -> the ids it waits for (JSON), or NULL
);

-- Workers as registered; listed while heard from within ROTA_WORKER_SILENCE.
CREATE TABLE IF NOT EXISTS workers (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    queues       TEXT,             -- JSON list, or NULL for every queue
    capabilities TEXT    NOT NULL, -- JSON list
    concurrency  INTEGER NOT NULL,
    version      TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS workers_by_last_seen ON workers (last_seen_at);

-- API tokens made by `rota token create`: only the SHA-256 digest of the secret is kept.
CREATE TABLE IF NOT EXISTS tokens (
    name         TEXT    PRIMARY KEY,
    digest       TEXT    NOT NULL UNIQUE,
    role         TEXT    NOT NULL,
    tenant       TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

-- Operator controls (intake blocks), a JSON text by key.
CREATE TABLE IF NOT EXISTS controls (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The audit log: operator actions (service/audit.py), in the order they happened.
CREATE TABLE IF NOT EXISTS audit (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT,
    reason TEXT,
    detail TEXT    NOT NULL
);

-- Schedules (service/schedules.py): the definition is the service's JSON; the store finds
-- the due ones by schedules_due, so an evaluation reads what is due and no more.
CREATE TABLE IF NOT EXISTS schedules (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    definition   TEXT    NOT NULL,
    enabled      INTEGER NOT NULL,
    next_run_at  INTEGER,
    last_run_at  INTEGER,
    last_task_id TEXT,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (next_run_at)
    WHERE enabled = 1 AND next_run_at IS NOT NULL;

-- Fairness: each key's pass per queue, and the queue's clock (key ''); see rota.core.fairness.
CREATE TABLE IF NOT EXISTS fairness (
    queue TEXT NOT NULL,
    key   TEXT NOT NULL,
    pass  REAL NOT NULL,
    PRIMARY KEY (queue, key)
) WITHOUT ROWID;

-- Unique keys (rota.core.dedup): the task that holds each, and how it holds it.
CREATE TABLE IF NOT EXISTS uniques (
    key           TEXT PRIMARY KEY,  -- queue, tenant and the caller's key
    task_id       TEXT NOT NULL,
    while_running INTEGER NOT NULL,
    held_until    INTEGER            -- held at least until then, in any state
) WITHOUT ROWID;

-- Rate limits (rota.core.admission): each limited queue's token bucket.
CREATE TABLE IF NOT EXISTS rate_buckets (
    queue      TEXT PRIMARY KEY,
    tokens     REAL NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
