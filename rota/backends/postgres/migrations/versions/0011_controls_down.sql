DROP TABLE rota_controls;
