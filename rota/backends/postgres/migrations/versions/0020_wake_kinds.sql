-- Claimers promote due scheduled tasks before they claim, but only when something may have
-- scheduled one sooner than they expect; every wake-up used to count as such. Now the
-- wake-up says which it is: the statement trigger's '' announces new tasks (claim at once),
-- and a write that schedules a task for later sends 's' as well (promote first). This
-- trigger sends it for inserted scheduled rows; the finish statement sends it for a retry
-- with a backoff. pg_notify folds repeats within a transaction into one notification.
CREATE FUNCTION rota_wake_scheduled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rota_' || TG_TABLE_SCHEMA, 's');
    RETURN NULL;
END
$$;
CREATE TRIGGER rota_tasks_inserted_scheduled AFTER INSERT ON rota_tasks
    FOR EACH ROW WHEN (NEW.state = 'scheduled') EXECUTE FUNCTION rota_wake_scheduled();
