-- Named queries of the PostgreSQL backend, each after its own "name:" comment line (see
-- queries.py). TASK_COLUMNS is replaced by the column list in the order of
-- rota.core.models.Task. An upper-case name is a fragment: later queries that mention it
-- get its text.

-- name: TASK_ROWS
-- A fragment: the rows of a small batch (its arrays, numbered within the block of seqs the
-- CTE `block` drew) going in; a task's place is its fair place (`block.fair`, NULL for a
-- plain batch), else the one it was given (a rank), else its seq.
input AS (
    SELECT * FROM unnest(
        %(ids)s::text[], %(queues)s::text[], %(kinds)s::text[], %(payloads)s::text[],
        %(priorities)s::int[], %(states)s::text[], %(max_attempts)s::int[],
        %(timeouts)s::float8[], %(tenants)s::text[], %(job_ids)s::text[],
        %(run_ats)s::timestamptz[], %(created_ats)s::timestamptz[], %(retries)s::text[],
        %(expires)s::timestamptz[], %(places)s::float8[], %(requires)s::text[],
        %(traces)s::text[]
    ) WITH ORDINALITY AS i(id, queue, kind, payload, priority, state, max_attempts, timeout,
                          tenant, job_id, run_at, created_at, retry, expires_at, place,
                          requires, trace, n)
)
INSERT INTO rota_tasks (id, seq, queue, kind, payload, priority, state, enqueued_state,
                        max_attempts, timeout, tenant, job_id, run_at, created_at, retry,
                        expires_at, place, requires, trace)
SELECT id, block.first + n - 1, queue, kind, payload::jsonb, priority, state, state,
       max_attempts, timeout, tenant, job_id, run_at, created_at, retry::jsonb, expires_at,
       coalesce(block.fair[n::int], place, block.first + n - 1), requires::text[], trace
FROM input, block ORDER BY n

-- name: ONE_ROW
-- A fragment: one task going in, its seq (and its fair place, or NULL) from the CTE `s`;
-- its place is the fair one, else the one it was given (a rank), else its seq.
INSERT INTO rota_tasks (id, seq, queue, kind, payload, priority, state, enqueued_state,
                        max_attempts, timeout, tenant, job_id, run_at, created_at, retry,
                        expires_at, place, requires, trace)
SELECT %(id)s, s.seq, %(queue)s, %(kind)s, %(payload)s::jsonb, %(priority)s, %(state)s,
       %(state)s, %(max_attempts)s, %(timeout)s, %(tenant)s, %(job_id)s, %(run_at)s,
       %(created_at)s, %(retry)s::jsonb, %(expires_at)s,
       coalesce(s.place, %(place)s::float8, s.seq), %(requires)s::text[], %(trace)s
FROM s
RETURNING seq, place

-- name: insert_tasks
-- Small batches: one statement (and so one round trip and one transaction); the rows are
-- numbered within one block of seqs. Every insert's NOTIFY comes from the table's statement
-- trigger (rota_wake_claimers, migration 0007).
WITH block AS (
    SELECT nextval('rota_task_seq') AS first, NULL::float8[] AS fair
), TASK_ROWS
RETURNING id, seq;

-- name: insert_one
-- One task: plain values (no arrays to build and unpack), one round trip. Without
-- fairness its place is its seq, drawn once for both.
WITH s AS (SELECT nextval('rota_task_seq') AS seq, NULL::float8 AS place)
ONE_ROW;

-- name: insert_one_fair
-- One task of a fair queue, in one statement: rota_fair_places (migration 0021) takes the
-- queue's fairness lock, reads and moves the passes and gives the place, once, before the
-- row goes in; the lock holds until the statement commits.
WITH s AS (
    SELECT nextval('rota_task_seq') AS seq,
           (rota_fair_places(ARRAY[%(queue)s::text], ARRAY[%(key)s::text],
                             ARRAY[%(stride)s::float8]))[1] AS place
)
ONE_ROW;

-- name: insert_claim_quiet
-- First in a transaction that inserts a task with a claim behind it (Claims.after_insert):
-- the insert trigger stays silent until the commit (migration 0023); wake_unclaimed, after
-- the claim, announces the task only when the claim left it queued.
SELECT set_config('rota.insert_claim', 'on', true);

-- name: wake_unclaimed
-- Last in that transaction: the announcement the trigger held back (naming the task's
-- queue, as the trigger does), sent only when the claim left the task queued. Otherwise
-- no other claimer anywhere is woken for nothing.
SELECT pg_notify(%(channel)s, 'q ' || queue) FROM rota_tasks
WHERE id = %(id)s AND state = 'queued';

-- name: insert_tasks_fair
-- insert_tasks for a small batch with fair tasks: their places from rota_fair_places,
-- called once before any row goes in (NULL keys: tasks of queues without fairness).
WITH block AS (
    SELECT nextval('rota_task_seq') AS first,
           rota_fair_places(%(queues)s::text[], %(keys)s::text[], %(strides)s::float8[])
               AS fair
), TASK_ROWS
RETURNING id, seq, place;

-- name: seq_block
-- The first seq of a block of SEQ_BLOCK for a batch.
SELECT nextval('rota_task_seq');

-- name: copy_tasks
-- Text format on purpose, and the columns a batch shares last: see copyrows.py.
COPY rota_tasks (id, seq, payload, priority, place, queue, kind, state, enqueued_state,
                 max_attempts, timeout, tenant, job_id, run_at, created_at, retry, expires_at,
                 requires, trace)
FROM STDIN;

-- name: insert_job
INSERT INTO rota_jobs (id, name, tenant, created_at, needs) VALUES (%s, %s, %s, %s, %s);

-- name: existing_ids
SELECT id FROM rota_tasks WHERE id = ANY(%s);

-- name: get_task
SELECT TASK_COLUMNS FROM rota_tasks WHERE id = %s;

