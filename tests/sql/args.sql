.load EVSTORE_SO
-- CREATE VIRTUAL TABLE ... USING evstore(...): arguments, values, errors,
-- where the store goes, and the table's schema.
.headers off
.mode list

-- Every argument with valid values, quoted and unquoted.
CREATE VIRTUAL TABLE a1 USING evstore(sync=off);
CREATE VIRTUAL TABLE a2 USING evstore(sync='normal', retention='7d', idempotency_window='24h');
CREATE VIRTUAL TABLE a3 USING evstore(sync="full", retention='30m', idempotency_window='45s', max_payload=1000, compress_threshold=64, compress_level=3, segment_size=65536, validate_json=1);
CREATE VIRTUAL TABLE a4 USING evstore(retention=forever, idempotency_window=0, compress_level=-5, validate_json=0);
CREATE VIRTUAL TABLE a5 USING evstore(retention='250ms', idempotency_window=1500000);
CREATE VIRTUAL TABLE a6 USING evstore( dir = 'custom dir' , sync = off );
CREATE VIRTUAL TABLE a7 USING evstore(dir='it''s here', retention='0');
CREATE VIRTUAL TABLE a8 USING evstore(retention='2h', idempotency_window='10us');
SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name;

-- Each table is usable.
INSERT INTO a1(source, event_type, payload) VALUES ('s', 't', '{"t":"a1"}');
INSERT INTO a3(source, event_type, payload) VALUES ('s', 't', '{"t":"a3"}');
INSERT INTO a6(source, event_type, payload) VALUES ('s', 't', '{"t":"a6"}');
INSERT INTO a7(source, event_type, payload) VALUES ('s', 't', '{"t":"a7"}');
SELECT 'a1', id, payload FROM a1;
SELECT 'a3', id, payload FROM a3;
SELECT 'a6', id, payload FROM a6;
SELECT 'a7', id, payload FROM a7;

-- Stores: <db>-<table>.evstore beside the database unless dir= says.
SELECT name FROM fsdir('.') WHERE (mode & 61440) = 16384 ORDER BY name;
SELECT name FROM fsdir('custom dir') WHERE name GLOB '*/evstore.meta';

-- Unknown argument.
CREATE VIRTUAL TABLE e1 USING evstore(foo=1);
CREATE VIRTUAL TABLE e1 USING evstore(sync=off, Dir='x');
-- Not key=value.
CREATE VIRTUAL TABLE e1 USING evstore(sync);
CREATE VIRTUAL TABLE e1 USING evstore(=3);
CREATE VIRTUAL TABLE e1 USING evstore('dir');
-- Bad values, one per argument.
CREATE VIRTUAL TABLE e1 USING evstore(dir='');
CREATE VIRTUAL TABLE e1 USING evstore(sync='x');
CREATE VIRTUAL TABLE e1 USING evstore(sync=FULL);
CREATE VIRTUAL TABLE e1 USING evstore(sync=1);
CREATE VIRTUAL TABLE e1 USING evstore(retention='7x');
CREATE VIRTUAL TABLE e1 USING evstore(retention=-5);
CREATE VIRTUAL TABLE e1 USING evstore(retention='');
CREATE VIRTUAL TABLE e1 USING evstore(retention='d');
CREATE VIRTUAL TABLE e1 USING evstore(retention=99999999999999999999);
CREATE VIRTUAL TABLE e1 USING evstore(retention='9999999999999d');
CREATE VIRTUAL TABLE e1 USING evstore(idempotency_window='1y');
CREATE VIRTUAL TABLE e1 USING evstore(idempotency_window=never);
CREATE VIRTUAL TABLE e1 USING evstore(max_payload=0);
CREATE VIRTUAL TABLE e1 USING evstore(max_payload=-1);
CREATE VIRTUAL TABLE e1 USING evstore(max_payload=abc);
CREATE VIRTUAL TABLE e1 USING evstore(max_payload='10k');
CREATE VIRTUAL TABLE e1 USING evstore(max_payload=4294967296);
CREATE VIRTUAL TABLE e1 USING evstore(compress_threshold=0);
CREATE VIRTUAL TABLE e1 USING evstore(compress_threshold=x);
CREATE VIRTUAL TABLE e1 USING evstore(compress_level=0);
CREATE VIRTUAL TABLE e1 USING evstore(compress_level=23);
CREATE VIRTUAL TABLE e1 USING evstore(compress_level=fast);
CREATE VIRTUAL TABLE e1 USING evstore(segment_size=0);
CREATE VIRTUAL TABLE e1 USING evstore(segment_size=1.5);
CREATE VIRTUAL TABLE e1 USING evstore(validate_json=2);
CREATE VIRTUAL TABLE e1 USING evstore(validate_json=yes);
-- A directory that cannot be created.
CREATE VIRTUAL TABLE e1 USING evstore(dir='no/such/parent');
-- None of the failures left a table or a directory behind.
SELECT count(*) FROM sqlite_schema WHERE name = 'e1';
SELECT name FROM fsdir('.') WHERE (mode & 61440) = 16384 ORDER BY name;

