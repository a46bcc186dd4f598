.load EVSTORE_SO
-- not_before and ordering_key: set on INSERT (evs_event_in), read back,
-- checked for type and form, read-only after. Times are shown cut before
-- their 'Z' (the runner would make them <TS>).
.headers off
.mode list
CREATE VIRTUAL TABLE inbox USING evstore(dir='st');

-- Both columns: after leased_by, last in SELECT *; NULL when none.
SELECT group_concat(name, ',') FROM pragma_table_info('inbox') WHERE cid >= 14;
INSERT INTO inbox(source, event_type, payload) VALUES ('app', 'plain', '{}');
SELECT 'none', id, status, typeof(not_before), typeof(ordering_key) FROM inbox WHERE id = 1;

-- not_before takes the times evs_time_parse reads (created_at's own form,
-- a bare date, 't' or a space for 'T', 1..9 fraction digits, an offset,
-- digits alone: microseconds) or INTEGER microseconds. In the future the
-- event is delayed: out of the inbox and of claims, status 'delayed'.
INSERT INTO inbox(source, event_type, payload, not_before) VALUES
  ('app', 'nb', '{"n":2}', '2099-01-01T00:00:00.000000Z'),
  ('app', 'nb', '{"n":3}', '2099-01-01'),
  ('app', 'nb', '{"n":4}', '2099-01-01t00:00:00.5Z'),
  ('app', 'nb', '{"n":5}', '2099-01-01 02:00:00.123456789+02:00'),
  ('app', 'nb', '{"n":6}', '2099-01-01T00:00:00-0130'),
  ('app', 'nb', '{"n":7}', 4102444800000000),
  ('app', 'nb', '{"n":8}', '4102444800000001'),
  ('app', 'nb', '{"n":9}', '9999-12-31T23:59:59.999999Z');
SELECT 'delayed', id, status, substr(not_before, 1, 26), length(not_before) FROM inbox
  WHERE event_type = 'nb' ORDER BY id;
SELECT 'status delayed', group_concat(id) FROM inbox WHERE status = 'delayed';
SELECT 'pending', group_concat(id) FROM inbox WHERE status = 'pending';
SELECT 'claim skips delayed', group_concat(id) FROM evstore_claim('inbox', 'w', 100);
-- A time already passed holds nothing back: the library stores no
-- not_before for it (0 and 1970-01-01 are none, too), so it reads NULL.
INSERT INTO inbox(source, event_type, payload, not_before) VALUES
  ('app', 'past', '{}', '2020-01-01'), ('app', 'past', '{}', 0), ('app', 'past', '{}', NULL);
SELECT 'past', id, status, typeof(not_before) FROM inbox WHERE event_type = 'past' ORDER BY id;

-- ordering_key: any TEXT of 1..128 bytes, byte for byte (case, spaces).
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES
  ('app', 'ok', '{}', 'acct-1'), ('app', 'ok', '{}', 'Acct-1'), ('app', 'ok', '{}', 'acct 1'),
  ('app', 'ok', '{}', '5'), ('app', 'ok', '{}', 'café'), ('app', 'ok', '{}', printf('%.128c', 'k'));
INSERT INTO inbox(source, event_type, payload, not_before, ordering_key) VALUES
  ('app', 'ok', '{}', '2099-06-01', 'acct-1');
SELECT 'key', id, status, typeof(ordering_key), length(ordering_key), substr(ordering_key, 1, 8),
       typeof(not_before) FROM inbox WHERE event_type = 'ok' ORDER BY id;
SELECT 'key =', group_concat(id) FROM inbox WHERE ordering_key = 'acct-1';
SELECT 'key nocase', group_concat(id) FROM inbox WHERE ordering_key = 'ACCT-1' COLLATE NOCASE;
SELECT 'key = 5', group_concat(id) FROM inbox WHERE ordering_key = 5;
SELECT 'key like', group_concat(id) FROM inbox WHERE ordering_key LIKE 'acct%';
SELECT 'key null', count(*) FROM inbox WHERE ordering_key IS NULL;
SELECT 'key order', group_concat(id) FROM (SELECT id FROM inbox WHERE ordering_key IS NOT NULL
  ORDER BY ordering_key, id);