-- name: promote_due
-- Answers when the next promotion is due: the earliest run_at of the scheduled rows it
-- did not move (one it skipped, locked or past its limit, may be due already).
WITH due AS (
    SELECT id FROM rota_tasks
    WHERE state = 'scheduled' AND run_at <= %(now)s
    ORDER BY run_at LIMIT 1000
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE rota_tasks AS t SET state = 'queued'
    WHERE t.id = ANY(ARRAY(SELECT id FROM due)) RETURNING t.id
), logged AS (
    INSERT INTO rota_events (task_id, at, kind, from_state, to_state, actor)
    SELECT id, %(now)s, 'promoted', 'scheduled', 'queued', 'system' FROM moved
)
SELECT min(run_at) FROM rota_tasks
WHERE state = 'scheduled' AND id NOT IN (SELECT id FROM moved);  -- a hashed subplan

-- name: promote_due_limited
-- The promotion leader service's round (claims promote on their own way: promote_due).
WITH due AS (
    SELECT id FROM rota_tasks
    WHERE state = 'scheduled' AND run_at <= %(now)s
    ORDER BY run_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE rota_tasks AS t SET state = 'queued'
    WHERE t.id = ANY(ARRAY(SELECT id FROM due)) RETURNING t.id
), logged AS (
    INSERT INTO rota_events (task_id, at, kind, from_state, to_state, actor)
    SELECT id, %(now)s, 'promoted', 'scheduled', 'queued', 'system' FROM moved
)
SELECT count(*) FROM moved;

