-- schedule_put.lua: store a new schedule, or replace one whose version is as expected.
--
-- KEYS[1]: {NAME}:schedules (hash: id -> the record as JSON); KEYS[2]: {NAME}:sdue (zset:
--   the ids of enabled schedules that fire again, by next_run_at); KEYS[3]: {NAME}:snames
--   (hash: name -> id).
-- ARGV: id, name, record JSON, the expected version ('' to insert), the due score in
--   microseconds ('' when it is not to fire: disabled, or no next run).
-- Returns 1 when stored, 0 when the id or name is taken (insert), or when the version
-- moved on or the new name is another's (update); then nothing changes.
local id, name, record, expect, due = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local current = redis.call('HGET', KEYS[1], id)
local owner = redis.call('HGET', KEYS[3], name)
if expect == '' then
  if current or owner then return 0 end
else
  if not current then return 0 end
  local old = cjson.decode(current)
  if tostring(old['version']) ~= expect then return 0 end
  if owner and owner ~= id then return 0 end
  if old['name'] ~= name then redis.call('HDEL', KEYS[3], old['name']) end
end
redis.call('HSET', KEYS[1], id, record)
redis.call('HSET', KEYS[3], name, id)
if due == '' then
  redis.call('ZREM', KEYS[2], id)
else
  redis.call('ZADD', KEYS[2], due, id)
end
return 1