-- The schema: eleven columns and the hidden cursor.
SELECT cid, name, type, hidden FROM pragma_table_xinfo('a1');
-- SELECT * leaves the hidden column out.
.headers on
SELECT * FROM a1;
.headers off

-- One directory, one store: a second table on the same directory shares it
-- (same options), and different options are refused.
CREATE VIRTUAL TABLE a6b USING evstore(dir='custom dir', sync=off);
SELECT 'a6b', id, payload FROM a6b;
INSERT INTO a6b(source, event_type, payload) VALUES ('s', 't', '{"t":"a6b"}');
SELECT 'a6', group_concat(id) FROM a6;
CREATE VIRTUAL TABLE a6c USING evstore(dir='custom dir', sync=full);
SELECT count(*) FROM sqlite_schema WHERE name = 'a6c';
SELECT 'a6', group_concat(id) FROM a6;

-- The options take effect.
-- max_payload=1000 (a3): 1000 bytes is fine, 1001 is not.
INSERT INTO a3(source, event_type, payload) VALUES ('s', 't', '{"x":"' || printf('%.992c', 'y') || '"}');
INSERT INTO a3(source, event_type, payload) VALUES ('s', 't', '{"x":"' || printf('%.993c', 'y') || '"}');
SELECT id, length(payload) FROM a3;
-- validate_json=0 (a4): any text is stored as given.
INSERT INTO a4(source, event_type, payload) VALUES ('s', 't', 'not json at all');
INSERT INTO a4(source, event_type, payload, metadata) VALUES ('s', 't', '[1,2', 'nope');
SELECT id, payload, metadata FROM a4;
-- validate_json=1 (a3) is the default behaviour.
INSERT INTO a3(source, event_type, payload) VALUES ('s', 't', 'not json at all');
-- compress_threshold=64 (a3): large payloads are compressed on disk and read
-- back byte for byte.
INSERT INTO a3(source, event_type, payload) VALUES ('s', 't', json_object('pad', printf('%.900c', 'q')));
SELECT id, payload = json_object('pad', printf('%.900c', 'q')) FROM a3 WHERE id = 3;
SELECT json_extract(evstore_stats('a3'), '$.payload_stored_bytes') < json_extract(evstore_stats('a3'), '$.payload_bytes');
-- Default threshold (1 KiB) leaves the same payload uncompressed.
INSERT INTO a1(source, event_type, payload) VALUES ('s', 't', json_object('pad', printf('%.900c', 'q')));
SELECT json_extract(evstore_stats('a1'), '$.payload_stored_bytes') = json_extract(evstore_stats('a1'), '$.payload_bytes');
-- segment_size: a small segment size rolls over to new segment files.
CREATE VIRTUAL TABLE seg USING evstore(segment_size=4096);
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<10)
INSERT INTO seg(source, event_type, payload) SELECT 's', 't', json_object('n', x, 'pad', printf('%.300c', 'z')) FROM s;
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<10)
INSERT INTO seg(source, event_type, payload) SELECT 's', 't', json_object('n', x, 'pad', printf('%.300c', 'z')) FROM s;
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<10)
INSERT INTO seg(source, event_type, payload) SELECT 's', 't', json_object('n', x, 'pad', printf('%.300c', 'z')) FROM s;
SELECT json_extract(evstore_stats('seg'), '$.segments') > 1, count(*) FROM seg;
SELECT count(*) > 1 FROM fsdir('db.sqlite-seg.evstore') WHERE name LIKE '%.evlog';
SELECT count(*) FROM seg WHERE payload = json_object('n', (id - 1) % 10 + 1, 'pad', printf('%.300c', 'z'));
-- idempotency_window=0 means keys never expire (a4).
INSERT INTO a4(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{}', 'k');
INSERT INTO a4(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{}', 'k');
SELECT last_insert_rowid(), count(*) FROM a4;

-- Renaming a table whose store is named after it is refused (the store
-- would be orphaned); the table keeps working under its name.
ALTER TABLE a1 RENAME TO a1x;
SELECT count(*) FROM a1;
SELECT count(*) FROM sqlite_schema WHERE name = 'a1x';

-- Durations: the library's one grammar (evs_duration_parse), shared with
-- the CLI: 'us' is a unit, '0' is forever; a sign is refused.
CREATE VIRTUAL TABLE dur1 USING evstore(dir=':memory:', retention='250us', idempotency_window='0');
SELECT json_extract(evstore_stats('dur1'), '$.settings.retention_us'),
       json_extract(evstore_stats('dur1'), '$.settings.idempotency_window_us');
CREATE VIRTUAL TABLE dur2 USING evstore(dir=':memory:', retention='+7d');
CREATE VIRTUAL TABLE dur3 USING evstore(dir=':memory:', retention='0s');
