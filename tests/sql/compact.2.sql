.load EVSTORE_SO
-- A new process: the store opens from the checkpoint written after the
-- compaction and holds exactly the rows the first process left.
SELECT 'pending', count(*) FROM inbox WHERE status = 'pending';
SELECT 'same rows', count(*) FROM inbox i JOIN before b USING (id)
  WHERE i.status = 'pending' AND i.created_us = b.created_us AND i.payload = b.payload;
SELECT 'checkpoint loaded', json_extract(evstore_stats('inbox'), '$.checkpoint_state');
SELECT 'next id', json_extract(evstore_stats('inbox'), '$.next_id');
