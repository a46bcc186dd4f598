.load EVSTORE_SO
-- Paging with the hidden cursor column: every row's cursor resumes after
-- that row for the same WHERE; "AND cursor = ?" continues. Nothing is
-- skipped or repeated whatever is acked, inserted or deleted in between.
CREATE VIRTUAL TABLE inbox USING evstore;
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<40)
INSERT INTO inbox(source, event_type, payload) SELECT 'app-' || (x % 2), 'type-' || (x % 3), json_object('n', x) FROM s;
CREATE TEMP TABLE p(id INTEGER PRIMARY KEY, payload TEXT, cursor TEXT);
CREATE TEMP TABLE seen(id INTEGER PRIMARY KEY, page INTEGER);
.parameter init

-- 1. The pending app-1 events, 4 per page, acking each page; between pages
-- new events arrive and one not yet seen is deleted.
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = 'app-1' ORDER BY id LIMIT 4;
EXPLAIN QUERY PLAN SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = 'app-1' ORDER BY id LIMIT 4;
INSERT INTO seen SELECT id, 1 FROM p;
SELECT 'page 1', group_concat(id), count(*) FROM p;
UPDATE inbox SET status = 'acknowledged' WHERE id IN (SELECT id FROM p);
.parameter set @c "(SELECT cursor FROM p ORDER BY id DESC LIMIT 1)"
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = 'app-1' AND cursor = @c ORDER BY id LIMIT 4;
INSERT INTO seen SELECT id, 2 FROM p;
SELECT 'page 2', group_concat(id), count(*) FROM p;
UPDATE inbox SET status = 'acknowledged' WHERE id IN (SELECT id FROM p);
.parameter set @c "(SELECT cursor FROM p ORDER BY id DESC LIMIT 1)"
INSERT INTO inbox(source, event_type, payload) VALUES ('app-1', 'late', '{"n":41}'), ('app-0', 'late', '{"n":42}');
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = 'app-1' AND cursor = @c ORDER BY id LIMIT 4;
INSERT INTO seen SELECT id, 3 FROM p;
SELECT 'page 3', group_concat(id), count(*) FROM p;
UPDATE inbox SET status = 'acknowledged' WHERE id IN (SELECT id FROM p);
.parameter set @c "(SELECT cursor FROM p ORDER BY id DESC LIMIT 1)"
DELETE FROM inbox WHERE id = 29;
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = 'app-1' AND cursor = @c ORDER BY id LIMIT 4;
INSERT INTO seen SELECT id, 4 FROM p;
SELECT 'page 4', group_concat(id), count(*) FROM p;
UPDATE inbox SET status = 'acknowledged' WHERE id IN (SELECT id FROM p);
.parameter set @c "(SELECT cursor FROM p ORDER BY id DESC LIMIT 1)"
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = 'app-1' AND cursor = @c ORDER BY id LIMIT 4;
INSERT INTO seen SELECT id, 5 FROM p;
SELECT 'page 5', group_concat(id), count(*) FROM p;
UPDATE inbox SET status = 'acknowledged' WHERE id IN (SELECT id FROM p);
.parameter set @c "(SELECT cursor FROM p ORDER BY id DESC LIMIT 1)"
INSERT INTO inbox(source, event_type, payload) VALUES ('app-1', 'late', '{"n":43}');
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = 'app-1' AND cursor = @c ORDER BY id LIMIT 4;
INSERT INTO seen SELECT id, 6 FROM p;
SELECT 'page 6', group_concat(id), count(*) FROM p;
UPDATE inbox SET status = 'acknowledged' WHERE id IN (SELECT id FROM p);
.parameter set @c "(SELECT cursor FROM p ORDER BY id DESC LIMIT 1)"
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = 'app-1' AND cursor = @c ORDER BY id LIMIT 4;
SELECT 'after last page', count(*) FROM p;
EXPLAIN QUERY PLAN SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = 'app-1' AND cursor = @c ORDER BY id LIMIT 4;
-- Seen exactly once: every app-1 event but the deleted 29, and all acked.
SELECT group_concat(id) FROM seen;
SELECT count(*) FROM inbox WHERE source = 'app-1' AND id NOT IN (SELECT id FROM seen);
SELECT status, count(*) FROM inbox WHERE source = 'app-1' GROUP BY status;
SELECT count(*) FROM seen s JOIN inbox i USING (id) WHERE i.payload = json_object('n', i.id);
-- The last cursor still works: a later event shows up after it.
INSERT INTO inbox(source, event_type, payload) VALUES ('app-1', 'later', '{"n":45}');
SELECT 'resumed', id, payload FROM inbox WHERE status = 'pending' AND source = 'app-1' AND cursor = @c ORDER BY id LIMIT 4;

