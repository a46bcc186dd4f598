.load EVSTORE_SO
-- Insert, read, acknowledge, delete, idempotency keys, stats.
CREATE VIRTUAL TABLE inbox USING evstore;

-- Minimal insert: defaults for priority, metadata, key.
INSERT INTO inbox(source, event_type, payload) VALUES ('stripe', 'order.created', '{"order_id":42}');
SELECT last_insert_rowid(), changes();
-- Every column given.
INSERT INTO inbox(source, event_type, payload, metadata, priority, idempotency_key)
  VALUES ('github', 'push', '{"ref":"main","commits":[1,2,3]}', '{"delivery":"abc","attempt":2}', 'high', 'gh-1');
INSERT INTO inbox(source, event_type, payload, priority) VALUES ('cron', 'tick', '{}', 'low');
INSERT INTO inbox(source, event_type, payload, priority) VALUES ('cron', 'tick', '{"n":2}', 'normal');
SELECT last_insert_rowid();
-- Names are trimmed; payloads are stored byte for byte.
INSERT INTO inbox(source, event_type, payload) VALUES ('  padded  ', ' t ', '{ "spaced" : [ 1 , 2 ] , "u":"h\u00e9 \u2603" }');
INSERT INTO inbox(source, event_type, payload) VALUES ('unicode-ß', 'évé', '{"snow":"☃","emoji":"🦆"}');

.headers on
SELECT * FROM inbox;
.headers off
SELECT id, typeof(id), typeof(created_at), typeof(created_us), typeof(status), typeof(source), typeof(event_type),
       typeof(payload), typeof(metadata), typeof(priority), typeof(idempotency_key), typeof(acknowledged_at), typeof(cursor)
  FROM inbox ORDER BY id;
SELECT rowid = id FROM inbox;
-- created_at is created_us as ISO-8601 UTC with microseconds; ids are
-- increasing and created_us never decreases.
SELECT count(*) FROM inbox WHERE created_at = strftime('%Y-%m-%dT%H:%M:%S', created_us / 1000000, 'unixepoch') || printf('.%06dZ', created_us % 1000000);
SELECT count(*) FROM inbox WHERE created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z';
SELECT count(*) FROM inbox a JOIN inbox b ON b.id = a.id + 1 WHERE b.created_us < a.created_us;
SELECT abs(created_us / 1000000 - CAST(strftime('%s', 'now') AS INTEGER)) < 300 FROM inbox WHERE id = 1;
SELECT length(payload), payload FROM inbox WHERE id = 5;
SELECT source, event_type, payload FROM inbox WHERE id = 6;
SELECT json_extract(payload, '$.commits[2]'), json_extract(metadata, '$.attempt') FROM inbox WHERE id = 2;

-- Point lookups.
SELECT id, source FROM inbox WHERE id = 3;
SELECT id, source FROM inbox WHERE rowid = 3;
SELECT count(*) FROM inbox WHERE id = 99;
SELECT count(*) FROM inbox WHERE id = 0;
SELECT count(*) FROM inbox WHERE id = -1;
SELECT group_concat(id) FROM inbox WHERE id IN (5, 1, 99, 3, 1);
-- Counting and filtering.
SELECT count(*) FROM inbox;
SELECT source, count(*) FROM inbox GROUP BY source ORDER BY source;
SELECT priority, group_concat(id) FROM inbox GROUP BY priority ORDER BY priority;

-- Idempotency keys: a repeated key stores nothing and reports the original id.
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('github', 'push', '{"different":true}', 'gh-1');
SELECT last_insert_rowid();
SELECT count(*), max(id) FROM inbox;
SELECT payload FROM inbox WHERE idempotency_key = 'gh-1';
-- Keys are exact (case and bytes matter), and not scoped by source.
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('github', 'push', '{"n":7}', 'GH-1');
SELECT last_insert_rowid();
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('other', 'x', '{"n":8}', 'gh-1');
SELECT last_insert_rowid();
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('other', 'x', '{"n":9}', 'gh-1 ');
SELECT last_insert_rowid();
SELECT id, idempotency_key FROM inbox WHERE idempotency_key IS NOT NULL ORDER BY id;
-- A duplicate inside one multi-row INSERT: the first occurrence wins.
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES
  ('batch', 'x', '{"n":10}', 'b-1'), ('batch', 'x', '{"n":11}', 'b-1'), ('batch', 'x', '{"n":12}', 'b-2');
SELECT id, payload, idempotency_key FROM inbox WHERE source = 'batch';

-- Acknowledge.
UPDATE inbox SET status = 'acknowledged' WHERE id = 1;
SELECT changes();
SELECT id, status, acknowledged_at IS NOT NULL, acknowledged_at >= created_at FROM inbox WHERE id IN (1, 2);
SELECT count(*) FROM inbox WHERE acknowledged_at GLOB '[0-9][0-9][0-9][0-9]-*Z';
UPDATE inbox SET status = 'acknowledged' WHERE id IN (3, 4) OR source = 'batch';
SELECT changes();
SELECT status, group_concat(id) FROM inbox GROUP BY status ORDER BY status;
-- Setting status to 'pending' on a pending event changes nothing.
UPDATE inbox SET status = 'pending' WHERE id = 2;
SELECT id, status FROM inbox WHERE id = 2;
-- Acking an id that does not exist touches no row.
UPDATE inbox SET status = 'acknowledged' WHERE id = 1000;
SELECT changes();
SELECT json_extract(evstore_stats('inbox'), '$.pending'), json_extract(evstore_stats('inbox'), '$.acknowledged'),
       json_extract(evstore_stats('inbox'), '$.next_id');

-- Delete (pending or acknowledged); deleting forgets the key.
DELETE FROM inbox WHERE id = 2;
SELECT changes();
DELETE FROM inbox WHERE id = 2;
SELECT changes();
DELETE FROM inbox WHERE id = 1;
SELECT group_concat(id) FROM inbox;
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('github', 'push', '{"again":true}', 'gh-1');
SELECT last_insert_rowid();
SELECT id, payload FROM inbox WHERE idempotency_key = 'gh-1';
DELETE FROM inbox WHERE source = 'batch';
SELECT changes();
SELECT json_extract(evstore_stats('inbox'), '$.pending'), json_extract(evstore_stats('inbox'), '$.acknowledged'),
       json_extract(evstore_stats('inbox'), '$.next_id');
-- Ids are never reused after a delete.
INSERT INTO inbox(source, event_type, payload) VALUES ('x', 'y', '{}');
SELECT last_insert_rowid();

-- evstore_stats(): a JSON object with these fields.
SELECT group_concat(key) FROM json_each(evstore_stats('inbox'));
SELECT json_valid(evstore_stats('inbox')), json_type(evstore_stats('inbox'), '$.compression_ratio');
SELECT json_extract(evstore_stats('inbox'), '$.segments'), json_extract(evstore_stats('inbox'), '$.disk_bytes') > 0,
       json_extract(evstore_stats('inbox'), '$.recovered_bytes_dropped'), json_extract(evstore_stats('inbox'), '$.recovered_records_dropped');
SELECT json_extract(evstore_stats('INBOX'), '$.next_id');
SELECT evstore_stats('nope');
SELECT evstore_stats(NULL);
CREATE TABLE plain(x);
SELECT evstore_stats('plain');

-- Delete everything.
DELETE FROM inbox;
SELECT count(*), json_extract(evstore_stats('inbox'), '$.pending'), json_extract(evstore_stats('inbox'), '$.acknowledged') FROM inbox;
