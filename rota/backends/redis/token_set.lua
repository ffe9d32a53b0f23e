-- token_set.lua: set one time field of a stored API token (revoked_at, last_used_at).
--
-- KEYS[1]: the prefix {NAME}: (the token's hash is {NAME}:tok:<name>).
-- ARGV: name, field, value (microseconds), once ('1': only if the field is unset).
-- Returns 1 when set, 0 when there is no such token (or, with once, it was set already).
local key = KEYS[1] .. 'tok:' .. ARGV[1]
if redis.call('EXISTS', key) == 0 then return 0 end
if ARGV[4] == '1' and redis.call('HEXISTS', key, ARGV[2]) == 1 then return 0 end
redis.call('HSET', key, ARGV[2], ARGV[3])
return 1
