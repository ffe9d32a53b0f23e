DROP INDEX rota_tasks_seq;
CREATE UNIQUE INDEX rota_tasks_seq ON rota_tasks (seq);
ALTER SEQUENCE rota_task_seq INCREMENT BY 1;
