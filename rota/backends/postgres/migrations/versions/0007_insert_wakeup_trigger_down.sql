DROP TRIGGER rota_tasks_inserted ON rota_tasks;
DROP FUNCTION rota_wake_claimers();
