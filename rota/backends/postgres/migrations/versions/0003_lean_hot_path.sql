-- 0003: a leaner hot path.
-- The claim of the running attempt is no longer stored as an event row: the task row holds
-- it (started_at, worker_id) and claim_seq keeps its place in the history. It is stored when
-- the attempt ends any way but success; a success is read back from the row as well.
ALTER TABLE rota_tasks ADD COLUMN claim_seq BIGINT;
-- Listing by state walks rota_tasks_seq; only the dead-letter states are rare enough to need
-- an index of their own (the others have their partial indexes or are the common case).
DROP INDEX rota_tasks_by_state;
CREATE INDEX rota_tasks_dead ON rota_tasks (seq) WHERE state IN ('failed', 'canceled');
-- Ids and queue names compare byte by byte ("C"): every index insert and lookup on them is
-- a memcmp instead of a locale-aware comparison. Names are ASCII by validation.
ALTER TABLE rota_tasks ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE rota_tasks ALTER COLUMN queue TYPE TEXT COLLATE "C";
ALTER TABLE rota_events ALTER COLUMN task_id TYPE TEXT COLLATE "C";
-- The whole history of every task: stored events, and the ones read from the task row
-- (its enqueue; the claim of its running or succeeded attempt, and that success).
CREATE VIEW rota_history AS
SELECT id AS task_id, created_at AS at, 'enqueued' AS kind, NULL::text AS from_state,
       enqueued_state AS to_state, NULL::text AS worker_id, NULL::text AS message,
       0::bigint AS seq
FROM rota_tasks
UNION ALL
SELECT task_id, at, kind, from_state, to_state, worker_id, message, seq FROM rota_events
UNION ALL
SELECT id, started_at, 'claimed', 'queued', 'running', worker_id, NULL, claim_seq
FROM rota_tasks WHERE claim_seq IS NOT NULL AND state IN ('running', 'succeeded')
UNION ALL
SELECT t.id, t.finished_at, 'succeeded', 'running', 'succeeded', t.worker_id, NULL,
       greatest(t.claim_seq, (SELECT max(e.seq) FROM rota_events AS e WHERE e.task_id = t.id)) + 1
FROM rota_tasks AS t WHERE t.claim_seq IS NOT NULL AND t.state = 'succeeded';
