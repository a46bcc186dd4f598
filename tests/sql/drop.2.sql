.load EVSTORE_SO
-- drop.sql, continued in a new process: the stores persisted, DROPs made
-- there did not remove stores they should not have.
CREATE VIEW temp.dirs AS SELECT ifnull(group_concat(name, ' '), '(none)') AS d FROM (SELECT name FROM fsdir('.') WHERE (mode & 61440) = 16384 AND name <> '.' ORDER BY name);
SELECT 'start', d FROM dirs;
ATTACH 'other.sqlite' AS o;
SELECT 'o.keeper', id, payload FROM o.keeper;
SELECT 'o.maker', id, payload FROM o.maker;
SELECT 'inbox', group_concat(id) FROM inbox;
-- The table that created its store, reconnected in a new process, removes
-- it on DROP.
SELECT 'dropme', id, payload FROM dropme;
DROP TABLE dropme;
SELECT 'dropme dropped', d FROM dirs;
-- Dropping the creators in another database removes their stores.
DROP TABLE o.keeper;
DROP TABLE o.maker;
DROP TABLE inbox;
SELECT 'all dropped', d FROM dirs;
