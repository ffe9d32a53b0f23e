-- The NOTIFY that wakes long-polling claimers was part of each insert statement, and COPY
-- cannot carry one: a batch wrapped its COPY in BEGIN ... COMMIT with a statement between
-- them to send it, two round trips more per batch. Sent by a statement trigger instead, it
-- rides in the inserting statement's own transaction, whichever statement that is, and is
-- delivered when that commits. The channel is the backend's: rota_ and the schema's name.
CREATE FUNCTION rota_wake_claimers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rota_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;
CREATE TRIGGER rota_tasks_inserted AFTER INSERT ON rota_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION rota_wake_claimers();