-- name: CLAIM_PICKED
-- A fragment, not a query: the lease both claims give the rows they picked. The rows are
-- found again by ctid (a TID scan), not by id through the primary key: about 500 buffer
-- visits fewer per 100 rows. Safe because the picked rows stay locked until the statement
-- ends, so neither an update nor VACUUM can move them. One difference from an id lookup:
-- a row whose newest version was committed after this statement began (changed and back
-- to queued within the claim, e.g. another worker's claim and hand-back) is not visible
-- to the update and is left queued for the next claim, as SKIP LOCKED leaves a row that
-- another claim holds.
-- A claim does not wait for its commit to be flushed (claim_commit 'off'), unless the
-- deployment asks for durable claims (NULL: the session's own setting; see "Durability" in
-- docs/postgres.md). A server crash can then only put a task claimed just before it back
-- in the queue, as a broker redelivers a message it had handed out. So the lease token is
-- not the old one plus one: after such a crash the next claim would hand out the very
-- token the lost claim did, and the worker still running the lost claim would not be
-- fenced off. The high 32 bits count the claims; the low 32 are the claim's random salt
-- (rota.core.models.next_lease_token), so a lost token comes back with odds of 2^-32.
UPDATE rota_tasks AS t
SET state = 'running', attempt = attempt + 1,
    lease_token = ((lease_token >> 32) + 1) << 32 | %(salt)s::bigint,
    lease_expires_at = %(lease)s, worker_id = %(worker)s, started_at = %(now)s, progress = NULL,
    claim_seq = nextval('rota_events_seq_seq')
WHERE t.ctid = ANY(ARRAY(SELECT ctid FROM picked))
  AND (SELECT set_config('synchronous_commit',
                         coalesce(%(claim_commit)s::text, current_setting('synchronous_commit')),
                         true)) IS NOT NULL
RETURNING TASK_COLUMNS_T;

-- name: LAST_FIRST
-- The claim index read backward, one row: a probe for the last queue (below a bound, if
-- the query gives one) that has ready rows, landing where its newest lowest-priority rows
-- are (live, unlike the claimed rows at its head). The order is the index's, reversed, so
-- the probe is one descent.
ORDER BY hashtextextended(queue, 0) DESC, priority, place DESC, seq DESC LIMIT 1

-- name: READY_QUEUES
-- The hash of every queue that has ready rows, highest first: a skip scan down the claim
-- index, one LAST_FIRST probe per queue.
SELECT h FROM (
    WITH RECURSIVE hashes(h) AS (
        (SELECT hashtextextended(queue, 0) FROM rota_tasks
         WHERE state = 'queued'
         LAST_FIRST)
        UNION ALL
        SELECT (SELECT hashtextextended(queue, 0) FROM rota_tasks
                WHERE state = 'queued' AND hashtextextended(queue, 0) < hashes.h
                LAST_FIRST)
        FROM hashes WHERE hashes.h IS NOT NULL
    )
    SELECT h FROM hashes WHERE h IS NOT NULL
) AS ready_queues

-- name: claim_any
-- Claims across every queue, when one queue alone has ready rows (the usual case): the
-- direct locking scan of claim_queue down that queue's part of the claim index. Two probes
-- find it: the last queue with ready rows, and whether any queue comes before it (a probe
-- that stops at once when there is none; written as a scalar subquery, not EXISTS, which
-- the planner may answer by scanning the table). With several such queues this claims
-- nothing and the backend runs claim_merge. (One statement holding both paths cost about
-- 6 percent more PostgreSQL CPU per claimed task: every node of the unused path is set up
-- on every run.)
-- No event row: the claim lives in the task row (started_at, worker_id), and claim_seq
-- holds its place in the history (see finish_many and list_events).
-- CLAIM_LIMIT is written into the text (a literal, one prepared statement per limit): with
-- a parameter there, PostgreSQL's generic plan guesses a tenth of the table and hash-joins
-- it, so every claim had to be planned afresh. With the literal and the ANY(ARRAY(...))
-- lookup (see CLAIM_PICKED) the cached generic plan is the good one, and claims skip
-- planning. The rows come back in no particular order: the backend sorts them (cheaper
-- than a sort in SQL, which first materializes every returned row).
-- TENANT_OPEN (in every claim) is written in the same way: nothing, or, while some
-- tenant's scheduling is disabled, a filter that steps over that tenant's rows on the
-- walks down the claim index. CAN_RUN likewise: the rows whose requires the worker's
-- capabilities cover (none: the rows that require nothing). ROOMY_GATE, CLAIM_END (here
-- and in claim_queue) and ROOMY_OPEN (MERGED_CLAIM) are nothing, CLAIM_PICKED and
-- nothing, except in a limited claim far from its limits (LIMIT_GATE).
WITH ROOMY_GATE last AS MATERIALIZED (
    SELECT hashtextextended(queue, 0) AS h FROM rota_tasks
    WHERE state = 'queued'
    LAST_FIRST
), picked AS (
    SELECT ctid FROM rota_tasks
    WHERE (SELECT hashtextextended(queue, 0) FROM rota_tasks
           WHERE state = 'queued' AND hashtextextended(queue, 0) < (SELECT h FROM last)
           LAST_FIRST) IS NULL
      AND state = 'queued' AND hashtextextended(queue, 0) = (SELECT h FROM last)
      AND (expires_at IS NULL OR expires_at > %(now)s) TENANT_OPEN CAN_RUN
    ORDER BY priority DESC, place, seq
    LIMIT CLAIM_LIMIT
    FOR UPDATE SKIP LOCKED
)
CLAIM_END;

-- name: MERGED_PICK
-- Claims over several queues (the CTE `q`: each queue's hash h, and its name or NULL for
-- "any name with that hash"). The best CLAIM_LIMIT rows over those queues are read first,
-- without locks (each queue's head from its own walk down the claim index; an IN-list
-- cannot keep the index order and would sort every ready row). Then, in each queue that
-- has some of them, every row that ranks no lower than the worst of them is locked:
-- exactly those rows, as far as this statement's snapshot goes. So no row outside the
-- best is locked, and no other claimer is made to skip a row that this claim will not
-- take; a row claimed by someone else since the snapshot is skipped. Both locking scans
-- are exact ranges of the index (rows of higher priority; rows of the bound's priority up
-- to its place and seq), so none reads past the bound.
top AS MATERIALIZED (
    SELECT x.h, x.name, x.priority, x.place, x.seq FROM q, LATERAL (
        SELECT q.h, q.name, priority, place, seq FROM rota_tasks
        WHERE state = 'queued' AND hashtextextended(queue, 0) = q.h
          AND (q.name IS NULL OR queue = q.name)
          AND (expires_at IS NULL OR expires_at > %(now)s) TENANT_OPEN CAN_RUN
        ORDER BY priority DESC, place, seq
        LIMIT CLAIM_LIMIT
    ) AS x
    ORDER BY x.priority DESC, x.place, x.seq
    LIMIT CLAIM_LIMIT
), bound AS MATERIALIZED (
    SELECT priority, place, seq FROM top ORDER BY priority, place DESC, seq DESC LIMIT 1
), chosen AS (
    SELECT DISTINCT h, name FROM top
), picked AS (
    SELECT above.ctid FROM chosen, bound, LATERAL (
        SELECT ctid FROM rota_tasks
        WHERE state = 'queued' AND hashtextextended(queue, 0) = chosen.h
          AND (chosen.name IS NULL OR queue = chosen.name)
          AND priority > bound.priority
          AND (expires_at IS NULL OR expires_at > %(now)s) TENANT_OPEN CAN_RUN
        ORDER BY priority DESC, place, seq
        FOR UPDATE SKIP LOCKED
    ) AS above
    UNION ALL
    SELECT level.ctid FROM chosen, bound, LATERAL (
        SELECT ctid FROM rota_tasks
        WHERE state = 'queued' AND hashtextextended(queue, 0) = chosen.h
          AND (chosen.name IS NULL OR queue = chosen.name)
          AND priority = bound.priority AND (place, seq) <= (bound.place, bound.seq)
          AND (expires_at IS NULL OR expires_at > %(now)s) TENANT_OPEN CAN_RUN
        ORDER BY place, seq
        FOR UPDATE SKIP LOCKED
    ) AS level
)

-- name: MERGED_CLAIM
-- The end of a merged claim: the claimed rows, each followed by two numbers, and one row
-- of NULLs and the numbers when it claimed nothing. The numbers: the rows the pick chose
-- (so the backend can tell "nothing ready", 0, from "others took what it chose"), and
-- the queues it merged (with only one, claim_any's single statement does the same work),
-- then, far from limits, the gate's answer (ROOMY_OPEN; see LIMIT_GATE).
claimed AS (
    CLAIM_PICKED
)
SELECT claimed.*, best.n, (SELECT count(*) FROM q) ROOMY_OPEN
FROM (SELECT count(*) AS n FROM top) AS best LEFT JOIN claimed ON TRUE

-- name: claim_merge
-- Claims across every queue when several have ready rows (claim_any claimed nothing): the
-- queues come from the skip scan.
WITH ROOMY_GATE q AS (
    SELECT h, NULL::text AS name FROM (READY_QUEUES) AS ready
), MERGED_PICK, MERGED_CLAIM;

-- name: claim_queue
-- One queue (the usual `rota worker --queue NAME`): the same direct, locking scan as
-- claim_any, down that queue's index; `queue = name` guards against hash collisions.
WITH ROOMY_GATE picked AS (
    SELECT ctid FROM rota_tasks
    WHERE state = 'queued' AND hashtextextended(queue, 0) = hashtextextended(%(queue)s, 0)
      AND queue = %(queue)s
      AND (expires_at IS NULL OR expires_at > %(now)s) TENANT_OPEN CAN_RUN
    ORDER BY priority DESC, place, seq
    LIMIT CLAIM_LIMIT
    FOR UPDATE SKIP LOCKED
)
CLAIM_END;

-- name: claim_queues
-- Claims for a list of queues (`rota worker --queue a --queue b`).
WITH ROOMY_GATE q AS (
    SELECT DISTINCT hashtextextended(name, 0) AS h, name
    FROM unnest(%(queues)s::text[]) AS n(name)
), MERGED_PICK, MERGED_CLAIM;

-- name: LIMITED_CLAIM
-- A claim that global limits bound (rota.core.admission), as one statement after the
-- queues' locks (limit_lock): the CTE `q` names the claimed queues as in MERGED_PICK, and
-- the limited ones come as parallel arrays (lq: name, lrun: running_max, ltrun:
-- tenant_running_max, lrate: rate; NULL for no such limit).
-- Each limited queue's room is its limit less what runs, and the whole tokens of its
-- bucket. When every room holds CLAIM_LIMIT more, and so does each tenant limit over all
-- the queue's running tasks (the usual case, far from the limits), nothing can be refused:
-- the claim takes each queue's best CLAIM_LIMIT rows, as claim_queues does (`fast`).
-- Otherwise it reads each queue's best CLAIM_WINDOW rows (its window; like CLAIM_LIMIT, a
-- literal: a parameter there makes PostgreSQL guess a tenth of the table and plan the
-- statement afresh on every claim, a millisecond) and admits as
-- Admission.admit does, walking them in order: a tenant's k-th row fits when k plus the
-- tenant's running tasks stays within its limit (by_tenant); of the rows that fit, a
-- queue's r-th goes when r stays within its room. Rows of a queue without limits all go.
-- (Admission's greedy walk admits exactly these: a row refused for its tenant takes
-- nothing from the queue, and once a queue is out of room no later row of it goes.) The
-- part not taken is never executed: its filter is decided once, before it runs.
-- The chosen rows are leased as every claim leases, and each bucket keeps its tokens less
-- the rows its queue started. When fewer than CLAIM_LIMIT went and some queue whose window
-- was full still has room, the rows past its window might go too: the statement then
-- leases nothing and says so (its last column), and the backend walks on window by window
-- (_claim_walk).
lim AS (
    SELECT * FROM unnest(%(lq)s::text[], %(lrun)s::int[], %(ltrun)s::int[],
                         %(lrate)s::float8[]) AS l(queue, running_max, tenant_max, rate)
), room AS MATERIALIZED (
    SELECT r.*, least(coalesce(r.running_max - r.running, 2147483647),
                      coalesce(floor(r.tokens), 2147483647)) AS n
    FROM (
        SELECT l.queue, l.running_max, l.tenant_max,
               (SELECT count(*) FROM rota_tasks
                WHERE state = 'running' AND queue = l.queue) AS running,
               CASE WHEN l.rate IS NULL THEN NULL
                    WHEN b.queue IS NULL THEN greatest(1.0, l.rate)
                    ELSE least(greatest(1.0, l.rate), b.tokens + l.rate * greatest(
                        extract(epoch FROM %(now)s::timestamptz - b.updated_at)::float8, 0.0))
               END AS tokens,
               greatest(b.updated_at, %(now)s::timestamptz) AS at
        FROM lim AS l LEFT JOIN rota_rate_buckets AS b ON b.queue = l.queue
    ) AS r
), fast AS MATERIALIZED (
    SELECT NOT EXISTS (
        SELECT FROM room WHERE n < CLAIM_LIMIT OR running + CLAIM_LIMIT > tenant_max
    ) AS yes
), cand AS MATERIALIZED (
    SELECT x.* FROM q, LATERAL (
        SELECT q.h, ctid, queue, tenant, priority, place, seq FROM rota_tasks
        WHERE state = 'queued' AND hashtextextended(queue, 0) = q.h
          AND (q.name IS NULL OR queue = q.name)
          AND (expires_at IS NULL OR expires_at > %(now)s) TENANT_OPEN CAN_RUN
        ORDER BY priority DESC, place, seq
        LIMIT CASE WHEN (SELECT yes FROM fast) THEN CLAIM_LIMIT ELSE CLAIM_WINDOW END
    ) AS x
), by_tenant AS (
    -- k: a candidate's place among its tenant's tasks in the queue, counting the running
    -- ones first (a sort of both, not a join: with many tenants the join was the cost)
    SELECT * FROM (
        SELECT c.*, row_number() OVER (PARTITION BY c.queue, c.tenant
                                       ORDER BY c.ctid IS NOT NULL, c.priority DESC,
                                                c.place, c.seq) AS k
        FROM (SELECT h, ctid, queue, tenant, priority, place, seq FROM cand
              UNION ALL
              SELECT NULL, NULL, queue, tenant, NULL, NULL, NULL FROM rota_tasks
              WHERE state = 'running' AND tenant IS NOT NULL AND queue = ANY(ARRAY(
                  SELECT queue FROM lim WHERE tenant_max IS NOT NULL))) AS c
    ) AS c WHERE c.ctid IS NOT NULL
), fits AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.queue
                                   ORDER BY c.priority DESC, c.place, c.seq) AS r
    FROM by_tenant AS c LEFT JOIN room ON room.queue = c.queue
    WHERE room.tenant_max IS NULL OR c.tenant IS NULL OR c.k <= room.tenant_max
), chosen AS MATERIALIZED (
    (SELECT ctid, queue FROM cand WHERE (SELECT yes FROM fast)
     ORDER BY priority DESC, place, seq LIMIT CLAIM_LIMIT)
    UNION ALL
    (SELECT f.ctid, f.queue FROM fits AS f LEFT JOIN room ON room.queue = f.queue
     WHERE NOT (SELECT yes FROM fast) AND (room.queue IS NULL OR f.r <= room.n)
     ORDER BY f.priority DESC, f.place, f.seq LIMIT CLAIM_LIMIT)
), more AS MATERIALIZED (
    SELECT NOT (SELECT yes FROM fast) AND (SELECT count(*) FROM chosen) < CLAIM_LIMIT
        AND EXISTS (
            SELECT FROM (SELECT h FROM cand GROUP BY h HAVING count(*) = CLAIM_WINDOW) AS w
            JOIN cand AS c ON c.h = w.h LEFT JOIN room ON room.queue = c.queue
            WHERE room.queue IS NULL
               OR room.n > (SELECT count(*) FROM chosen WHERE chosen.queue = c.queue)
        ) AS walk
), picked AS (
    SELECT ctid FROM rota_tasks
    WHERE ctid = ANY(ARRAY(SELECT ctid FROM chosen)) AND state = 'queued'
      AND NOT (SELECT walk FROM more)
    FOR UPDATE
), claimed AS (
    CLAIM_PICKED
), spent AS (
    INSERT INTO rota_rate_buckets (queue, tokens, updated_at)
    SELECT room.queue,
           room.tokens - (SELECT count(*) FROM claimed WHERE claimed.queue = room.queue),
           room.at
    FROM room WHERE room.tokens IS NOT NULL AND NOT (SELECT walk FROM more)
    ON CONFLICT (queue) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at
)
SELECT claimed.*, more.walk FROM more LEFT JOIN claimed ON TRUE

