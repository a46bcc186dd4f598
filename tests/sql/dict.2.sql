.load EVSTORE_SO
-- A new process: the dictionary is read from evstore.dict.
SELECT 'same rows', count(*) FROM inbox i JOIN plain p USING (id) WHERE i.payload = p.payload;
SELECT 'dictionary', json_extract(evstore_stats('inbox'), '$.dict_state');
