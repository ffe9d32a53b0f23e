-- Each nextval now reserves a block of 1,000 seqs (the next value is 1,000 higher). A batch
-- of up to 1,000 tasks takes one value and numbers its rows from it; a lone insert takes a
-- block for itself. Later blocks are always higher, so seq still orders tasks by enqueue.
ALTER SEQUENCE rota_task_seq INCREMENT BY 1000;
-- A claim changes the state, so it is not a HOT update and writes an entry into every index
-- whose predicate the new row meets. Leaving running rows out of the seq index spares
-- every claim one index write; listings read running rows through rota_tasks_leased.
DROP INDEX rota_tasks_seq;
CREATE INDEX rota_tasks_seq ON rota_tasks (seq) WHERE state <> 'running';
