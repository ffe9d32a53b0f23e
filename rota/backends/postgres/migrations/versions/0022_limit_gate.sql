-- A claim of a queue with global limits, far from them, took three statements in one
-- pipeline: a slot of each queue's lock, the gate (room beside the other slots?) in a
-- snapshot taken after the slots, then the claim. This function takes the slots and asks
-- the gate inside the claim statement (from its first CTE): each query in a volatile
-- function takes a snapshot of its own, so the count still comes after the slots.
CREATE FUNCTION rota_limit_gate(queues TEXT[], running_max INT[], tenant_max INT[],
                                rates DOUBLE PRECISION[], slot INT, slots INT, room INT)
RETURNS BOOLEAN LANGUAGE plpgsql AS $$
-- For each limited queue (queues, sorted; running_max, tenant_max, rates: its limits, NULL
-- for none), in order: one slot of its lock (key hashtext('rota_limits:' || queue), slots
-- 0 .. slots - 1), the first free one, or, all taken, the claim's own `slot`, waited for;
-- held to the end of the transaction. Then true when every queue has room for `room`
-- more running tasks (slots whole claims) beyond what runs in it, a tenant's running
-- tasks counting as at most the queue's, and no rate limit (a bucket is one row that
-- claims side by side would both write; no slot is taken then).
DECLARE
    i       INT;
    s       INT;
    running BIGINT;
BEGIN
    FOR i IN 1 .. cardinality(queues) LOOP
        IF rates[i] IS NOT NULL THEN
            RETURN false;
        END IF;
    END LOOP;
    FOR i IN 1 .. cardinality(queues) LOOP
        s := 0;
        WHILE s < slots AND NOT pg_try_advisory_xact_lock(hashtext('rota_limits:' || queues[i]), s)
        LOOP
            s := s + 1;
        END LOOP;
        IF s = slots THEN
            PERFORM pg_advisory_xact_lock(hashtext('rota_limits:' || queues[i]), slot);
        END IF;
    END LOOP;
    FOR i IN 1 .. cardinality(queues) LOOP
        SELECT count(*) INTO running FROM rota_tasks
        WHERE state = 'running' AND queue = queues[i];
        IF running + room > least(coalesce(running_max[i], 2147483647),
                                  coalesce(tenant_max[i], 2147483647)) THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$$;
