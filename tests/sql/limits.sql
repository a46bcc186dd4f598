.load EVSTORE_SO
-- NULL ids and bounds at and beyond the 64-bit range (each line: table|
-- plain copy). Under UBSan, undefined behaviour in the extension (a NULL
-- array passed to qsort, a signed overflow) aborts the script.
CREATE VIRTUAL TABLE inbox USING evstore;
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<10)
INSERT INTO inbox(source, event_type, payload) SELECT 'a', 't', json_object('n', x) FROM s;
CREATE TABLE copy(id INTEGER PRIMARY KEY, created_at TEXT, created_us INTEGER, status TEXT,
  source TEXT, event_type TEXT, payload TEXT, metadata TEXT, priority TEXT,
  idempotency_key TEXT, acknowledged_at TEXT);
INSERT INTO copy SELECT * FROM inbox;
SELECT 'id < 9.3e18', (SELECT count(*) FROM inbox WHERE id < 9.3e18), (SELECT count(*) FROM copy WHERE id < 9.3e18);
SELECT 'id <= max', (SELECT count(*) FROM inbox WHERE id <= 9223372036854775807), (SELECT count(*) FROM copy WHERE id <= 9223372036854775807);
SELECT 'id > -max', (SELECT count(*) FROM inbox WHERE id > -9223372036854775808), (SELECT count(*) FROM copy WHERE id > -9223372036854775808);
SELECT 'LIMIT max', (SELECT count(*) FROM (SELECT id FROM inbox LIMIT 9223372036854775807)), (SELECT count(*) FROM (SELECT id FROM copy LIMIT 9223372036854775807));
SELECT 'id = NULL', (SELECT count(*) FROM inbox WHERE id = NULL), (SELECT count(*) FROM copy WHERE id = NULL);
SELECT 'id IN (NULL)', (SELECT count(*) FROM inbox WHERE id IN (NULL)), (SELECT count(*) FROM copy WHERE id IN (NULL));
SELECT 'id IN (NULL, 3)', (SELECT group_concat(id) FROM inbox WHERE id IN (NULL, 3)), (SELECT group_concat(id) FROM copy WHERE id IN (NULL, 3));
SELECT 'id > 1e30', (SELECT count(*) FROM inbox WHERE id > 1e30), (SELECT count(*) FROM copy WHERE id > 1e30);
SELECT 'id > max', (SELECT count(*) FROM inbox WHERE id > 9223372036854775807), (SELECT count(*) FROM copy WHERE id > 9223372036854775807);
SELECT 'id <= -1e30', (SELECT count(*) FROM inbox WHERE id <= -1e30), (SELECT count(*) FROM copy WHERE id <= -1e30);
SELECT 'id < min', (SELECT count(*) FROM inbox WHERE id < -9223372036854775808), (SELECT count(*) FROM copy WHERE id < -9223372036854775808);
SELECT 'created_us <= max', (SELECT count(*) FROM inbox WHERE created_us <= 9223372036854775807), (SELECT count(*) FROM copy WHERE created_us <= 9223372036854775807);
SELECT 'created_us >= min', (SELECT count(*) FROM inbox WHERE created_us >= -9223372036854775808), (SELECT count(*) FROM copy WHERE created_us >= -9223372036854775808);
SELECT 'LIMIT max OFFSET 1', (SELECT count(*) FROM (SELECT id FROM inbox LIMIT 9223372036854775807 OFFSET 1)), (SELECT count(*) FROM (SELECT id FROM copy LIMIT 9223372036854775807 OFFSET 1));
SELECT 'OFFSET max', (SELECT count(*) FROM (SELECT id FROM inbox LIMIT 5 OFFSET 9223372036854775807)), (SELECT count(*) FROM (SELECT id FROM copy LIMIT 5 OFFSET 9223372036854775807));
SELECT 'end';
