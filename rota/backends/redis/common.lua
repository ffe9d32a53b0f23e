-- common.lua: prepended by the loader (scripts.py) to every script that reads tasks.
--
-- KEYS[1] is the namespace prefix itself, "{NAME}:". It is never read or written; it
-- routes the call, since every key under it hashes to the one slot of the tag {NAME}.
-- Keys named by a task, queue or job id cannot be listed in KEYS before the script has
-- read the task, so they are built here from KEYS[1] (all in the same slot):
--   {NAME}:t:<task id>   the task's hash (fields below)
--   {NAME}:h:<task id>   the task's history after its enqueue: a list of JSON events,
--                        capped at the last HISTORY_MAX (lib.lua)
--   {NAME}:rq:<queue>    the ready zset of one queue
--   {NAME}:jn:<job id>   a job's task counts by state (hash)
--   {NAME}:jt:<job id>   a job's tasks by seq (zset)
--   {NAME}:tn:<tenant>   a tenant's task counts by "state|priority|queue" (hash)
--
-- Times are integer microseconds since the epoch. They stay strings (or integral numbers)
-- and are only handed to redis.call, which writes integral numbers exactly, or compared
-- after tonumber, exact below 2^53: never tostring'ed or concatenated, because Lua
-- formats numbers with 14 significant digits.
local P = KEYS[1]

-- The task hash's field names, in the order of rota.core.models.Task (filled from
-- rota/backends/redis/keys.py). A missing field is None; HMGET gives false for it.
-- One more field, 'es', holds the enqueue event ("<event seq>:<state>"): with the created
-- time it is the first event of the history, so an insert writes no list.
local FIELDS = {TASK_FIELDS}
local ID, QUEUE, KIND, PAYLOAD, PRIO, STATE, RUN_AT, CREATED, ATTEMPT, MAX_ATTEMPTS = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
local TIMEOUT, TENANT, JOB, SEQ, STARTED, FINISHED, WORKER, TOKEN, LEASE = 11, 12, 13, 14, 15, 16, 17, 18, 19
local CANCEL, RESULT, ERROR, RETRY, EXPIRES, PROGRESS, TRACE, PLACE = 20, 21, 22, 23, 24, 25, 26, 27
local REQUIRES = 28 -- a JSON list of the capabilities a worker needs, sorted; absent: none

-- Ready scores are (100 - priority) * 2^45 + place, the place in line among the priority
-- (rota.core.fairness): the seq, exact in a double while seq < 2^45, unless the queue has
-- fairness. A fair place is a fraction (1/3 for a key of weight 3 of 1); the score keeps
-- it to the nearest half at the lowest priorities, and equal scores go by task id. The
-- task hash holds 'pl' only for a place that is not the seq.
local SEQ_BOUND = 35184372088832

local function task_key(id) return P .. 't:' .. id end
local function history_key(id) return P .. 'h:' .. id end
local function queue_key(queue) return P .. 'rq:' .. queue end
local function read_row(id) return redis.call('HMGET', task_key(id), unpack(FIELDS)) end

-- a reader of some fields only (a hash reads fewer fields faster): it returns a row with
-- those fields set (false where absent) and every other one nil
local function row_reader(which)
  local names = {}
  for i, f in ipairs(which) do names[i] = FIELDS[f] end
  return function(id)
    local values = redis.call('HMGET', task_key(id), unpack(names))
    local row = {}
    for i, f in ipairs(which) do row[f] = values[i] end
    return row
  end
end
-- The wake-up that names the queues of the set `ready` (queue -> true): 'q ' and the names
-- in order, one space apart; '' (every claimer) for a list longer than WAKE_MAX_NAMED
-- (rota.core.wakeups.MAX_NAMED, filled in by the loader).
local function wake_payload(ready)
  local names = {}
  for queue in pairs(ready) do names[#names + 1] = queue end
  table.sort(names)
  local text = table.concat(names, ' ')
  if #text > WAKE_MAX_NAMED then return '' end
  return 'q ' .. text
end
local function ready_score(priority, place)
  return (100 - tonumber(priority)) * SEQ_BOUND + tonumber(place)
end
