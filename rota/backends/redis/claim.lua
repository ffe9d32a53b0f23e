-- claim.lua: lease up to ARGV[4] ready tasks in contract order.
--
-- KEYS: the standard keys (lib.lua), then the ready zsets to claim from: {NAME}:ready for
--   every queue, or one {NAME}:rq:<queue> per requested queue (their heads are merged).
--   Reads and writes sched, ready, st:scheduled, st:queued, st:running, leases, timed,
--   expiring, counts, eseq and, per task, {NAME}:t:<id>, {NAME}:h:<id>, {NAME}:rq:<queue>,
--   {NAME}:jn:<job>.
-- ARGV: now, lease_expires_at, worker_id, limit, actor, promote_max, system_actor,
--   skip_max, salt, the worker's capabilities (a JSON list), the claimed queues' global
--   limits (a JSON list of [queue, running max, tenant running max, rate], nulls for none;
--   rota.core.admission, the same arithmetic), the given tasks (a JSON list of ids; empty
--   for the normal claim), then the tenants whose tasks stay waiting (scheduling
--   disabled). Limits read counts and {NAME}:tn:<tenant> for what runs, and
--   read and write {NAME}:rates (queue -> "tokens|updated µs", the rate buckets).
-- A lease token's high bits count the task's claims and its low 32 bits are the claim's
-- salt (random, drawn by the service; rota.core.models.next_lease_token): a claim that a crash undid (appendfsync everysec or no)
-- is followed by one whose token differs from it except with odds of 2^-32, so the worker
-- still running the undone claim is fenced off. Tokens stay exact doubles while a task is
-- claimed fewer than 2^21 times.
-- First promotes scheduled tasks due by now (at most promote_max, earliest run_at first;
-- event 'promoted' by system_actor), then picks. A task past its expires_at is skipped
-- and left queued (the expiry service cancels it); after skip_max of them the claim stops
-- looking, so a backlog of expired tasks cannot make one script run long. A task of a
-- disabled tenant is stepped over the same way, counted against the same skip_max, and so
-- is a task that requires a capability the worker lacks, and one that a limit holds back;
-- but a claim of named queues stops reading a queue once its limit or bucket is spent.
-- A claim of given tasks (never with limits) walks nothing: it reads each given task and
-- takes those that are queued in a claimed queue (one of the {NAME}:rq:<queue> keys, or
-- any with {NAME}:ready) and pass the same checks.
-- Returns the claimed tasks as field arrays (FIELDS order), best first.
local now, lease, worker, limit, actor = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local now_n, skip_max, salt = tonumber(now), tonumber(ARGV[8]), tonumber(ARGV[9])
local CLAIM_UNIT = 4294967296 -- 2^32: one claim in a lease token
local PER_QUEUE_WALK_MAX = 64 -- see the sources below
local can = {}
for _, capability in ipairs(cjson.decode(ARGV[10])) do can[capability] = true end
local function runnable(row)
  if not row[REQUIRES] then return true end
  for _, capability in ipairs(cjson.decode(row[REQUIRES])) do
    if not can[capability] then return false end
  end
  return true
end
local skip_tenant = {}
local given = cjson.decode(ARGV[12])
for i = 13, #ARGV do skip_tenant[ARGV[i]] = true end

-- global limits: what runs now, per limited queue and per tenant in it, and the buckets
local K_RATES = P .. 'rates'
local limited, running, tenant_running, tokens, bucket_at = {}, {}, {}, {}, {}
local function value(v) if v == cjson.null then return nil end return v end
for _, l in ipairs(cjson.decode(ARGV[11])) do
  limited[l[1]] = {running = value(l[2]), tenant = value(l[3]), rate = value(l[4])}
end
local function running_in(key, into, prefix)
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local state, queue = string.match(fields[i], '^([^|]*)|[^|]*|(.*)$')
    if state == 'running' and limited[queue] then
      into[prefix .. queue] = (into[prefix .. queue] or 0) + tonumber(fields[i + 1])
    end
  end
end
if next(limited) then
  running_in(K_COUNTS, running, '')
  for queue, l in pairs(limited) do
    if l.rate then
      local burst = math.max(1, l.rate)
      local stored = redis.call('HGET', K_RATES, queue)
      bucket_at[queue] = now
      if stored then
        local held, at = string.match(stored, '^(.*)|(.*)$')
        local elapsed = math.max(now_n - tonumber(at), 0) / 1e6
        tokens[queue] = math.min(burst, tonumber(held) + l.rate * elapsed)
        -- a claim's now may be older than the bucket's last change: its time never goes back
        if tonumber(at) > now_n then bucket_at[queue] = at end
      else
        tokens[queue] = burst
      end
    end
  end
end
local counted_tenants = {}
local function admit(row)
  local queue = row[QUEUE]
  local l = limited[queue]
  if not l then return true end
  local tenant = row[TENANT]
  if l.running and (running[queue] or 0) >= l.running then return false end
  local key = tenant and (tenant .. '|' .. queue)
  if tenant and l.tenant then
    if not counted_tenants[tenant] then
      running_in(P .. 'tn:' .. tenant, tenant_running, tenant .. '|')
      counted_tenants[tenant] = true
    end
    if (tenant_running[key] or 0) >= l.tenant then return false end
  end
  if l.rate and tokens[queue] < 1 then return false end
  running[queue] = (running[queue] or 0) + 1
  if key then tenant_running[key] = (tenant_running[key] or 0) + 1 end
  if l.rate then tokens[queue] = tokens[queue] - 1 end
  return true
