DROP TRIGGER rota_tasks_inserted_scheduled ON rota_tasks;
DROP FUNCTION rota_wake_scheduled();
