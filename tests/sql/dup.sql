.load EVSTORE_SO
-- Duplicate idempotency keys through SQL: what changes(), total_changes()
-- and last_insert_rowid() say, per conflict mode (README, "Statements").
CREATE VIRTUAL TABLE inbox USING evstore;
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":1}', 'k1');
SELECT 'new', changes(), last_insert_rowid();
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":2}', 'k2');
SELECT 'new', changes(), last_insert_rowid();

-- A plain INSERT of a duplicate: no error, nothing stored, counted as a
-- change, last_insert_rowid() is the original event's id (as before).
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":9}', 'k1');
SELECT 'plain dup', changes(), last_insert_rowid();
-- OR ABORT is what SQLite reports for a plain INSERT too, so it is the same;
-- OR FAIL, OR ROLLBACK and OR REPLACE also keep the original.
INSERT OR ABORT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":9}', 'k2');
SELECT 'abort dup', changes(), last_insert_rowid();
INSERT OR FAIL INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":9}', 'k1');
SELECT 'fail dup', changes(), last_insert_rowid();
INSERT OR ROLLBACK INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":9}', 'k2');
SELECT 'rollback dup', changes(), last_insert_rowid();
INSERT OR REPLACE INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":9}', 'k1');
SELECT 'replace dup', changes(), last_insert_rowid();
SELECT 'stored', group_concat(id || ':' || payload, ' ') FROM inbox;

-- INSERT OR IGNORE of a duplicate: skipped, changes() = 0, and
-- last_insert_rowid() keeps the previous value (here 1 from OR REPLACE),
-- as for a plain table.
INSERT OR IGNORE INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":9}', 'k2');
SELECT 'ignore dup', changes(), last_insert_rowid();
-- A new key under OR IGNORE is stored and counted as usual.
INSERT OR IGNORE INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":3}', 'k3');
SELECT 'ignore new', changes(), last_insert_rowid();

-- Several rows in one statement, new and duplicate mixed (one repeated
-- inside the statement itself): changes() counts only the stored ones.
SELECT total_changes();
INSERT OR IGNORE INTO inbox(source, event_type, payload, idempotency_key) VALUES
  ('s', 't', '{"n":4}', 'k4'), ('s', 't', '{"n":9}', 'k1'), ('s', 't', '{"n":5}', 'k5'),
  ('s', 't', '{"n":9}', 'k4'), ('s', 't', '{"n":6}', NULL);
SELECT 'ignore mixed', changes(), last_insert_rowid(), total_changes();
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES
  ('s', 't', '{"n":7}', 'k7'), ('s', 't', '{"n":9}', 'k2');
SELECT 'plain mixed', changes(), last_insert_rowid();
SELECT 'stored', group_concat(id || ':' || ifnull(idempotency_key, '-'), ' ') FROM inbox;

-- Inside an explicit transaction: a key first stored by this transaction
-- is a duplicate too, and ROLLBACK forgets it.
BEGIN;
INSERT OR IGNORE INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":10}', 'k10');
SELECT 'txn new', changes(), last_insert_rowid();
INSERT OR IGNORE INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":9}', 'k10');
SELECT 'txn dup', changes(), last_insert_rowid();
INSERT OR IGNORE INTO inbox(source, event_type, payload, idempotency_key) SELECT 's', 't', '{"n":9}', 'k' || value FROM generate_series(1, 11);
SELECT 'txn select', changes(), last_insert_rowid();
ROLLBACK;
SELECT 'rolled back', count(*), max(id) FROM inbox;
INSERT OR IGNORE INTO inbox(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":10}', 'k10');
SELECT 'after rollback', changes(), last_insert_rowid();

-- OR IGNORE skips any row SQLite would call a constraint violation, like
-- NOT NULL or CHECK on a plain table: an invalid event is skipped too.
INSERT OR IGNORE INTO inbox(source, event_type, payload) VALUES ('s', 't', '{"n":'), ('s', 't', '{"n":11}');
SELECT 'ignore invalid', changes(), last_insert_rowid();
-- Without OR IGNORE an invalid event still fails the statement.
INSERT INTO inbox(source, event_type, payload) VALUES ('s', 't', '{"n":12}'), ('s', 't', '{"n":');
SELECT 'abort invalid', count(*), max(id) FROM inbox;
-- OR FAIL keeps the rows before the failing one, as for a plain table.
INSERT OR FAIL INTO inbox(source, event_type, payload) VALUES ('s', 't', '{"n":13}'), ('s', 't', '{"n":');
SELECT 'fail invalid', count(*), max(id) FROM inbox;
-- UPDATE OR IGNORE skips acknowledging an acknowledged row.
UPDATE inbox SET status = 'acknowledged' WHERE id = 1;
UPDATE OR IGNORE inbox SET status = 'acknowledged' WHERE id <= 2;
SELECT 'ignore ack', changes(), group_concat(id || ':' || status, ' ') FROM inbox WHERE id <= 2;
UPDATE inbox SET status = 'acknowledged' WHERE id <= 2;
-- OR ROLLBACK on an invalid row rolls back the whole transaction.
BEGIN;
INSERT INTO inbox(source, event_type, payload) VALUES ('s', 't', '{"n":14}');
INSERT OR ROLLBACK INTO inbox(source, event_type, payload) VALUES ('s', 't', '{"n":15}'), ('s', 't', '{"n":');
SELECT 'rollback invalid', count(*), max(id) FROM inbox;
COMMIT;
