.load EVSTORE_SO
-- Persistence across processes (reopen.2.sql and reopen.3.sql run next,
-- each as a new sqlite3 process on the same db.sqlite), and the lock that
-- keeps a second process out while one has the store open.
CREATE VIRTUAL TABLE inbox USING evstore;
CREATE VIRTUAL TABLE custom USING evstore(dir='custom', sync=full, retention=forever, max_payload=100);
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<12)
INSERT INTO inbox(source, event_type, payload, metadata, priority, idempotency_key)
  SELECT 'app-' || (x % 3), 'type', json_object('n', x), CASE WHEN x % 4 = 0 THEN '{"m":true}' END,
         CASE x % 3 WHEN 0 THEN 'low' WHEN 1 THEN 'high' ELSE 'normal' END, 'key-' || x
  FROM s;
UPDATE inbox SET status = 'acknowledged' WHERE id IN (2, 4, 6);
DELETE FROM inbox WHERE id IN (3, 9);
INSERT INTO custom(source, event_type, payload) VALUES ('c', 't', '{"c":1}');
-- Not stored: a failed statement, a rolled-back transaction.
INSERT INTO inbox(source, event_type, payload) VALUES ('x', 't', 'bad json');
BEGIN;
INSERT INTO inbox(source, event_type, payload) VALUES ('x', 't', '{"rolled":"back"}');
ROLLBACK;
-- What the next process must see, kept in a plain table.
CREATE TABLE snapshot AS SELECT * FROM inbox;
CREATE TABLE saved(name TEXT PRIMARY KEY, value);
INSERT INTO saved SELECT 'cursor after 5', cursor FROM inbox WHERE status = 'pending' AND source = 'app-2' ORDER BY id LIMIT 1;
INSERT INTO saved SELECT 'desc cursor after 10', cursor FROM inbox WHERE status = 'pending' ORDER BY id DESC LIMIT 1 OFFSET 2;
SELECT 'saved after', id FROM inbox WHERE status = 'pending' AND source = 'app-2' ORDER BY id LIMIT 1;
SELECT 'saved after', id FROM inbox WHERE status = 'pending' ORDER BY id DESC LIMIT 1 OFFSET 2;
SELECT name, length(value) FROM saved ORDER BY name;
SELECT group_concat(id || ':' || status, ' ') FROM inbox;

-- Another process cannot open the store while this one has it.
SELECT writefile('child.sql', '.load EVSTORE_SO' || char(10) ||
  'SELECT count(*) FROM inbox;' || char(10) || 'SELECT count(*) FROM custom;' || char(10) || 'SELECT ''child goes on'';' || char(10)) > 0;
.system SQLITE3_BIN db.sqlite < child.sql > child.out 2>&1 || true
SELECT rtrim(readfile('child.out'), char(10));
-- The lock is on the store, not on the database: a different database file
-- naming the same directory is refused as well.
SELECT writefile('child2.sql', '.load EVSTORE_SO' || char(10) ||
  'CREATE VIRTUAL TABLE x USING evstore(dir=''custom'', sync=full, retention=forever, max_payload=100);' || char(10) ||
  'SELECT count(*) FROM sqlite_schema;' || char(10)) > 0;
.system SQLITE3_BIN other.sqlite < child2.sql > child2.out 2>&1 || true
SELECT rtrim(readfile('child2.out'), char(10));

-- A transaction still open when the process ends is not stored.
BEGIN;
INSERT INTO inbox(source, event_type, payload) VALUES ('x', 't', '{"never":"committed"}');
SELECT 'uncommitted', count(*) FROM inbox;
