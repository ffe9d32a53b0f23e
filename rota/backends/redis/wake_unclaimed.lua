-- wake_unclaimed.lua (after common.lua): the wake-up an insert with a claim behind it held
-- back (insert.lua's ARGV[7]), sent after the claim only when one of its tasks is still
-- queued: a task the claim took wakes no claimer anywhere to find nothing.
-- KEYS[1]: the prefix. ARGV: the ids of the tasks inserted. Answers 1 when it published.
for _, id in ipairs(ARGV) do
  if redis.call('HGET', task_key(id), FIELDS[STATE]) == 'queued' then
    redis.call('PUBLISH', P .. 'wake', '1')
    return 1
  end
end
return 0
