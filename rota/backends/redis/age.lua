-- age.lua: one aging step over part of a queue (rota.core.aging): each queued task of the
-- queue below the cap whose run_at is at least a step ago gains one priority point.
--
-- KEYS: the standard keys (lib.lua). Reads {NAME}:rq:<queue> and each task's hash; writes
--   ready, st:queued (no: its seq is kept), counts, {NAME}:rq:<queue>, {NAME}:t:<id>,
--   {NAME}:tn:<tenant>, {NAME}:jn:<job>.
-- ARGV: queue, cap, ready_before (µs), from (the score to start at, '-inf' or '(' .. a
--   score), limit.
-- Walks the queue's ready zset up from the lowest score below the cap. A raised task's
-- score falls by 2^45, behind the walk, so a walk in pages raises no task twice.
-- Returns {raised, tasks looked at, the last score looked at (exact text) or false}.
local queue, cap, before = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local key = queue_key(queue)
local low = (101 - cap) * SEQ_BOUND  -- the best score of a task of priority cap - 1
local from = ARGV[4]
if from == '-inf' then from = string.format('%.17g', low) end
local found = redis.call('ZRANGEBYSCORE', key, from, '+inf', 'WITHSCORES', 'LIMIT', 0,
  tonumber(ARGV[5]))
local raised, last = 0, false
for i = 1, #found, 2 do
  local row = read_row(found[i])
  last = found[i + 1]
  if row[STATE] == 'queued' and tonumber(row[PRIO]) < cap and tonumber(row[RUN_AT]) <= before then
    leave(row)
    row[PRIO] = tonumber(row[PRIO]) + 1
    enter(row)
    write(row, PRIO)
    raised = raised + 1
  end
end
flush()
return {raised, #found / 2, last}
