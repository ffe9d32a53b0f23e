-- Every enqueued row writes an entry into rota_tasks_ready_by_queue. With the queue's name
-- as the first key column that entry cost as much as two fixed-width ones (text
-- comparisons on every step down the tree, attributes found by walking the tuple): about
-- 5 of the 17 us a batched row cost PostgreSQL. A 64-bit hash of the name keeps each
-- queue's rows together just as well; claims and counts add `queue = name` to drop the
-- rows of a queue whose hash collides. hashtextextended is the hash PostgreSQL's own hash
-- partitioning relies on staying the same across versions.
DROP INDEX rota_tasks_ready_by_queue;
CREATE INDEX rota_tasks_ready_by_queue ON rota_tasks (hashtextextended(queue, 0), priority DESC, seq)
    WHERE state = 'queued';
-- A queued row no longer has an entry in the seq index: listings read queued rows through
-- rota_tasks_ready instead (one backward scan per priority, merged), and a row gets its
-- entry here when it leaves the queue (its finish writes a new row version anyway).
DROP INDEX rota_tasks_seq;
CREATE INDEX rota_tasks_seq ON rota_tasks (seq) WHERE state NOT IN ('queued', 'running');
-- Listings read queued rows one priority at a time over the whole range; a row outside it
-- (written by hand) would never be listed. The service refuses such priorities already.
ALTER TABLE rota_tasks ADD CONSTRAINT rota_tasks_priority_range
    CHECK (priority BETWEEN 0 AND 100);
