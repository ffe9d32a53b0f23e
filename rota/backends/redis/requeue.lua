-- requeue.lua: operator retry: a task still in the expected state back to queued, its
-- attempts reset, at the tail of its priority (a fresh seq, and that as its place).
--
-- KEYS: the standard keys (lib.lua). Writes seq, all, st:*, ready, sched, expiring,
--   leases, timed, counts, eseq and {NAME}:t:<id>, {NAME}:h:<id>, {NAME}:rq:<queue>,
--   {NAME}:jt:<job>, {NAME}:jn:<job>.
-- ARGV: task_id, expected state, now, actor.
-- Returns the task's fields (FIELDS order), or nil if it is not in that state.
-- Publishes on {NAME}:wake.
local row = read_row(ARGV[1])
local from = row[STATE]
if not row[ID] or from ~= ARGV[2] then return false end
local seq = take_seqs(1)
if not seq then return redis.error_reply(SEQ_EXHAUSTED) end
leave(row)
row[STATE] = 'queued'
row[ATTEMPT] = 0
row[RUN_AT] = ARGV[3]
row[FINISHED] = false
row[ERROR] = false
row[RESULT] = false
row[CANCEL] = false
row[SEQ] = seq
row[PLACE] = false
enter(row)
enter_seq(row)
write(row, STATE, ATTEMPT, RUN_AT, FINISHED, ERROR, RESULT, CANCEL, SEQ, PLACE)
event(row, 'requeued', from, ARGV[3], false, ARGV[4])
flush()
wake({[row[QUEUE]] = true})
return row
