.load EVSTORE_SO
-- In-memory stores: a table in the temp schema or in an in-memory database
-- has no directory; each such table is a store of its own.
CREATE VIRTUAL TABLE temp.t1 USING evstore;
ATTACH ':memory:' AS m;
CREATE VIRTUAL TABLE m.t2 USING evstore(sync=full);
INSERT INTO t1(source, event_type, payload) VALUES ('s', 't', '{"t":1}');
INSERT INTO t1(source, event_type, payload) VALUES ('s', 't', '{"t":2}');
INSERT INTO t2(source, event_type, payload) VALUES ('s', 't', '{"t":3}');
SELECT 't1', id, payload FROM t1;
SELECT 't2', id, payload FROM t2;
SELECT json_extract(evstore_stats('t1'), '$.pending'), json_extract(evstore_stats('t2'), '$.pending');
UPDATE t1 SET status = 'acknowledged' WHERE id = 1;
DELETE FROM t2;
SELECT 't1', id, status FROM t1;
SELECT 't2', count(*) FROM t2;
-- No file or directory was made.
SELECT name FROM fsdir('.') ORDER BY name;
-- Transactions work the same.
BEGIN;
INSERT INTO t1(source, event_type, payload) VALUES ('s', 't', '{"t":4}');
ROLLBACK;
SELECT 't1', group_concat(id) FROM t1;
-- DROP TABLE frees it; a new table of that name starts empty.
DROP TABLE t2;
CREATE VIRTUAL TABLE m.t2 USING evstore;
SELECT 't2', count(*), json_extract(evstore_stats('t2'), '$.next_id') FROM t2;
DROP TABLE t2;

-- The events of an in-memory store live as long as the connection: they
-- survive unrelated schema changes, which make SQLite disconnect and
-- reconnect virtual tables.
CREATE TABLE plain(x);
SELECT 'after CREATE TABLE', group_concat(id) FROM t1;
DROP TABLE plain;
SELECT 'after DROP TABLE', group_concat(id) FROM t1;
CREATE VIRTUAL TABLE bad USING evstore(foo=1);
SELECT 'after a failed CREATE', group_concat(id) FROM t1;
ALTER TABLE t1 RENAME TO t1r;
SELECT 'after RENAME', group_concat(id) FROM t1r;

-- dir=':memory:' (the library's name for an in-memory store) makes one too.
CREATE VIRTUAL TABLE mm USING evstore(dir=':memory:');
INSERT INTO mm(source, event_type, payload) VALUES ('s', 't', '{"t":5}');
SELECT 'mm', id, payload FROM mm;
SELECT name FROM fsdir('.') ORDER BY name;
