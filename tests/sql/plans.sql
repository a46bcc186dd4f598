.load EVSTORE_SO
-- Query plans (EXPLAIN QUERY PLAN shows the tokens the table pushed down)
-- and, for each query, that the rows equal those of the same query on a
-- plain-table copy. A check line prints "label|ok|rows" or the mismatch
-- (rows is * where a time bound makes the count vary between runs).
CREATE VIRTUAL TABLE inbox USING evstore;
-- 300 events in 6 statements: sources app-0..4, types type-0..2, priorities.
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<50)
INSERT INTO inbox(source, event_type, payload, priority, metadata, idempotency_key)
  SELECT 'app-' || (x % 5), 'type-' || (x % 3), json_object('n', x, 'sq', x * x),
         CASE x % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'high' WHEN 2 THEN 'normal' ELSE NULL END,
         CASE WHEN x % 6 = 0 THEN json_object('k', x % 12) END,
         CASE WHEN x % 10 = 0 THEN 'key-' || x END
  FROM s;
WITH RECURSIVE s(x) AS (SELECT 51 UNION ALL SELECT x+1 FROM s WHERE x<100)
INSERT INTO inbox(source, event_type, payload, priority, metadata, idempotency_key)
  SELECT 'app-' || (x % 5), 'type-' || (x % 3), json_object('n', x, 'sq', x * x),
         CASE x % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'high' WHEN 2 THEN 'normal' ELSE NULL END,
         CASE WHEN x % 6 = 0 THEN json_object('k', x % 12) END,
         CASE WHEN x % 10 = 0 THEN 'key-' || x END
  FROM s;
WITH RECURSIVE s(x) AS (SELECT 101 UNION ALL SELECT x+1 FROM s WHERE x<150)
INSERT INTO inbox(source, event_type, payload, priority, metadata, idempotency_key)
  SELECT 'app-' || (x % 5), 'type-' || (x % 3), json_object('n', x, 'sq', x * x),
         CASE x % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'high' WHEN 2 THEN 'normal' ELSE NULL END,
         CASE WHEN x % 6 = 0 THEN json_object('k', x % 12) END,
         CASE WHEN x % 10 = 0 THEN 'key-' || x END
  FROM s;
WITH RECURSIVE s(x) AS (SELECT 151 UNION ALL SELECT x+1 FROM s WHERE x<200)
INSERT INTO inbox(source, event_type, payload, priority, metadata, idempotency_key)
  SELECT 'app-' || (x % 5), 'type-' || (x % 3), json_object('n', x, 'sq', x * x),
         CASE x % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'high' WHEN 2 THEN 'normal' ELSE NULL END,
         CASE WHEN x % 6 = 0 THEN json_object('k', x % 12) END,
         CASE WHEN x % 10 = 0 THEN 'key-' || x END
  FROM s;
WITH RECURSIVE s(x) AS (SELECT 201 UNION ALL SELECT x+1 FROM s WHERE x<250)
INSERT INTO inbox(source, event_type, payload, priority, metadata, idempotency_key)
  SELECT 'app-' || (x % 5), 'type-' || (x % 3), json_object('n', x, 'sq', x * x),
         CASE x % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'high' WHEN 2 THEN 'normal' ELSE NULL END,
         CASE WHEN x % 6 = 0 THEN json_object('k', x % 12) END,
         CASE WHEN x % 10 = 0 THEN 'key-' || x END
  FROM s;
WITH RECURSIVE s(x) AS (SELECT 251 UNION ALL SELECT x+1 FROM s WHERE x<300)
INSERT INTO inbox(source, event_type, payload, priority, metadata, idempotency_key)
  SELECT 'app-' || (x % 5), 'type-' || (x % 3), json_object('n', x, 'sq', x * x),
         CASE x % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'high' WHEN 2 THEN 'normal' ELSE NULL END,
         CASE WHEN x % 6 = 0 THEN json_object('k', x % 12) END,
         CASE WHEN x % 10 = 0 THEN 'key-' || x END
  FROM s;
