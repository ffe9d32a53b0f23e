-- Operator controls (intake blocks), a JSON text by key.
CREATE TABLE rota_controls (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
