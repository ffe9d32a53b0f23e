ALTER TABLE rota_tasks DROP COLUMN trace;
