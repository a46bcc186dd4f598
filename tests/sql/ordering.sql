.load EVSTORE_SO
-- Ordering keys and claims: events of one key are claimed one at a time,
-- oldest first (claimable only when every older event of the key is
-- acknowledged, deleted or dead and none of the key is leased); events
-- without a key, and the inbox, are not affected.
.headers off
.mode list
CREATE VIRTUAL TABLE inbox USING evstore(dir='st', max_deliveries=2);
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES
  ('app', 't', '{"n":1}', 'k1'),
  ('app', 't', '{"n":2}', 'k1'),
  ('app', 't', '{"n":3}', 'k2'),
  ('app', 't', '{"n":4}', NULL),
  ('app', 't', '{"n":5}', 'k1'),
  ('app', 't', '{"n":6}', 'K1'),
  ('app', 't', '{"n":7}', 'k2');
-- The inbox has them all.
SELECT 'inbox', group_concat(id || ':' || ifnull(ordering_key, '-'), ' ') FROM inbox
  WHERE status = 'pending';
-- One of each key (byte for byte: K1 is another key), and the keyless.
SELECT 'claim 1', group_concat(id || ':' || ifnull(ordering_key, '-'), ' ')
  FROM evstore_claim('inbox', 'w1', 100);
SELECT 'claim 2', count(*) FROM evstore_claim('inbox', 'w1', 100);
-- Still in the inbox (pending), just not claimable yet.
SELECT 'pending', group_concat(id) FROM inbox WHERE status = 'pending';

-- Acknowledged with its token: the next of k1 comes.
UPDATE inbox SET status = 'acknowledged'
  WHERE id = 1 AND lease_token = (SELECT lease_token FROM inbox WHERE id = 1);
SELECT 'after ack 1', group_concat(id) FROM evstore_claim('inbox', 'w1', 100);
-- Released: the same event comes back first, not the next of its key.
SELECT 'release 3', evstore_release('inbox', 3, (SELECT lease_token FROM inbox WHERE id = 3));
SELECT 'after release 3', group_concat(id) FROM evstore_claim('inbox', 'w2', 100);
-- Rejected (dead): the next of k2.
SELECT 'reject 3', evstore_reject('inbox', 3, (SELECT lease_token FROM inbox WHERE id = 3));
SELECT 'after reject 3', group_concat(id) FROM evstore_claim('inbox', 'w2', 100);
-- Deleted: the next of k1.
DELETE FROM inbox WHERE id = 2;
SELECT 'after delete 2', group_concat(id) FROM evstore_claim('inbox', 'w3', 100);
SELECT 'leased', group_concat(id || ':' || ifnull(ordering_key, '-'), ' ') FROM inbox
  WHERE status = 'leased';

-- A filtered claim does not skip the older event of a key it filters out:
-- 9 (source b, k3) waits for 8 (source a, k3).
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES
  ('a', 't', '{"n":8}', 'k3'), ('b', 't', '{"n":9}', 'k3'), ('b', 't', '{"n":10}', 'k4');
SELECT 'source b', group_concat(id) FROM evstore_claim('inbox', 'w4', 100, '1m', 'b');
SELECT 'source a', group_concat(id) FROM evstore_claim('inbox', 'w4', 100, '1m', 'a');
UPDATE inbox SET status = 'acknowledged' WHERE id = 8;
SELECT 'source b again', group_concat(id) FROM evstore_claim('inbox', 'w4', 100, '1m', 'b');

-- A delayed event holds the newer events of its key back until it is
-- claimed and settled; events of other keys pass it.
INSERT INTO inbox(source, event_type, payload, ordering_key, not_before) VALUES
  ('app', 't', '{"n":11}', 'k5', '2099-01-01');
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES
  ('app', 't', '{"n":12}', 'k5'), ('app', 't', '{"n":13}', 'k6');
SELECT 'delayed first', group_concat(id) FROM evstore_claim('inbox', 'w5', 100);
SELECT 'status', id, status FROM inbox WHERE id IN (11, 12, 13) ORDER BY id;
DELETE FROM inbox WHERE id = 11;
SELECT 'delayed deleted', group_concat(id) FROM evstore_claim('inbox', 'w5', 100);
-- Left leased for the next process: 5 (k1), 6 (K1), 12 (k5)...
SELECT 'leased at exit', group_concat(id) FROM inbox WHERE status = 'leased';
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES ('app', 't', '{"n":14}', 'k1');
