-- delete.lua: remove tasks and their history for good.
--
-- KEYS: the standard keys (lib.lua). Writes all, st:*, ready, sched, leases, timed,
--   expiring, counts and, per task, deletes {NAME}:t:<id> and {NAME}:h:<id> and writes
--   {NAME}:rq:<queue>, {NAME}:jt:<job>, {NAME}:jn:<job>.
-- ARGV: the task ids. Returns how many were deleted: only finished tasks are (one that a
-- retry put back meanwhile stays).
local FINAL = {succeeded = true, failed = true, canceled = true}
local gone = 0
for _, id in ipairs(ARGV) do
  local row = read_row(id)
  if row[ID] and FINAL[row[STATE]] then
    leave(row)
    leave_seq(row)
    redis.call('DEL', task_key(id), history_key(id))
    gone = gone + 1
  end
end
flush()
return gone
