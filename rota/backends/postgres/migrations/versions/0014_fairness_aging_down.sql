DROP TABLE rota_fairness;
DROP INDEX rota_tasks_ready_by_queue;
CREATE INDEX rota_tasks_ready_by_queue
    ON rota_tasks (hashtextextended(queue, 0), priority DESC, seq) WHERE state = 'queued';
ALTER TABLE rota_tasks DROP COLUMN place;
