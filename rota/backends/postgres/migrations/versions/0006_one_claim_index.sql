-- Every enqueued row wrote an entry into both claim indexes, and with one queue they hold
-- the same order twice. Dropping the all-queues one takes a sixth off PostgreSQL's work per
-- batched row (8.1 -> 6.8 ms of server CPU per 1,000). Claims across every queue now find
-- the queues with ready rows by a skip scan of rota_tasks_ready_by_queue: one queue is
-- claimed by the same direct scan as before, several by merging their heads (queries.sql,
-- claim_any and claim_merge).
DROP INDEX rota_tasks_ready;
