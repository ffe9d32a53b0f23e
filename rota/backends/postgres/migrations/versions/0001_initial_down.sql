DROP TABLE rota_jobs;
DROP TABLE rota_events;
DROP TABLE rota_tasks;
DROP SEQUENCE rota_task_seq;
