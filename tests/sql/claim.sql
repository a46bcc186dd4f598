.load EVSTORE_SO
-- evstore_claim's filters: source and event_type after lease (NULL: any)
-- go to the library (evs_query), so a page holds `limit` events of that
-- source / type and no other event is leased.
.headers off
.mode list
CREATE VIRTUAL TABLE inbox USING evstore(dir='st');
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<12)
INSERT INTO inbox(source, event_type, payload)
  SELECT CASE x % 3 WHEN 0 THEN 'a' WHEN 1 THEN 'b' ELSE 'c' END, CASE WHEN x % 2 THEN 'odd' ELSE 'even' END,
         json_object('n', x) FROM s;
SELECT 'events', group_concat(id || source || substr(event_type, 1, 1), ' ') FROM inbox;

-- The 2 oldest of source b, whatever comes before them.
SELECT 'source b', group_concat(id), group_concat(DISTINCT source), count(*)
  FROM evstore_claim('inbox', 'w1', 2, '30s', 'b');
-- The others stay pending: the claim took nothing else.
SELECT 'leased', group_concat(id) FROM inbox WHERE status = 'leased';
-- event_type alone (source NULL: any); the lease NULL: 30 s.
SELECT 'type even', group_concat(id), count(*) FROM evstore_claim('inbox', 'w2', 3, NULL, NULL, 'even');
-- Both.
SELECT 'a odd', group_concat(id) FROM evstore_claim('inbox', 'w3', 100, '1m', 'a', 'odd');
-- Trimmed as the library trims a filter (evs_query), unlike a WHERE.
SELECT 'source " c "', group_concat(id) FROM evstore_claim('inbox', 'w4', 1, '1m', ' c ');
-- None of that source: nothing leased.
SELECT 'source z', count(*) FROM evstore_claim('inbox', 'w5', 100, '1m', 'z');
SELECT 'by consumer', leased_by, group_concat(id) FROM inbox WHERE status = 'leased'
  GROUP BY leased_by ORDER BY leased_by;
-- The arguments by name (hidden columns src and typ, as tbl, consumer, lim, lease).
SELECT 'named', group_concat(id) FROM evstore_claim
  WHERE tbl = 'inbox' AND consumer = 'w6' AND lim = 1 AND typ = 'odd';
-- The 4-argument form (and 2, 3): any source, oldest first.
SELECT 'four', group_concat(id) FROM evstore_claim('inbox', 'w7', 2, '1m');
SELECT 'two', group_concat(id) FROM evstore_claim('inbox', 'w7');
SELECT 'pending left', count(*) FROM inbox WHERE status = 'pending';

-- Bad filters: TEXT or NULL, no NUL byte; empty is the library's error.
SELECT count(*) FROM evstore_claim('inbox', 'w8', 1, '1m', 5);
SELECT count(*) FROM evstore_claim('inbox', 'w8', 1, '1m', NULL, x'6f6464');
SELECT count(*) FROM evstore_claim('inbox', 'w8', 1, '1m', CAST(x'610062' AS TEXT));
SELECT count(*) FROM evstore_claim('inbox', 'w8', 1, '1m', '');
SELECT count(*) FROM evstore_claim('inbox', 'w8', 1, '1m', 'a', '  ');
SELECT count(*) FROM evstore_claim('inbox', 'w8', 1, '1m', 'a', 'odd', 'extra');

-- Any other condition on an argument column fails the statement, leasing
-- nothing: SQLite would check it after the claim and drop leased rows.
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 'odd', '{}'), ('b', 'odd', '{}');
SELECT count(*) FROM evstore_claim('inbox', 'w9') WHERE src > 'a';
SELECT count(*) FROM evstore_claim('inbox', 'w9') WHERE src IN ('a', 'b');
SELECT count(*) FROM evstore_claim('inbox', 'w9') WHERE typ IS NULL;
SELECT count(*) FROM evstore_claim('inbox', 'w9') WHERE lim < 5;
SELECT count(*) FROM evstore_claim('inbox', 'w9', 1) WHERE lim = 1;
SELECT count(*) FROM evstore_claim('inbox', 'w9') WHERE src = 'a' AND src = 'b';
SELECT 'nothing leased', count(*) FROM inbox WHERE status = 'pending';
-- A value from a join is an argument like any other.
SELECT 'join', x.s, c.id FROM (SELECT 'b' AS s) x, evstore_claim('inbox', 'w9', 5, '1m', x.s) c;
