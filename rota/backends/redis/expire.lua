-- expire.lua: cancel waiting tasks whose expires_at has passed (event 'expired').
--
-- KEYS: the standard keys (lib.lua). Reads and writes expiring, ready, sched, st:*,
--   counts, eseq and {NAME}:t:<id>, {NAME}:h:<id>, {NAME}:rq:<queue>, {NAME}:jn:<job>.
-- ARGV: now, limit, error (stored as the task's error and the event's message), actor.
-- Returns how many were canceled.
local now, message, actor = ARGV[1], ARGV[3], ARGV[4]
local ids = redis.call('ZRANGEBYSCORE', K_EXPIRING, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local done = 0
for _, id in ipairs(ids) do
  local row = read_row(id)
  local from = row[STATE]
  if row[ID] and WAITING[from] then
    leave(row)
    row[STATE] = 'canceled'
    row[FINISHED] = now
    row[ERROR] = message
    enter(row)
    write(row, STATE, FINISHED, ERROR)
    event(row, 'expired', from, now, message, actor)
    done = done + 1
  else
    zrem(K_EXPIRING, id)
  end
end
flush()
return done
