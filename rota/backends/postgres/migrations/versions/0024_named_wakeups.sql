-- Every insert woke every claimer of every process, whatever its queues: a worker of a
-- quiet queue beside a busy one sent a claim that found nothing once per busy task. The
-- statement trigger now reads the statement's rows (a transition table) and names their
-- queues in the payload, 'q ' and the names one space apart (rota.core.wakeups), so a
-- claimer of other queues sleeps on. The usual statement inserts into one queue, told by
-- min = max without a sort; several queues are listed, and a list too long for a payload
-- (over 7,000 bytes) or unknown queues are '' (every claimer), as before. An insert of no
-- ready task (scheduled: the row trigger's 's'; blocked by a job) wakes nobody here.
CREATE OR REPLACE FUNCTION rota_wake_claimers() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lo    TEXT;
    hi    TEXT;
    names TEXT;
BEGIN
    IF current_setting('rota.insert_claim', true) IS DISTINCT FROM 'on' THEN
        SELECT min(queue), max(queue) INTO lo, hi FROM inserted WHERE state = 'queued';
        IF lo = hi THEN
            names := lo;
        ELSIF lo IS NOT NULL THEN
            SELECT string_agg(DISTINCT queue, ' ' ORDER BY queue) INTO names
            FROM inserted WHERE state = 'queued';
        END IF;
        IF names IS NOT NULL THEN
            PERFORM pg_notify('rota_' || TG_TABLE_SCHEMA,
                              CASE WHEN length(names) > 7000 THEN '' ELSE 'q ' || names END);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER rota_tasks_inserted ON rota_tasks;
CREATE TRIGGER rota_tasks_inserted AFTER INSERT ON rota_tasks REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION rota_wake_claimers();