-- Acknowledge every 7th, delete every 13th.
UPDATE inbox SET status = 'acknowledged' WHERE id % 7 = 0;
DELETE FROM inbox WHERE id % 13 = 0;
SELECT count(*), sum(status = 'pending'), sum(status = 'acknowledged') FROM inbox;
-- The plain copy: same columns and affinities, id as the rowid.
CREATE TABLE copy(id INTEGER PRIMARY KEY, created_at TEXT, created_us INTEGER, status TEXT,
  source TEXT, event_type TEXT, payload TEXT, metadata TEXT, priority TEXT,
  idempotency_key TEXT, acknowledged_at TEXT, delivery_count INTEGER, lease_token INTEGER,
  lease_expires_at TEXT, leased_by TEXT, not_before TEXT, ordering_key TEXT);
INSERT INTO copy SELECT * FROM inbox;
SELECT count(*) FROM copy;
-- Bounds taken from the data (created_us / created_at of given rows).
.parameter init
.parameter set @us100 "(SELECT created_us FROM copy WHERE id = 100)"
.parameter set @us200 "(SELECT created_us FROM copy WHERE id = 200)"
.parameter set @at150 "(SELECT created_at FROM copy WHERE id = 150)"
.parameter set @at250 "(SELECT created_at FROM copy WHERE id = 250)"
.parameter set @atmin "(SELECT substr(created_at, 1, 16) FROM copy WHERE id = 150)"
.parameter set @cur5 "(SELECT cursor FROM inbox WHERE status = 'pending' AND source = 'app-3' ORDER BY id LIMIT 1 OFFSET 4)"
.parameter set @id5 "(SELECT id FROM copy WHERE status = 'pending' AND source = 'app-3' ORDER BY id LIMIT 1 OFFSET 4)"
SELECT count(*) FROM temp.sqlite_parameters;
SELECT length(@cur5), @id5;

