/*
** evstore_sqlite.h: the evstore SQLite module for programs that link SQLite
** themselves. Kept apart from evstore.h so that libevstore needs no
** libsqlite3: link with -levstore_sqlite -levstore -lsqlite3 (or
** `pkg-config --libs evstore-sqlite`). The loadable extension evstore.so
** (`.load .../evstore`) needs none of this.
*/
#ifndef EVSTORE_SQLITE_H
#define EVSTORE_SQLITE_H

#include "evstore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Register the "evstore" virtual-table module and the evstore_stats() and
** evstore_compact() functions on a connection (the loadable extension
** evstore.so does the same through sqlite3_evstore_init). Returns an
** SQLite result code (SQLITE_OK = 0), not an EVS_E* code. Needs SQLite
** >= 3.38. Thread-safe as sqlite3_create_module is: call it while no
** other thread uses db. */
struct sqlite3;
EVS_API int evs_sqlite_register(struct sqlite3 *db);

#ifdef __cplusplus
}
#endif
#endif /* EVSTORE_SQLITE_H */
