-- The W3C traceparent of the submit that made the task (rota.tracing), continued by its run.
ALTER TABLE rota_tasks ADD COLUMN trace TEXT;
