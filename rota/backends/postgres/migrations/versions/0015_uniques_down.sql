DROP TABLE rota_uniques;
