-- Named queries of the SQLite backend. Each starts with "-- name: NAME".
-- TASK_COLUMNS is replaced by the column list the row decoder expects.

-- name: max_seq
SELECT coalesce(max(seq), 0) FROM tasks;

-- name: insert_task
INSERT INTO tasks (seq, id, queue, kind, payload, priority, state, enqueued_state, attempt,
                   max_attempts, timeout, tenant, job_id, run_at, created_at, retry, expires_at,
                   place, requires, trace)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_event
INSERT INTO events (task_id, at, kind, from_state, to_state, worker_id, message, actor)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_job
INSERT INTO jobs (id, name, tenant, created_at, needs) VALUES (?, ?, ?, ?, ?);

-- name: existing_ids
SELECT id FROM tasks WHERE id IN (SELECT value FROM json_each(?));

-- name: get_task
SELECT TASK_COLUMNS FROM tasks WHERE id = ?;

-- name: list_canceling
SELECT id, lease_token FROM tasks
WHERE id IN (SELECT value FROM json_each(?)) AND state = 'running' AND cancel_requested = 1;

-- name: promote_due
-- INDEXED BY here and in the claims below: with no statistics, SQLite's planner takes the
-- equality on state in tasks_by_state (state, seq) over a partial index, and read every
-- scheduled row (here) or sorted every ready row (a claim) each time: a claim of 64 out of
-- 30,000 ready tasks cost a sort of all 30,000. tests/sqlite/test_plans.py checks each plan.
UPDATE tasks INDEXED BY tasks_scheduled SET state = 'queued'
WHERE state = 'scheduled' AND run_at <= ?
RETURNING id;

-- name: promote_due_limited
UPDATE tasks SET state = 'queued'
WHERE seq IN (SELECT seq FROM tasks INDEXED BY tasks_scheduled
              WHERE state = 'scheduled' AND run_at <= ?
              ORDER BY run_at, seq LIMIT ?)
RETURNING id;

-- name: claim_any
-- TENANT_OPEN (in both claims) is written in by the backend: nothing, or, while some
-- tenant's scheduling is disabled, a filter that steps over that tenant's rows on the walk
-- down the claim index. CAN_RUN likewise: the rows whose requires the worker's
-- capabilities cover (none: the rows that require nothing).
UPDATE tasks
SET state = 'running', attempt = attempt + 1, lease_token = ((lease_token >> 32) + 1) << 32 | :salt,
    lease_expires_at = :lease, worker_id = :worker, started_at = :now, progress = NULL
WHERE seq IN (
    SELECT seq FROM tasks INDEXED BY tasks_ready
    WHERE state = 'queued' AND (expires_at IS NULL OR expires_at > :now) TENANT_OPEN CAN_RUN
    ORDER BY priority DESC, place, seq LIMIT :limit)
RETURNING TASK_COLUMNS;

-- name: claim_queues
-- READY_INDEX and QUEUE_MATCH are written in by the backend: for one queue, its own index
-- walked in order (tasks_ready_by_queue, queue = :queue); for several, the ready index
-- walked in order, stepping over other queues' rows (a queue list matched through the
-- per-queue index would need every matching row sorted).
UPDATE tasks
SET state = 'running', attempt = attempt + 1, lease_token = ((lease_token >> 32) + 1) << 32 | :salt,
    lease_expires_at = :lease, worker_id = :worker, started_at = :now, progress = NULL
WHERE seq IN (
    SELECT seq FROM tasks INDEXED BY READY_INDEX
    WHERE state = 'queued' AND QUEUE_MATCH
      AND (expires_at IS NULL OR expires_at > :now) TENANT_OPEN CAN_RUN
    ORDER BY priority DESC, place, seq LIMIT :limit)
RETURNING TASK_COLUMNS;

-- name: claim_given
-- A claim of given tasks (:ids, a JSON list; :queues, a JSON list, or NULL for every queue):
-- each of them that is ready by the same rules as claim_any's, found by id.
UPDATE tasks
SET state = 'running', attempt = attempt + 1, lease_token = ((lease_token >> 32) + 1) << 32 | :salt,
    lease_expires_at = :lease, worker_id = :worker, started_at = :now, progress = NULL
WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'queued'
  AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
  AND (expires_at IS NULL OR expires_at > :now) TENANT_OPEN CAN_RUN
RETURNING TASK_COLUMNS;

-- name: PICK_AFTER
-- A limited claim's next window starts after the last candidate it read (:p, :pl, :s; the
-- first with :p NULL), leaving out the queues already out of room (:full, a JSON list).
(expires_at IS NULL OR expires_at > :now) TENANT_OPEN CAN_RUN
  AND queue NOT IN (SELECT value FROM json_each(:full))
  AND (:p IS NULL OR priority < :p OR (priority = :p AND place > :pl)
       OR (priority = :p AND place = :pl AND seq > :s))
ORDER BY priority DESC, place, seq LIMIT :window

-- name: pick_any
-- A claim with global limits first reads its candidates in order (rota.core.admission
-- decides which of them start), a window at a time; then claim_seqs takes the chosen.
SELECT seq, queue, tenant, priority, place FROM tasks INDEXED BY tasks_ready
WHERE state = 'queued' AND PICK_AFTER;

-- name: pick_queues
SELECT seq, queue, tenant, priority, place FROM tasks INDEXED BY READY_INDEX
WHERE state = 'queued' AND QUEUE_MATCH AND PICK_AFTER;

-- name: claim_seqs
UPDATE tasks
SET state = 'running', attempt = attempt + 1, lease_token = ((lease_token >> 32) + 1) << 32 | :salt,
    lease_expires_at = :lease, worker_id = :worker, started_at = :now, progress = NULL
WHERE seq IN (SELECT value FROM json_each(:seqs)) AND state = 'queued'
RETURNING TASK_COLUMNS;

-- name: running_by_queue
SELECT queue, tenant, count(*) FROM tasks
WHERE state = 'running' AND queue IN (SELECT value FROM json_each(?))
GROUP BY queue, tenant;

-- name: get_buckets
SELECT queue, tokens, updated_at FROM rate_buckets
WHERE queue IN (SELECT value FROM json_each(?));

-- name: put_bucket
INSERT INTO rate_buckets (queue, tokens, updated_at) VALUES (?, ?, ?)
ON CONFLICT (queue) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at;

-- name: heartbeat
UPDATE tasks
SET lease_expires_at = :lease, progress = coalesce(:progress, progress)
WHERE id = :id AND state = 'running' AND lease_token = :token
RETURNING TASK_COLUMNS;

-- name: finish
UPDATE tasks
SET state = ?, result = ?, error = ?, run_at = coalesce(?, run_at), finished_at = ?,
    lease_expires_at = NULL, cancel_requested = 0, attempt = coalesce(?, attempt)
WHERE id = ? AND state = 'running' AND lease_token = ?
  AND (? IS NULL OR lease_expires_at < ?) AND (? IS NULL OR worker_id = ?)
RETURNING worker_id;

-- name: cancel
UPDATE tasks SET state = 'canceled', finished_at = ?
WHERE id = ? AND state = ?
RETURNING TASK_COLUMNS;

-- name: cancel_request
UPDATE tasks SET cancel_requested = 1
WHERE id = ? AND state = 'running' AND lease_token = ?
RETURNING TASK_COLUMNS;

-- name: get_uniques
-- Stored unique keys and their holders (no task row when the holder is gone).
SELECT key, task_id, while_running, held_until, TASK_COLUMNS
FROM uniques LEFT JOIN tasks ON tasks.id = uniques.task_id
WHERE key IN (SELECT value FROM json_each(?));

