-- The audit log: operator actions (service/audit.py), in the order they happened.
CREATE TABLE rota_audit (
    seq    BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     TIMESTAMPTZ NOT NULL,
    actor  TEXT        NOT NULL,
    action TEXT        NOT NULL,
    target TEXT,
    reason TEXT,
    detail TEXT        NOT NULL
);
