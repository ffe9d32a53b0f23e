-- cancel_request.lua: flag a running task's live lease for cancellation.
--
-- KEYS: the standard keys (lib.lua). Writes eseq, {NAME}:t:<id> and {NAME}:h:<id>.
-- ARGV: task_id, lease_token, now, actor.
-- Returns the task's fields (FIELDS order), or nil when the token is not live.
local row = read_row(ARGV[1])
if row[STATE] ~= 'running' or tonumber(row[TOKEN] or 0) ~= tonumber(ARGV[2]) then
  return false
end
row[CANCEL] = '1'
write(row, CANCEL)
event(row, 'cancel_requested', 'running', ARGV[3], false, ARGV[4])
flush()
return row
