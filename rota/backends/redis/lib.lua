-- lib.lua: prepended by the loader, after common.lua, to every script that changes tasks.
--
-- KEYS[1..17], the same for every such script (rota/backends/redis/keys.py, STANDARD):
--   1 {NAME}:            the prefix (see common.lua)
--   2 {NAME}:seq         enqueue seq counter (string integer)
--   3 {NAME}:eseq        event seq counter
--   4 {NAME}:all         every task by seq (zset)
--   5 {NAME}:ready       queued tasks of every queue by ready score (zset)
--   6 {NAME}:sched       scheduled tasks by run_at (zset)
--   7 {NAME}:leases      running tasks by lease_expires_at (zset)
--   8 {NAME}:timed       running tasks that have a timeout, by started_at (zset)
--   9 {NAME}:expiring    waiting tasks that have an expires_at, by it (zset)
--  10 {NAME}:counts      task counts by "state|priority|queue" (hash)
--     ({NAME}:needs, not a KEY: waiting tasks that require capabilities, by
--     "queue|requires" (hash), kept beside the counts)
--  11 {NAME}:jobs        job records by job id (hash of JSON)
--  12..17 {NAME}:st:<state>  tasks of one state by seq (zsets), for the six states
-- Each script's header says which of them it touches. The wake-up channel is
-- {NAME}:wake (a channel, not a key).
--
-- A task moves between states by leave(row) (out of the indexes of its old state),
-- changing row, enter(row) (into those of the new one) and write(row, fields...).
-- Sorted-set writes and counter changes are gathered and sent by flush(), many members per
-- call; flush removes before it adds, so a script moves each task at most once between
-- two flushes.
local K_SEQ, K_EVENT_SEQ, K_ALL, K_READY, K_SCHEDULED = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local K_LEASES, K_TIMED, K_EXPIRING, K_COUNTS, K_JOBS = KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local K_STATE = {
  scheduled = KEYS[12], queued = KEYS[13], running = KEYS[14],
  succeeded = KEYS[15], failed = KEYS[16], canceled = KEYS[17],
}
local FIRST_EXTRA_KEY = 18
local WAKE = P .. 'wake'
-- wake the claimers of the queues in the set `ready` (queue -> true), if it has any;
-- PUBLISH WAKE '1' wakes every claimer
local function wake(ready)
  if next(ready) ~= nil then redis.call('PUBLISH', WAKE, wake_payload(ready)) end
end
-- the states a task waits in before it starts (rota.core.states.WAITING_STATES)
local WAITING = WAITING_STATES
local HISTORY_MAX = 1000
local CHUNK = 4000 -- arguments per unpack: well below Lua's C stack limit

local adds, removes = {}, {}
local counts, job_counts, tenant_counts, need_counts = {}, {}, {}, {}
local event_seq = nil

