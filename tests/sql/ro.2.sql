.load EVSTORE_SO
-- A new process: r2 reconnects read-only (and w for writing, beside it).
.headers off
.mode list
SELECT 'r2', count(*) FROM r2;
INSERT INTO w(source, event_type, payload) VALUES ('s', 't', '{"n":6}');
SELECT 'r2', count(*), max(id) FROM r2;
INSERT INTO r2(source, event_type, payload) VALUES ('s', 't', '{}');
DROP TABLE r2;
DROP TABLE w;
SELECT 'gone', count(*) FROM fsdir('.') WHERE name = 'st';
