-- API tokens made by `rota token create`: only the SHA-256 digest of the secret is kept.
CREATE TABLE rota_tokens (
    name         TEXT        PRIMARY KEY,
    digest       TEXT        NOT NULL UNIQUE,
    role         TEXT        NOT NULL,
    tenant       TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
