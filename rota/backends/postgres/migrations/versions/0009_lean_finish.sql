-- A success reported by the worker holding the lease leaves finished_by NULL (writing
-- 'worker:<id>' into every finished row cost the PostgreSQL drain 6 to 7 percent); the history
-- reads the actor back from the row's worker.
UPDATE rota_tasks SET finished_by = NULL WHERE finished_by = 'worker:' || worker_id;
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
       coalesce(t.finished_by, 'worker:' || t.worker_id)
FROM rota_tasks AS t WHERE t.claim_seq IS NOT NULL AND t.state = 'succeeded';
