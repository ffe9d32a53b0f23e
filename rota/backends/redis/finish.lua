-- finish.lua: end running attempts, each only under its live lease.
--
-- KEYS: the standard keys (lib.lua). Reads and writes leases, timed, st:*, ready, sched,
--   expiring, counts, eseq and, per task, {NAME}:t:<id>, {NAME}:h:<id>,
--   {NAME}:rq:<queue>, {NAME}:jn:<job>.
-- ARGV[1]: JSON array of finishes, each [task_id, lease_token, state, result, error,
--   run_at, expired_before, attempt, event, finished_at, worker_id, actor]; result is JSON
--   text sent as a string; absent values are null.
-- ARGV[2]: now (the events' time).
-- An item applies if its task is running under lease_token, held by worker_id (when
-- given), with a lease ending before expired_before (when given). It then sets the state,
-- result, error, finished_at, run_at and attempt (those two when given), clears the lease
-- and the cancel flag and records the event. A task named twice applies once: after the
-- first, it no longer runs under that token.
-- Returns one 1 (applied) or 0 per item. Publishes on {NAME}:wake when a task waits again:
-- the queues of those back in the queue at once, or '1' (every claimer) when one waits for
-- a later time.
local items = cjson.decode(ARGV[1])
local now = ARGV[2]
local null = cjson.null

local function opt(value)
  if value == null then return false end
  return value
end

-- what the guards, the indexes and the event need
local read = row_reader({ID, QUEUE, PRIO, STATE, RUN_AT, TIMEOUT, TENANT, JOB, SEQ, WORKER, TOKEN,
  LEASE, EXPIRES, CANCEL, RESULT, ERROR, FINISHED, PLACE, REQUIRES})

local applied, ready, later = {}, {}, false
for i, f in ipairs(items) do
  local row = read(f[1])
  local ok = row[STATE] == 'running' and tonumber(row[TOKEN] or 0) == f[2]
  if ok and f[11] ~= null and row[WORKER] ~= f[11] then ok = false end
  if ok and f[7] ~= null and not (row[LEASE] and tonumber(row[LEASE]) < f[7]) then
    ok = false
  end
  if ok then
    leave(row)
    local before = {[RESULT] = row[RESULT], [ERROR] = row[ERROR], [FINISHED] = row[FINISHED],
      [CANCEL] = row[CANCEL]}
    row[STATE] = f[3]
    row[RESULT] = opt(f[4])
    row[ERROR] = opt(f[5])
    row[FINISHED] = opt(f[10])
    row[LEASE] = false
    row[CANCEL] = false
    -- write what is set now or was set before (no HDEL of fields that are not there)
    local changed = {STATE, LEASE}
    for _, field in ipairs({RESULT, ERROR, FINISHED, CANCEL}) do
      if row[field] or before[field] then changed[#changed + 1] = field end
    end
    if f[6] ~= null then
      row[RUN_AT] = f[6]
      changed[#changed + 1] = RUN_AT
    end
    if f[8] ~= null then
      row[ATTEMPT] = f[8]
      changed[#changed + 1] = ATTEMPT
    end
    enter(row)
    write(row, unpack(changed))
    event(row, f[9], 'running', now, row[ERROR], opt(f[12]))
    if row[STATE] == 'queued' then
      ready[row[QUEUE]] = true
    elseif WAITING[row[STATE]] then
      later = true
    end
    applied[i] = 1
  else
    applied[i] = 0
  end
end
flush()
if later then redis.call('PUBLISH', WAKE, '1') else wake(ready) end
return applied
