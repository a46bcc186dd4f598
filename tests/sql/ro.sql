.load EVSTORE_SO
-- mode='ro': a table that opens its store read-only (no lock), refuses
-- every write, and sees the latest commits at each statement.
.headers off
.mode list

CREATE VIRTUAL TABLE w USING evstore(dir='st', mode='rw');
INSERT INTO w(source, event_type, payload) VALUES ('s', 't', '{"n":1}'), ('s', 'u', '{"n":2}');
CREATE VIRTUAL TABLE r USING evstore(dir='st', mode='ro');
SELECT 'r', id, event_type, payload, status FROM r ORDER BY id;

-- A commit of the writer is seen by the next statement.
INSERT INTO w(source, event_type, payload, idempotency_key) VALUES ('s', 't', '{"n":3}', 'k3');
UPDATE w SET status = 'acknowledged' WHERE id = 1;
SELECT 'r', id, status, idempotency_key FROM r ORDER BY id;
SELECT 'pending', count(*) FROM r WHERE status = 'pending';
-- ... but not a transaction the writer has not committed.
BEGIN;
INSERT INTO w(source, event_type, payload) VALUES ('s', 't', '{"n":4}');
SELECT 'in txn', count(*) FROM r;
COMMIT;
SELECT 'after commit', count(*) FROM r;
-- A self-join reads one view.
SELECT 'self-join', count(*) FROM r a JOIN r b ON a.id = b.id;

-- Every write is refused, and nothing changes.
INSERT INTO r(source, event_type, payload) VALUES ('s', 't', '{}');
UPDATE r SET status = 'acknowledged' WHERE id = 2;
DELETE FROM r WHERE id = 2;
DELETE FROM r WHERE 0;
BEGIN;
INSERT INTO r(source, event_type, payload) VALUES ('s', 't', '{}');
ROLLBACK;
SELECT 'unchanged', count(*), sum(status = 'pending') FROM w;

-- Functions: stats is the writer's latest; compact is a write.
INSERT INTO w(source, event_type, payload) VALUES ('s', 't', '{"n":5}');
SELECT 'stats', json_extract(evstore_stats('r'), '$.pending'), json_extract(evstore_stats('r'), '$.next_id');
SELECT evstore_compact('r');
SELECT 'compact w', json_extract(evstore_compact('w'), '$.segments_after') IS NOT NULL;

-- Arguments.
CREATE VIRTUAL TABLE e1 USING evstore(dir='st', mode='RO');
CREATE VIRTUAL TABLE e1 USING evstore(dir='st', mode='');
CREATE VIRTUAL TABLE e1 USING evstore(mode='ro');
CREATE VIRTUAL TABLE e1 USING evstore(dir=':memory:', mode='ro');
CREATE VIRTUAL TABLE e1 USING evstore(dir='nothing', mode='ro');
SELECT 'no store made', count(*) FROM fsdir('.') WHERE name = 'nothing';
-- A read-only open changes no setting of the store.
CREATE VIRTUAL TABLE e1 USING evstore(dir='st', mode='ro', retention='1d');
SELECT 'w', count(*) FROM w;
SELECT 'retention', json_extract(evstore_stats('w'), '$.settings.retention_us');
-- The same value as the store's is fine.
CREATE VIRTUAL TABLE r2 USING evstore(dir='st', mode='ro', retention='7d');
SELECT 'r2', count(*) FROM r2;
SELECT name FROM sqlite_schema WHERE name LIKE 'e1%';

-- DROP TABLE of a ro table only detaches: the store stays.
DROP TABLE r;
SELECT 'after drop', count(*) FROM w;
-- The writer's table created the store, but r2 reads it: no DROP of it now.
DROP TABLE w;
SELECT 'w kept', count(*) FROM w;
SELECT 'meta', count(*) FROM fsdir('st') WHERE name = 'st/evstore.meta';
