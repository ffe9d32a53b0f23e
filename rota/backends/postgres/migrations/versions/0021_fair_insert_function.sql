-- A fair enqueue took two round trips and a transaction block: the fairness lock and the
-- read of the passes and the head in one, the insert, the new passes and COMMIT in the
-- next. This function does the lock, the read and the write inside the insert statement
-- (called once, from a CTE, before any row goes in), so the lock is held until the insert
-- commits and a one-task enqueue is one statement again.
CREATE FUNCTION rota_fair_places(queues TEXT[], keys TEXT[], strides DOUBLE PRECISION[])
RETURNS DOUBLE PRECISION[] LANGUAGE plpgsql AS $$
-- The places of an insert's tasks (queues[i], keys[i]: the task's fairness key, NULL when
-- its queue has none; strides[i]: its stride), NULL where a task has no key: the arithmetic
-- of rota.core.fairness.places, kept in step with it by the contract tests. Per queue, in
-- byte order (the order the backend's other fair paths lock in): take the queue's fairness
-- lock (held to the end of the transaction; the function is volatile, so each statement
-- after the lock reads what the last holder committed), read the floor (lowest: the place
-- of the ready head, else the queue's clock), move each key once from max(its pass, floor)
-- by its stride (its first task's) times its tasks, keys in order of first appearance, and
-- give its n-th task base + stride * n.
DECLARE
    qs     TEXT[] := '{}';
    q      TEXT;
    lowest DOUBLE PRECISION;
    clock  DOUBLE PRECISION;
    ks     TEXT[];
    steps  DOUBLE PRECISION[];
    counts INT[];
    bases  DOUBLE PRECISION[];
    passes DOUBLE PRECISION[];
    nth    INT[];
    places DOUBLE PRECISION[];
    place  DOUBLE PRECISION;
    i      INT;
    j      INT;
BEGIN
    IF cardinality(queues) = 1 AND keys[1] IS NOT NULL THEN
        -- One task, the common case, in a third of the time: the same rule for n = 1, with
        -- fewer statements and expressions (PL/pgSQL sets each up again per transaction).
        q := queues[1];
        PERFORM pg_advisory_xact_lock(hashtextextended('rota_fairness:' || q, 0));
        SELECT coalesce((SELECT f.pass FROM rota_fairness f WHERE f.queue = q AND f.key = ''), 0),
               (SELECT t.place FROM rota_tasks t
                WHERE t.state = 'queued' AND hashtextextended(t.queue, 0) = hashtextextended(q, 0)
                  AND t.queue = q
                ORDER BY t.priority DESC, t.place, t.seq LIMIT 1),
               coalesce((SELECT f.pass FROM rota_fairness f WHERE f.queue = q AND f.key = keys[1]),
                        0)
        INTO clock, lowest, place;
        place := greatest(place, coalesce(lowest, clock)) + strides[1];
        INSERT INTO rota_fairness (queue, key, pass)
        VALUES (q, keys[1], place), (q, '', greatest(clock, place))
        ON CONFLICT (queue, key) DO UPDATE SET pass = excluded.pass;
        RETURN ARRAY[place];
    END IF;
    nth := array_fill(0, ARRAY[cardinality(queues)]);
    places := array_fill(NULL::DOUBLE PRECISION, ARRAY[cardinality(queues)]);
    -- the queues with keys, in byte order
    FOR i IN 1 .. cardinality(queues) LOOP
        IF keys[i] IS NOT NULL AND NOT queues[i] = ANY(qs) THEN
            qs := qs || queues[i];
        END IF;
    END LOOP;
    IF cardinality(qs) > 1 THEN
        qs := ARRAY(SELECT u.q FROM unnest(qs) AS u(q) ORDER BY u.q COLLATE "C");
    END IF;
    FOREACH q IN ARRAY qs LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('rota_fairness:' || q, 0));
        ks := '{}';
        steps := '{}';
        counts := '{}';
        FOR i IN 1 .. cardinality(queues) LOOP
            CONTINUE WHEN queues[i] <> q OR keys[i] IS NULL;
            j := array_position(ks, keys[i]);
            IF j IS NULL THEN
                ks := ks || keys[i];
                steps := steps || strides[i];
                counts := counts || 0;
                j := cardinality(ks);
            END IF;
            counts[j] := counts[j] + 1;
            nth[i] := counts[j];
        END LOOP;
        -- one read: the clock, the ready head's place, the keys' passes
        SELECT coalesce((SELECT f.pass FROM rota_fairness f WHERE f.queue = q AND f.key = ''), 0),
               (SELECT t.place FROM rota_tasks t
                WHERE t.state = 'queued' AND hashtextextended(t.queue, 0) = hashtextextended(q, 0)
                  AND t.queue = q
                ORDER BY t.priority DESC, t.place, t.seq LIMIT 1),
               ARRAY(SELECT coalesce(f.pass, 0) FROM unnest(ks) WITH ORDINALITY AS u(key, n)
                     LEFT JOIN rota_fairness f ON f.queue = q AND f.key = u.key ORDER BY u.n)
        INTO clock, lowest, bases;
        lowest := coalesce(lowest, clock);
        passes := '{}';
        FOR j IN 1 .. cardinality(ks) LOOP
            bases[j] := greatest(bases[j], lowest);
            passes := passes || (bases[j] + steps[j] * counts[j]);
            clock := greatest(clock, passes[j]);
        END LOOP;
        INSERT INTO rota_fairness (queue, key, pass)
        SELECT q, p.key, p.pass FROM unnest(ks || ''::TEXT, passes || clock) AS p(key, pass)
        ON CONFLICT (queue, key) DO UPDATE SET pass = excluded.pass;
        FOR i IN 1 .. cardinality(queues) LOOP
            CONTINUE WHEN queues[i] <> q OR keys[i] IS NULL;
            j := array_position(ks, keys[i]);
            places[i] := bases[j] + steps[j] * nth[i];
        END LOOP;
    END LOOP;
    RETURN places;
END
$$;
