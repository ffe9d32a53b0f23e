-- Who made each change (worker:<id>, system, or the API caller). A success stores no event
-- row, so the task row keeps who finished it.
ALTER TABLE rota_events ADD COLUMN actor TEXT;
ALTER TABLE rota_tasks ADD COLUMN finished_by TEXT;

-- The timeout sweeper reads running tasks that have a timeout (the lease no longer carries
-- the timeout: the service decides it).
CREATE INDEX rota_tasks_timed ON rota_tasks (started_at)
    WHERE state = 'running' AND timeout IS NOT NULL;

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

DROP VIEW rota_history;
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
       t.finished_by
FROM rota_tasks AS t WHERE t.claim_seq IS NOT NULL AND t.state = 'succeeded';
