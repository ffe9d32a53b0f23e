-- set_priority.lua: re-rank a task that is still in the expected state.
--
-- KEYS: the standard keys (lib.lua). Writes seq (to_tail), all, st:*, ready, counts, eseq
--   and {NAME}:t:<id>, {NAME}:h:<id>, {NAME}:rq:<queue>, {NAME}:jt:<job>, {NAME}:jn:<job>.
-- ARGV: task_id, priority, expected state, to_tail ('1' gives a fresh seq, and that as its
--   place), now, actor.
-- Returns the task's fields (FIELDS order), or nil if it is not in that state.
local row = read_row(ARGV[1])
if not row[ID] or row[STATE] ~= ARGV[3] then return false end
local seq, place = row[SEQ], row[PLACE]
if ARGV[4] == '1' then
  seq, place = take_seqs(1), false
  if not seq then return redis.error_reply(SEQ_EXHAUSTED) end
end
leave(row)
row[PRIO] = ARGV[2]
row[SEQ] = seq
row[PLACE] = place
enter(row)
enter_seq(row)
write(row, PRIO, SEQ, PLACE)
event(row, 'priority_changed', row[STATE], ARGV[5], 'priority ' .. ARGV[2], ARGV[6])
flush()
return row
