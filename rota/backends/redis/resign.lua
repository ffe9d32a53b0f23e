-- resign.lua: give up the maintenance lease, only if this process still holds it.
--
-- KEYS[1]: {NAME}:leader. ARGV[1]: the value held. Returns 1 if it was deleted.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
