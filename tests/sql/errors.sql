.load EVSTORE_SO
-- Every error an INSERT, UPDATE or DELETE can raise, and that a failed
-- statement stores nothing.
CREATE VIRTUAL TABLE inbox USING evstore(max_payload=64);
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('a', 't', '{"n":1}', 'k1');

-- Columns the store assigns.
INSERT INTO inbox(id, source, event_type, payload) VALUES (5, 'a', 't', '{}');
INSERT INTO inbox(rowid, source, event_type, payload) VALUES (5, 'a', 't', '{}');
INSERT INTO inbox(created_at, source, event_type, payload) VALUES ('2020-01-01T00:00:00.000000Z', 'a', 't', '{}');
INSERT INTO inbox(created_us, source, event_type, payload) VALUES (1, 'a', 't', '{}');
INSERT INTO inbox(status, source, event_type, payload) VALUES ('pending', 'a', 't', '{}');
INSERT INTO inbox(acknowledged_at, source, event_type, payload) VALUES ('x', 'a', 't', '{}');
INSERT INTO inbox(cursor, source, event_type, payload) VALUES ('x', 'a', 't', '{}');
-- ... but NULL for them is the same as leaving them out.
INSERT INTO inbox(id, created_at, created_us, status, acknowledged_at, cursor, source, event_type, payload)
  VALUES (NULL, NULL, NULL, NULL, NULL, NULL, 'a', 't', '{"n":2}');
SELECT last_insert_rowid();

-- Types: every text column must be TEXT (or NULL where optional).
INSERT INTO inbox(source, event_type, payload) VALUES (1, 't', '{}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', x'74', '{}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', 1.5);
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', x'7b7d');
INSERT INTO inbox(source, event_type, payload, metadata) VALUES ('a', 't', '{}', 3);
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('a', 't', '{}', 3);
INSERT INTO inbox(source, event_type, payload, priority) VALUES ('a', 't', '{}', 3);

-- Required fields.
INSERT INTO inbox(source, event_type, payload) VALUES (NULL, 't', '{}');
INSERT INTO inbox(event_type, payload) VALUES ('t', '{}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', NULL, '{}');
INSERT INTO inbox(source, payload) VALUES ('a', '{}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', NULL);
INSERT INTO inbox(source, event_type) VALUES ('a', 't');

-- Names: not empty (after trimming), at most 100 bytes, no control characters.
INSERT INTO inbox(source, event_type, payload) VALUES ('', 't', '{}');
INSERT INTO inbox(source, event_type, payload) VALUES ('   ', 't', '{}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', '', '{}');
INSERT INTO inbox(source, event_type, payload) VALUES (printf('%.101c', 's'), 't', '{}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', printf('%.101c', 't'), '{}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a' || char(10) || 'b', 't', '{}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't' || char(9) || 'u', '{}');
-- 100 bytes is fine.
INSERT INTO inbox(source, event_type, payload) VALUES (printf('%.100c', 's'), printf('%.100c', 't'), '{"n":3}');
SELECT id, length(source), length(event_type) FROM inbox WHERE id = last_insert_rowid();

-- Priority.
INSERT INTO inbox(source, event_type, payload, priority) VALUES ('a', 't', '{}', 'urgent');
INSERT INTO inbox(source, event_type, payload, priority) VALUES ('a', 't', '{}', 'HIGH');
INSERT INTO inbox(source, event_type, payload, priority) VALUES ('a', 't', '{}', '');

-- Payload: a JSON object, strictly valid, at most max_payload bytes.
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '[1]');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '"s"');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"a":tru}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"a":1,}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"a":1');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"a":1} x');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{a:1}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"a":01}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"a":NaN}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"a":"' || char(1) || '"}');
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"x":"' || printf('%.57c', 'y') || '"}');
-- 64 bytes exactly is fine.
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"x":"' || printf('%.56c', 'y') || '"}');
SELECT id, length(payload) FROM inbox WHERE id = last_insert_rowid();

