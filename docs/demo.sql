-- evstore in the sqlite3 shell: an inbox in SQL.
-- `make demo` runs this from the repository root against a fresh database;
-- to try it yourself: make && sqlite3 my.db, then paste.
.load ./build/evstore.so
.mode column
.headers on

-- One table = one store. Without dir='...' it lives beside the database
-- file (my.db-inbox.evstore/); sync is off, normal (default) or full.
CREATE VIRTUAL TABLE inbox USING evstore(sync='normal', retention='7d');

-- Events arrive: id, created_at and status are assigned by the store.
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES
  ('stripe', 'invoice.paid',  '{"invoice":"in_1","amount":1999}', 'evt_1'),
  ('github', 'push',          '{"ref":"main","commits":3}',       'gh_1'),
  ('stripe', 'invoice.paid',  '{"invoice":"in_2","amount":500}',  'evt_2'),
  ('shopify','order.created', '{"order":77,"items":2}',           'sh_1');
INSERT INTO inbox(source, event_type, payload, metadata, priority) VALUES
  ('github', 'issue.opened',  '{"issue":12}', '{"repo":"evstore"}', 'high');

-- A webhook retried with the same idempotency key stores nothing new:
INSERT INTO inbox(source, event_type, payload, idempotency_key)
  VALUES ('stripe', 'invoice.paid', '{"invoice":"in_1","amount":1999}', 'evt_1');
SELECT last_insert_rowid() AS original_id, count(*) AS events FROM inbox;

-- Bad input is refused with the library's message, and nothing is stored:
INSERT INTO inbox(source, event_type, payload) VALUES ('stripe', 'x', '[1,2]');

-- The inbox: pending events, oldest first, a page of two.
CREATE TEMP TABLE page AS
  SELECT id, source, event_type, payload, cursor FROM inbox
  WHERE status = 'pending' ORDER BY id LIMIT 2;
SELECT id, source, event_type, payload FROM page;

-- Process them, then acknowledge:
UPDATE inbox SET status = 'acknowledged' WHERE id IN (SELECT id FROM page);

-- The next page resumes after the last row's cursor:
SELECT id, source, event_type, payload FROM inbox
WHERE status = 'pending'
  AND cursor = (SELECT cursor FROM page ORDER BY id DESC LIMIT 1)
ORDER BY id LIMIT 2;

-- Acknowledging twice is an error naming the event:
UPDATE inbox SET status = 'acknowledged' WHERE id = 1;

-- One source's inbox comes from the index, not a scan:
EXPLAIN QUERY PLAN
SELECT * FROM inbox WHERE status = 'pending' AND source = 'github' ORDER BY id LIMIT 100;
SELECT id, event_type, priority, metadata FROM inbox
WHERE status = 'pending' AND source = 'github' ORDER BY id;

-- Writes are transactional with SQLite's:
BEGIN;
DELETE FROM inbox WHERE source = 'shopify';
ROLLBACK;
SELECT status, count(*) AS n FROM inbox GROUP BY status;

-- What the store holds:
SELECT key, value FROM json_each(evstore_stats('inbox'))
WHERE key IN ('pending', 'acknowledged', 'next_id', 'segments', 'disk_bytes');
