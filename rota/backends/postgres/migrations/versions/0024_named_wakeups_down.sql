CREATE OR REPLACE FUNCTION rota_wake_claimers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('rota.insert_claim', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('rota_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER rota_tasks_inserted ON rota_tasks;
CREATE TRIGGER rota_tasks_inserted AFTER INSERT ON rota_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION rota_wake_claimers();
