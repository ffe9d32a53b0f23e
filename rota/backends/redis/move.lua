-- move.lua: a new run time (and state) for a task that is still in the expected state.
--
-- KEYS: the standard keys (lib.lua). Writes st:*, ready, sched, counts, eseq and
--   {NAME}:t:<id>, {NAME}:h:<id>, {NAME}:rq:<queue>, {NAME}:jn:<job>.
-- ARGV: task_id, run_at (microseconds), new state (queued or scheduled), expected state,
--   now, actor, the event's message.
-- Returns the task's fields (FIELDS order), or nil if it is not in that state. Its seq is
-- kept: among equal priorities it keeps its place. A move to queued wakes claimers.
local row = read_row(ARGV[1])
if not row[ID] or row[STATE] ~= ARGV[4] then return false end
local from = row[STATE]
leave(row)
row[RUN_AT] = ARGV[2]
row[STATE] = ARGV[3]
enter(row)
write(row, STATE, RUN_AT)
event(row, 'moved', from, ARGV[5], ARGV[7], ARGV[6])
flush()
if ARGV[3] == 'queued' then wake({[row[QUEUE]] = true}) end
return row
