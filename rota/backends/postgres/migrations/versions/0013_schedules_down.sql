DROP TABLE rota_schedules;
