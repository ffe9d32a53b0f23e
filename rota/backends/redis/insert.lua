-- insert.lua: insert a batch of tasks (and its job), all or nothing.
--
-- KEYS: the standard keys (lib.lua). Reads seq, jobs and each {NAME}:t:<id>; writes seq,
--   eseq, all, st:queued, st:scheduled, ready, sched, expiring, counts, jobs and, per task,
--   {NAME}:t:<id>, {NAME}:rq:<queue>, {NAME}:jn:<job>, {NAME}:jt:<job>.
-- ARGV[1]: JSON array of tasks, each [id, queue, kind, payload, priority, state, run_at,
--   created_at, max_attempts, timeout, tenant, job_id, retry, expires_at, place]: place is
--   null unless fairness gave one (then a decimal string; see common.lua); payload and retry
--   are JSON text sent as strings, so their bytes are stored as the client encoded them
--   (cjson would re-encode numbers); timeout is a decimal string; absent values are null.
-- ARGV[2]: the job id, or '' for none; ARGV[3]: the job's record (JSON) to store.
-- The enqueue event is the task hash's field 'es' (common.lua), not a history entry.
-- Returns {'ok', first seq} (the tasks take consecutive seqs in order), or
--   {'task', id} for the first id that exists or is named twice, or {'job', id}; then
--   nothing is written. Publishes on {NAME}:wake.
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

local first = take_seqs(#tasks)
if not first then return redis.error_reply(SEQ_EXHAUSTED) end

local function opt(value)
  if value == null then return false end
  return value
end

for i, t in ipairs(tasks) do
  local row = {t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], false, t[9], opt(t[10]),
    opt(t[11]), opt(t[12]), first + i - 1, false, false, false, false, false, false, false,
    false, opt(t[13]), opt(t[14]), false, opt(t[15])}
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
  enter(row)
  enter_seq(row)
end
if job ~= '' then redis.call('HSET', K_JOBS, job, job_record) end
flush()
if #tasks > 0 then redis.call('PUBLISH', WAKE, '1') end
return {'ok', first}