SELECT 'nb order', group_concat(id) FROM (SELECT id FROM inbox WHERE not_before IS NOT NULL
  ORDER BY not_before DESC, id);
SELECT 'nb range', group_concat(id) FROM inbox WHERE not_before > '2099-01-01T00:00:00.1';
SELECT 'by key', ordering_key, count(*) FROM inbox WHERE ordering_key IS NOT NULL
  GROUP BY ordering_key HAVING count(*) > 1;

-- Wrong types and forms: constraint errors naming the column.
INSERT INTO inbox(source, event_type, payload, not_before) VALUES ('app', 'bad', '{}', 1.5);
INSERT INTO inbox(source, event_type, payload, not_before) VALUES ('app', 'bad', '{}', x'3230');
INSERT INTO inbox(source, event_type, payload, not_before) VALUES ('app', 'bad', '{}', 'tomorrow');
INSERT INTO inbox(source, event_type, payload, not_before) VALUES ('app', 'bad', '{}', '2099-01-01T00:00:00');
INSERT INTO inbox(source, event_type, payload, not_before) VALUES ('app', 'bad', '{}', '2099-02-30');
INSERT INTO inbox(source, event_type, payload, not_before) VALUES ('app', 'bad', '{}', ' 2099-01-01');
INSERT INTO inbox(source, event_type, payload, not_before) VALUES ('app', 'bad', '{}', -1);
INSERT INTO inbox(source, event_type, payload, not_before) VALUES ('app', 'bad', '{}', '1969-12-31');
INSERT INTO inbox(source, event_type, payload, not_before) VALUES ('app', 'bad', '{}', 253402300800000000);
INSERT INTO inbox(source, event_type, payload, not_before) VALUES ('app', 'bad', '{}', '10000-01-01');
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES ('app', 'bad', '{}', 5);
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES ('app', 'bad', '{}', x'6b');
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES ('app', 'bad', '{}', CAST(x'6b006b' AS TEXT));
-- The library's checks: 1..128 bytes of UTF-8.
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES ('app', 'bad', '{}', '');
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES ('app', 'bad', '{}', printf('%.129c', 'k'));
INSERT INTO inbox(source, event_type, payload, ordering_key) VALUES ('app', 'bad', '{}', CAST(x'6bff' AS TEXT));
-- OR IGNORE skips a bad row and stores the others.
INSERT OR IGNORE INTO inbox(source, event_type, payload, not_before, ordering_key) VALUES
  ('app', 'ign', '{}', 'tomorrow', NULL), ('app', 'ign', '{}', NULL, 7), ('app', 'ign', '{}', NULL, 'g');
SELECT 'ignored', changes(), group_concat(ordering_key) FROM inbox WHERE event_type = 'ign';
SELECT 'bad stored', count(*) FROM inbox WHERE event_type = 'bad';

-- Read-only after INSERT, like payload.
UPDATE inbox SET not_before = NULL WHERE id = 2;
UPDATE inbox SET not_before = '2100-01-01' WHERE id = 1;
UPDATE inbox SET ordering_key = 'other' WHERE ordering_key = 'acct-1';
UPDATE inbox SET ordering_key = NULL WHERE id = 1;
UPDATE inbox SET payload = '{}' WHERE id = 1;
SELECT 'unchanged', id, typeof(not_before), ifnull(ordering_key, '-') FROM inbox WHERE id IN (1, 2)
  ORDER BY id;
-- A delayed event can be acknowledged (or deleted) before its time.
UPDATE inbox SET status = 'acknowledged' WHERE id = 9;
SELECT 'acked delayed', id, status, substr(not_before, 1, 10) FROM inbox WHERE id = 9;

