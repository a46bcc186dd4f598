.load EVSTORE_SO
-- A new process: the leases and max_deliveries=2 (a store setting) stay.
.headers off
.mode list
SELECT 'reopened', status, count(*), group_concat(DISTINCT leased_by) FROM inbox GROUP BY status ORDER BY status;
SELECT 'released', evstore_release('inbox', id, lease_token) FROM inbox WHERE id = 7;
SELECT 'claim', group_concat(id || ':' || delivery_count) FROM evstore_claim('inbox', 'w7', 1);
SELECT 'released', evstore_release('inbox', id, lease_token) FROM inbox WHERE id = 7;
SELECT 'dead', id, status, delivery_count FROM inbox WHERE status = 'dead';
