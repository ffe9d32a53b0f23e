-- heartbeat.lua: set a live lease's end, and store progress if given.
--
-- KEYS: the standard keys (lib.lua). Writes leases and {NAME}:t:<id>.
-- ARGV: task_id, lease_token, lease_expires_at, progress (JSON text, or '' to keep it).
-- Returns the task's fields (FIELDS order), or nil when the token is not live (then
-- nothing changes). Records no event: a heartbeat is not a state change.
local row = read_row(ARGV[1])
if row[STATE] ~= 'running' or tonumber(row[TOKEN] or 0) ~= tonumber(ARGV[2]) then
  return false
end
row[LEASE] = ARGV[3]
redis.call('ZADD', K_LEASES, row[LEASE], row[ID])
if ARGV[4] ~= '' then
  row[PROGRESS] = ARGV[4]
  write(row, LEASE, PROGRESS)
else
  write(row, LEASE)
end
return row
