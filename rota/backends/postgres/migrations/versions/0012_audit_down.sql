DROP TABLE rota_audit;
