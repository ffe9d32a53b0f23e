DROP TABLE rota_tokens;
