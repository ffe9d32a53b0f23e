-- schedule_delete.lua: forget a schedule.
--
-- KEYS: as schedule_put.lua ({NAME}:schedules, {NAME}:sdue, {NAME}:snames).
-- ARGV: id. Returns 1 when it existed, else 0.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
redis.call('HDEL', KEYS[3], cjson.decode(current)['name'])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
