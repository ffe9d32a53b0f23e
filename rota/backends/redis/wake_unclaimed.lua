-- wake_unclaimed.lua (after common.lua): the wake-up an insert with a claim behind it held
-- back (insert.lua's ARGV[7]), sent after the claim only when one of its tasks is still
-- queued: a task the claim took wakes no claimer anywhere to find nothing.
-- KEYS[1]: the prefix. ARGV: the ids of the tasks inserted. Answers 1 when it published
-- (naming the queues of the tasks still queued).
local ready, any = {}, false
for _, id in ipairs(ARGV) do
  local row = redis.call('HMGET', task_key(id), FIELDS[STATE], FIELDS[QUEUE])
  if row[1] == 'queued' then
    ready[row[2]] = true
    any = true
  end
end
if not any then return 0 end
redis.call('PUBLISH', P .. 'wake', wake_payload(ready))
return 1
