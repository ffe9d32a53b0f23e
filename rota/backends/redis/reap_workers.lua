-- reap_workers.lua: forget workers last seen before a time.
--
-- KEYS[1]: {NAME}:workers (hash of JSON by worker id); KEYS[2]: {NAME}:wseen (zset of
--   worker ids by last_seen_at).
-- ARGV[1]: the time (exclusive). Returns how many were forgotten.
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
for i = 1, #ids, 4000 do
  local last = math.min(i + 3999, #ids)
  redis.call('HDEL', KEYS[1], unpack(ids, i, last))
  redis.call('ZREM', KEYS[2], unpack(ids, i, last))
end
return #ids
