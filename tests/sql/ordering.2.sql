.load EVSTORE_SO
-- A new process: the keys and leases come back from the log, and 14 (k1)
-- still waits for 5 (k1, leased).
.headers off
.mode list
SELECT 'reopened', group_concat(id || ':' || ifnull(ordering_key, '-') || ':' || status, ' ')
  FROM inbox WHERE status <> 'acknowledged';
SELECT 'claim', count(*) FROM evstore_claim('inbox', 'w6', 100);
UPDATE inbox SET status = 'acknowledged' WHERE id = 5;
SELECT 'after ack 5', group_concat(id) FROM evstore_claim('inbox', 'w6', 100);
