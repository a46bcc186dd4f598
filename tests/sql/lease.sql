.load EVSTORE_SO
-- Consumers in SQL: evstore_claim() leases events, the lease columns show
-- them, UPDATE ... WHERE lease_token = ? acknowledges, evstore_release,
-- evstore_renew, evstore_reject and evstore_redrive settle, status =
-- 'leased' / 'dead' are pushed down, mode='ro' refuses.
.headers off
.mode list
CREATE VIRTUAL TABLE inbox USING evstore(dir='st', max_deliveries=2);
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<6)
INSERT INTO inbox(source, event_type, payload) SELECT 'app', 't' || (x % 2), json_object('n', x) FROM s;

-- Never leased: delivery_count 0, the lease columns NULL.
SELECT 'fresh', id, status, delivery_count, typeof(lease_token), typeof(lease_expires_at),
       typeof(leased_by) FROM inbox WHERE id = 1;

-- Claim 2 for w1 (the oldest), 2 for w2 (the next): every column comes back.
.headers on
SELECT * FROM evstore_claim('inbox', 'w1', 2, '30s');
.headers off
SELECT 'w2', id, status, delivery_count, leased_by, lease_token > 0,
       lease_expires_at > created_at FROM evstore_claim('inbox', 'w2', 2);
-- The table shows the leases; the inbox (pending) no longer has them.
SELECT 'table', id, status, delivery_count, leased_by, lease_token IS NOT NULL,
       length(lease_expires_at) FROM inbox ORDER BY id;
SELECT 'pending', group_concat(id) FROM inbox WHERE status = 'pending';
SELECT 'leased', group_concat(id) FROM inbox WHERE status = 'leased';
SELECT 'leased to w2', group_concat(id) FROM inbox WHERE leased_by = 'w2';

-- Acknowledge by UPDATE with the token: the WHERE is the fence.
UPDATE inbox SET status = 'acknowledged'
  WHERE id = 1 AND lease_token = (SELECT lease_token FROM inbox WHERE id = 1);
SELECT 'ack with token', changes(), status, typeof(lease_token), typeof(acknowledged_at)
  FROM inbox WHERE id = 1;
-- A stale token matches no row: nothing changes (changes() = 0).
UPDATE inbox SET status = 'acknowledged'
  WHERE id = 2 AND lease_token = (SELECT lease_token FROM inbox WHERE id = 2) + 1000;
SELECT 'stale token', changes(), status FROM inbox WHERE id = 2;
-- Without a token: acknowledges as before, leased or not.
UPDATE inbox SET status = 'acknowledged' WHERE id = 2;
SELECT 'ack without token', changes(), status FROM inbox WHERE id = 2;
-- The lease columns are the store's.
UPDATE inbox SET lease_token = 5 WHERE id = 3;
UPDATE inbox SET leased_by = 'me' WHERE id = 3;
INSERT INTO inbox(source, event_type, payload, delivery_count) VALUES ('a', 'b', '{}', 3);
INSERT INTO inbox(source, event_type, payload, lease_token) VALUES ('a', 'b', '{}', 3);

