-- token_insert.lua: store a new API token unless its name or digest is taken.
--
-- KEYS[1]: the prefix {NAME}: (the token's hash is {NAME}:tok:<name>); KEYS[2]:
--   {NAME}:tokdig (hash: digest -> name).
-- ARGV: name, digest, role, tenant ('' for none), created_at, expires_at ('' for none),
--   times in microseconds. Returns 1 when stored, 0 when the name or digest is taken.
local key = KEYS[1] .. 'tok:' .. ARGV[1]
if redis.call('EXISTS', key) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
  return 0
end
local fields = {'name', ARGV[1], 'digest', ARGV[2], 'role', ARGV[3], 'created_at', ARGV[5]}
if ARGV[4] ~= '' then table.insert(fields, 'tenant'); table.insert(fields, ARGV[4]) end
if ARGV[6] ~= '' then table.insert(fields, 'expires_at'); table.insert(fields, ARGV[6]) end
redis.call('HSET', key, unpack(fields))
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1
