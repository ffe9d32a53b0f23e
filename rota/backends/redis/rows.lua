-- rows.lua: the tasks of a zset's score range, lowest score first; reads only.
--
-- KEYS[1]: the prefix (common.lua); KEYS[2]: a zset of task ids ({NAME}:leases,
--   {NAME}:timed). Reads {NAME}:t:<id> of each entry.
-- ARGV: min, max (ZRANGEBYSCORE bounds), limit.
-- Returns the tasks' fields (FIELDS order).
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local row = read_row(id)
  if row[ID] then out[#out + 1] = row end
end
return out
