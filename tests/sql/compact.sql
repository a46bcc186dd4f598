.load EVSTORE_SO
-- Compaction through SQL: evstore_compact('table') reclaims acknowledged
-- (keyless) and deleted events of sealed segments; pending events read
-- back unchanged, in the same order, with the same ids and times; the
-- store reopens (checkpoint) to the same rows. Background compaction is
-- off so the moment is the script's.
CREATE VIRTUAL TABLE inbox USING evstore(dir='cstore', segment_size=4096, auto_compact='off', retention='forever');
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<300)
INSERT INTO inbox(source, event_type, payload, idempotency_key)
  SELECT 'app-' || (x % 3), 'type', json_object('n', x, 'pad', printf('%.100c', 'x')),
         CASE WHEN x % 10 = 0 THEN 'key-' || x END
  FROM s;
UPDATE inbox SET status = 'acknowledged' WHERE id % 4 != 1 AND status = 'pending';
DELETE FROM inbox WHERE id % 8 = 1 AND id > 200;
CREATE TABLE before AS SELECT id, created_us, source, payload FROM inbox WHERE status = 'pending';
SELECT 'pending before', count(*) FROM before;
SELECT 'acked before', count(*) FROM inbox WHERE status = 'acknowledged';
SELECT 'report', json_extract(r, '$.segments_removed') + json_extract(r, '$.segments_rewritten') > 0,
       json_extract(r, '$.events_removed') > 150, json_extract(r, '$.bytes_after') < json_extract(r, '$.bytes_before')
  FROM (SELECT evstore_compact('inbox') AS r);
SELECT 'pending after', count(*) FROM inbox WHERE status = 'pending';
SELECT 'same rows', count(*) FROM inbox i JOIN before b USING (id)
  WHERE i.status = 'pending' AND i.created_us = b.created_us AND i.source = b.source AND i.payload = b.payload;
-- Acknowledged events with a key stay (the key must still deduplicate);
-- the others are gone.
SELECT 'acked after', count(*), sum(idempotency_key IS NOT NULL) FROM inbox WHERE status = 'acknowledged';
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('dup', 't', '{}', 'key-20');
SELECT 'duplicate key still known', last_insert_rowid();
SELECT 'stats', json_extract(evstore_stats('inbox'), '$.compactions'),
       json_extract(evstore_stats('inbox'), '$.compact_removed_events') > 150;
SELECT evstore_compact('nosuch');
