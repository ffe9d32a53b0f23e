ALTER TABLE rota_jobs DROP COLUMN needs;