-- Point lookups: id = and id IN (...).
-- id=
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id = 17;
SELECT 'id=', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id = 17)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id = 17)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id = 17)) AS n);
-- rowid=
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE rowid = 17;
SELECT 'rowid=', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE rowid = 17)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE rowid = 17)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE rowid = 17)) AS n);
-- id= deleted
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id = 26;
SELECT 'id= deleted', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id = 26)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id = 26)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id = 26)) AS n);
-- id= text
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id = '17';
SELECT 'id= text', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id = '17')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id = '17')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id = '17')) AS n);
-- id IN
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id IN (5, 17, 3, 999, 17, 26);
SELECT 'id IN', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id IN (5, 17, 3, 999, 17, 26))) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id IN (5, 17, 3, 999, 17, 26))) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id IN (5, 17, 3, 999, 17, 26))) AS n);
-- id IN desc
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id IN (5, 17, 3) ORDER BY id DESC;
SELECT 'id IN desc', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id IN (5, 17, 3) ORDER BY id DESC)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id IN (5, 17, 3) ORDER BY id DESC)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id IN (5, 17, 3) ORDER BY id DESC)) AS n);
-- id IN asc
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id IN (170, 5, 17, 3) ORDER BY id;
SELECT 'id IN asc', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id IN (170, 5, 17, 3) ORDER BY id)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id IN (170, 5, 17, 3) ORDER BY id)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id IN (170, 5, 17, 3) ORDER BY id)) AS n);
-- id IN subquery
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id IN (SELECT id FROM copy WHERE source = 'app-2');
SELECT 'id IN subquery', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id IN (SELECT id FROM copy WHERE source = 'app-2'))) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id IN (SELECT id FROM copy WHERE source = 'app-2'))) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id IN (SELECT id FROM copy WHERE source = 'app-2'))) AS n);
-- id= and status
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id = 17 AND status = 'pending';
SELECT 'id= and status', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id = 17 AND status = 'pending')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id = 17 AND status = 'pending')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id = 17 AND status = 'pending')) AS n);
-- id= and status no
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id = 14 AND status = 'pending';
SELECT 'id= and status no', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id = 14 AND status = 'pending')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id = 14 AND status = 'pending')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id = 14 AND status = 'pending')) AS n);
-- id= and ack
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id = 14 AND status = 'acknowledged';
SELECT 'id= and ack', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id = 14 AND status = 'acknowledged')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id = 14 AND status = 'acknowledged')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id = 14 AND status = 'acknowledged')) AS n);
-- Id ranges.
-- id>
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id > 250;
SELECT 'id>', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id > 250)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id > 250)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id > 250)) AS n);
-- id>= id<
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id >= 250 AND id < 260;
SELECT 'id>= id<', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id >= 250 AND id < 260)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id >= 250 AND id < 260)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id >= 250 AND id < 260)) AS n);
-- id> id<= desc
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id > 100 AND id <= 110 ORDER BY id DESC;
SELECT 'id> id<= desc', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id > 100 AND id <= 110 ORDER BY id DESC)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id > 100 AND id <= 110 ORDER BY id DESC)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id > 100 AND id <= 110 ORDER BY id DESC)) AS n);
-- between
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id BETWEEN 40 AND 45;
SELECT 'between', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id BETWEEN 40 AND 45)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id BETWEEN 40 AND 45)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id BETWEEN 40 AND 45)) AS n);
-- id<
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id < 5;
SELECT 'id<', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id < 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id < 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id < 5)) AS n);
-- id<=
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id <= 5;
SELECT 'id<=', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id <= 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id <= 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id <= 5)) AS n);
-- id fractional
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id > 2.5 AND id < 7.5;
SELECT 'id fractional', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id > 2.5 AND id < 7.5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id > 2.5 AND id < 7.5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id > 2.5 AND id < 7.5)) AS n);
-- id fractional 2
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id >= 2.5 AND id <= 7.5;
SELECT 'id fractional 2', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id >= 2.5 AND id <= 7.5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id >= 2.5 AND id <= 7.5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id >= 2.5 AND id <= 7.5)) AS n);
-- id empty range
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id > 10 AND id < 5;
SELECT 'id empty range', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id > 10 AND id < 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id > 10 AND id < 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id > 10 AND id < 5)) AS n);
-- id< 1
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id < 1;
SELECT 'id< 1', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id < 1)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id < 1)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id < 1)) AS n);
-- id> big
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id > 1000;
SELECT 'id> big', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id > 1000)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id > 1000)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id > 1000)) AS n);
-- rowid range
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE rowid > 290;
SELECT 'rowid range', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE rowid > 290)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE rowid > 290)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE rowid > 290)) AS n);
-- Status, source, event_type, priority.
-- status=pending
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending';
SELECT 'status=pending', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending')) AS n);
-- status=acknowledged
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'acknowledged';
SELECT 'status=acknowledged', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'acknowledged')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'acknowledged')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'acknowledged')) AS n);
-- status=bogus
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'bogus';
SELECT 'status=bogus', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'bogus')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'bogus')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'bogus')) AS n);
-- status=NULL
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = NULL;
SELECT 'status=NULL', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = NULL)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = NULL)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = NULL)) AS n);
-- source=
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source = 'app-3';
SELECT 'source=', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE source = 'app-3')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE source = 'app-3')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE source = 'app-3')) AS n);
-- source= none
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source = 'nope';
SELECT 'source= none', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE source = 'nope')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE source = 'nope')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE source = 'nope')) AS n);
-- event_type=
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE event_type = 'type-1';
SELECT 'event_type=', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE event_type = 'type-1')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE event_type = 'type-1')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE event_type = 'type-1')) AS n);
-- pending source
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-3';
SELECT 'pending source', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-3')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND source = 'app-3')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND source = 'app-3')) AS n);
-- pending type
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND event_type = 'type-2';
SELECT 'pending type', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND event_type = 'type-2')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND event_type = 'type-2')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND event_type = 'type-2')) AS n);
-- acked source
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'acknowledged' AND source = 'app-1';
SELECT 'acked source', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'acknowledged' AND source = 'app-1')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'acknowledged' AND source = 'app-1')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'acknowledged' AND source = 'app-1')) AS n);
-- source type
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source = 'app-4' AND event_type = 'type-0';
SELECT 'source type', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE source = 'app-4' AND event_type = 'type-0')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE source = 'app-4' AND event_type = 'type-0')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE source = 'app-4' AND event_type = 'type-0')) AS n);
-- priority=high
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE priority = 'high';
SELECT 'priority=high', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE priority = 'high')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE priority = 'high')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE priority = 'high')) AS n);
-- priority=normal
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE priority = 'normal';
SELECT 'priority=normal', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE priority = 'normal')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE priority = 'normal')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE priority = 'normal')) AS n);
-- priority=low pending
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND priority = 'low';
SELECT 'priority=low pending', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND priority = 'low')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND priority = 'low')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND priority = 'low')) AS n);
-- priority=bogus
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE priority = 'urgent';
SELECT 'priority=bogus', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE priority = 'urgent')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE priority = 'urgent')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE priority = 'urgent')) AS n);
-- all four
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source = 'app-3' AND event_type = 'type-1' AND priority = 'high' AND status = 'pending';
SELECT 'all four', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE source = 'app-3' AND event_type = 'type-1' AND priority = 'high' AND status = 'pending')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE source = 'app-3' AND event_type = 'type-1' AND priority = 'high' AND status = 'pending')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE source = 'app-3' AND event_type = 'type-1' AND priority = 'high' AND status = 'pending')) AS n);
-- status twice
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND status = 'acknowledged';
SELECT 'status twice', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND status = 'acknowledged')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND status = 'acknowledged')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND status = 'acknowledged')) AS n);
-- source twice
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source = 'app-1' AND source = 'app-2';
SELECT 'source twice', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE source = 'app-1' AND source = 'app-2')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE source = 'app-1' AND source = 'app-2')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE source = 'app-1' AND source = 'app-2')) AS n);
-- source twice same
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source = 'app-1' AND source = 'app-1';
SELECT 'source twice same', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE source = 'app-1' AND source = 'app-1')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE source = 'app-1' AND source = 'app-1')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE source = 'app-1' AND source = 'app-1')) AS n);
-- source IN
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source IN ('app-1', 'app-2') ORDER BY id;
SELECT 'source IN', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE source IN ('app-1', 'app-2') ORDER BY id)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE source IN ('app-1', 'app-2') ORDER BY id)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE source IN ('app-1', 'app-2') ORDER BY id)) AS n);
-- Time ranges: created_us and created_at.
-- created_us>
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_us > @us100;
SELECT 'created_us>', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_us > @us100)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_us > @us100)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_us > @us100)) AS n);
-- created_us>=
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_us >= @us100;
SELECT 'created_us>=', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_us >= @us100)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_us >= @us100)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_us >= @us100)) AS n);
-- created_us< 
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_us < @us100;
SELECT 'created_us< ', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_us < @us100)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_us < @us100)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_us < @us100)) AS n);
-- created_us<=
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_us <= @us100;
SELECT 'created_us<=', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_us <= @us100)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_us <= @us100)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_us <= @us100)) AS n);
-- created_us range
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_us >= @us100 AND created_us <= @us200;
SELECT 'created_us range', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_us >= @us100 AND created_us <= @us200)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_us >= @us100 AND created_us <= @us200)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_us >= @us100 AND created_us <= @us200)) AS n);
-- created_us range pending
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND created_us > @us100 AND created_us < @us200;
SELECT 'created_us range pending', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND created_us > @us100 AND created_us < @us200)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND created_us > @us100 AND created_us < @us200)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND created_us > @us100 AND created_us < @us200)) AS n);
-- created_at>
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at > @at150;
SELECT 'created_at>', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at > @at150)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at > @at150)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at > @at150)) AS n);
-- created_at>=
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at >= @at150;
SELECT 'created_at>=', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at >= @at150)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at >= @at150)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at >= @at150)) AS n);
-- created_at<
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at < @at150;
SELECT 'created_at<', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at < @at150)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at < @at150)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at < @at150)) AS n);
-- created_at<=
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at <= @at150;
SELECT 'created_at<=', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at <= @at150)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at <= @at150)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at <= @at150)) AS n);
-- created_at range
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at >= @at150 AND created_at < @at250;
SELECT 'created_at range', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at >= @at150 AND created_at < @at250)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at >= @at150 AND created_at < @at250)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at >= @at150 AND created_at < @at250)) AS n);
-- created_at prefix
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at >= @atmin;
SELECT 'created_at prefix', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at >= @atmin)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at >= @atmin)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at >= @atmin)) AS n);
-- created_at prefix<
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at < @atmin;
SELECT 'created_at prefix<', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at < @atmin)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at < @atmin)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at < @atmin)) AS n);
-- created_at year
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at > '2000' AND created_at < '2100-01-01';
SELECT 'created_at year', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at > '2000' AND created_at < '2100-01-01')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at > '2000' AND created_at < '2100-01-01')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at > '2000' AND created_at < '2100-01-01')) AS n);
-- created_at past
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at < '2000-01-01T00:00:00.000000Z';
SELECT 'created_at past', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at < '2000-01-01T00:00:00.000000Z')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at < '2000-01-01T00:00:00.000000Z')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at < '2000-01-01T00:00:00.000000Z')) AS n);
-- created_at garbage
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at > 'garbage';
SELECT 'created_at garbage', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at > 'garbage')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at > 'garbage')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at > 'garbage')) AS n);
-- created_at garbage<
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at < 'garbage';
SELECT 'created_at garbage<', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at < 'garbage')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at < 'garbage')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at < 'garbage')) AS n);
-- created_at and source
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source = 'app-0' AND created_at >= @at150 ORDER BY id LIMIT 5;
SELECT 'created_at and source', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE source = 'app-0' AND created_at >= @at150 ORDER BY id LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE source = 'app-0' AND created_at >= @at150 ORDER BY id LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE source = 'app-0' AND created_at >= @at150 ORDER BY id LIMIT 5)) AS n);
-- ORDER BY id / created_at / created_us / rowid, either direction, is
-- consumed (no temp b-tree); other orders are sorted by SQLite.
-- order id
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY id;
SELECT 'order id', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY id)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY id)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY id)) AS n);
-- order id desc
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY id DESC;
SELECT 'order id desc', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY id DESC)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY id DESC)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY id DESC)) AS n);
-- order rowid desc
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY rowid DESC;
SELECT 'order rowid desc', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY rowid DESC)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY rowid DESC)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY rowid DESC)) AS n);
-- order created_at
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY created_at, id;
SELECT 'order created_at', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY created_at, id)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY created_at, id)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY created_at, id)) AS n);
-- order created_at desc
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY created_at DESC, id DESC;
SELECT 'order created_at desc', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY created_at DESC, id DESC)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY created_at DESC, id DESC)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY created_at DESC, id DESC)) AS n);
-- order created_us
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY created_us, id;
SELECT 'order created_us', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY created_us, id)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY created_us, id)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY created_us, id)) AS n);
-- order created_us desc
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY created_us DESC, rowid DESC;
SELECT 'order created_us desc', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY created_us DESC, rowid DESC)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY created_us DESC, rowid DESC)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY created_us DESC, rowid DESC)) AS n);
-- order pending desc
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-2' ORDER BY id DESC;
SELECT 'order pending desc', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-2' ORDER BY id DESC)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND source = 'app-2' ORDER BY id DESC)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND source = 'app-2' ORDER BY id DESC)) AS n);
-- order acked desc
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'acknowledged' ORDER BY id DESC;
SELECT 'order acked desc', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'acknowledged' ORDER BY id DESC)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'acknowledged' ORDER BY id DESC)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'acknowledged' ORDER BY id DESC)) AS n);
-- order payload
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY payload;
SELECT 'order payload', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY payload)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY payload)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY payload)) AS n);
-- order mixed
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY id, created_us DESC;
SELECT 'order mixed', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY id, created_us DESC)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY id, created_us DESC)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY id, created_us DESC)) AS n);
-- order source,id
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY source, id;
SELECT 'order source,id', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY source, id)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY source, id)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY source, id)) AS n);
-- order source,id desc
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' ORDER BY source DESC, id DESC;
SELECT 'order source,id desc', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' ORDER BY source DESC, id DESC)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' ORDER BY source DESC, id DESC)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' ORDER BY source DESC, id DESC)) AS n);
-- LIMIT / OFFSET are pushed down only when every other term is handled
-- by the table.
-- limit
EXPLAIN QUERY PLAN SELECT id FROM inbox LIMIT 7;
SELECT 'limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox LIMIT 7)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy LIMIT 7)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy LIMIT 7)) AS n);
-- limit offset
EXPLAIN QUERY PLAN SELECT id FROM inbox LIMIT 7 OFFSET 5;
SELECT 'limit offset', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox LIMIT 7 OFFSET 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy LIMIT 7 OFFSET 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy LIMIT 7 OFFSET 5)) AS n);
-- limit 0
EXPLAIN QUERY PLAN SELECT id FROM inbox LIMIT 0;
SELECT 'limit 0', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox LIMIT 0)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy LIMIT 0)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy LIMIT 0)) AS n);
-- limit -1
EXPLAIN QUERY PLAN SELECT id FROM inbox LIMIT -1 OFFSET 270;
SELECT 'limit -1', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox LIMIT -1 OFFSET 270)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy LIMIT -1 OFFSET 270)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy LIMIT -1 OFFSET 270)) AS n);
-- offset past end
EXPLAIN QUERY PLAN SELECT id FROM inbox LIMIT 5 OFFSET 1000;
SELECT 'offset past end', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox LIMIT 5 OFFSET 1000)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy LIMIT 5 OFFSET 1000)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy LIMIT 5 OFFSET 1000)) AS n);
-- pending limit
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' ORDER BY id LIMIT 10;
SELECT 'pending limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' ORDER BY id LIMIT 10)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' ORDER BY id LIMIT 10)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' ORDER BY id LIMIT 10)) AS n);
-- example page
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-3' ORDER BY id LIMIT 100;
SELECT 'example page', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-3' ORDER BY id LIMIT 100)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND source = 'app-3' ORDER BY id LIMIT 100)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND source = 'app-3' ORDER BY id LIMIT 100)) AS n);
-- pending desc limit offset
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' ORDER BY id DESC LIMIT 10 OFFSET 3;
SELECT 'pending desc limit offset', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' ORDER BY id DESC LIMIT 10 OFFSET 3)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' ORDER BY id DESC LIMIT 10 OFFSET 3)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' ORDER BY id DESC LIMIT 10 OFFSET 3)) AS n);
-- acked desc limit
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'acknowledged' ORDER BY id DESC LIMIT 5;
SELECT 'acked desc limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'acknowledged' ORDER BY id DESC LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'acknowledged' ORDER BY id DESC LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'acknowledged' ORDER BY id DESC LIMIT 5)) AS n);
-- type created_at desc limit
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE event_type = 'type-1' ORDER BY created_at DESC, id DESC LIMIT 3;
SELECT 'type created_at desc limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE event_type = 'type-1' ORDER BY created_at DESC, id DESC LIMIT 3)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE event_type = 'type-1' ORDER BY created_at DESC, id DESC LIMIT 3)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE event_type = 'type-1' ORDER BY created_at DESC, id DESC LIMIT 3)) AS n);
-- range desc limit offset
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id > 250 ORDER BY id DESC LIMIT 3 OFFSET 1;
SELECT 'range desc limit offset', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id > 250 ORDER BY id DESC LIMIT 3 OFFSET 1)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id > 250 ORDER BY id DESC LIMIT 3 OFFSET 1)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id > 250 ORDER BY id DESC LIMIT 3 OFFSET 1)) AS n);
-- big limit
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' ORDER BY id LIMIT 250;
SELECT 'big limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' ORDER BY id LIMIT 250)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' ORDER BY id LIMIT 250)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' ORDER BY id LIMIT 250)) AS n);
-- limit 100 offset 100
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY id LIMIT 100 OFFSET 100;
SELECT 'limit 100 offset 100', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY id LIMIT 100 OFFSET 100)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY id LIMIT 100 OFFSET 100)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY id LIMIT 100 OFFSET 100)) AS n);
-- unhandled like
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND payload LIKE '%"n":1%' LIMIT 5;
SELECT 'unhandled like', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND payload LIKE '%"n":1%' LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND payload LIKE '%"n":1%' LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND payload LIKE '%"n":1%' LIMIT 5)) AS n);
-- unhandled like ordered
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND payload LIKE '%"n":1%' ORDER BY id LIMIT 5;
SELECT 'unhandled like ordered', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND payload LIKE '%"n":1%' ORDER BY id LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND payload LIKE '%"n":1%' ORDER BY id LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND payload LIKE '%"n":1%' ORDER BY id LIMIT 5)) AS n);
-- unhandled ne
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status != 'pending' ORDER BY id LIMIT 5;
SELECT 'unhandled ne', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status != 'pending' ORDER BY id LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status != 'pending' ORDER BY id LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status != 'pending' ORDER BY id LIMIT 5)) AS n);
-- unhandled source like
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source LIKE 'app-1%' ORDER BY id LIMIT 5;
SELECT 'unhandled source like', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE source LIKE 'app-1%' ORDER BY id LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE source LIKE 'app-1%' ORDER BY id LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE source LIKE 'app-1%' ORDER BY id LIMIT 5)) AS n);
-- unhandled json
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE json_extract(metadata, '$.k') = 6 ORDER BY id LIMIT 5;
SELECT 'unhandled json', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE json_extract(metadata, '$.k') = 6 ORDER BY id LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE json_extract(metadata, '$.k') = 6 ORDER BY id LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE json_extract(metadata, '$.k') = 6 ORDER BY id LIMIT 5)) AS n);
-- unhandled key
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE idempotency_key = 'key-100' LIMIT 1;
SELECT 'unhandled key', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE idempotency_key = 'key-100' LIMIT 1)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE idempotency_key = 'key-100' LIMIT 1)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE idempotency_key = 'key-100' LIMIT 1)) AS n);
-- unhandled or
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id > 290 OR source = 'app-0' ORDER BY id LIMIT 30;
SELECT 'unhandled or', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id > 290 OR source = 'app-0' ORDER BY id LIMIT 30)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id > 290 OR source = 'app-0' ORDER BY id LIMIT 30)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id > 290 OR source = 'app-0' ORDER BY id LIMIT 30)) AS n);
-- source IN limit
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source IN ('app-1', 'app-2') ORDER BY id LIMIT 5;
SELECT 'source IN limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE source IN ('app-1', 'app-2') ORDER BY id LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE source IN ('app-1', 'app-2') ORDER BY id LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE source IN ('app-1', 'app-2') ORDER BY id LIMIT 5)) AS n);
-- order payload limit
EXPLAIN QUERY PLAN SELECT id FROM inbox ORDER BY payload LIMIT 5;
SELECT 'order payload limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox ORDER BY payload LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy ORDER BY payload LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy ORDER BY payload LIMIT 5)) AS n);
-- created_at limit
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_at > @at150 LIMIT 5;
SELECT 'created_at limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_at > @at150 LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_at > @at150 LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_at > @at150 LIMIT 5)) AS n);
-- created_us limit
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE created_us > @us100 ORDER BY id LIMIT 5;
SELECT 'created_us limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, '*' FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_us > @us100 ORDER BY id LIMIT 5)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE created_us > @us100 ORDER BY id LIMIT 5)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE created_us > @us100 ORDER BY id LIMIT 5)) AS n);
-- point limit
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE id IN (1, 2, 3, 4) ORDER BY id LIMIT 2;
SELECT 'point limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE id IN (1, 2, 3, 4) ORDER BY id LIMIT 2)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE id IN (1, 2, 3, 4) ORDER BY id LIMIT 2)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE id IN (1, 2, 3, 4) ORDER BY id LIMIT 2)) AS n);
-- cursor = : resume after a row of the same filter (the 5th pending
-- app-3 event here), like id > that row.
-- cursor
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-3' AND cursor = @cur5 ORDER BY id LIMIT 10;
SELECT 'cursor', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-3' AND cursor = @cur5 ORDER BY id LIMIT 10)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND source = 'app-3' AND id > @id5 ORDER BY id LIMIT 10)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND source = 'app-3' AND id > @id5 ORDER BY id LIMIT 10)) AS n);
-- cursor no limit
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-3' AND cursor = @cur5 ORDER BY id;
SELECT 'cursor no limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-3' AND cursor = @cur5 ORDER BY id)) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending' AND source = 'app-3' AND id > @id5 ORDER BY id)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending' AND source = 'app-3' AND id > @id5 ORDER BY id)) AS n);
-- Joins and correlated subqueries: the table as the inner loop.
-- join on id
EXPLAIN QUERY PLAN SELECT c.id FROM copy c JOIN inbox i ON i.id = c.id WHERE c.source = 'app-4';
SELECT 'join on id', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT c.id FROM copy c JOIN inbox i ON i.id = c.id WHERE c.source = 'app-4')) AS a,
          (SELECT group_concat(id) FROM (SELECT c.id FROM copy c JOIN copy i ON i.id = c.id WHERE c.source = 'app-4')) AS b,
          (SELECT count(*) FROM (SELECT c.id FROM copy c JOIN copy i ON i.id = c.id WHERE c.source = 'app-4')) AS n);
