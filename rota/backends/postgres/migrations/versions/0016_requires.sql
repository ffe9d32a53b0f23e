-- Routing: the capabilities a worker needs to claim a task (sorted), NULL for none.
ALTER TABLE rota_tasks ADD COLUMN requires TEXT[];
