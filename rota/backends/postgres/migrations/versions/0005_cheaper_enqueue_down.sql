ALTER TABLE rota_tasks DROP CONSTRAINT rota_tasks_priority_range;
DROP INDEX rota_tasks_ready_by_queue;
CREATE INDEX rota_tasks_ready_by_queue ON rota_tasks (queue, priority DESC, seq)
    WHERE state = 'queued';
DROP INDEX rota_tasks_seq;
CREATE INDEX rota_tasks_seq ON rota_tasks (seq) WHERE state <> 'running';
