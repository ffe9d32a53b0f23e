-- An insert that a claim waiting in the inserting process takes in the same transaction
-- (Claims.after_insert) has no news for anyone: every other claimer woken by its NOTIFY
-- would send a claim that finds nothing. Such a transaction sets rota.insert_claim, so the
-- statement trigger stays silent, and announces the task itself after the claim, only when
-- it is still queued (wake_unclaimed in queries.sql).
CREATE OR REPLACE FUNCTION rota_wake_claimers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('rota.insert_claim', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('rota_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;
