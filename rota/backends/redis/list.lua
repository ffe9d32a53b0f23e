-- list.lua: one page of tasks, newest first, from an index by seq; reads only.
--
-- KEYS[1]: the prefix (common.lua); KEYS[2]: the index walked, a zset by seq:
--   {NAME}:all, {NAME}:st:<state> or {NAME}:jt:<job>. Reads {NAME}:t:<id> of each entry.
-- ARGV: max (the ZREVRANGEBYSCORE bound: '+inf' or '(<seq>'), limit, budget (entries
--   read at most), then the filters queue, state, kind, tenant, job_id: each '' for any,
--   or '=' followed by the value wanted.
-- Returns {cursor, row...}: the rows that pass (at most limit), and where to resume
-- ('(<seq>') when the budget ran out before the page was full, else ''.
local max, limit, budget = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local wanted = {}
for i, field in ipairs({QUEUE, STATE, KIND, TENANT, JOB}) do
  local value = ARGV[3 + i]
  if value ~= '' then wanted[#wanted + 1] = {field, string.sub(value, 2)} end
end

local ids = redis.call('ZREVRANGEBYSCORE', KEYS[2], max, '-inf', 'LIMIT', 0, budget)
local out = {''}
local last_seq = nil
for _, id in ipairs(ids) do
  local row = read_row(id)
  if row[ID] then
    last_seq = row[SEQ]
    local ok = true
    for _, want in ipairs(wanted) do
      if row[want[1]] ~= want[2] then
        ok = false
        break
      end
    end
    if ok then
      out[#out + 1] = row
      if #out > limit then return out end
    end
  end
end
if #ids == budget and last_seq then out[1] = '(' .. last_seq end
return out