-- name: put_unique
INSERT INTO uniques (key, task_id, while_running, held_until) VALUES (?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET task_id = excluded.task_id,
    while_running = excluded.while_running, held_until = excluded.held_until;

-- name: set_payload
UPDATE tasks SET payload = ? WHERE id = ? AND state = ?
RETURNING TASK_COLUMNS;

-- name: set_priority
UPDATE tasks SET priority = ?, seq = coalesce(?, seq), place = coalesce(?, place)
WHERE id = ? AND state = ?
RETURNING TASK_COLUMNS;

-- name: move
UPDATE tasks SET run_at = ?, state = ?
WHERE id = ? AND state = ?
RETURNING TASK_COLUMNS;

-- name: requeue
UPDATE tasks
SET state = 'queued', attempt = 0, run_at = ?, finished_at = NULL, error = NULL,
    result = NULL, cancel_requested = 0, seq = ?, place = ?
WHERE id = ? AND state = ?
RETURNING TASK_COLUMNS;

-- name: list_expiring
SELECT id, state FROM tasks INDEXED BY tasks_expiring
WHERE state IN WAITING_STATES AND expires_at IS NOT NULL AND expires_at <= ?
LIMIT ?;

-- name: cancel_expired
UPDATE tasks SET state = 'canceled', finished_at = ?, error = ?
WHERE id = ? AND state IN WAITING_STATES;

-- name: delete_tasks
-- Only finished tasks: one that a retry put back meanwhile stays.
DELETE FROM tasks WHERE id IN (SELECT value FROM json_each(?)) AND state IN FINAL_STATES
RETURNING id;

-- name: delete_events
DELETE FROM events WHERE task_id IN (SELECT value FROM json_each(?));

-- name: list_final
SELECT TASK_COLUMNS FROM tasks WHERE state = ? AND seq > ? ORDER BY seq LIMIT ?;

-- name: list_lapsed
SELECT TASK_COLUMNS FROM tasks
WHERE state = 'running' AND lease_expires_at < ?
ORDER BY lease_expires_at, seq LIMIT ?;

-- name: list_timed
SELECT TASK_COLUMNS FROM tasks
WHERE state = 'running' AND timeout IS NOT NULL
ORDER BY started_at, seq LIMIT ?;

-- name: position
SELECT
    (SELECT count(*) FROM tasks
      WHERE state = 'queued' AND queue = t.queue AND priority = t.priority
        AND (place < t.place OR (place = t.place AND seq < t.seq))) + 1,
    (SELECT count(*) FROM tasks
      WHERE state = 'queued' AND queue = t.queue
        AND (priority > t.priority OR (priority = t.priority
             AND (place < t.place OR (place = t.place AND seq < t.seq))))) + 1
FROM tasks AS t WHERE t.id = ? AND t.state = 'queued';

-- name: count
SELECT queue, state, priority, count(*) FROM tasks
WHERE :tenant IS NULL OR tenant = :tenant
GROUP BY queue, state, priority ORDER BY queue, state, priority;

-- name: count_active
-- The metrics' depth: the active states only, through tasks_by_state (state, seq), so a
-- scrape never reads the finished rows kept for retention.
SELECT queue, state, priority, count(*) FROM tasks
WHERE state IN ('queued', 'scheduled', 'running')
GROUP BY queue, state, priority ORDER BY queue, state, priority;

-- name: count_requiring
SELECT queue, requires, count(*) FROM tasks
WHERE requires IS NOT NULL AND state IN ('queued', 'scheduled')
GROUP BY queue, requires ORDER BY queue, requires;

-- name: list_blocked
-- Tasks that wait for dependencies (their run_at is rota.core.models.BLOCKED_AT).
SELECT TASK_COLUMNS FROM tasks WHERE state = 'scheduled' AND run_at >= ?
ORDER BY seq LIMIT ?;

-- name: count_waiting
-- A queue's waiting tasks (its max_size check, on every enqueue into it): its queued rows
-- through its own ready index, not every waiting row of every queue through tasks_by_state.
SELECT (SELECT count(*) FROM tasks INDEXED BY tasks_ready_by_queue
        WHERE state = 'queued' AND queue = :queue)
     + (SELECT count(*) FROM tasks WHERE state = 'scheduled' AND queue = :queue);

-- name: age
-- One aging step (rota.core.aging): each waiting ready task below the cap gains a point.
UPDATE tasks SET priority = priority + 1
WHERE queue = ? AND state = 'queued' AND priority < ? AND run_at <= ?;

-- name: fair_head
-- The place of the queue's ready head: the floor a lagging fairness key rises to.
SELECT place FROM tasks WHERE state = 'queued' AND queue = ?
ORDER BY priority DESC, place, seq LIMIT 1;

-- name: fair_passes
-- The passes of the batch's keys and the queue's clock (key '').
SELECT key, pass FROM fairness WHERE queue = ? AND key IN (SELECT value FROM json_each(?));

-- name: fair_put
INSERT INTO fairness (queue, key, pass) VALUES (?, ?, ?)
ON CONFLICT (queue, key) DO UPDATE SET pass = excluded.pass;

-- name: next_run_at
SELECT min(run_at) FROM tasks INDEXED BY tasks_scheduled WHERE state = 'scheduled';

-- name: list_events
-- The "enqueued" event is not stored as a row (it would double the cost of an enqueue):
-- it is derived from the task row, which holds the same facts.
SELECT id, created_at, 'enqueued', NULL, enqueued_state, NULL, NULL, 0, NULL
FROM tasks WHERE id = :id
UNION ALL
SELECT task_id, at, kind, from_state, to_state, worker_id, message, seq, actor
FROM events WHERE task_id = :id
ORDER BY 8;

-- name: get_job
SELECT id, name, created_at, tenant, needs FROM jobs WHERE id = ?;

-- name: count_job
SELECT state, count(*) FROM tasks WHERE job_id = ? GROUP BY state;

-- name: upsert_worker
INSERT INTO workers (id, name, host, queues, capabilities, concurrency, version,
                     started_at, last_seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name, host = excluded.host, queues = excluded.queues,
    capabilities = excluded.capabilities, concurrency = excluded.concurrency,
    version = excluded.version, started_at = excluded.started_at,
    last_seen_at = excluded.last_seen_at;

-- name: touch_workers
UPDATE workers SET last_seen_at = ? WHERE id IN (SELECT value FROM json_each(?));

-- name: list_workers
SELECT id, name, host, queues, capabilities, concurrency, version, started_at, last_seen_at
FROM workers ORDER BY started_at, id;

-- name: delete_silent_workers
DELETE FROM workers WHERE last_seen_at < ?;

-- name: insert_token
INSERT INTO tokens (name, digest, role, tenant, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING;

-- name: get_token
SELECT TOKEN_COLUMNS FROM tokens WHERE digest = ?;

-- name: list_tokens
SELECT TOKEN_COLUMNS FROM tokens ORDER BY created_at, name;

-- name: revoke_token
UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL;

-- name: touch_token
UPDATE tokens SET last_used_at = ? WHERE name = ?;

-- name: list_controls
SELECT key, value FROM controls;

-- name: upsert_control
INSERT INTO controls (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: delete_control
DELETE FROM controls WHERE key = ?;

-- name: insert_audit
INSERT INTO audit (at, actor, action, target, reason, detail) VALUES (?, ?, ?, ?, ?, ?);

-- name: list_audit
SELECT seq, at, actor, action, target, reason, detail FROM audit
WHERE (:before IS NULL OR seq < :before)
  AND (:action IS NULL OR action = :action)
  AND (:actor IS NULL OR actor = :actor)
ORDER BY seq DESC
LIMIT :limit;

-- name: insert_schedule
INSERT INTO schedules (SCHEDULE_COLUMNS) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING;

-- name: update_schedule
UPDATE OR IGNORE schedules SET name = ?, definition = ?, enabled = ?, next_run_at = ?,
    last_run_at = ?, last_task_id = ?, version = ?, updated_at = ?
WHERE id = ? AND version = ?;

-- name: get_schedule
SELECT SCHEDULE_COLUMNS FROM schedules WHERE id = ?;

-- name: list_schedules
SELECT SCHEDULE_COLUMNS FROM schedules ORDER BY name;

-- name: due_schedules
SELECT SCHEDULE_COLUMNS FROM schedules
WHERE enabled = 1 AND next_run_at IS NOT NULL AND next_run_at <= ?
ORDER BY next_run_at, id LIMIT ?;

-- name: delete_schedule
DELETE FROM schedules WHERE id = ?;