-- name: claim_limited_queues
WITH q AS (
    SELECT DISTINCT hashtextextended(name, 0) AS h, name
    FROM unnest(%(queues)s::text[]) AS n(name)
), LIMITED_CLAIM;

-- name: claim_limited_any
WITH q AS (
    SELECT h, NULL::text AS name FROM (READY_QUEUES) AS ready
), LIMITED_CLAIM;

-- name: limit_lock
-- A claim of a queue with global limits that may come near them takes the whole of the
-- queue's lock for its transaction (every one of its LIMIT_SLOTS slots, in order), one at
-- a time (rota.core.admission): what it counts stays true until it commits, and no claim
-- of the queue's roomy path (LIMIT_GATE) runs beside it. The transaction also uses cached
-- generic plans: PostgreSQL would plan LIMITED_CLAIM afresh on every claim (a
-- millisecond, a third of the claim), its estimates for the arrays making the generic
-- plan look dearer, though it is the same plan.
SELECT pg_advisory_xact_lock(hashtext('rota_limits:' || %(queue)s), slot),
       set_config('plan_cache_mode', 'force_generic_plan', true)
FROM generate_series(0, LIMIT_SLOTS - 1) AS slot;

-- name: LIMIT_GATE
-- A fragment, the first CTE of a limited claim far from its limits (claims.claim_query,
-- roomy): rota_limit_gate (migration 0022) takes a slot of each limited queue's lock (the
-- first free one, or, all taken, the claim's own, waited for) and answers whether every
-- such queue has room for LIMIT_SLOTS claims of MAX_CLAIM tasks beyond what runs in it.
-- At most LIMIT_SLOTS claims hold slots at once, and each counts in a snapshot taken
-- after its slots (a query of a volatile function takes its own), so the claims running
-- beside it unseen cannot take more than that room: it claims as a queue without limits
-- does, beside them. (Locks are taken in one order, queue then slot, by both paths: no
-- deadlock.) The claim reads the answer in its CAN_RUN filter, a constant there, asked
-- before its scan starts and so before any row is locked; it returns the answer too, as
-- its rows' last column (GATED_CLAIM, ROOMY_OPEN), so the backend tells "no room" (take
-- the whole lock) from "nothing ready" (done).
gate AS MATERIALIZED (
    SELECT rota_limit_gate(%(lq)s::text[], %(lrun)s::int[], %(ltrun)s::int[],
                           %(lrate)s::float8[], %(slot)s::int, LIMIT_SLOTS,
                           LIMIT_SLOTS * MAX_CLAIM) AS open
),

