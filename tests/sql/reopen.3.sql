.load EVSTORE_SO
-- A third process: the second one's writes are there, and with nobody
-- else holding the stores, nothing is locked.
SELECT group_concat(id || ':' || status, ' ') FROM inbox;
SELECT 'custom', group_concat(id) FROM custom;
SELECT json_extract(evstore_stats('inbox'), '$.pending'), json_extract(evstore_stats('inbox'), '$.acknowledged'),
       json_extract(evstore_stats('inbox'), '$.next_id');
SELECT count(*) FROM inbox WHERE status = 'acknowledged' AND acknowledged_at IS NOT NULL;