-- Metadata: a JSON object of at most 8 KiB (independent of max_payload).
INSERT INTO inbox(source, event_type, payload, metadata) VALUES ('a', 't', '{}', '[]');
INSERT INTO inbox(source, event_type, payload, metadata) VALUES ('a', 't', '{}', '{bad');
INSERT INTO inbox(source, event_type, payload, metadata) VALUES ('a', 't', '{}', '');
INSERT INTO inbox(source, event_type, payload, metadata) VALUES ('a', 't', '{}', '{"m":"' || printf('%.8185c', 'y') || '"}');
INSERT INTO inbox(source, event_type, payload, metadata) VALUES ('a', 't', '{}', '{"m":"' || printf('%.8184c', 'y') || '"}');
SELECT id, length(metadata) FROM inbox WHERE id = last_insert_rowid();

-- Idempotency key: 1..256 bytes.
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('a', 't', '{}', '');
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('a', 't', '{}', printf('%.257c', 'k'));
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('a', 't', '{}', printf('%.256c', 'k'));
SELECT id, length(idempotency_key) FROM inbox WHERE id = last_insert_rowid();

-- Nothing else was stored by the failures above.
SELECT group_concat(id) FROM inbox;

-- UPDATE: only status, and only pending -> acknowledged.
UPDATE inbox SET status = 'acknowledged' WHERE id = 1;
UPDATE inbox SET status = 'acknowledged' WHERE id = 1;
UPDATE inbox SET status = 'pending' WHERE id = 1;
UPDATE inbox SET status = 'done' WHERE id = 2;
UPDATE inbox SET status = 'ACKNOWLEDGED' WHERE id = 2;
UPDATE inbox SET status = NULL WHERE id = 2;
UPDATE inbox SET status = 1 WHERE id = 2;
UPDATE inbox SET id = 7 WHERE id = 2;
UPDATE inbox SET rowid = 7 WHERE id = 2;
UPDATE inbox SET created_at = 'x' WHERE id = 2;
UPDATE inbox SET created_us = 5 WHERE id = 2;
UPDATE inbox SET source = 'x' WHERE id = 2;
UPDATE inbox SET event_type = 'x' WHERE id = 2;
UPDATE inbox SET payload = '{}' WHERE id = 2;
UPDATE inbox SET metadata = NULL WHERE id = 2;
UPDATE inbox SET priority = 'high' WHERE id = 2;
UPDATE inbox SET idempotency_key = 'k' WHERE id = 2;
UPDATE inbox SET acknowledged_at = 'x' WHERE id = 2;
UPDATE inbox SET cursor = 'x' WHERE id = 2;
-- Setting a column to itself is allowed (nothing changes).
UPDATE inbox SET id = id WHERE id = 2;
-- Read-only wins even when status is set too; nothing is acked.
UPDATE inbox SET status = 'acknowledged', priority = 'high' WHERE id = 2;
SELECT id, status, priority FROM inbox WHERE id IN (1, 2);
-- Acking a deleted event finds no row.
DELETE FROM inbox WHERE id = 3;
UPDATE inbox SET status = 'acknowledged' WHERE id = 3;
SELECT changes();

-- A multi-row UPDATE that fails part-way is undone as a whole (autocommit):
-- 2 and 4 are acked, then 6 fails, so 2 and 4 stay pending.
UPDATE inbox SET status = 'acknowledged' WHERE id = 6;
UPDATE inbox SET status = 'acknowledged' WHERE id > 1;
SELECT status, group_concat(id) FROM inbox GROUP BY status ORDER BY status;
UPDATE inbox SET status = 'acknowledged' WHERE id IN (2, 4);
SELECT status, group_concat(id) FROM inbox GROUP BY status ORDER BY status;
-- A multi-row INSERT with an invalid row stores none of its rows.
INSERT INTO inbox(source, event_type, payload) VALUES ('m', 't', '{"n":1}'), ('m', 't', '{"n":2}'), ('m', 't', 'nope'), ('m', 't', '{"n":4}');
SELECT count(*) FROM inbox WHERE source = 'm';
SELECT json_extract(evstore_stats('inbox'), '$.pending'), json_extract(evstore_stats('inbox'), '$.acknowledged');
-- The ids of a failed statement are reused.
INSERT INTO inbox(source, event_type, payload) VALUES ('m', 't', '{"n":5}');
SELECT last_insert_rowid();
