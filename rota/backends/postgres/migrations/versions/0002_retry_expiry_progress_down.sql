DROP INDEX rota_tasks_expiring;
ALTER TABLE rota_tasks DROP COLUMN retry;
ALTER TABLE rota_tasks DROP COLUMN expires_at;
ALTER TABLE rota_tasks DROP COLUMN progress;
