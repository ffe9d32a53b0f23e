DROP TABLE rota_rate_buckets;
