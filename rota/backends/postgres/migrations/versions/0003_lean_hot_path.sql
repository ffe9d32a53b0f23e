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