-- join on source
EXPLAIN QUERY PLAN SELECT c.id * 1000 + i.id AS id FROM copy c JOIN inbox i ON i.source = c.source WHERE c.id < 20 AND i.status = 'pending' ORDER BY c.id, i.id;
SELECT 'join on source', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT c.id * 1000 + i.id AS id FROM copy c JOIN inbox i ON i.source = c.source WHERE c.id < 20 AND i.status = 'pending' ORDER BY c.id, i.id)) AS a,
          (SELECT group_concat(id) FROM (SELECT c.id * 1000 + i.id AS id FROM copy c JOIN copy i ON i.source = c.source WHERE c.id < 20 AND i.status = 'pending' ORDER BY c.id, i.id)) AS b,
          (SELECT count(*) FROM (SELECT c.id * 1000 + i.id AS id FROM copy c JOIN copy i ON i.source = c.source WHERE c.id < 20 AND i.status = 'pending' ORDER BY c.id, i.id)) AS n);
-- exists
EXPLAIN QUERY PLAN SELECT id FROM copy WHERE EXISTS (SELECT 1 FROM inbox i WHERE i.id = copy.id + 1 AND i.status = 'pending');
SELECT 'exists', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE EXISTS (SELECT 1 FROM inbox i WHERE i.id = copy.id + 1 AND i.status = 'pending'))) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE EXISTS (SELECT 1 FROM copy i WHERE i.id = copy.id + 1 AND i.status = 'pending'))) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE EXISTS (SELECT 1 FROM copy i WHERE i.id = copy.id + 1 AND i.status = 'pending'))) AS n);

