DROP VIEW rota_history;
DROP INDEX rota_tasks_dead;
CREATE INDEX rota_tasks_by_state ON rota_tasks (state, seq);
-- Attempts claimed under 0003 and still running (or succeeded) get their claim event back.
INSERT INTO rota_events (task_id, at, kind, from_state, to_state, worker_id)
SELECT id, started_at, 'claimed', 'queued', 'running', worker_id FROM rota_tasks
WHERE claim_seq IS NOT NULL AND state IN ('running', 'succeeded');
INSERT INTO rota_events (task_id, at, kind, from_state, to_state, worker_id)
SELECT id, finished_at, 'succeeded', 'running', 'succeeded', worker_id FROM rota_tasks
WHERE claim_seq IS NOT NULL AND state = 'succeeded';
ALTER TABLE rota_tasks DROP COLUMN claim_seq;
ALTER TABLE rota_tasks ALTER COLUMN id TYPE TEXT COLLATE "default";
ALTER TABLE rota_tasks ALTER COLUMN queue TYPE TEXT COLLATE "default";
ALTER TABLE rota_events ALTER COLUMN task_id TYPE TEXT COLLATE "default";
