-- fair_advance.lua: move fairness keys' passes on (rota.core.fairness.advance, the same
-- arithmetic, kept in step with it by the contract tests).
--
-- KEYS[1]: the prefix (common.lua). Reads {NAME}:rq:<queue> (its head) and the head's
--   hash; reads and writes {NAME}:fair:<queue> (key -> pass; the clock under '').
-- ARGV: queue, then pairs of fairness key and amount (the key's tasks' strides, summed).
-- Returns each key's base, as exact decimal text.
local queue = ARGV[1]
local counters = P .. 'fair:' .. queue
local head = false
local first = redis.call('ZRANGE', queue_key(queue), 0, 0)
if first[1] then
  local found = redis.call('HMGET', task_key(first[1]), FIELDS[PLACE], FIELDS[SEQ])
  head = tonumber(found[1] or found[2])
end
local clock = tonumber(redis.call('HGET', counters, '') or '0')
local bases = {}
for i = 2, #ARGV, 2 do
  local key, amount = ARGV[i], tonumber(ARGV[i + 1])
  local floor = head or clock
  local base = math.max(tonumber(redis.call('HGET', counters, key) or '0'), floor)
  local pass = base + amount
  redis.call('HSET', counters, key, string.format('%.17g', pass))
  if pass > clock then clock = pass end
  bases[#bases + 1] = string.format('%.17g', base)
end
redis.call('HSET', counters, '', string.format('%.17g', clock))
return bases
