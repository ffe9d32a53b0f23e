-- Fair places and aging (rota.core.fairness, rota.core.aging). A task's place in line among
-- its priority is its seq unless its queue shares its priority levels fairly between keys;
-- the claim index orders by priority, then place, then seq. Each fairness key's pass per
-- queue (and the queue's clock, key '') lives in rota_fairness.
ALTER TABLE rota_tasks ADD COLUMN place DOUBLE PRECISION NOT NULL DEFAULT 0;
UPDATE rota_tasks SET place = seq;
DROP INDEX rota_tasks_ready_by_queue;
CREATE INDEX rota_tasks_ready_by_queue
    ON rota_tasks (hashtextextended(queue, 0), priority DESC, place, seq) WHERE state = 'queued';
CREATE TABLE rota_fairness (
    queue TEXT COLLATE "C" NOT NULL,
    key   TEXT COLLATE "C" NOT NULL,
    pass  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (queue, key)
);
