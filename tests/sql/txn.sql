.load EVSTORE_SO
-- Transactions: BEGIN/COMMIT/ROLLBACK, savepoints, statement atomicity,
-- isolation between connections of one process.
CREATE VIRTUAL TABLE inbox USING evstore;
CREATE TABLE src(p);
INSERT INTO src VALUES ('{"n":1}'), ('{"n":2}'), ('{"n":3'), ('{"n":4}');

-- A failing statement inside BEGIN is undone alone: the first two rows of
-- the INSERT ... SELECT (3rd row invalid) are absent, the statement before
-- it is kept, and the transaction goes on.
BEGIN;
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"n":0}');
INSERT INTO inbox(source, event_type, payload) SELECT 'a', 't', p FROM src ORDER BY rowid;
SELECT 'in txn', group_concat(id || ':' || payload, ' ') FROM inbox;
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"n":5}');
COMMIT;
SELECT 'committed', group_concat(id || ':' || payload, ' ') FROM inbox;

-- Outside BEGIN the statement is its own transaction: all or nothing.
INSERT INTO inbox(source, event_type, payload) SELECT 'a', 't', p FROM src ORDER BY rowid;
SELECT 'autocommit', group_concat(id) FROM inbox;

-- ROLLBACK discards inserts, acks and deletes.
BEGIN;
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"n":10}');
UPDATE inbox SET status = 'acknowledged' WHERE id = 1;
DELETE FROM inbox WHERE id = 2;
SELECT 'in txn', group_concat(id || ':' || status, ' ') FROM inbox;
ROLLBACK;
SELECT 'rolled back', group_concat(id || ':' || status, ' ') FROM inbox;
-- A rolled-back transaction's ids are reused.
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"n":11}');
SELECT last_insert_rowid();

-- COMMIT makes acks and deletes stick; reads in the transaction see them.
BEGIN;
UPDATE inbox SET status = 'acknowledged' WHERE id = 1;
DELETE FROM inbox WHERE id = 2;
SELECT 'in txn', count(*), sum(status = 'acknowledged') FROM inbox;
COMMIT;
SELECT 'committed', group_concat(id || ':' || status, ' ') FROM inbox;
SELECT 'stats', json_extract(evstore_stats('inbox'), '$.pending'), json_extract(evstore_stats('inbox'), '$.acknowledged');

-- An ack error inside BEGIN fails only that statement.
BEGIN;
UPDATE inbox SET status = 'acknowledged' WHERE id = 3;
UPDATE inbox SET status = 'acknowledged' WHERE id IN (1, 4);
COMMIT;
SELECT 'after', group_concat(id || ':' || status, ' ') FROM inbox;

-- An idempotency key inserted earlier in the same transaction is a duplicate.
BEGIN;
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('a', 't', '{"n":20}', 'tk');
SELECT last_insert_rowid();
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('a', 't', '{"n":21}', 'tk');
SELECT last_insert_rowid();
ROLLBACK;
-- ... and a rolled-back key is free again.
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('a', 't', '{"n":22}', 'tk');
SELECT last_insert_rowid(), payload FROM inbox WHERE idempotency_key = 'tk';

-- Savepoints nest; ROLLBACK TO keeps the savepoint open; RELEASE merges.
BEGIN;
INSERT INTO inbox(source, event_type, payload) VALUES ('s', 't', '{"n":30}');
SAVEPOINT s1;
INSERT INTO inbox(source, event_type, payload) VALUES ('s', 't', '{"n":31}');
SAVEPOINT s2;
INSERT INTO inbox(source, event_type, payload) VALUES ('s', 't', '{"n":32}');
UPDATE inbox SET status = 'acknowledged' WHERE source = 's';
ROLLBACK TO s2;
SELECT 'to s2', group_concat(payload || ':' || status, ' ') FROM inbox WHERE source = 's';
INSERT INTO inbox(source, event_type, payload) VALUES ('s', 't', '{"n":33}');
RELEASE s2;
ROLLBACK TO s1;
SELECT 'to s1', group_concat(payload, ' ') FROM inbox WHERE source = 's';
INSERT INTO inbox(source, event_type, payload) VALUES ('s', 't', '{"n":34}');
RELEASE s1;
COMMIT;
SELECT 'committed', group_concat(id || ':' || payload, ' ') FROM inbox WHERE source = 's';

-- A SAVEPOINT outside BEGIN starts the transaction; RELEASE of the
-- outermost commits it, ROLLBACK abandons it.
SAVEPOINT outer1;
INSERT INTO inbox(source, event_type, payload) VALUES ('o', 't', '{"n":40}');
SAVEPOINT inner1;
DELETE FROM inbox WHERE source = 's';
ROLLBACK TO inner1;
RELEASE outer1;
SELECT 'released', (SELECT group_concat(payload) FROM inbox WHERE source = 'o'), (SELECT count(*) FROM inbox WHERE source = 's');
SAVEPOINT outer2;
INSERT INTO inbox(source, event_type, payload) VALUES ('o', 't', '{"n":41}');
ROLLBACK;
SELECT 'abandoned', group_concat(payload) FROM inbox WHERE source = 'o';

-- Two connections of one process share the store: one sees the other's
-- commits, never its uncommitted writes.
.connection 1
.open db.sqlite
.load EVSTORE_SO
SELECT 'conn1 sees', count(*), max(id) FROM inbox;
BEGIN;
INSERT INTO inbox(source, event_type, payload) VALUES ('c1', 't', '{"n":50}');
SELECT 'conn1 own write', count(*) FROM inbox WHERE source = 'c1';
.connection 0
SELECT 'conn0 before commit', count(*) FROM inbox WHERE source = 'c1';
.connection 1
COMMIT;
.connection 0
SELECT 'conn0 after commit', id, payload FROM inbox WHERE source = 'c1';
-- Only one write transaction at a time per store: while one connection
-- holds it, a write on another connection of this thread fails at once
-- (SQLite's own lock when both use one database file; the store's when
-- two database files name the same store).
.connection 1
BEGIN;
INSERT INTO inbox(source, event_type, payload) VALUES ('c1', 't', '{"n":51}');
.connection 0
INSERT INTO inbox(source, event_type, payload) VALUES ('c0', 't', '{"n":52}');
.connection 1
ROLLBACK;
.open other.sqlite
.load EVSTORE_SO
CREATE VIRTUAL TABLE alias USING evstore(dir='db.sqlite-inbox.evstore');
SELECT 'alias sees', count(*) FROM alias WHERE source = 'c1';
BEGIN;
INSERT INTO alias(source, event_type, payload) VALUES ('c1', 't', '{"n":53}');
.connection 0
INSERT INTO inbox(source, event_type, payload) VALUES ('c0', 't', '{"n":54}');
SELECT 'conn0 reads meanwhile', count(*) FROM inbox WHERE source IN ('c0', 'c1');
.connection 1
COMMIT;
.connection 0
INSERT INTO inbox(source, event_type, payload) VALUES ('c0', 't', '{"n":55}');
SELECT 'conn0', group_concat(id || ':' || source || ':' || payload, ' ') FROM (SELECT * FROM inbox WHERE source IN ('c0', 'c1') ORDER BY id);
.connection close 1
SELECT 'final', json_extract(evstore_stats('inbox'), '$.pending'), json_extract(evstore_stats('inbox'), '$.acknowledged'), json_extract(evstore_stats('inbox'), '$.next_id');
