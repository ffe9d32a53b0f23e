CREATE INDEX rota_tasks_ready ON rota_tasks (priority DESC, seq) WHERE state = 'queued';
