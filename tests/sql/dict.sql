.load EVSTORE_SO
-- dict_compress=on: small payloads are compressed with a dictionary the
-- store trains from its first ~2000 of them; every row reads back as it
-- was inserted (compared with a plain copy), also in a new process
-- (dict.2.sql) and through a declaration without the argument.
CREATE VIRTUAL TABLE inbox USING evstore(dir='dstore', dict_compress=on);
CREATE VIRTUAL TABLE bad USING evstore(dir='bstore', dict_compress=yes);
CREATE TABLE plain(id INTEGER PRIMARY KEY, payload TEXT);
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<3000)
INSERT INTO plain(id, payload)
  SELECT x, json_object('order_id', x, 'customer', json_object('email', 'user' || (x * 7 % 1000) || '@example.com',
         'name', 'Customer ' || (x * 7 % 1000)), 'items', json_array(json_object('sku', printf('SKU-%05d', x * 31 % 99999),
         'qty', x % 9 + 1)), 'currency', 'USD')
  FROM s;
INSERT INTO inbox(source, event_type, payload) SELECT 'shop', 'order.created', payload FROM plain WHERE id <= 2100;
-- Closing the connection finishes the training (also at close).
.open db.sqlite
.load EVSTORE_SO
INSERT INTO inbox(source, event_type, payload) SELECT 'shop', 'order.created', payload FROM plain WHERE id > 2100;
SELECT 'dictionary', json_extract(s, '$.dict_state'), json_extract(s, '$.dict_id') > 0,
       json_extract(s, '$.payload_stored_bytes') < json_extract(s, '$.payload_bytes')
  FROM (SELECT evstore_stats('inbox') AS s);
SELECT 'same rows', count(*) FROM inbox i JOIN plain p USING (id) WHERE i.payload = p.payload;
SELECT 'page', count(*) FROM (SELECT id FROM inbox WHERE status = 'pending' AND id > 2500 ORDER BY id LIMIT 100);
