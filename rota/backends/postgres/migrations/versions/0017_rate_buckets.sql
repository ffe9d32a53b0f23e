-- Rate limits (rota.core.admission): each limited queue's token bucket, changed by claims
-- under the queue's lock.
CREATE TABLE rota_rate_buckets (
    queue      TEXT COLLATE "C" PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
