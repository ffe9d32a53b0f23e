-- audit_append.lua: append one operator action to the audit log, capped.
--
-- KEYS[1]: {NAME}:audit (a list, newest first), KEYS[2]: {NAME}:auditseq (its counter).
-- ARGV: the entry as a JSON array without its seq: [at_us, actor, action, target, reason,
--   detail]; ARGV[2]: how many entries the log keeps.
-- Numbers the entry (the counter never goes back, so seq orders entries even after the
-- oldest are trimmed away) and stores "<seq>\t<json>".
local seq = redis.call('INCR', KEYS[2])
redis.call('LPUSH', KEYS[1], seq .. '\t' .. ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return seq
