-- set_priority.lua: re-rank a task that is still in the expected state.
--
-- KEYS: the standard keys (lib.lua). Writes seq (to_tail), all, st:*, ready, counts, eseq
--   and {NAME}:t:<id>, {NAME}:h:<id>, {NAME}:rq:<queue>, {NAME}:jt:<job>, {NAME}:jn:<job>.
-- ARGV: task_id, priority, expected state, to_tail ('1' gives a fresh seq), now, actor.
-- Returns the task's fields (FIELDS order), or nil if it is not in that state.
local row = read_row(ARGV[1])
if not row[ID] or row[STATE] ~= ARGV[3] then return false end
local seq = row[SEQ]
if ARGV[4] == '1' then
  seq = take_seqs(1)
  if not seq then return redis.error_reply(SEQ_EXHAUSTED) end
end
leave(row)
row[PRIO] = ARGV[2]
row[SEQ] = seq
enter(row)
enter_seq(row)
write(row, PRIO, SEQ)
event(row, 'priority_changed', row[STATE], ARGV[5], 'priority ' .. ARGV[2], ARGV[6])
flush()
return row
