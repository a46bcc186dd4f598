.load EVSTORE_SO
-- DROP TABLE removes the store directory only if that table created it.
-- (drop.2.sql continues in a new process.)
.parameter init
-- The directories in the working directory.
CREATE TEMP VIEW dirs AS SELECT ifnull(group_concat(name, ' '), '(none)') AS d FROM (SELECT name FROM fsdir('.') WHERE (mode & 61440) = 16384 AND name <> '.' ORDER BY name);

-- 1. Default directory: created by the table, removed with it.
CREATE VIRTUAL TABLE inbox USING evstore;
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"n":1}');
SELECT 'created', d FROM dirs;
DROP TABLE inbox;
SELECT 'dropped', d FROM dirs;
-- A new table of the same name starts from scratch.
CREATE VIRTUAL TABLE inbox USING evstore;
SELECT 'recreated', count(*), json_extract(evstore_stats('inbox'), '$.next_id') FROM inbox;
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"n":2}');
SELECT 'recreated', id, payload FROM inbox;

-- 2. A table naming (dir=) a store another table created leaves it on DROP,
-- and the creator keeps working.
CREATE VIRTUAL TABLE alias USING evstore(dir='db.sqlite-inbox.evstore');
SELECT 'alias sees', id, payload FROM alias;
DROP TABLE alias;
SELECT 'alias dropped', d FROM dirs;
SELECT 'inbox still', id, payload FROM inbox;
INSERT INTO inbox(source, event_type, payload) VALUES ('a', 't', '{"n":3}');
SELECT 'inbox still', group_concat(id) FROM inbox;

-- 3. dir= naming a new directory: that table created it and DROP removes it.
CREATE VIRTUAL TABLE own USING evstore(dir='own store');
INSERT INTO own(source, event_type, payload) VALUES ('a', 't', '{"n":4}');
SELECT 'own', d FROM dirs;
DROP TABLE own;
SELECT 'own dropped', d FROM dirs;

-- 4. A store created by a table of another database is left alone when a
-- table of this database that merely uses it is dropped, even when both
-- tables have the same name.
ATTACH 'other.sqlite' AS o;
CREATE VIRTUAL TABLE o.keeper USING evstore(dir='shared');
INSERT INTO o.keeper(source, event_type, payload) VALUES ('o', 't', '{"n":5}');
CREATE VIRTUAL TABLE main.keeper USING evstore(dir='shared');
SELECT 'main.keeper sees', id, payload FROM main.keeper;
DROP TABLE main.keeper;
SELECT 'main.keeper dropped', d FROM dirs;
SELECT 'o.keeper still', id, payload FROM o.keeper;
-- Same with a store created by a table of another name in another database.
CREATE VIRTUAL TABLE o.maker USING evstore(dir='made');
INSERT INTO o.maker(source, event_type, payload) VALUES ('o', 't', '{"n":6}');
CREATE VIRTUAL TABLE user1 USING evstore(dir='made');
DROP TABLE user1;
SELECT 'user1 dropped', d FROM dirs;

-- 5. Dropping a table whose store was made before (by this same table in an
-- earlier process) removes it: see drop.2.sql for "dropme".
CREATE VIRTUAL TABLE dropme USING evstore;
INSERT INTO dropme(source, event_type, payload) VALUES ('a', 't', '{"n":7}');
SELECT 'end', d FROM dirs;