-- Renew: the new lease_expires_at (a stale token: EVS_ESTALE's message).
SELECT 'renew', evstore_renew('inbox', 3, lease_token, '1m') > lease_expires_at
  FROM inbox WHERE id = 3;
SELECT 'renewed', evstore_renew('inbox', 3, (SELECT lease_token FROM inbox WHERE id = 3), '2m')
  = (SELECT lease_expires_at FROM inbox WHERE id = 3);
SELECT evstore_renew('inbox', 3, (SELECT lease_token FROM inbox WHERE id = 3) + 1000);
SELECT evstore_renew('inbox', 3, (SELECT lease_token FROM inbox WHERE id = 3), 'soon');
-- Release: back in the inbox now, the delivery counted.
SELECT 'release', evstore_release('inbox', 3, (SELECT lease_token FROM inbox WHERE id = 3));
SELECT 'released', id, status, delivery_count, typeof(lease_token), typeof(leased_by)
  FROM inbox WHERE id = 3;
SELECT evstore_release('inbox', 3, 12345);
-- Released with a delay: 'leased' without a token or consumer until then.
SELECT 'release later', evstore_release('inbox', 4, (SELECT lease_token FROM inbox WHERE id = 4), '1h');
SELECT 'delayed', id, status, typeof(lease_token), typeof(leased_by),
       typeof(lease_expires_at) FROM inbox WHERE id = 4;
-- max_deliveries=2: 3 (its second delivery) released is dead; 5 and 6
-- rejected are dead at once.
SELECT 'claim again', group_concat(id), group_concat(delivery_count)
  FROM evstore_claim('inbox', 'w3', 3);
SELECT 'reject', evstore_reject('inbox', 5, (SELECT lease_token FROM inbox WHERE id = 5)),
       evstore_reject('inbox', 6, (SELECT lease_token FROM inbox WHERE id = 6));
SELECT evstore_reject('inbox', 5, 1);
SELECT 'second delivery', evstore_release('inbox', 3, (SELECT lease_token FROM inbox WHERE id = 3));
SELECT 'dead', id, status, delivery_count, typeof(lease_token), typeof(leased_by)
  FROM inbox WHERE status = 'dead' ORDER BY id;
SELECT 'pending', count(*) FROM inbox WHERE status = 'pending';
SELECT 'nothing to claim', count(*) FROM evstore_claim('inbox', 'w3');

-- Pushdown: status = 'leased' / 'dead' are taken by the store.
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'dead';
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'leased' AND source = 'app';

-- Redrive: the dead (of a source / type) back in the inbox, delivery_count 0.
SELECT 'redrive other', evstore_redrive('inbox', 'nosuch');
SELECT 'redrive t0', evstore_redrive('inbox', NULL, 't0');
SELECT 'after t0', id, status, delivery_count FROM inbox WHERE id IN (3, 5, 6) ORDER BY id;
-- A dead event cannot be acknowledged (evs_ack refuses it): the UPDATE fails.
UPDATE inbox SET status = 'acknowledged' WHERE id = 5;
SELECT 'dead acknowledged', changes(), status FROM inbox WHERE id = 5;
SELECT 'redrive app t1', evstore_redrive('inbox', 'app', 't1');
SELECT 'after all', id, status, delivery_count FROM inbox WHERE id IN (3, 5, 6) ORDER BY id;
SELECT 'dead left', count(*) FROM inbox WHERE status = 'dead';

-- Arguments of evstore_claim.
SELECT count(*) FROM evstore_claim('inbox', 'w4', 0);
SELECT count(*) FROM evstore_claim('inbox', 'w4', 101);
SELECT count(*) FROM evstore_claim('inbox', 'w4', 5, 'soon');
SELECT count(*) FROM evstore_claim('inbox', '', 5);
SELECT count(*) FROM evstore_claim('inbox', NULL, 5);
SELECT count(*) FROM evstore_claim('inbox');
SELECT count(*) FROM evstore_claim('nosuch', 'w4');
SELECT 'claim rest', group_concat(id) FROM evstore_claim('inbox', 'w4', 100, 2000000);
SELECT 'nothing left', count(*) FROM evstore_claim('inbox', 'w4');
SELECT evstore_release('inbox', 'x', 1);
-- In a transaction that wrote to the store: commit first.
BEGIN;
INSERT INTO inbox(source, event_type, payload) VALUES ('app', 't9', '{}');
SELECT count(*) FROM evstore_claim('inbox', 'w5');
SELECT evstore_redrive('inbox');
COMMIT;
SELECT 'after commit', group_concat(id) FROM evstore_claim('inbox', 'w5');

-- max_deliveries is checked like the other settings.
CREATE VIRTUAL TABLE bad USING evstore(dir=':memory:', max_deliveries=0);
CREATE VIRTUAL TABLE bad USING evstore(dir=':memory:', max_deliveries=256);

-- mode='ro': reads the leases, refuses to claim or settle.
CREATE VIRTUAL TABLE r USING evstore(dir='st', mode='ro');
SELECT 'ro', count(*) FROM r WHERE status = 'leased';
SELECT count(*) FROM evstore_claim('r', 'w6');
SELECT evstore_release('r', 6, 1);
SELECT evstore_renew('r', 6, 1);
SELECT evstore_reject('r', 6, 1);
SELECT evstore_redrive('r');
SELECT 'ro after', count(*) FROM r WHERE status = 'pending';
-- A second table on the open store (inbox reconnected by the SELECT: a
-- failed CREATE reloads the schema) must agree on the setting.
SELECT 'inbox', count(*) FROM inbox WHERE status = 'leased';
CREATE VIRTUAL TABLE other USING evstore(dir='st', max_deliveries=3);
CREATE VIRTUAL TABLE same USING evstore(dir='st', max_deliveries=2);
SELECT 'same', count(*) FROM same WHERE status = 'leased';
