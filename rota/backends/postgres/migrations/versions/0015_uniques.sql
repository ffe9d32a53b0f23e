-- Unique keys (rota.core.dedup): the task that holds each key (scoped by queue and tenant),
-- and how it holds it. A submit that names a key locks it (an advisory lock on its hash)
-- for its transaction, so concurrent submitters of one key are decided one after another.
CREATE TABLE rota_uniques (
    key           TEXT COLLATE "C" PRIMARY KEY,
    task_id       TEXT COLLATE "C" NOT NULL,
    while_running BOOLEAN NOT NULL,
    held_until    TIMESTAMPTZ
);
