.load EVSTORE_SO
-- reopen.sql, continued by a new process.
-- evstore_stats() knows a table once it has been used on this connection.
SELECT evstore_stats('inbox');
SELECT 'count', count(*) FROM inbox;
SELECT json_extract(evstore_stats('inbox'), '$.pending'), json_extract(evstore_stats('inbox'), '$.acknowledged'),
       json_extract(evstore_stats('inbox'), '$.next_id'), json_extract(evstore_stats('inbox'), '$.recovered_records_dropped');
-- Every column of every event is as it was.
SELECT group_concat(id || ':' || status, ' ') FROM inbox;
SELECT count(*) FROM inbox i JOIN snapshot c ON c.id = i.id
 WHERE c.created_at IS i.created_at AND c.created_us IS i.created_us AND c.status IS i.status
   AND c.source IS i.source AND c.event_type IS i.event_type AND c.payload IS i.payload
   AND c.metadata IS i.metadata AND c.priority IS i.priority AND c.idempotency_key IS i.idempotency_key
   AND c.acknowledged_at IS i.acknowledged_at;
SELECT count(*) FROM snapshot;
-- Ids go on after the last committed one (the failed, rolled-back and
-- uncommitted writes left no trace).
INSERT INTO inbox(source, event_type, payload) VALUES ('app-0', 'type', '{"n":13}');
SELECT last_insert_rowid();
-- Idempotency keys survive: a duplicate gets the original id, the key of a
-- deleted event is free.
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('app-0', 'type', '{"dup":true}', 'key-7');
SELECT last_insert_rowid();
INSERT INTO inbox(source, event_type, payload, idempotency_key) VALUES ('app-0', 'type', '{"n":14}', 'key-9');
SELECT last_insert_rowid();
-- Acked events stay acked.
UPDATE inbox SET status = 'acknowledged' WHERE id = 2;
-- Cursors issued by the earlier process still resume.
SELECT 'after 5', group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending' AND source = 'app-2'
   AND cursor = (SELECT value FROM saved WHERE name = 'cursor after 5') ORDER BY id);
SELECT 'after 10', group_concat(id) FROM (SELECT id FROM inbox WHERE status = 'pending'
   AND cursor = (SELECT value FROM saved WHERE name = 'desc cursor after 10') ORDER BY id DESC);
-- The other table kept its own directory and options.
SELECT 'custom', id, payload FROM custom;
INSERT INTO custom(source, event_type, payload) VALUES ('c', 't', json_object('pad', printf('%.100c', 'x')));
INSERT INTO custom(source, event_type, payload) VALUES ('c', 't', '{"c":2}');
SELECT 'custom', group_concat(id) FROM custom;
SELECT json_extract(evstore_stats('custom'), '$.pending');
-- Ack and delete, for reopen.3.sql.
UPDATE inbox SET status = 'acknowledged' WHERE source = 'app-1' AND status = 'pending';
DELETE FROM inbox WHERE id = 1;
SELECT group_concat(id || ':' || status, ' ') FROM inbox;
