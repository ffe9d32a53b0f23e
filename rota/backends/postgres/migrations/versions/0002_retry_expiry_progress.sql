-- 0002: per-task retry policy, expiry of tasks never started, progress of a running attempt.
ALTER TABLE rota_tasks ADD COLUMN retry JSONB;
ALTER TABLE rota_tasks ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE rota_tasks ADD COLUMN progress JSONB;
CREATE INDEX rota_tasks_expiring ON rota_tasks (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('queued', 'scheduled');
