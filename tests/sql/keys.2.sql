.load EVSTORE_SO
-- A new process: both columns come back from the log.
.headers off
.mode list
SELECT 'reopened', id, status, ifnull(substr(not_before, 1, 26), '-'), ifnull(substr(ordering_key, 1, 8), '-')
  FROM inbox WHERE not_before IS NOT NULL OR ordering_key IS NOT NULL ORDER BY id;