-- 2. Without acking: the whole pending inbox, 10 per page, no filter but
-- status; the cursor of each page's last row continues.
DELETE FROM seen;
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' ORDER BY id LIMIT 10;
INSERT INTO seen SELECT id, 1 FROM p;
SELECT 'pending page 1', group_concat(id) FROM p;
.parameter set @c "(SELECT cursor FROM p ORDER BY id DESC LIMIT 1)"
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND cursor = @c ORDER BY id LIMIT 10;
INSERT INTO seen SELECT id, 2 FROM p;
SELECT 'pending page 2', group_concat(id) FROM p;
.parameter set @c "(SELECT cursor FROM p ORDER BY id DESC LIMIT 1)"
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND cursor = @c ORDER BY id LIMIT 10;
INSERT INTO seen SELECT id, 3 FROM p;
SELECT 'pending page 3', group_concat(id) FROM p;
.parameter set @c "(SELECT cursor FROM p ORDER BY id DESC LIMIT 1)"
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND cursor = @c ORDER BY id LIMIT 10;
SELECT 'after last page', count(*) FROM p;
SELECT (SELECT group_concat(id) FROM seen) = (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' ORDER BY id));

-- 3. Newest first: ORDER BY id DESC pages backwards.
DELETE FROM p;
INSERT INTO p SELECT id, payload, cursor FROM inbox WHERE source = 'app-0' ORDER BY id DESC LIMIT 5;
SELECT 'desc page 1', group_concat(id) FROM (SELECT id FROM p ORDER BY id DESC);
.parameter set @c "(SELECT cursor FROM p ORDER BY id ASC LIMIT 1)"
SELECT 'desc page 2', group_concat(id) FROM (SELECT id FROM inbox WHERE source = 'app-0' AND cursor = @c ORDER BY id DESC LIMIT 5);
EXPLAIN QUERY PLAN SELECT id FROM inbox WHERE source = 'app-0' AND cursor = @c ORDER BY id DESC LIMIT 5;

-- 4. Acknowledged events and the whole table page too, with range filters.
SELECT 'acked', group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'acknowledged' AND cursor = (SELECT cursor FROM inbox WHERE status = 'acknowledged' ORDER BY id LIMIT 1 OFFSET 9) ORDER BY id LIMIT 5);
SELECT 'all', group_concat(id) FROM (SELECT id FROM inbox WHERE cursor = (SELECT cursor FROM inbox ORDER BY id LIMIT 1 OFFSET 35) ORDER BY id LIMIT 5);
SELECT 'range', group_concat(id) FROM (SELECT id FROM inbox WHERE id BETWEEN 10 AND 30 AND event_type = 'type-0' AND cursor = (SELECT cursor FROM inbox WHERE id BETWEEN 10 AND 30 AND event_type = 'type-0' ORDER BY id LIMIT 1 OFFSET 2) ORDER BY id);
.parameter set @us "(SELECT created_us FROM inbox WHERE id = 30)"
SELECT 'time', (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_us >= @us AND cursor = (SELECT cursor FROM inbox WHERE created_us >= @us ORDER BY id LIMIT 1) ORDER BY id LIMIT 3))
  = (SELECT group_concat(id) FROM (SELECT id FROM inbox WHERE created_us >= @us AND id > (SELECT min(id) FROM inbox WHERE created_us >= @us) ORDER BY id LIMIT 3));

-- 5. A row's cursor depends on the row and the filter, not on LIMIT/OFFSET
-- or the columns selected.
SELECT count(DISTINCT cursor) FROM inbox WHERE status = 'pending';
SELECT (SELECT cursor FROM inbox WHERE status = 'pending' AND source = 'app-0' ORDER BY id LIMIT 1 OFFSET 2)
     = (SELECT cursor FROM (SELECT id, cursor FROM inbox WHERE status = 'pending' AND source = 'app-0' ORDER BY id) LIMIT 1 OFFSET 2);
SELECT (SELECT cursor FROM inbox WHERE source = 'app-0' ORDER BY id LIMIT 1)
     = (SELECT cursor FROM inbox WHERE status = 'pending' AND source = 'app-0' ORDER BY id LIMIT 1);
SELECT length(cursor), cursor GLOB '*[^A-Za-z0-9_-]*' FROM inbox WHERE id = 2;

-- 6. Bad cursors fail the statement.
.parameter set @good "(SELECT cursor FROM inbox WHERE status = 'pending' AND source = 'app-0' ORDER BY id LIMIT 1)"
SELECT 'good', id FROM inbox WHERE status = 'pending' AND source = 'app-0' AND cursor = @good ORDER BY id LIMIT 1;
-- another filter (other source, other status, other direction, no filter)
SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-1' AND cursor = @good ORDER BY id LIMIT 1;
SELECT id FROM inbox WHERE status = 'acknowledged' AND source = 'app-0' AND cursor = @good ORDER BY id LIMIT 1;
SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-0' AND cursor = @good ORDER BY id DESC LIMIT 1;
SELECT id FROM inbox WHERE cursor = @good LIMIT 1;
-- not a cursor at all
SELECT id FROM inbox WHERE status = 'pending' AND cursor = 'garbage';
SELECT id FROM inbox WHERE status = 'pending' AND cursor = '';
SELECT id FROM inbox WHERE status = 'pending' AND cursor = 5;
SELECT id FROM inbox WHERE status = 'pending' AND cursor = @good || 'AAAA';
-- truncated, and one character altered
SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-0' AND cursor = substr(@good, 1, 45);
SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-0'
   AND cursor = substr(@good, 1, 20) || CASE substr(@good, 21, 1) WHEN 'A' THEN 'B' ELSE 'A' END || substr(@good, 22);
-- from another store
CREATE VIRTUAL TABLE other USING evstore;
INSERT INTO other(source, event_type, payload) VALUES ('app-0', 't', '{}');
SELECT id FROM other WHERE status = 'pending' AND source = 'app-0' AND cursor = @good;
-- NULL matches nothing, like any = NULL.
SELECT count(*) FROM inbox WHERE status = 'pending' AND cursor = NULL;
-- The error stops the statement; the same statement with a good cursor runs.
SELECT 'good again', id FROM inbox WHERE status = 'pending' AND source = 'app-0' AND cursor = @good ORDER BY id LIMIT 1;