-- Aggregates over the whole table.
SELECT (SELECT count(*) FROM inbox) = (SELECT count(*) FROM copy),
       (SELECT sum(id) FROM inbox WHERE status = 'pending') = (SELECT sum(id) FROM copy WHERE status = 'pending'),
       (SELECT max(created_us) FROM inbox) = (SELECT max(created_us) FROM copy),
       (SELECT min(created_at) FROM inbox) = (SELECT min(created_at) FROM copy);
-- Every column of every row is the same as in the copy.
SELECT count(*) FROM inbox i JOIN copy c ON c.id = i.id
 WHERE c.created_at IS i.created_at AND c.created_us IS i.created_us AND c.status IS i.status
   AND c.source IS i.source AND c.event_type IS i.event_type AND c.payload IS i.payload
   AND c.metadata IS i.metadata AND c.priority IS i.priority AND c.idempotency_key IS i.idempotency_key
   AND c.acknowledged_at IS i.acknowledged_at;

-- Leased and dead events: status = 'leased' / 'dead' are the store's
-- (EVS_QUERY_LEASED / EVS_QUERY_DEAD), alone and with other terms.
-- The 12 oldest pending events claimed, 4 of them rejected (dead); a fresh copy.
SELECT 'claimed', count(*) FROM evstore_claim('inbox', 'plans', 12);
SELECT 'rejected', sum(evstore_reject('inbox', id, lease_token))
  FROM (SELECT id, lease_token FROM inbox WHERE status = 'leased' ORDER BY id LIMIT 4);
