-- promote.lua: scheduled tasks whose run_at has come become queued (event 'promoted').
--
-- KEYS: the standard keys (lib.lua). Reads and writes sched, ready, st:scheduled,
--   st:queued, counts, eseq and {NAME}:t:<id>, {NAME}:h:<id>, {NAME}:rq:<queue>,
--   {NAME}:jn:<job>.
-- ARGV: now, limit, actor. Earliest run_at first (ties by id).
-- Returns how many moved; publishes on {NAME}:wake when any did.
local moved = promote_due(ARGV[1], tonumber(ARGV[2]), ARGV[3])
flush()
if moved > 0 then redis.call('PUBLISH', WAKE, '1') end
return moved
