-- leader.lua: become or stay the maintenance leader.
--
-- KEYS[1]: {NAME}:leader, the lease (string "<fence>:<holder>", with a TTL);
-- KEYS[2]: {NAME}:fence, the fencing counter.
-- ARGV: the value this process holds ('' for none), its holder id, the TTL in ms.
-- Renews the lease when it still holds that value; takes it when free, with a fresh
-- fencing value (SET NX PX). Returns the value held, or nil while another holds it.
local current = redis.call('GET', KEYS[1])
if current then
  if current == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return current
  end
  return false
end
local fence = redis.call('INCR', KEYS[2])
local value = string.format('%d', fence) .. ':' .. ARGV[2]
redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[3])
return value
