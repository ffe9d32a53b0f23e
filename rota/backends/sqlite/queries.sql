-- Named queries of the SQLite backend. Each starts with "-- name: NAME".
-- TASK_COLUMNS is replaced by the column list the row decoder expects.

-- name: max_seq
SELECT coalesce(max(seq), 0) FROM tasks;

-- name: insert_task
INSERT INTO tasks (seq, id, queue, kind, payload, priority, state, enqueued_state, attempt,
                   max_attempts, timeout, tenant, job_id, run_at, created_at, retry, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_event
INSERT INTO events (task_id, at, kind, from_state, to_state, worker_id, message)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: insert_job
INSERT INTO jobs (id, name, tenant, created_at) VALUES (?, ?, ?, ?);

-- name: existing_ids
SELECT id FROM tasks WHERE id IN (SELECT value FROM json_each(?));

-- name: get_task
SELECT TASK_COLUMNS FROM tasks WHERE id = ?;

-- name: promote_due
UPDATE tasks SET state = 'queued'
WHERE state = 'scheduled' AND run_at <= ?
RETURNING id;

-- name: claim_any
UPDATE tasks
SET state = 'running', attempt = attempt + 1, lease_token = lease_token + 1,
    lease_expires_at = CASE WHEN timeout IS NULL THEN :lease
        ELSE min(:lease, :now + CAST(round((timeout + :grace) * 1000000) AS INTEGER)) END,
    worker_id = :worker, started_at = :now, progress = NULL
WHERE seq IN (
    SELECT seq FROM tasks
    WHERE state = 'queued' AND (expires_at IS NULL OR expires_at > :now)
    ORDER BY priority DESC, seq LIMIT :limit)
RETURNING TASK_COLUMNS;

-- name: claim_queues
UPDATE tasks
SET state = 'running', attempt = attempt + 1, lease_token = lease_token + 1,
    lease_expires_at = CASE WHEN timeout IS NULL THEN :lease
        ELSE min(:lease, :now + CAST(round((timeout + :grace) * 1000000) AS INTEGER)) END,
    worker_id = :worker, started_at = :now, progress = NULL
WHERE seq IN (
    SELECT seq FROM tasks
    WHERE state = 'queued' AND queue IN (SELECT value FROM json_each(:queues))
      AND (expires_at IS NULL OR expires_at > :now)
    ORDER BY priority DESC, seq LIMIT :limit)
RETURNING TASK_COLUMNS;

-- name: heartbeat
UPDATE tasks
SET lease_expires_at = CASE WHEN timeout IS NULL THEN :lease
        ELSE min(:lease, started_at + CAST(round((timeout + :grace) * 1000000) AS INTEGER)) END,
    progress = coalesce(:progress, progress)
WHERE id = :id AND state = 'running' AND lease_token = :token
RETURNING TASK_COLUMNS;

-- name: finish
UPDATE tasks
SET state = ?, result = ?, error = ?, run_at = coalesce(?, run_at), finished_at = ?,
    lease_expires_at = NULL, cancel_requested = 0, attempt = coalesce(?, attempt)
WHERE id = ? AND state = 'running' AND lease_token = ?
  AND (? IS NULL OR lease_expires_at < ?)
RETURNING worker_id;

-- name: cancel_waiting
UPDATE tasks SET state = 'canceled', finished_at = ?
WHERE id = ? AND state IN ('queued', 'scheduled')
RETURNING TASK_COLUMNS;

-- name: cancel_running
UPDATE tasks SET cancel_requested = 1
WHERE id = ? AND state = 'running'
RETURNING TASK_COLUMNS;

-- name: set_priority
UPDATE tasks SET priority = ?, seq = coalesce(?, seq)
WHERE id = ? AND state IN ('queued', 'scheduled')
RETURNING TASK_COLUMNS;

-- name: requeue
UPDATE tasks
SET state = 'queued', attempt = 0, run_at = ?, finished_at = NULL, error = NULL,
    result = NULL, cancel_requested = 0, seq = ?
WHERE id = ? AND state IN ('failed', 'canceled')
RETURNING TASK_COLUMNS;

-- name: list_expiring
SELECT id, state FROM tasks
WHERE state IN ('queued', 'scheduled') AND expires_at IS NOT NULL AND expires_at <= ?
LIMIT ?;

-- name: cancel_expired
UPDATE tasks SET state = 'canceled', finished_at = ?, error = 'expired: not started in time'
WHERE id = ? AND state IN ('queued', 'scheduled');

-- name: delete_tasks
DELETE FROM tasks WHERE id IN (SELECT value FROM json_each(?));

-- name: delete_events
DELETE FROM events WHERE task_id IN (SELECT value FROM json_each(?));

-- name: list_expired
SELECT TASK_COLUMNS FROM tasks
WHERE state = 'running' AND lease_expires_at < ?
ORDER BY lease_expires_at, seq LIMIT ?;

-- name: position
SELECT
    (SELECT count(*) FROM tasks
      WHERE state = 'queued' AND queue = t.queue AND priority = t.priority AND seq < t.seq) + 1,
    (SELECT count(*) FROM tasks
      WHERE state = 'queued' AND queue = t.queue
        AND (priority > t.priority OR (priority = t.priority AND seq < t.seq))) + 1
FROM tasks AS t WHERE t.id = ? AND t.state = 'queued';

-- name: count
SELECT queue, state, priority, count(*) FROM tasks
GROUP BY queue, state, priority ORDER BY queue, state, priority;

-- name: next_run_at
SELECT min(run_at) FROM tasks WHERE state = 'scheduled';

-- name: list_events
-- The "enqueued" event is not stored as a row (it would double the cost of an enqueue):
-- it is derived from the task row, which holds the same facts.
SELECT id, created_at, 'enqueued', NULL, enqueued_state, NULL, NULL, 0
FROM tasks WHERE id = :id
UNION ALL
SELECT task_id, at, kind, from_state, to_state, worker_id, message, seq
FROM events WHERE task_id = :id
ORDER BY 8;

-- name: get_job
SELECT id, name, created_at, tenant FROM jobs WHERE id = ?;

-- name: count_job
SELECT state, count(*) FROM tasks WHERE job_id = ? GROUP BY state;