local function gather(into, key, a, b)
  local list = into[key]
  if not list then
    list = {}
    into[key] = list
  end
  list[#list + 1] = a
  if b ~= nil then list[#list + 1] = b end
end

local function zadd(key, score, member) gather(adds, key, score, member) end
local function zrem(key, member) gather(removes, key, member) end

local function count(row, delta)
  local field = row[STATE] .. '|' .. row[PRIO] .. '|' .. row[QUEUE]
  counts[field] = (counts[field] or 0) + delta
  local tenant = row[TENANT]
  if tenant then
    local by_field = tenant_counts[tenant]
    if not by_field then
      by_field = {}
      tenant_counts[tenant] = by_field
    end
    by_field[field] = (by_field[field] or 0) + delta
  end
  if row[REQUIRES] and WAITING[row[STATE]] then
    local need = row[QUEUE] .. '|' .. row[REQUIRES]
    need_counts[need] = (need_counts[need] or 0) + delta
  end
  local job = row[JOB]
  if job then
    local by_state = job_counts[job]
    if not by_state then
      by_state = {}
      job_counts[job] = by_state
    end
    by_state[row[STATE]] = (by_state[row[STATE]] or 0) + delta
  end
end

-- out of the indexes of the task's present state
local function leave(row)
  local state, id = row[STATE], row[ID]
  zrem(K_STATE[state], id)
  if state == 'queued' then
    zrem(K_READY, id)
    zrem(queue_key(row[QUEUE]), id)
  elseif state == 'scheduled' then
    zrem(K_SCHEDULED, id)
  elseif state == 'running' then
    zrem(K_LEASES, id)
    if row[TIMEOUT] then zrem(K_TIMED, id) end
  end
  if WAITING[state] and row[EXPIRES] then zrem(K_EXPIRING, id) end
  count(row, -1)
end

-- into the indexes of the task's (new) state
local function enter(row)
  local state, id = row[STATE], row[ID]
  zadd(K_STATE[state], row[SEQ], id)
  if state == 'queued' then
    local score = ready_score(row[PRIO], row[PLACE] or row[SEQ])
    zadd(K_READY, score, id)
    zadd(queue_key(row[QUEUE]), score, id)
  elseif state == 'scheduled' then
    zadd(K_SCHEDULED, row[RUN_AT], id)
  elseif state == 'running' then
    zadd(K_LEASES, row[LEASE], id)
    if row[TIMEOUT] then zadd(K_TIMED, row[STARTED], id) end
  end
  if WAITING[state] and row[EXPIRES] then zadd(K_EXPIRING, row[EXPIRES], id) end
  count(row, 1)
end

-- the indexes by seq that do not depend on the state
local function enter_seq(row)
  zadd(K_ALL, row[SEQ], row[ID])
  if row[JOB] then zadd(P .. 'jt:' .. row[JOB], row[SEQ], row[ID]) end
end

local function leave_seq(row)
  zrem(K_ALL, row[ID])
  if row[JOB] then zrem(P .. 'jt:' .. row[JOB], row[ID]) end
end

-- store the given fields of row: set where a value is present, delete where it is false
local function write(row, ...)
  local key = task_key(row[ID])
  local set, del = {key}, {key}
  for _, i in ipairs({...}) do
    local value = row[i]
    if value then
      set[#set + 1] = FIELDS[i]
      set[#set + 1] = value
    else
      del[#del + 1] = FIELDS[i]
    end
  end
  if #set > 1 then redis.call('HSET', unpack(set)) end
  if #del > 1 then redis.call('HDEL', unpack(del)) end
end

-- the next event seq (the counter is read once and written back by flush)
local function next_event_seq()
  if not event_seq then event_seq = tonumber(redis.call('GET', K_EVENT_SEQ) or '0') end
  event_seq = event_seq + 1
  return event_seq
end

-- append one history event; row is the task after the change. An event is a JSON array
-- [seq, at, kind, from, to, worker_id, message, actor], false where absent; seq and at
-- are strings (cjson writes numbers with 14 digits).
local function event(row, kind, from, at, message, actor)
  if type(at) == 'number' then at = string.format('%d', at) end
  local key = history_key(row[ID])
  local entry = cjson.encode({string.format('%d', next_event_seq()), at, kind, from, row[STATE],
    row[WORKER], message, actor})
  if redis.call('RPUSH', key, entry) > HISTORY_MAX then
    redis.call('LTRIM', key, -HISTORY_MAX, -1)
  end
end

-- n fresh enqueue seqs (the first), or nil when they would pass SEQ_BOUND
local function take_seqs(n)
  local current = tonumber(redis.call('GET', K_SEQ) or '0')
  if current + n >= SEQ_BOUND then return nil end
  return redis.call('INCRBY', K_SEQ, n) - n + 1
end

local SEQ_EXHAUSTED = 'rota: enqueue sequence exhausted (2^45): see rota/backends/redis/backend.py'

local function send(command, key, list)
  for i = 1, #list, CHUNK do
    local last = math.min(i + CHUNK - 1, #list)
    redis.call(command, key, unpack(list, i, last))
  end
end

-- add the deltas to a counter hash, dropping the fields that reach zero
local function add_counts(key, deltas)
  for field, delta in pairs(deltas) do
    if delta ~= 0 and redis.call('HINCRBY', key, field, delta) <= 0 then
      redis.call('HDEL', key, field)
    end
  end
end

local function flush()
  for key, members in pairs(removes) do send('ZREM', key, members) end
  for key, pairs_ in pairs(adds) do send('ZADD', key, pairs_) end
  adds, removes = {}, {}
  add_counts(K_COUNTS, counts)
  for job, by_state in pairs(job_counts) do add_counts(P .. 'jn:' .. job, by_state) end
  for tenant, by_field in pairs(tenant_counts) do add_counts(P .. 'tn:' .. tenant, by_field) end
  add_counts(P .. 'needs', need_counts)
  counts, job_counts, tenant_counts, need_counts = {}, {}, {}, {}
  if event_seq then redis.call('SET', K_EVENT_SEQ, event_seq) end
end

-- scheduled tasks due by now become queued (event 'promoted'); how many
local function promote_due(now, limit, actor)
  local ids = redis.call('ZRANGEBYSCORE', K_SCHEDULED, '-inf', now, 'LIMIT', 0, limit)
  local moved = 0
  for _, id in ipairs(ids) do
    local row = read_row(id)
    if row[STATE] == 'scheduled' then
      leave(row)
      row[STATE] = 'queued'
      enter(row)
      write(row, STATE)
      event(row, 'promoted', 'scheduled', now, false, actor)
      moved = moved + 1
    else
      zrem(K_SCHEDULED, id)
    end
  end
  return moved
end