-- name: GATED_CLAIM
-- A fragment: the end of claim_any and claim_queue far from limits (their CLAIM_END): the
-- claimed rows, or one row of NULLs when it claimed none, each with the gate's answer.
claimed AS (
    CLAIM_PICKED
)
SELECT claimed.*, gate.open FROM gate LEFT JOIN claimed ON TRUE

-- name: running_by_queue
SELECT queue, tenant, count(*) FROM rota_tasks
WHERE state = 'running' AND queue = ANY(%s) GROUP BY queue, tenant;

-- name: get_buckets
SELECT queue, tokens, updated_at FROM rota_rate_buckets WHERE queue = ANY(%s);

-- name: put_buckets
INSERT INTO rota_rate_buckets (queue, tokens, updated_at)
SELECT * FROM unnest(%s::text[], %s::float8[], %s::timestamptz[])
ON CONFLICT (queue) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at;

-- name: ready_hashes
SELECT h FROM (READY_QUEUES) AS ready;

-- name: pick_queue
-- A limited claim's candidates in one queue, in order, a window at a time: the same walk
-- down the claim index as claim_queue, without locks (the queues' locks are held).
SELECT ctid::text, queue, tenant, priority, place, seq FROM rota_tasks
WHERE state = 'queued' AND hashtextextended(queue, 0) = hashtextextended(%(queue)s, 0)
  AND queue = %(queue)s
  AND (expires_at IS NULL OR expires_at > %(now)s) TENANT_OPEN CAN_RUN
ORDER BY priority DESC, place, seq
LIMIT %(window)s OFFSET %(offset)s;

-- name: pick_hash
-- The same, for a claim of every queue: one queue's part of the index, found by its hash.
SELECT ctid::text, queue, tenant, priority, place, seq FROM rota_tasks
WHERE state = 'queued' AND hashtextextended(queue, 0) = %(h)s
  AND (expires_at IS NULL OR expires_at > %(now)s) TENANT_OPEN CAN_RUN
ORDER BY priority DESC, place, seq
LIMIT %(window)s OFFSET %(offset)s;

-- name: claim_ids
-- The chosen candidates of a limited claim, found again by ctid (a TID scan: the queue's
-- lock keeps every other claimer away, and a row changed since the pick has a new ctid or
-- a state not queued, so it is left), leased as every claim leases.
WITH picked AS (
    SELECT ctid FROM rota_tasks
    WHERE ctid = ANY(%(ctids)s::tid[]) AND state = 'queued' FOR UPDATE
)
CLAIM_PICKED;

-- name: claim_given
-- A claim of given tasks (ClaimRequest.task_ids; queues NULL for every queue): each of
-- them that is ready by the same rules as the other claims, found by id through the
-- primary key, and leased as every claim leases. SKIP LOCKED leaves a row that another
-- claim holds to it; a row that claim took and committed meanwhile is re-checked after
-- its lock (no longer queued) and left out, so a task goes to one claim only.
WITH picked AS (
    SELECT ctid FROM rota_tasks
    WHERE id = ANY(%(ids)s::text[]) AND state = 'queued'
      AND (%(queues)s::text[] IS NULL OR queue = ANY(%(queues)s::text[]))
      AND (expires_at IS NULL OR expires_at > %(now)s) TENANT_OPEN CAN_RUN
    FOR UPDATE SKIP LOCKED
)
CLAIM_PICKED;

-- name: heartbeat
UPDATE rota_tasks
SET lease_expires_at = %(lease)s, progress = coalesce(%(progress)s::jsonb, progress)
WHERE id = %(id)s AND state = 'running' AND lease_token = %(token)s
RETURNING TASK_COLUMNS;

-- name: finish_many
-- The batch arrives as one JSON array (cheaper to send than seven parallel arrays).
WITH f AS (
    SELECT * FROM jsonb_to_recordset(%(batch)s::jsonb) AS f(
        id text, token bigint, state text, result jsonb, error text, run_at timestamptz,
        expired_before timestamptz, attempt int, event text, finished_at timestamptz,
        worker text, actor text)
), done AS (
    UPDATE rota_tasks AS t
    SET state = f.state, result = f.result, error = f.error,
        run_at = coalesce(f.run_at, t.run_at), finished_at = f.finished_at,
        lease_expires_at = NULL, cancel_requested = FALSE,
        attempt = coalesce(f.attempt, t.attempt),
        finished_by = NULLIF(f.actor, 'worker:' || t.worker_id)
    FROM f
    WHERE t.id = f.id AND t.state = 'running' AND t.lease_token = f.token
      AND (f.expired_before IS NULL OR t.lease_expires_at < f.expired_before)
      AND (f.worker IS NULL OR t.worker_id = f.worker)
    RETURNING t.id, t.state, t.worker_id, t.error, t.started_at, t.claim_seq, f.event, f.actor,
              t.queue
), wake AS (
    -- A retry with a backoff: every replica's claims must promote it when due ('s').
    SELECT pg_notify(%(channel)s, 's') WHERE EXISTS (SELECT FROM done WHERE state = 'scheduled')
), wake_ready AS (
    -- A task back in its queue at once (a retry without backoff): its queue's claimers
    -- look (rota.core.wakeups; a list over its MAX_NAMED wakes every claimer).
    SELECT pg_notify(%(channel)s,
                     CASE WHEN length(n) > WAKE_MAX_NAMED THEN '' ELSE 'q ' || n END)
    FROM (SELECT string_agg(DISTINCT queue, ' ') AS n FROM done WHERE state = 'queued') AS q
    WHERE n IS NOT NULL
), logged AS (
    -- A success stores nothing (list_events reads it from the row). Any other end stores
    -- the attempt's claim, at its own place in the history, and then the outcome.
    -- (claim_seq is NULL only for attempts claimed before migration 0003, whose claim
    -- event is stored already.)
    INSERT INTO rota_events OVERRIDING SYSTEM VALUE
    SELECT e.* FROM done, LATERAL (
        SELECT done.claim_seq, done.id, done.started_at, 'claimed', 'queued', 'running',
               done.worker_id, NULL::text, 'worker:' || done.worker_id
        WHERE done.claim_seq IS NOT NULL AND done.state <> 'succeeded'
        UNION ALL
        SELECT nextval('rota_events_seq_seq'), done.id, %(now)s::timestamptz, done.event,
               'running', done.state, done.worker_id, done.error, done.actor
        WHERE done.claim_seq IS NULL OR done.state <> 'succeeded'
    ) AS e
)
SELECT id FROM done  -- reading the wake-ups runs them
WHERE (SELECT count(*) FROM wake) + (SELECT count(*) FROM wake_ready) >= 0;

-- name: lock_task
SELECT state FROM rota_tasks WHERE id = %s FOR UPDATE;

-- name: CHANGE_LOGGED
-- A fragment: the event of a guarded single-row change (the row is in "changed").
INSERT INTO rota_events (task_id, at, kind, from_state, to_state, worker_id, message, actor)
SELECT id, %(now)s, %(kind)s, %(before)s, state, worker_id, %(message)s, %(actor)s
FROM changed

-- name: cancel
WITH changed AS (
    UPDATE rota_tasks SET state = 'canceled', finished_at = %(now)s
    WHERE id = %(id)s AND state = %(before)s
    RETURNING TASK_COLUMNS
), logged AS (CHANGE_LOGGED)
SELECT * FROM changed;

-- name: list_canceling
SELECT id, lease_token FROM rota_tasks
WHERE id = ANY(%(ids)s) AND state = 'running' AND cancel_requested;

-- name: cancel_request
WITH changed AS (
    UPDATE rota_tasks SET cancel_requested = TRUE
    WHERE id = %(id)s AND state = %(before)s AND lease_token = %(token)s
    RETURNING TASK_COLUMNS
), logged AS (CHANGE_LOGGED)
SELECT * FROM changed;

-- name: set_priority
-- To the tail: a fresh seq, and that as the place; else the place given (a rank), if any.
WITH tail AS MATERIALIZED (
    SELECT nextval('rota_task_seq') AS seq WHERE %(to_tail)s
), changed AS (
    UPDATE rota_tasks
    SET priority = %(priority)s,
        seq = coalesce((SELECT seq FROM tail), seq),
        place = coalesce((SELECT seq FROM tail), %(place)s::float8, place)
    WHERE id = %(id)s AND state = %(before)s
    RETURNING TASK_COLUMNS
), logged AS (CHANGE_LOGGED)
SELECT * FROM changed;

-- name: set_payload
WITH changed AS (
    UPDATE rota_tasks SET payload = %(payload)s::jsonb
    WHERE id = %(id)s AND state = %(before)s
    RETURNING TASK_COLUMNS
), logged AS (CHANGE_LOGGED)
SELECT * FROM changed;

-- name: unique_lock
-- A submit's hold on one unique key for its transaction (see migration 0015).
SELECT pg_advisory_xact_lock(hashtextextended('rota_uniques:' || %s, 0));

-- name: get_uniques
-- Stored unique keys and their holders (NULL columns when the holder is gone).
SELECT u.key, u.task_id, u.while_running, u.held_until, TASK_COLUMNS_T
FROM rota_uniques AS u LEFT JOIN rota_tasks AS t ON t.id = u.task_id
WHERE u.key = ANY(%s);

-- name: put_unique
INSERT INTO rota_uniques (key, task_id, while_running, held_until) VALUES (%s, %s, %s, %s)
ON CONFLICT (key) DO UPDATE SET task_id = excluded.task_id,
    while_running = excluded.while_running, held_until = excluded.held_until;

-- name: move
-- A task moved to the queue wakes its queue's claimers in every replica; one moved to a
-- new time wakes them to promote first ('s'), as the insert of a scheduled task does.
WITH changed AS (
    UPDATE rota_tasks SET run_at = %(run_at)s, state = %(state)s
    WHERE id = %(id)s AND state = %(before)s
    RETURNING TASK_COLUMNS
), logged AS (CHANGE_LOGGED), woke AS (
    SELECT pg_notify(%(channel)s, CASE WHEN state = 'queued' THEN 'q ' || queue ELSE 's' END)
    FROM changed
)
SELECT * FROM changed WHERE (SELECT count(*) FROM woke) >= 0;

-- name: requeue
WITH tail AS MATERIALIZED (
    SELECT nextval('rota_task_seq') AS seq
), changed AS (
    UPDATE rota_tasks
    SET state = 'queued', attempt = 0, run_at = %(now)s, finished_at = NULL, error = NULL,
        result = NULL, cancel_requested = FALSE, seq = (SELECT seq FROM tail),
        place = (SELECT seq FROM tail)
    WHERE id = %(id)s AND state = %(before)s
    RETURNING TASK_COLUMNS
), logged AS (CHANGE_LOGGED), woke AS (
    SELECT pg_notify(%(channel)s, 'q ' || queue) FROM changed  -- its queue's claimers look
)
SELECT * FROM changed WHERE (SELECT count(*) FROM woke) >= 0;

-- name: expire_waiting
WITH due AS (
    SELECT id, state FROM rota_tasks
    WHERE state IN WAITING_STATES AND expires_at <= %(now)s
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), gone AS (
    UPDATE rota_tasks AS t
    SET state = 'canceled', finished_at = %(now)s, error = %(error)s
    FROM due WHERE t.id = due.id
    RETURNING t.id, due.state AS before
), logged AS (
    INSERT INTO rota_events (task_id, at, kind, from_state, to_state, message, actor)
    SELECT id, %(now)s, 'expired', before, 'canceled', %(error)s, 'system' FROM gone
)
SELECT count(*) FROM gone;

-- name: delete_tasks
WITH gone AS (DELETE FROM rota_tasks WHERE id = ANY(%(ids)s) AND state IN FINAL_STATES
              RETURNING id),
     history AS (DELETE FROM rota_events WHERE task_id IN (SELECT id FROM gone))
SELECT count(*) FROM gone;

-- name: list_final
-- Down rota_tasks_seq (finished and scheduled rows by seq), keeping one state.
SELECT TASK_COLUMNS FROM rota_tasks
WHERE state NOT IN ('queued', 'running') AND state = %s AND seq > %s
ORDER BY seq LIMIT %s;

-- name: list_lapsed
SELECT TASK_COLUMNS FROM rota_tasks
WHERE state = 'running' AND lease_expires_at < %s
ORDER BY lease_expires_at, seq LIMIT %s;

-- name: list_timed
SELECT TASK_COLUMNS FROM rota_tasks
WHERE state = 'running' AND timeout IS NOT NULL
ORDER BY started_at, seq LIMIT %s;

-- name: position
SELECT
    (SELECT count(*) FROM rota_tasks
      WHERE state = 'queued' AND hashtextextended(queue, 0) = hashtextextended(t.queue, 0)
        AND queue = t.queue AND priority = t.priority AND (place, seq) < (t.place, t.seq)) + 1,
    (SELECT count(*) FROM rota_tasks
      WHERE state = 'queued' AND hashtextextended(queue, 0) = hashtextextended(t.queue, 0)
        AND queue = t.queue
        AND (priority > t.priority
             OR (priority = t.priority AND (place, seq) < (t.place, t.seq)))) + 1
FROM rota_tasks AS t WHERE t.id = %s AND t.state = 'queued';

-- name: count
SELECT queue, state, priority, count(*) FROM rota_tasks
WHERE %(tenant)s::text IS NULL OR tenant = %(tenant)s
GROUP BY queue, state, priority ORDER BY queue, state, priority;

-- name: count_active
-- The metrics' depth: one branch per active state, each read through that state's partial
-- index (rota_tasks_ready_by_queue, _scheduled, _leased), so a scrape never reads the
-- finished rows kept for retention.
SELECT queue, 'queued', priority, count(*) FROM rota_tasks WHERE state = 'queued'
GROUP BY queue, priority
UNION ALL
SELECT queue, 'scheduled', priority, count(*) FROM rota_tasks WHERE state = 'scheduled'
GROUP BY queue, priority
UNION ALL
SELECT queue, 'running', priority, count(*) FROM rota_tasks WHERE state = 'running'
GROUP BY queue, priority
ORDER BY 1, 2, 3;

-- name: count_requiring
SELECT queue, requires, count(*) FROM rota_tasks
WHERE requires IS NOT NULL AND state IN ('queued', 'scheduled')
GROUP BY queue, requires ORDER BY queue, requires;

-- name: list_blocked
-- Tasks that wait for dependencies (their run_at is rota.core.models.BLOCKED_AT): the end
-- of rota_tasks_scheduled.
SELECT TASK_COLUMNS FROM rota_tasks WHERE state = 'scheduled' AND run_at >= %s
ORDER BY run_at LIMIT %s;

-- name: count_waiting
SELECT count(*) FROM rota_tasks WHERE queue = %s AND state IN ('queued', 'scheduled');

-- name: age
-- One aging step (rota.core.aging): each waiting ready task below the cap gains a point.
UPDATE rota_tasks SET priority = priority + 1
WHERE state = 'queued' AND hashtextextended(queue, 0) = hashtextextended(%(queue)s, 0)
  AND queue = %(queue)s AND priority < %(cap)s AND run_at <= %(before)s;

-- name: fair_lock
-- Fairness counters change one queue at a time: the transaction holds this lock.
SELECT pg_advisory_xact_lock(hashtextextended('rota_fairness:' || %s, 0));

-- name: fair_read
-- The passes of an insert's fairness keys and the queue's clock (key ''), then, keyed NULL,
-- the place of the queue's ready head (NULL when none is ready): the floor a lagging key
-- rises to. One statement, read under fair_lock.
SELECT key, pass FROM rota_fairness WHERE queue = %(queue)s AND key = ANY(%(keys)s)
UNION ALL
SELECT NULL, (
    SELECT place FROM rota_tasks
    WHERE state = 'queued' AND hashtextextended(queue, 0) = hashtextextended(%(queue)s, 0)
      AND queue = %(queue)s
    ORDER BY priority DESC, place, seq LIMIT 1
);

-- name: fair_put
-- Every changed pass of an insert, in one statement.
INSERT INTO rota_fairness (queue, key, pass)
SELECT * FROM unnest(%s::text[], %s::text[], %s::float8[]) AS p(queue, key, pass)
ON CONFLICT (queue, key) DO UPDATE SET pass = excluded.pass;

-- name: next_run_at
SELECT min(run_at) FROM rota_tasks WHERE state = 'scheduled';

-- name: list_events
-- rota_history adds the events read from the task row (see migration 0003).
SELECT task_id, at, kind, from_state, to_state, worker_id, message, seq, actor
FROM rota_history WHERE task_id = %(id)s
ORDER BY seq;

-- name: get_job
SELECT id, name, created_at, tenant, needs FROM rota_jobs WHERE id = %s;

-- name: count_job
SELECT state, count(*) FROM rota_tasks WHERE job_id = %s GROUP BY state;

-- name: try_lead
SELECT pg_try_advisory_lock(hashtext(%s));

-- name: schema_version
SELECT version_num FROM alembic_version;

-- name: upsert_worker
INSERT INTO rota_workers (id, name, host, queues, capabilities, concurrency, version,
                          started_at, last_seen_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name, host = excluded.host, queues = excluded.queues,
    capabilities = excluded.capabilities, concurrency = excluded.concurrency,
    version = excluded.version, started_at = excluded.started_at,
    last_seen_at = excluded.last_seen_at;

-- name: touch_workers
UPDATE rota_workers SET last_seen_at = %s WHERE id = ANY(%s);

-- name: list_workers
SELECT id, name, host, queues, capabilities, concurrency, version, started_at, last_seen_at
FROM rota_workers ORDER BY started_at, id;

-- name: delete_silent_workers
DELETE FROM rota_workers WHERE last_seen_at < %s;

-- name: insert_token
INSERT INTO rota_tokens (name, digest, role, tenant, created_at, expires_at)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING;

-- name: get_token
SELECT TOKEN_COLUMNS FROM rota_tokens WHERE digest = %s;

-- name: list_tokens
SELECT TOKEN_COLUMNS FROM rota_tokens ORDER BY created_at, name;

-- name: revoke_token
UPDATE rota_tokens SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL;

-- name: touch_token
UPDATE rota_tokens SET last_used_at = %s WHERE name = %s;

-- name: list_controls
SELECT key, value FROM rota_controls;

-- name: upsert_control
INSERT INTO rota_controls (key, value) VALUES (%s, %s)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: delete_control
DELETE FROM rota_controls WHERE key = %s;

-- name: insert_audit
INSERT INTO rota_audit (at, actor, action, target, reason, detail)
VALUES (%s, %s, %s, %s, %s, %s);

-- name: list_audit
SELECT seq, at, actor, action, target, reason, detail FROM rota_audit
WHERE (%(before)s::bigint IS NULL OR seq < %(before)s::bigint)
  AND (%(action)s::text IS NULL OR action = %(action)s::text)
  AND (%(actor)s::text IS NULL OR actor = %(actor)s::text)
ORDER BY seq DESC
LIMIT %(limit)s;

-- name: insert_schedule
INSERT INTO rota_schedules (SCHEDULE_COLUMNS)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING;

-- name: update_schedule
-- Compare-and-set on version; a name another schedule holds leaves it unchanged.
UPDATE rota_schedules SET name = %(name)s, definition = %(definition)s, enabled = %(enabled)s,
    next_run_at = %(next_run_at)s, last_run_at = %(last_run_at)s,
    last_task_id = %(last_task_id)s, version = %(version)s, updated_at = %(updated_at)s
WHERE id = %(id)s AND version = %(expect)s
  AND NOT EXISTS (SELECT 1 FROM rota_schedules WHERE name = %(name)s AND id <> %(id)s);

-- name: get_schedule
SELECT SCHEDULE_COLUMNS FROM rota_schedules WHERE id = %s;

-- name: list_schedules
SELECT SCHEDULE_COLUMNS FROM rota_schedules ORDER BY name;

-- name: due_schedules
SELECT SCHEDULE_COLUMNS FROM rota_schedules
WHERE enabled AND next_run_at IS NOT NULL AND next_run_at <= %s
ORDER BY next_run_at, id LIMIT %s;

-- name: delete_schedule
DELETE FROM rota_schedules WHERE id = %s;