end
-- whether no task of the queue can start now, whatever its tenant
local function exhausted(queue)
  local l = limited[queue]
  return l ~= nil and ((l.running and (running[queue] or 0) >= l.running)
    or (l.rate ~= nil and tokens[queue] < 1))
end

if promote_due(now, tonumber(ARGV[6]), ARGV[7]) > 0 then flush() end

-- each source reads its zset's head a chunk at a time: a share of the limit first, then
-- twice as much at each refill
local source_keys = {}
for i = FIRST_EXTRA_KEY, #KEYS do source_keys[#source_keys + 1] = KEYS[i] end
-- A claim of every queue that a limit bounds walks each queue's own zset instead of the
-- one of them all, while few queues have ready tasks: a queue out of room then drops out
-- of the walk, where in the zset of all queues its held-back tasks would use up skip_max
-- before the other queues' tasks behind them (ties between queues go by queue name).
if next(limited) and #source_keys == 1 and source_keys[1] == K_READY then
  local ready, names = {}, {}
  local fields = redis.call('HGETALL', K_COUNTS)
  for i = 1, #fields, 2 do
    local state, queue = string.match(fields[i], '^([^|]*)|[^|]*|(.*)$')
    if state == 'queued' and tonumber(fields[i + 1]) > 0 and not ready[queue] then
      ready[queue] = true
      names[#names + 1] = queue
    end
  end
  if #names <= PER_QUEUE_WALK_MAX then
    table.sort(names)
    source_keys = {}
    for _, queue in ipairs(names) do source_keys[#source_keys + 1] = queue_key(queue) end
  end
end
local count_sources = #source_keys
local first_chunk = math.max(8, math.ceil(limit / math.max(count_sources, 1)))
local sources = {}
local RQ = P .. 'rq:'
for _, key in ipairs(source_keys) do
  -- a queue's own zset names its queue: once the queue is out of room, the walk leaves it
  local queue = string.sub(key, 1, #RQ) == RQ and string.sub(key, #RQ + 1) or nil
  sources[#sources + 1] = {key = key, queue = queue, buf = {}, pos = 1, offset = 0,
    size = first_chunk, done = false}
end

local function head(src)
  if src.queue and exhausted(src.queue) then return nil end
  if src.pos > #src.buf then
    if src.done then return nil end
    local size = src.size
    src.buf = redis.call('ZRANGE', src.key, src.offset, src.offset + size - 1, 'WITHSCORES')
    src.offset = src.offset + size
    src.size = math.min(size * 2, 4096)
    src.pos = 1
    if #src.buf < 2 * size then src.done = true end
    if #src.buf == 0 then return nil end
  end
  return src.buf[src.pos], tonumber(src.buf[src.pos + 1])
end

local picked, skipped = {}, 0
local function claimable(row)
  return not ((row[EXPIRES] and tonumber(row[EXPIRES]) <= now_n)
    or (row[TENANT] and skip_tenant[row[TENANT]]) or not runnable(row) or not admit(row))
end
if #given > 0 then
  local allowed = nil -- nil: every queue
  if source_keys[1] ~= K_READY then
    allowed = {}
    for _, key in ipairs(source_keys) do allowed[string.sub(key, #RQ + 1)] = true end
  end
  local scores = {}
  for _, id in ipairs(given) do
    local row = read_row(id)
    if #picked < limit and row[STATE] == 'queued' and (allowed == nil or allowed[row[QUEUE]])
        and claimable(row) then
      picked[#picked + 1] = row
      scores[row] = tonumber(redis.call('ZSCORE', K_READY, id))
    end
  end
  table.sort(picked, function(a, b)
    if scores[a] ~= scores[b] then return scores[a] < scores[b] end
    return a[ID] < b[ID]
  end)
end
while #picked < limit and skipped < skip_max and #given == 0 do
  local best, best_id, best_score = nil, nil, nil
  for _, src in ipairs(sources) do
    local id, score = head(src)
    if id and (best == nil or score < best_score) then
      best, best_id, best_score = src, id, score
    end
  end
  if best == nil then break end
  best.pos = best.pos + 2
  local row = read_row(best_id)
  if row[STATE] ~= 'queued' then -- never expected: an index entry outlived its task's state
    zrem(best.key, best_id)
    zrem(K_READY, best_id)
  elseif not claimable(row) then
    skipped = skipped + 1
  else
    picked[#picked + 1] = row
  end
end

for queue, held in pairs(tokens) do
  redis.call('HSET', K_RATES, queue, string.format('%.17g', held) .. '|' .. bucket_at[queue])
end

for _, row in ipairs(picked) do
  leave(row)
  local had_progress = row[PROGRESS]
  row[STATE] = 'running'
  row[ATTEMPT] = tonumber(row[ATTEMPT] or 0) + 1
  row[TOKEN] = (math.floor(tonumber(row[TOKEN] or 0) / CLAIM_UNIT) + 1) * CLAIM_UNIT + salt
  row[LEASE] = lease
  row[WORKER] = worker
  row[STARTED] = now
  row[PROGRESS] = false
  enter(row)
  if had_progress then
    write(row, STATE, ATTEMPT, TOKEN, LEASE, WORKER, STARTED, PROGRESS)
  else
    write(row, STATE, ATTEMPT, TOKEN, LEASE, WORKER, STARTED)
  end
  event(row, 'claimed', 'queued', now, false, actor)
end
flush()
return picked
