-- position.lua: a queued task's 1-based place in its queue's line; reads only.
--
-- KEYS[1]: the prefix (common.lua). Reads {NAME}:t:<id> and {NAME}:rq:<queue>.
-- ARGV: task_id.
-- Returns {in_priority, in_queue}, or nil when the task is not queued.
local id = ARGV[1]
local row = redis.call('HMGET', task_key(id), FIELDS[STATE], FIELDS[QUEUE], FIELDS[PRIO])
if row[1] ~= 'queued' then return false end
local key = queue_key(row[2])
local rank = redis.call('ZRANK', key, id)
if not rank then return false end
-- ZSCORE's reply is exact text; a Lua number would print 14 digits only
local score = redis.call('ZSCORE', key, id)
local ahead = redis.call('ZCOUNT', key, ready_score(row[3], 0), '(' .. score)
return {ahead + 1, rank + 1}
