-- insert.lua: insert a batch of tasks (and its job), all or nothing.
--
-- KEYS: the standard keys (lib.lua). Reads seq, jobs and each {NAME}:t:<id>; writes seq,
--   eseq, all, st:queued, st:scheduled, ready, sched, expiring, counts, jobs and, per task,
--   {NAME}:t:<id>, {NAME}:rq:<queue>, {NAME}:jn:<job>, {NAME}:jt:<job>.
-- ARGV[1]: JSON array of tasks, each [id, queue, kind, payload, priority, state, run_at,
--   created_at, max_attempts, timeout, tenant, job_id, retry, expires_at, place, requires,
--   trace]:
--   place is null unless fairness gave one (then a decimal string; see common.lua),
--   requires null or a JSON list as text; payload and retry
--   are JSON text sent as strings, so their bytes are stored as the client encoded them
--   (cjson would re-encode numbers); timeout is a decimal string; absent values are null.
-- ARGV[2]: the job id, or '' for none; ARGV[3]: the job's record (JSON) to store.
-- ARGV[4]: '' or a JSON array of unique keys, one per task: null, or [key, rule,
--   while_running (0 or 1), until (µs) or null] (rota.core.dedup; the same decision as
--   dedup.plan, kept in step with it by the contract tests; update_priority and update
--   change what dedup.changed says, or refuse an unchanged submit). ARGV[5]: now (µs).
--   Reads and writes {NAME}:uq (key -> "task id|while running|until").
-- ARGV[6]: '' or a JSON array of fair shares, one per task: null, or [fairness key, stride
--   (decimal text)]. The tasks with one that go in (not those answered with a holder) take
--   their places as rota.core.fairness.places gives them (the same arithmetic, kept in
--   step with it by the contract tests): per queue, the floor is the place of the head of
--   {NAME}:rq:<queue> (its 'pl', else its seq), or without one the queue's clock; each key
--   moves once from max(its pass, floor) by stride * its tasks, and its n-th task takes
--   base + stride * n. Reads and writes {NAME}:fair:<queue> (key -> pass; clock under '').
-- ARGV[7] (optional): 'quiet' when a claim follows in the same pipeline
--   (task_insert_claim): no wake-up here; wake_unclaimed.lua sends it after the claim,
--   only for a task the claim left queued.
-- The enqueue event is the task hash's field 'es' (common.lua), not a history entry.
-- Returns {'ok', first seq, answered, placed} (the inserted tasks take consecutive seqs in
--   order; answered: pairs of a task's 1-based place in the batch and the fields of the
--   holder it is answered with; placed: pairs of a task's 1-based place in the batch and
--   its fair place, exact decimal text), or {'task', id} for the first id that exists or is named twice,
--   {'job', id}, {'unique', key, holder id or false} for a rejected key, {'same', key,
--   holder id, rule} for a submit an update rule refuses as changing nothing, {'twice', key}
--   for a key the batch names twice; then nothing is written. Publishes on {NAME}:wake
--   the queues of the ready tasks that went in (common.lua's wake), if any.
local tasks = cjson.decode(ARGV[1])
local job, job_record = ARGV[2], ARGV[3]
local null = cjson.null

local keys, named, repeated = {}, {}, false
for i, t in ipairs(tasks) do
  keys[i] = task_key(t[1])
  if named[t[1]] then repeated = true end
  named[t[1]] = (named[t[1]] or 0) + 1
end
local existing = 0
for i = 1, #keys, CHUNK do
  existing = existing + redis.call('EXISTS', unpack(keys, i, math.min(i + CHUNK - 1, #keys)))
end
if existing > 0 or repeated then
  for i, t in ipairs(tasks) do
    if named[t[1]] > 1 or redis.call('EXISTS', keys[i]) == 1 then return {'task', t[1]} end
  end
end
if job ~= '' and redis.call('HEXISTS', K_JOBS, job) == 1 then return {'job', job} end

local K_UNIQUES = P .. 'uq'
local uniques = ARGV[4] ~= '' and cjson.decode(ARGV[4]) or {}
local now = ARGV[5]

-- equal JSON values (objects in any key order), as Python's == on the decoded values
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= 'table' then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- what task t changes of a waiting holder under an update rule (dedup.changed): a table
-- {payload, prio, place} of booleans, or nil when nothing differs. A task without a rank
-- (place null) keeps the holder's place.
local function changes(rule, t, holder)
  local payload = rule == 'update' and t[4] ~= holder[PAYLOAD]
    and not same(cjson.decode(t[4]), cjson.decode(holder[PAYLOAD]))
  local prio = tonumber(t[5]) ~= tonumber(holder[PRIO])
  local place = t[15] ~= null and tonumber(t[15]) ~= tonumber(holder[PLACE] or holder[SEQ])
  if not (payload or prio or place) then return nil end
  return {payload = payload, prio = prio, place = place}
end

-- first every task's step, before any write: a rejected key leaves the store untouched
local steps, seen, fresh = {}, {}, #tasks
for i, u in ipairs(uniques) do
  if u ~= null then
    local key, rule = u[1], u[2]
    if seen[key] then return {'twice', key} end
    seen[key] = true
    local stored = redis.call('HGET', K_UNIQUES, key)
    if stored then
      local holder_id, while_running, held_until =
        string.match(stored, '^(.*)|(%d)|(%d*)$')
      local row = read_row(holder_id)
      local state = row[ID] and row[STATE] or nil
      local held = (held_until ~= '' and tonumber(now) < tonumber(held_until))
        or (state ~= nil
            and (WAITING[state] ~= nil or (while_running == '1' and state == 'running')))
      if held and rule == 'reject' then return {'unique', key, row[ID] or false} end
      if held and row[ID] then -- a holder gone (its window holds the key) answers nothing
        local act = rule
        if rule ~= 'existing' and rule ~= 'replace' and not WAITING[state] then
          act = 'existing'
        end
        local change = nil
        if act == 'update_priority' or act == 'update' then
          change = changes(act, tasks[i], row)
          if not change then return {'same', key, row[ID], rule} end
        end
        steps[i] = {act, row, change}
        if act ~= 'replace' then fresh = fresh - 1 end
      end
    end
  end
end

local first = take_seqs(fresh)
if not first then return redis.error_reply(SEQ_EXHAUSTED) end

-- the fair places of the tasks that go in, before any of them enters its queue
local shares = ARGV[6] ~= '' and cjson.decode(ARGV[6]) or {}
local fair, fair_queues, placed = {}, {}, {}
for i, s in ipairs(shares) do
  if s ~= null and not (steps[i] and steps[i][1] ~= 'replace') then
    local queue = tasks[i][2]
    if not fair[queue] then
      fair[queue] = {}
      fair_queues[#fair_queues + 1] = queue
    end
    fair[queue][#fair[queue] + 1] = i
  end
end
for _, queue in ipairs(fair_queues) do
  local counters = P .. 'fair:' .. queue
  local clock = tonumber(redis.call('HGET', counters, '') or '0')
  local floor = clock
  local head = redis.call('ZRANGE', queue_key(queue), 0, 0)
  if head[1] then
    local found = redis.call('HMGET', task_key(head[1]), FIELDS[PLACE], FIELDS[SEQ])
    floor = tonumber(found[1] or found[2])
  end
  local counts, strides, keys = {}, {}, {}
  for _, i in ipairs(fair[queue]) do
    local key = shares[i][1]
    if not counts[key] then
      counts[key], strides[key] = 0, tonumber(shares[i][2])
      keys[#keys + 1] = key
    end
    counts[key] = counts[key] + 1
  end
  local bases = {}
  for _, key in ipairs(keys) do
    local base = math.max(tonumber(redis.call('HGET', counters, key) or '0'), floor)
    local pass = base + strides[key] * counts[key]
    bases[key] = base
    redis.call('HSET', counters, key, string.format('%.17g', pass))
    if pass > clock then clock = pass end
  end
  redis.call('HSET', counters, '', string.format('%.17g', clock))
  local taken = {}
  for _, i in ipairs(fair[queue]) do
    local key = shares[i][1]
    taken[key] = (taken[key] or 0) + 1
    local place = string.format('%.17g', bases[key] + strides[key] * taken[key])
    tasks[i][15] = place
    placed[#placed + 1] = i
    placed[#placed + 1] = place
  end
end

local function opt(value)
  if value == null then return false end
  return value
end

-- the holder a task is answered with, changed as its step says
local function answer(t, act, holder, change)
  if change then -- update_priority, update
    if change.payload then
      holder[PAYLOAD] = t[4]
      write(holder, PAYLOAD)
      event(holder, 'payload_updated', holder[STATE], now, false, false)
    end
    if change.prio or change.place then
      leave(holder)
      if change.prio then holder[PRIO] = t[5] end
      if change.place then holder[PLACE] = t[15] end
      enter(holder)
      write(holder, PRIO, PLACE)
      local message = 'priority ' .. holder[PRIO]
      if change.place then message = message .. ', rank ' .. t[15] end
      event(holder, 'priority_changed', holder[STATE], now, message, false)
    end
  elseif act == 'update_payload' then
    holder[PAYLOAD] = t[4]
    write(holder, PAYLOAD)
    event(holder, 'payload_updated', holder[STATE], now, false, false)
  elseif act == 'raise_priority' and tonumber(t[5]) > tonumber(holder[PRIO]) then
    leave(holder)
    holder[PRIO] = t[5]
    enter(holder)
    write(holder, PRIO)
    event(holder, 'priority_changed', holder[STATE], now, 'priority ' .. t[5], false)
  end
  return holder
end

local function replace(t, holder)
  if not WAITING[holder[STATE]] then return end -- running or ended: it is left as it is
  local from = holder[STATE]
  leave(holder)
  holder[STATE] = 'canceled'
  holder[FINISHED] = now
  enter(holder)
  write(holder, STATE, FINISHED)
  event(holder, 'canceled', from, now, 'replaced by ' .. t[1], false)
end

local ready = {} -- the queues of the ready tasks that go in: the wake-up names them
local function insert(i, t, seq)
  local row = {t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], false, t[9], opt(t[10]),
    opt(t[11]), opt(t[12]), seq, false, false, false, false, false, false, false,
    false, opt(t[13]), opt(t[14]), false, opt(t[17]), opt(t[15]), opt(t[16])}
  local args = {keys[i]}
  for f = 1, #FIELDS do
    if row[f] then
      args[#args + 1] = FIELDS[f]
      args[#args + 1] = row[f]
    end
  end
  args[#args + 1] = 'es'
  args[#args + 1] = string.format('%d', next_event_seq()) .. ':' .. row[STATE]
  redis.call('HSET', unpack(args))
  if row[STATE] == 'queued' then ready[t[2]] = true end
  enter(row)
  enter_seq(row)
  local u = uniques[i]
  if u and u ~= null then
    local held_until = u[4] ~= null and string.format('%d', u[4]) or ''
    local value = t[1] .. '|' .. string.format('%d', u[3]) .. '|' .. held_until
    redis.call('HSET', K_UNIQUES, u[1], value)
  end
end

local answered, n = {}, 0
for i, t in ipairs(tasks) do
  local step = steps[i]
  if step and step[1] ~= 'replace' then
    answered[#answered + 1] = i
    answered[#answered + 1] = answer(t, step[1], step[2], step[3])
  else
    if step then replace(t, step[2]) end
    insert(i, t, first + n)
    n = n + 1
  end
end
if job ~= '' then redis.call('HSET', K_JOBS, job, job_record) end
flush()
if ARGV[7] ~= 'quiet' then wake(ready) end
return {'ok', first, answered, placed}
