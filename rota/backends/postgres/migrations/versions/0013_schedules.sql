-- Schedules (service/schedules.py): the definition is the service's JSON; the store finds
-- the due ones by rota_schedules_due, so an evaluation reads what is due and no more.
CREATE TABLE rota_schedules (
    id           TEXT        PRIMARY KEY,
    name         TEXT        NOT NULL UNIQUE,
    definition   TEXT        NOT NULL,
    enabled      BOOLEAN     NOT NULL,
    next_run_at  TIMESTAMPTZ,
    last_run_at  TIMESTAMPTZ,
    last_task_id TEXT,
    version      BIGINT      NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX rota_schedules_due ON rota_schedules (next_run_at)
    WHERE enabled AND next_run_at IS NOT NULL;