DELETE FROM copy;
INSERT INTO copy SELECT * FROM inbox;
-- status=dead
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'dead';
SELECT 'status=dead', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'dead')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'dead')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'dead')) AS n);
-- status=leased source= desc limit
EXPLAIN QUERY PLAN SELECT id, leased_by FROM inbox WHERE status = 'leased' AND source = 'app-1' ORDER BY id DESC LIMIT 3;
SELECT 'status=leased source= desc limit', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id || leased_by) FROM (SELECT id, leased_by FROM inbox WHERE status = 'leased' AND source = 'app-1' ORDER BY id DESC LIMIT 3)) AS a,
          (SELECT group_concat(id || leased_by) FROM (SELECT id, leased_by FROM copy WHERE status = 'leased' AND source = 'app-1' ORDER BY id DESC LIMIT 3)) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'leased' AND source = 'app-1' ORDER BY id DESC LIMIT 3)) AS n);
-- status=pending excludes both
SELECT 'status=pending', CASE WHEN a IS b THEN 'ok' ELSE 'MISMATCH inbox=' || ifnull(a, '') || ' copy=' || ifnull(b, '') END, n FROM
  (SELECT (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending')) AS a,
          (SELECT group_concat(id) FROM (SELECT id FROM copy WHERE status = 'pending')) AS b,
          (SELECT count(*) FROM (SELECT id FROM copy WHERE status = 'pending')) AS n);
-- status=dead NOCASE: left to SQLite
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE status = 'DEAD' COLLATE NOCASE;
SELECT 'status=dead nocase', (SELECT count(*) FROM inbox WHERE status = 'DEAD' COLLATE NOCASE);
SELECT 'lease columns', count(*) FROM inbox i JOIN copy c ON c.id = i.id
 WHERE c.status IS i.status AND c.delivery_count IS i.delivery_count
   AND c.lease_token IS i.lease_token AND c.lease_expires_at IS i.lease_expires_at
   AND c.leased_by IS i.leased_by;
