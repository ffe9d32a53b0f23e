CREATE OR REPLACE FUNCTION rota_wake_claimers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rota_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;
