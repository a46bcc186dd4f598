.load EVSTORE_SO
-- Edge cases of pushed-down constraints: values of other types, fractional
-- bounds, collations. Each line prints "label|rows from the table|rows from a
-- plain-table copy"; the two must be equal (SQLite's comparison rules).
CREATE VIRTUAL TABLE inbox USING evstore;
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<10)
INSERT INTO inbox(source, event_type, payload) SELECT CASE WHEN x % 2 THEN 'abc' ELSE 'b' END, 't', json_object('n', x) FROM s;
CREATE TABLE copy(id INTEGER PRIMARY KEY, created_at TEXT, created_us INTEGER, status TEXT,
  source TEXT, event_type TEXT, payload TEXT, metadata TEXT, priority TEXT,
  idempotency_key TEXT, acknowledged_at TEXT, delivery_count INTEGER, lease_token INTEGER,
  lease_expires_at TEXT, leased_by TEXT, not_before TEXT, ordering_key TEXT);
INSERT INTO copy SELECT * FROM inbox;
.parameter init
.parameter set @us3 "(SELECT created_us FROM copy WHERE id = 3)"

-- id compared with a real or a text that is an integer.
SELECT 'id = 3.0', (SELECT group_concat(id) FROM inbox WHERE id = 3.0), (SELECT group_concat(id) FROM copy WHERE id = 3.0);
SELECT 'id = ''3''', (SELECT group_concat(id) FROM inbox WHERE id = '3'), (SELECT group_concat(id) FROM copy WHERE id = '3');
SELECT 'id = ''3.0''', (SELECT group_concat(id) FROM inbox WHERE id = '3.0'), (SELECT group_concat(id) FROM copy WHERE id = '3.0');
SELECT 'id IN (3.0, 4)', (SELECT group_concat(id) FROM inbox WHERE id IN (3.0, 4)), (SELECT group_concat(id) FROM copy WHERE id IN (3.0, 4));
SELECT 'id = 3.5', (SELECT count(*) FROM inbox WHERE id = 3.5), (SELECT count(*) FROM copy WHERE id = 3.5);
-- A text that is not a number is greater than every integer.
SELECT 'id > ''abc''', (SELECT count(*) FROM inbox WHERE id > 'abc'), (SELECT count(*) FROM copy WHERE id > 'abc');
SELECT 'id < ''abc''', (SELECT count(*) FROM inbox WHERE id < 'abc'), (SELECT count(*) FROM copy WHERE id < 'abc');
SELECT 'id > ''8''', (SELECT group_concat(id) FROM inbox WHERE id > '8'), (SELECT group_concat(id) FROM copy WHERE id > '8');
SELECT 'created_us > ''abc''', (SELECT count(*) FROM inbox WHERE created_us > 'abc'), (SELECT count(*) FROM copy WHERE created_us > 'abc');
SELECT 'created_us < ''abc''', (SELECT count(*) FROM inbox WHERE created_us < 'abc'), (SELECT count(*) FROM copy WHERE created_us < 'abc');
-- Fractional created_us bounds (row 3 has created_us = @us3; rows may
-- share a created_us, so these print whether both sides agree: 1).
SELECT 'created_us < us3+0.5', (SELECT group_concat(id) FROM inbox WHERE created_us < @us3 + 0.5) IS (SELECT group_concat(id) FROM copy WHERE created_us < @us3 + 0.5);
SELECT 'created_us >= us3+0.5', (SELECT group_concat(id) FROM inbox WHERE created_us >= @us3 + 0.5) IS (SELECT group_concat(id) FROM copy WHERE created_us >= @us3 + 0.5);
SELECT 'created_us > us3-0.5', (SELECT group_concat(id) FROM inbox WHERE created_us > @us3 - 0.5) IS (SELECT group_concat(id) FROM copy WHERE created_us > @us3 - 0.5);
SELECT 'created_us <= us3+0.5', (SELECT group_concat(id) FROM inbox WHERE created_us <= @us3 + 0.5) IS (SELECT group_concat(id) FROM copy WHERE created_us <= @us3 + 0.5);
SELECT 'created_us <= us3-0.5', (SELECT group_concat(id) FROM inbox WHERE created_us <= @us3 - 0.5) IS (SELECT group_concat(id) FROM copy WHERE created_us <= @us3 - 0.5);
SELECT 'created_us > us3+0.5', (SELECT group_concat(id) FROM inbox WHERE created_us > @us3 + 0.5) IS (SELECT group_concat(id) FROM copy WHERE created_us > @us3 + 0.5);
-- A BLOB is never equal to a TEXT.
SELECT 'source = x''616263''', (SELECT count(*) FROM inbox WHERE source = x'616263'), (SELECT count(*) FROM copy WHERE source = x'616263');
-- An explicit collation must be honoured (or the term left to SQLite).
SELECT 'source NOCASE', (SELECT group_concat(id) FROM inbox WHERE source = 'ABC' COLLATE NOCASE), (SELECT group_concat(id) FROM copy WHERE source = 'ABC' COLLATE NOCASE);
SELECT 'status NOCASE', (SELECT count(*) FROM inbox WHERE status = 'PENDING' COLLATE NOCASE), (SELECT count(*) FROM copy WHERE status = 'PENDING' COLLATE NOCASE);
SELECT 'event_type NOCASE', (SELECT count(*) FROM inbox WHERE event_type = 'T' COLLATE NOCASE), (SELECT count(*) FROM copy WHERE event_type = 'T' COLLATE NOCASE);
SELECT 'priority NOCASE', (SELECT count(*) FROM inbox WHERE priority = 'Normal' COLLATE NOCASE), (SELECT count(*) FROM copy WHERE priority = 'Normal' COLLATE NOCASE);
SELECT 'source RTRIM', (SELECT count(*) FROM inbox WHERE source = 'b  ' COLLATE RTRIM), (SELECT count(*) FROM copy WHERE source = 'b  ' COLLATE RTRIM);
-- Text no stored name can equal: empty, or white space at an end.
SELECT 'source = empty', (SELECT count(*) FROM inbox WHERE source = ''), (SELECT count(*) FROM copy WHERE source = '');
SELECT 'source = space b space', (SELECT count(*) FROM inbox WHERE source = ' b '), (SELECT count(*) FROM copy WHERE source = ' b ');
SELECT 'event_type = t newline', (SELECT count(*) FROM inbox WHERE event_type = 't' || char(10)), (SELECT count(*) FROM copy WHERE event_type = 't' || char(10));

-- Options that are equal once defaults are applied are the same options:
-- a second table may share the store.
CREATE VIRTUAL TABLE same1 USING evstore(dir='db.sqlite-inbox.evstore', sync=normal, retention='7d', idempotency_window='24h', max_payload=409600, compress_threshold=1024, compress_level=1, segment_size=67108864, validate_json=1);
SELECT 'same1', count(*) FROM same1;
