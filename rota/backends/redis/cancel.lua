-- cancel.lua: end a task that is still in the expected state as canceled.
--
-- KEYS: the standard keys (lib.lua). Writes st:*, ready, sched, expiring, leases, timed,
--   counts, eseq and {NAME}:t:<id>, {NAME}:h:<id>, {NAME}:rq:<queue>, {NAME}:jn:<job>.
-- ARGV: task_id, expected state, now, actor.
-- Returns the task's fields (FIELDS order), or nil if it is not in that state.
local row = read_row(ARGV[1])
local from = row[STATE]
if not row[ID] or from ~= ARGV[2] then return false end
leave(row)
row[STATE] = 'canceled'
row[FINISHED] = ARGV[3]
enter(row)
write(row, STATE, FINISHED)
event(row, 'canceled', from, ARGV[3], false, ARGV[4])
flush()
return row
