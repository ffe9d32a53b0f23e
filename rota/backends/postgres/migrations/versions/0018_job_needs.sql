-- Jobs with dependencies: each task id of the job -> the ids of its tasks it waits for.
ALTER TABLE rota_jobs ADD COLUMN needs JSONB;
