/*
** evstore.h: the public API of evstore, an embedded event store (an inbox).
**
** An event is appended once, read by id or through the inbox (pending events,
** oldest first), acknowledged once, and deleted when no longer wanted.
** Events live in an append-only log of checksummed segment files; an in-memory
** index answers lookups. See README.md for a tour and docs/FORMAT.md for the
** on-disk format.
**
** Conventions
**  - Every function that can fail returns int: 0 (EVS_OK) or a negative EVS_E*
**    code. evs_strerror(rc) is the generic text; evs_errmsg(store) is the
**    specific message of the calling thread's last failed call.
**  - Handles are opaque. Structs the caller fills (evs_options, evs_event_in,
**    evs_query) are zero-initialisable: a zero field means "the default".
**  - Growable structs: the structs passed by pointer (evs_options,
**    evs_event_in, evs_append_result, evs_query, evs_stats and the
**    reports) may gain fields at their end in later versions. Each
**    function taking one is exported as NAME_sized with the struct's size
**    after the pointer, and called through NAME, a static inline function
**    of this header that passes sizeof(type) of the header the program was
**    compiled with (so NULL still works, and no size field can be
**    forgotten; an inline function rather than a macro, so that compound
**    literals and function pointers work as before). The library reads
**    only that many bytes of an input struct (a missing tail means "the
**    default") and writes only that many of an output struct (zeroing the
**    tail of one longer than its own). A struct longer than the library
**    knows is accepted if the unknown bytes are zero, else EVS_EINVAL
**    ("evs_options has fields this library (version x) does not know");
**    a size below the struct's first layout is EVS_EINVAL too. Arrays
**    (evs_append_batch) are walked with the program's element size. An
**    evs_event is allocated by the library and only ever grows at its
**    end.
**  - Times are microseconds since the Unix epoch, UTC (int64_t).
**  - Strings handed out by the library are NUL-terminated and also carry an
**    explicit length.
**  - Thread safety: an evs_store may be used from any number of threads at
**    once. An evs_page or evs_event belongs to one thread at a time. An
**    evs_txn belongs to the thread that began it, for its whole life (see
**    Transactions).
**  - The library never prints and never aborts.
**  - Threads of its own: a store may start two helper threads, one the first
**    time a batch append can share its work (compression, validation of
**    large payloads), one for background maintenance (periodic checkpoints,
**    automatic compaction). Both end at evs_store_close. Do not use a store
**    across fork() (as with an SQLite connection): open it in the child.
*/
#ifndef EVSTORE_H
#define EVSTORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks what the shared library exports: it is built with hidden
** visibility, so nothing else is (see tests/test_abi.sh). */
#ifndef EVS_API
#if defined(__GNUC__) || defined(__clang__)
#define EVS_API __attribute__((visibility("default")))
#else
#define EVS_API
#endif
#endif

#define EVS_VERSION_MAJOR 0
#define EVS_VERSION_MINOR 1
#define EVS_VERSION_PATCH 0
#define EVS_VERSION_NUMBER \
  (EVS_VERSION_MAJOR * 10000 + EVS_VERSION_MINOR * 100 + EVS_VERSION_PATCH)
#define EVS_VERSION_STRING "0.1.0"

/* The library's version string, e.g. "0.1.0" (may differ from the header's
** EVS_VERSION_STRING when linked against another build). */
EVS_API const char *evs_version(void);

/* ---- Status codes ------------------------------------------------------ */
/* Codes live in their own range (-1001 and below) so that no code ever
** equals a negated errno; the values are fixed for good. */
#define EVS_OK 0
#define EVS_EINVAL -1001    /* bad argument or invalid event field            */
#define EVS_ENOTFOUND -1002 /* no event with that id                          */
#define EVS_ECONFLICT -1003 /* state does not allow it (e.g. already acked)   */
#define EVS_ETOOBIG -1004   /* payload, metadata or string over its limit     */
#define EVS_ECORRUPT -1005  /* on-disk data failed a checksum or format check */
#define EVS_EIO -1006       /* an I/O call failed (message names it)          */
#define EVS_ELOCKED -1007   /* another process has the store open             */
#define EVS_ENOMEM -1008    /* out of memory                                  */
#define EVS_ECURSOR -1009   /* cursor malformed, tampered, or not for this query */
#define EVS_EJSON -1010     /* payload or metadata is not a valid JSON object */
#define EVS_EBUSY -1011     /* a wait ran out of time: for the write
                               transaction (evs_txn_begin_timeout), for an
                               event (evs_wait)                               */
#define EVS_ENOSPC -1012    /* disk full                                      */
#define EVS_EREADONLY -1013 /* store refuses writes: opened read_only, or
                               after a failed sync or undo                    */
#define EVS_EMISUSE -1014   /* transaction handle misused (NULL, of another
                               store, not open) or savepoint level out of
                               range                                          */
#define EVS_EDEADLK -1015   /* this thread already holds the write
                               transaction: waiting for it would never end
                               (pass its evs_txn, or commit first)            */
#define EVS_ESTALE -1016    /* the lease token is not the event's current one:
                               its lease ran out (it may have been delivered
                               again) or was settled; nothing was changed     */

/* Generic text for a status code; never NULL, static storage. */
EVS_API const char *evs_strerror(int rc);

/* ---- Store ------------------------------------------------------------- */
typedef struct evs_store evs_store;
typedef struct evs_txn evs_txn;
typedef struct evs_page evs_page;

/* Durability of a commit (see README "Guarantees"):
**  OFF    written to the OS at commit, not fsynced (nor at close); an OS
**         crash or power loss may lose commits since the segment was
**         started or evs_store_sync last ran (never part of one). A full
**         segment is still synced once, when the next one starts.
**  NORMAL written to the OS at commit (survives a process crash); segment
**         files are fdatasynced when they are full and at close.
**  FULL   fdatasync before commit returns; concurrent committers share one
**         fdatasync (group commit). */
#define EVS_SYNC_DEFAULT 0 /* = NORMAL */
#define EVS_SYNC_OFF 1
#define EVS_SYNC_NORMAL 2
#define EVS_SYNC_FULL 3

/* A clock returning microseconds since the epoch; for tests and replays.
** An event is created at the clock's time (or, if the clock went back, at
** the store's latest created time): an append while the clock returns a
** time outside 0 .. EVS_TIME_MAX (1970-01-01T00:00:00Z ..
** 9999-12-31T23:59:59.999999Z) fails with EVS_EINVAL ("clock returned ...,
** outside 1970-01-01..9999-12-31") and stores nothing. Within that range
** the created_at text of the SQL module is fixed-width, so its text order
** is time order. */
typedef int64_t (*evs_clock_fn)(void *arg);
#define EVS_TIME_MAX INT64_C(253402300799999999)

/* Options of an open. Two kinds:
**  - Settings of the store (marked [store]): recorded in the store when it
**    is created (evstore.settings) and used by every opener, C, SQL or
**    CLI, so that no process expires, compacts, limits or compresses under
**    values other than the recorded ones. A zero field means "use the
**    store's" (for a new store: the default shown). A non-zero field SETS
**    the setting: a value that differs from the recorded one is recorded
**    durably before evs_store_open returns, and every later open uses it.
**  - Options of this open only (sync, clock, validation, maintenance).
** evs_store_options() tells what an open store uses. */
typedef struct evs_options {
  int sync;                      /* EVS_SYNC_*; 0 = NORMAL                 */
  uint32_t max_payload;          /* [store] bytes; 0 = 409600 (400 KiB)    */
  uint32_t compress_threshold;   /* [store] payloads >= this are zstd-
                                    compressed; 0 = 1024; UINT32_MAX =
                                    never                                  */
  int compress_level;            /* [store] zstd level; 0 = 1; negative =
                                    fast                                   */
  int64_t retention_us;          /* [store] events older than this are
                                    invisible and compaction removes them;
                                    0 = 7 days; -1 = keep forever          */
  int64_t idempotency_window_us; /* [store] 0 = 24 h; -1 = keys never
                                    expire                                 */
  int skip_json_validation;      /* 1 = trust payload/metadata as JSON     */
  uint32_t segment_size;         /* [store] bytes before a new segment;
                                    0 = 64 MiB; 4096..1 GiB. At most 65,536
                                    segments live at once (each holds a
                                    descriptor and a mapping): see README
                                    "Limits"                               */
  evs_clock_fn clock;            /* NULL = CLOCK_REALTIME. Appends fail with
                                    EVS_EINVAL while it returns a time
                                    outside 1970-01-01..9999-12-31. Called
                                    from the store's own threads too: it
                                    must be safe to call from any thread */
  void *clock_arg;
  int64_t checkpoint_bytes;      /* write an index checkpoint after this
                                    much new log (and at close); 0 = 64 MiB;
                                    -1 = never (open replays the whole log) */
  int compact_dead_percent;      /* compaction rewrites a sealed segment
                                    whose dead bytes reach this share;
                                    0 = 50; 1..100                         */
  int auto_compact_percent;      /* compact in the background once dead
                                    bytes reach this share of the log;
                                    0 = 50; -1 = only when evs_compact is
                                    called                                 */
  int dict_compress;             /* [store] 1 = compress payloads below
                                    compress_threshold (64 B and up) with a
                                    zstd dictionary the store trains in the
                                    background from the newest ~2000 small
                                    payloads once it holds 2048 events, and
                                    keeps in evstore.dict: ~4x smaller for
                                    typical webhook JSON, ~0.2 us more per
                                    payload read. -1 = off; 0 = the store's
                                    (off for a new store). A store that has
                                    a dictionary reads with it whatever
                                    this says.                             */
  uint32_t max_metadata;         /* [store] bytes; 0 = 8192; at most 65535 */
  int read_only;                 /* 1 = open for reading only: nothing in
                                    the directory is written, truncated or
                                    removed (a torn tail is left on disk and
                                    not shown, unused segment files are left,
                                    no checkpoint at close); every write
                                    fails with EVS_EREADONLY. Takes no lock
                                    and needs only read permission: any
                                    number of readers work beside one
                                    writer, in this process or others, and
                                    never block it. A reader sees what was
                                    committed when it opened;
                                    evs_store_refresh() catches up. Not for
                                    in-memory stores.                      */
  uint32_t max_deliveries;       /* [store] an event whose lease runs out
                                    (or is released) after this many
                                    deliveries is dead; 0 = 5; 1..255.
                                    (Added after 1.0, as the fields below
                                    it will be: older programs pass a
                                    shorter struct and get the default.) */
} evs_options;

/* Fill out with in's options and the defaults for its zero fields, as
** evs_store_open would use them for a NEW store (an existing store's
** recorded settings replace the zero [store] fields; see
** evs_store_options). in may be NULL. EVS_EINVAL for a bad option, with a
** message. */
EVS_API int evs_options_resolve_sized(const evs_options *in, size_t in_size, evs_options *out,
                                      size_t out_size);
static inline int evs_options_resolve(const evs_options *in, evs_options *out) {
  return evs_options_resolve_sized(in, sizeof(evs_options), out, sizeof(evs_options));
}

/* Open (creating if needed) the store in directory `dir`, a name of at
** most 4032 bytes. dir NULL or ":memory:" gives an in-memory store with no
** files. opts may be NULL for defaults. On success *out is the handle; on failure *out is NULL and
** evs_errmsg(NULL) says why. One handle at a time may open a directory
** for writing (EVS_ELOCKED otherwise); read_only handles, any number, open
** beside it.
** A new store is only created in a directory that holds none of a
** store's files (EVS_ECORRUPT if it holds some but no evstore.meta).
** Opening recovers from a crash: an uncommitted or torn tail of the last
** segment is truncated and counted in evs_stats (with read_only it is
** left in place). Damage that is not a torn tail (a bad record followed by
** intact ones, a damaged sealed segment, segment files holding records
** that evstore.manifest does not account for) is never cut or removed:
** the open fails with EVS_ECORRUPT naming the file and offset, and
** evs_repair() is the explicit way out.
** Errors: EVS_EINVAL, EVS_ELOCKED, EVS_ECORRUPT, EVS_EIO, EVS_ENOSPC,
** EVS_ENOMEM, EVS_EREADONLY (read_only with a [store] setting to change). */
EVS_API int evs_store_open_sized(const char *dir, const evs_options *opts, size_t opts_size,
                                 evs_store **out);
static inline int evs_store_open(const char *dir, const evs_options *opts, evs_store **out) {
  return evs_store_open_sized(dir, opts, sizeof(evs_options), out);
}

/* Zero o's [store] fields: an open with o then uses the settings the store
** recorded and changes none of them. */
EVS_API void evs_options_use_stored_sized(evs_options *o, size_t o_size);
static inline void evs_options_use_stored(evs_options *o) {
  evs_options_use_stored_sized(o, sizeof(evs_options));
}

/* The options `s` runs with: its [store] settings as recorded, the rest
** as this open resolved them. Errors: EVS_EINVAL. */
EVS_API int evs_store_options_sized(evs_store *s, evs_options *out, size_t out_size);
static inline int evs_store_options(evs_store *s, evs_options *out) {
  return evs_store_options_sized(s, out, sizeof(evs_options));
}

/* Flush, sync (NORMAL and FULL) and close. An open transaction is rolled
** back and its handle freed. Pages and events obtained from the store
** must be freed first, and no other thread may be using the store.
** The handle is freed even when an error is returned; s NULL is a no-op
** returning 0. An open transaction is rolled back from the calling
** thread: close from the thread that began it (see Transactions).
** Errors (the store is closed all the same; what was committed is as
** durable as the sync mode had made it): EVS_EIO, EVS_ENOSPC, EVS_ENOMEM
** (the checkpoint written at close, or the final fdatasync, failed; the
** message is kept for evs_errmsg(NULL)). */
EVS_API int evs_store_close(evs_store *s);

/* Close the store and delete it: the files it consists of (evstore.meta,
** the manifest, every listed segment, settings, checkpoint, dictionary,
** their temporary files, LOCK) and then its directory, if the store created
** that directory and nothing else is left in it. Files the store does not
** list (anything another program put there, the copies evs_repair keeps)
** are never touched. Nothing is written first: no checkpoint, no sync.
** The lock is held until the files are gone, so no other process can open
** the store half-deleted. The handle is freed, also on error. For an
** in-memory store this is evs_store_close.
** Errors: EVS_EINVAL (NULL), EVS_EREADONLY (opened read_only: nothing is
** deleted), EVS_EIO (a file could not be removed: the others still are;
** the message names the first). */
EVS_API int evs_store_drop(evs_store *s);

/* Catch a read_only handle up with what writers (other processes, other
** handles) committed since it opened or last refreshed: new events, acks
** and deletes of the open segment's tail and of new segments are replayed;
** when compaction or evs_repair changed the log's layout, the index is
** loaded again (from the checkpoint and the log after it). Ids never
** change, so cursors taken before a refresh go on after it; a page or event
** obtained before stays valid until freed. A transaction a writer has not
** committed, or whose records are only half written, is not yet visible.
** Other threads may go on reading the handle during a refresh; they see
** the old view until it switches whole. A no-op returning 0 for a handle
** that writes (it always sees its own commits) and in memory. The files of
** segments that compaction removed stay readable (and take disk space)
** until the reader refreshes or closes.
** Errors (the handle keeps its previous view and stays usable): EVS_EINVAL
** (s NULL), EVS_ENOTFOUND (the store was dropped), EVS_ECORRUPT (damage,
** or the directory now holds another store), EVS_EBUSY (the layout changed
** again and again during the refresh: try later), EVS_EIO, EVS_ENOMEM.
** When replaying new records fails half way (EVS_ECORRUPT, EVS_ENOMEM) the
** store is loaded again whole; only if that fails too may the view hold
** part of a transaction: close the handle then. */
EVS_API int evs_store_refresh(evs_store *s);

/* Make every commit so far durable (fdatasync), whatever the sync mode.
** A no-op for in-memory and read_only stores. Errors: EVS_EINVAL (s
** NULL), EVS_EIO, EVS_ENOSPC (the fdatasync failed: the store turns
** read-only), EVS_EREADONLY (an earlier sync failed). */
EVS_API int evs_store_sync(evs_store *s);

/* The calling thread's last error message for `s` (or, with s NULL, for
** its last failed call on any store, including evs_store_open). Valid
** until the thread's next evs_ call. Never NULL. */
EVS_API const char *evs_errmsg(const evs_store *s);

/* ---- Events ------------------------------------------------------------ */
#define EVS_PRIORITY_DEFAULT 0 /* = NORMAL */
#define EVS_PRIORITY_LOW 1
#define EVS_PRIORITY_NORMAL 2
#define EVS_PRIORITY_HIGH 3

#define EVS_STATUS_PENDING 0
#define EVS_STATUS_ACKNOWLEDGED 1
#define EVS_STATUS_LEASED 2       /* held by a consumer (evs_claim), or held
                                     back by a release's delay              */
#define EVS_STATUS_DELAYED 4      /* held back until lease_expires_us:
                                     appended with a later not_before_us,
                                     or released with a delay              */
#define EVS_STATUS_DEAD 3         /* rejected, or its lease ran out after
                                     max_deliveries deliveries: kept, out of
                                     the inbox, back by evs_redrive        */

#define EVS_MAX_NAME 100     /* source, event_type (bytes, after trimming) */
#define EVS_MAX_METADATA 8192 /* default of evs_options.max_metadata */
#define EVS_MAX_IDEMPOTENCY_KEY 256
#define EVS_MAX_ORDERING_KEY 128

/* An event to append. source and event_type are NUL-terminated, trimmed of
** surrounding white space, 1..100 bytes of UTF-8 without control
** characters. payload must be a JSON object (payload_len 0 = strlen).
** metadata, if not NULL, a JSON object of at most max_metadata bytes (8 KiB
** by default; metadata_len 0 = strlen). idempotency_key, if not NULL,
** 1..256 bytes of UTF-8: any characters, white space and control
** characters included, compared byte for byte (bytes that are not UTF-8
** are EVS_EINVAL, the message naming the first: JSON, and so an export,
** could not carry them). */
typedef struct evs_event_in {
  const char *source;
  const char *event_type;
  const char *payload;
  size_t payload_len;
  const char *metadata;
  size_t metadata_len;
  const char *idempotency_key;
  int priority; /* EVS_PRIORITY_*; 0 = NORMAL */
  int64_t not_before_us; /* 0 = at once; a later time (µs since the epoch):
                            the event is out of the inbox and not
                            claimable until then (status
                            EVS_STATUS_DELAYED). Added after 1.0. */
  const char *ordering_key; /* NULL = none; else 1..128 bytes of UTF-8,
                            compared byte for byte. Events of one key
                            are claimed one at a time, oldest first:
                            one is claimable only when every older event
                            of its key is acknowledged, deleted or dead
                            and none is leased (evs_claim). The inbox
                            is not affected. Added after 1.0. */
} evs_event_in;

/* What an append did. For a duplicate idempotency key (within the window)
** nothing is stored: id and created_us are the original event's. */
typedef struct evs_append_result {
  int rc;             /* 0, or why this item was rejected   */
  int duplicate;      /* 1 when the key matched an event     */
  uint64_t id;
  int64_t created_us;
} evs_append_result;

/* An event as read back. All strings are NUL-terminated; metadata and
** idempotency_key are NULL when absent. */
typedef struct evs_event {
  uint64_t id;
  int64_t created_us;
  int64_t acknowledged_us; /* 0 while pending */
  int status;              /* EVS_STATUS_*    */
  int priority;            /* EVS_PRIORITY_LOW..HIGH */
  const char *source;
  size_t source_len;
  const char *event_type;
  size_t event_type_len;
  const char *payload; /* decompressed */
  size_t payload_len;
  const char *metadata;
  size_t metadata_len;
  const char *idempotency_key;
  size_t idempotency_key_len;
  /* Consumers (evs_claim). Fields added after 1.0: a program built against
  ** an older header does not see them, and needs not. */
  uint32_t delivery_count;  /* times claimed (since the last redrive)     */
  uint64_t lease_token;     /* this delivery's fencing token; 0 unless
                               leased to a consumer                       */
  int64_t lease_expires_us; /* when the lease (or a release's delay)
                               ends; 0 unless leased                      */
  const char *leased_by;    /* the consumer; NULL unless leased to one    */
  int64_t not_before_us;    /* appended with one still in the future
                               (evs_event_in): that time; else 0         */
  const char *ordering_key; /* NULL when the event has none */
  size_t ordering_key_len;
} evs_event;

/* Every function below that takes `evs_txn *txn` works inside that
** transaction when txn is not NULL (seeing its uncommitted writes), and as
** its own committed transaction when txn is NULL. A txn of another store
** is refused with EVS_EMISUSE. */

/* Append one event. out may be NULL. A duplicate key is not an error: rc 0,
** out->duplicate = 1. Errors: EVS_EINVAL (a bad field; s or ev NULL; the
** clock out of range, see evs_clock_fn; a struct size refused), EVS_EJSON,
** EVS_ETOOBIG, EVS_EMISUSE (txn), EVS_EIO, EVS_ENOSPC, EVS_EREADONLY,
** EVS_EDEADLK (txn NULL while this thread holds the write transaction),
** EVS_ENOMEM. */
EVS_API int evs_append_sized(evs_store *s, evs_txn *txn, const evs_event_in *ev, size_t ev_size,
                             evs_append_result *out, size_t out_size);
static inline int evs_append(evs_store *s, evs_txn *txn, const evs_event_in *ev,
                             evs_append_result *out) {
  return evs_append_sized(s, txn, ev, sizeof(evs_event_in), out, sizeof(evs_append_result));
}

/* Append n events in one transaction; results[i] says what happened to
** ev[i]. Items that fail validation are skipped (their results[i].rc says
** why) and the valid ones are stored together. Returns 0 when the valid
** items were committed (check each rc), or a negative code when nothing
** was stored. A key repeated inside the batch is a duplicate of its first
** occurrence. An item's rc: EVS_EINVAL, EVS_EJSON, EVS_ETOOBIG,
** EVS_ENOMEM. The call's errors, nothing stored: EVS_EINVAL (s NULL; ev or
** results NULL with n > 0; a struct size refused; the clock out of
** range), EVS_EMISUSE (txn), EVS_EDEADLK (txn NULL while this thread holds
** the write transaction), EVS_EREADONLY, EVS_EIO, EVS_ENOSPC, EVS_ETOOBIG
** (the transaction would pass 4 GiB), EVS_ENOMEM. n = 0 returns 0. */
EVS_API int evs_append_batch_sized(evs_store *s, evs_txn *txn, const evs_event_in *ev,
                                   size_t ev_size, size_t n, evs_append_result *results,
                                   size_t result_size);
static inline int evs_append_batch(evs_store *s, evs_txn *txn, const evs_event_in *ev,
                                   size_t n, evs_append_result *results) {
  return evs_append_batch_sized(s, txn, ev, sizeof(evs_event_in), n, results,
                                sizeof(evs_append_result));
}

/* Read an event by id. *out is allocated by the library: free it with
** evs_event_free(). Errors: EVS_EINVAL (s or out NULL), EVS_EMISUSE (txn),
** EVS_ENOTFOUND (never existed, deleted or expired), EVS_ECORRUPT,
** EVS_ENOMEM. */
EVS_API int evs_get(evs_store *s, evs_txn *txn, uint64_t id, evs_event **out);
EVS_API void evs_event_free(evs_event *ev);

/* Acknowledge a pending event. acked_us (may be NULL) receives the time.
** Errors: EVS_EINVAL (s NULL), EVS_ENOTFOUND, EVS_ECONFLICT (already
** acknowledged; the message says when), EVS_EMISUSE (txn), EVS_EDEADLK
** (txn NULL while this thread holds the write transaction), EVS_EIO,
** EVS_ENOSPC, EVS_EREADONLY, EVS_ENOMEM. */
EVS_API int evs_ack(evs_store *s, evs_txn *txn, uint64_t id, int64_t *acked_us);

/* Acknowledge n ids in one transaction; rcs[i] is 0, EVS_ENOTFOUND or
** EVS_ECONFLICT for ids[i] (EVS_ENOMEM stops the batch). Returns 0 when
** the valid acks were committed (evs_errmsg then tells the first rejected
** id's reason). The call's errors, nothing stored: EVS_EINVAL (s NULL; ids
** or rcs NULL with n > 0), EVS_EMISUSE (txn), EVS_EDEADLK (txn NULL while
** this thread holds the write transaction), EVS_EREADONLY, EVS_EIO,
** EVS_ENOSPC, EVS_ETOOBIG (more ids than one record holds, about 536
** million), EVS_ENOMEM. n = 0 returns 0. */
EVS_API int evs_ack_batch(evs_store *s, evs_txn *txn, const uint64_t *ids, size_t n,
                  int *rcs);

/* Delete an event for good (pending or acknowledged). Deleting an id that
** does not exist succeeds; *existed (may be NULL) says whether it did.
** The event's idempotency key is forgotten with it. Errors: EVS_EINVAL (s
** NULL), EVS_EMISUSE (txn), EVS_EDEADLK (txn NULL while this thread holds
** the write transaction), EVS_EREADONLY, EVS_EIO, EVS_ENOSPC,
** EVS_ENOMEM. */
EVS_API int evs_delete(evs_store *s, evs_txn *txn, uint64_t id, int *existed);

/* ---- Inbox ------------------------------------------------------------- */
#define EVS_PAGE_DEFAULT 50
#define EVS_PAGE_MAX 100

/* evs_query.status */
#define EVS_QUERY_PENDING 0      /* the inbox (default)      */
#define EVS_QUERY_ACKNOWLEDGED 1 /* acknowledged events only */
#define EVS_QUERY_ANY 2          /* every event              */
#define EVS_QUERY_LEASED 3       /* leased to a consumer     */
#define EVS_QUERY_DEAD 4         /* dead                     */
#define EVS_QUERY_DELAYED 5      /* held back until a time   */
#define EVS_QUERY_CLAIMABLE 6    /* what evs_claim would take now: pending,
                                    and not held back by an older event of
                                    its ordering key                        */

/* What to read: by default pending events, oldest first, matching every
** set field. Filters apply before the limit: a page is short only when no
** more events match. */
typedef struct evs_query {
  unsigned limit;            /* 1..100; 0 = 50                              */
  const char *source;        /* NULL = any; else trimmed like the stored
                                names, and empty is EVS_EINVAL             */
  const char *event_type;    /* NULL = any; as source                       */
  int64_t created_after_us;  /* exclusive; 0 = unbounded                    */
  int64_t created_before_us; /* exclusive; 0 = unbounded                    */
  int priority;              /* EVS_PRIORITY_*; 0 = any                     */
  const char *metadata_key;  /* with metadata_value: top-level member equal
                                to the value (a JSON string's text, or a
                                number/true/false/null literal)             */
  const char *metadata_value;
  const char *cursor;        /* from a previous page with the same filter   */
  int status;                /* EVS_QUERY_*; 0 = pending                    */
  uint64_t min_id, max_id;   /* inclusive id bounds; 0 = unbounded          */
  int descending;            /* 1 = newest first                            */
  int without_payload;       /* 1: events come with payload NULL (length
                                still set): no decompression, for listings.
                                Like limit, not part of the filter.         */
} evs_query;

/* Read one page of the inbox (or, with q->status, of any events).
** Pending events are found through the index in O(limit + log n) for
** any combination of source, event_type and time filters; acknowledged
** and "any" queries walk ids in the time/id range. *page may be NULL (a page is allocated) or a
** page from an earlier call (it is reused; its events become invalid;
** q->cursor may be that page's own evs_page_cursor()).
** Events and strings stay valid until the page is reused or freed.
** Errors: EVS_EINVAL (s or page NULL, bad limit or filter, e.g. an empty
** source; a struct size refused), EVS_EMISUSE (txn), EVS_ECURSOR,
** EVS_ECORRUPT, EVS_ENOMEM. */
EVS_API int evs_inbox_sized(evs_store *s, evs_txn *txn, const evs_query *q, size_t q_size,
                            evs_page **page);
static inline int evs_inbox(evs_store *s, evs_txn *txn, const evs_query *q,
                            evs_page **page) {
  return evs_inbox_sized(s, txn, q, sizeof(evs_query), page);
}
EVS_API size_t evs_page_count(const evs_page *p);
EVS_API const evs_event *evs_page_event(const evs_page *p, size_t i);
/* The cursor that resumes after this page (also after an empty page): an
** opaque base64url string, valid until the page is reused or freed. */
EVS_API const char *evs_page_cursor(const evs_page *p);
/* The cursor resuming q strictly after event `id` (what evs_page_cursor
** gives when id is a page's last event). out needs EVS_CURSOR_SIZE.
** Errors: EVS_EINVAL (s, q or out NULL; a struct size refused). */
#define EVS_CURSOR_SIZE 64
EVS_API int evs_cursor_make_sized(evs_store *s, const evs_query *q, size_t q_size, uint64_t id,
                                  char *out);
static inline int evs_cursor_make(evs_store *s, const evs_query *q, uint64_t id,
                                  char *out) {
  return evs_cursor_make_sized(s, q, sizeof(evs_query), id, out);
}
/* Check `cursor` against q (store, filter) and return the id it resumes
** after. Errors: EVS_EINVAL (an argument NULL; a struct size refused),
** EVS_ECURSOR. */
EVS_API int evs_cursor_parse_sized(evs_store *s, const evs_query *q, size_t q_size,
                                   const char *cursor, uint64_t *id);
static inline int evs_cursor_parse(evs_store *s, const evs_query *q, const char *cursor,
                                   uint64_t *id) {
  return evs_cursor_parse_sized(s, q, sizeof(evs_query), cursor, id);
}
/* 1 if more matching events existed when the page was read. */
EVS_API int evs_page_more(const evs_page *p);
EVS_API void evs_page_free(evs_page *p);

/* Wait until an event matching q is there: what evs_inbox(s, NULL, q, ...)
** would return at least one of (q->cursor included: only events after it;
** q NULL: any pending event; status EVS_QUERY_CLAIMABLE: an event evs_claim
** would take). Returns 0 at once when there is one, else
** when a commit (or a refresh) makes one visible, or EVS_EBUSY once
** timeout_ms ran out (< 0: no limit; 0: only look). Several threads may
** wait on one handle. A read_only handle cannot be woken by another
** process: it refreshes itself (evs_store_refresh) every 10 ms while it
** waits. An event whose lease (evs_claim) runs out counts as arriving:
** a waiter looks again when the next lease ends.
** Errors: EVS_EINVAL, EVS_ECURSOR (as evs_inbox), EVS_EDEADLK (this
** thread holds the write transaction: nothing could arrive), EVS_EBUSY,
** and a reader's refresh errors (EVS_ENOTFOUND: the store was dropped). */
EVS_API int evs_wait_sized(evs_store *s, const evs_query *q, size_t q_size, int timeout_ms);
static inline int evs_wait(evs_store *s, const evs_query *q, int timeout_ms) {
  return evs_wait_sized(s, q, sizeof(evs_query), timeout_ms);
}

/* A file descriptor (an eventfd, non-blocking, close-on-exec) that becomes
** readable whenever new events become visible to this handle (a commit
** that appended, a refresh that found some) and, on a writer's handle,
** when a lease or a release's delay ends (the store's background thread
** signals it then: an event may be claimable again), for poll/epoll/libuv
** loops: read 8 bytes to clear it, then page the inbox or claim. A
** read_only handle's fd is signalled only by its refreshes. The store owns the fd (closed by
** evs_store_close); every call returns the same one. Errors: EVS_EINVAL,
** EVS_EIO (eventfd failed). */
EVS_API int evs_store_eventfd(evs_store *s, int *fd);

/* ---- Consumers: claims and leases --------------------------------------
** Several consumers (threads, processes) take work from one inbox without
** getting the same events: evs_claim leases the oldest claimable events
** to a consumer until a deadline, each with a fencing token that changes
** at every delivery and a delivery count. The lease holder settles each
** event with its token: evs_ack_lease, evs_renew, evs_release (back now or
** after a delay), evs_reject (to dead). A token that is no longer the
** event's (its lease ran out and it may have gone to someone else) is
** refused with EVS_ESTALE and changes nothing. A lease that runs out puts
** the event back; if it was the event's max_deliveries-th delivery (a
** store setting, default 5), the event is dead instead: kept, listed with
** status EVS_QUERY_DEAD, brought back by evs_redrive, removed by
** evs_delete. Leased and dead events are not in the inbox (evs_inbox,
** status pending). Every change is logged under the store's sync mode:
** claims and delivery counts survive a crash, and after it a lease whose
** time passed is claimable again. evs_ack (no token) still acknowledges
** any pending or leased event. */

/* Lease the oldest claimable events that q's filters match (q->limit:
** 1..100, 0 = 50; no cursor, status or descending order; q may be NULL)
** to consumer (1..100 bytes, like a source) for lease_us (0 = 30 s; at
** most 12 h). *page (NULL or one to reuse) receives them, each with status
** EVS_STATUS_LEASED, lease_token, lease_expires_us, leased_by and its
** delivery_count (this delivery included); none if nothing is claimable.
** Events whose lease ran out at max_deliveries are marked dead on the way.
** Errors: EVS_EINVAL, EVS_ETOOBIG (consumer name), EVS_EDEADLK, EVS_EIO,
** EVS_ENOSPC, EVS_EREADONLY, EVS_ENOMEM. */
EVS_API int evs_claim_sized(evs_store *s, const evs_query *q, size_t q_size,
                            const char *consumer, int64_t lease_us, evs_page **page);
static inline int evs_claim(evs_store *s, const evs_query *q, const char *consumer,
                            int64_t lease_us, evs_page **page) {
  return evs_claim_sized(s, q, sizeof(evs_query), consumer, lease_us, page);
}
/* Settle a lease with its token. ack_lease: acknowledged (*acked_us may be
** NULL); renew: leased for lease_us more from now (0 = 30 s; the new
** deadline in *expires_us, may be NULL); release: back in the inbox now,
** or after delay_us (at most 12 h; the delivery still counts); reject:
** dead at once. Errors: EVS_EINVAL, EVS_ENOTFOUND, EVS_ECONFLICT (already
** acknowledged), EVS_ESTALE (the token does not hold the lease: nothing
** changed), EVS_EDEADLK, EVS_EIO, EVS_ENOSPC, EVS_EREADONLY, EVS_ENOMEM. */
EVS_API int evs_ack_lease(evs_store *s, uint64_t id, uint64_t token, int64_t *acked_us);
/* evs_ack_lease for n events in one commit (a consumer's page): rcs[i] is
** each one's result (0, or as evs_ack_lease: EVS_ENOTFOUND, EVS_ECONFLICT,
** EVS_ESTALE); the others are acknowledged, all at one time (*acked_us,
** may be NULL). Returns 0 when the commit went through, whatever the
** items said; otherwise as evs_ack_lease, and nothing is acknowledged. */
EVS_API int evs_ack_lease_batch(evs_store *s, const uint64_t *ids, const uint64_t *tokens,
                                size_t n, int *rcs, int64_t *acked_us);
EVS_API int evs_renew(evs_store *s, uint64_t id, uint64_t token, int64_t lease_us,
                      int64_t *expires_us);
EVS_API int evs_release(evs_store *s, uint64_t id, uint64_t token, int64_t delay_us);
EVS_API int evs_reject(evs_store *s, uint64_t id, uint64_t token);
/* Put every dead event that q's filters match (no cursor or status; q may
** be NULL) back in the inbox with a delivery count of 0; *count (may be
** NULL) gets how many. Errors: as evs_claim. */
EVS_API int evs_redrive_sized(evs_store *s, const evs_query *q, size_t q_size,
                              uint64_t *count);
static inline int evs_redrive(evs_store *s, const evs_query *q, uint64_t *count) {
  return evs_redrive_sized(s, q, sizeof(evs_query), count);
}


/* ---- Transactions ------------------------------------------------------ */
/* Threads: the write transaction is the store's writer lock, a pthread
** mutex taken by the thread that calls evs_txn_begin and held until
** commit or rollback, so an evs_txn is tied to that thread. Use it, commit
** it and roll it back only from there (and close the store there while
** one is open). The library does not check the thread: a call from
** another thread with the handle is not refused (it only checks that the
** handle is the store's open transaction), so it races with the owner's
** calls, and a commit or rollback from another thread unlocks a mutex that
** thread does not hold, which POSIX leaves undefined. While a thread holds
** the transaction, its own calls on the store with txn NULL, and its
** evs_txn_begin, evs_checkpoint, evs_compact and evs_verify, fail with
** EVS_EDEADLK; other threads' writes wait for the commit (or, with
** evs_txn_begin_timeout, give up with EVS_EBUSY); readers never wait.
**
** Begin the store's write transaction; waits while another thread holds
** it. Readers are never blocked, and see the writes only after commit.
** Errors: EVS_EINVAL (s or out NULL), EVS_EDEADLK (this thread already
** holds it), EVS_EREADONLY, EVS_EIO, EVS_ENOSPC (starting the next segment
** when the current one is full), EVS_ENOMEM. */
EVS_API int evs_txn_begin(evs_store *s, evs_txn **out);
/* evs_txn_begin, but give up with EVS_EBUSY after timeout_ms (0: try
** once) while another thread holds the transaction. For callers that must
** not block indefinitely while holding locks of their own (the SQL module
** uses it under SQLite's connection mutex). Errors: as evs_txn_begin,
** and EVS_EBUSY. */
EVS_API int evs_txn_begin_timeout(evs_store *s, int timeout_ms, evs_txn **out);
/* Commit: all writes become visible at once and durable per the sync mode.
** The handle is freed whatever is returned (as LMDB's mdb_txn_commit
** does): it must not be used again, not even to roll back after a failed
** commit. On error the transaction is rolled back and nothing of it is
** stored, with one exception: when the fdatasync of a FULL commit fails,
** the commit is written but its durability unknown (the store turns
** read-only; a reopen shows what the disk kept). Errors: EVS_EMISUSE (txn
** NULL, or not its store's open transaction: nothing is done), EVS_EIO,
** EVS_ENOSPC, EVS_EREADONLY, EVS_ENOMEM.
** A handle already committed or rolled back is freed memory: passing it
** again is undefined behaviour that the library cannot always detect. */
EVS_API int evs_txn_commit(evs_txn *txn);
/* Discard every write of the transaction. The handle is freed whatever
** is returned and must not be used again. Errors: EVS_EMISUSE (as for
** commit), EVS_EIO (undoing written bytes failed: the store turns
** read-only). */
EVS_API int evs_txn_rollback(evs_txn *txn);

/* Nested savepoints, numbered from 0 like SQLite's (xSavepoint). Opening
** savepoint n discards any numbered >= n and marks the present state;
** levels below n not yet open are marked too: with the transaction's start
** if no savepoint is open (SQLite brings a table in at level n), else with
** the present state, so levels stay nested. rollback_to(n) returns to n's
** state and keeps n open; for a level never opened it returns to the
** transaction's start and closes every savepoint. release(n) forgets n
** and above. Levels are 0..1000000. Errors: EVS_EMISUSE (txn NULL or
** not open, a level out of range; nothing is done), EVS_ENOMEM, EVS_EIO
** (undoing written bytes failed). */
EVS_API int evs_txn_savepoint(evs_txn *txn, int n);
EVS_API int evs_txn_rollback_to(evs_txn *txn, int n);
EVS_API int evs_txn_release(evs_txn *txn, int n);

/* ---- Stats ------------------------------------------------------------- */
typedef struct evs_stats {
  uint64_t pending;
  uint64_t acknowledged;
  uint64_t next_id;               /* the id the next append will get     */
  uint64_t segments;
  uint64_t disk_bytes;            /* all files of the store              */
  uint64_t payload_bytes;         /* payload bytes as appended           */
  uint64_t payload_stored_bytes;  /* after compression                   */
  double compression_ratio;       /* payload_bytes / payload_stored_bytes */
  int64_t oldest_pending_us;      /* created_us of the oldest; 0 if none */
  int64_t oldest_pending_age_us;  /* now - oldest_pending_us             */
  uint64_t index_bytes;           /* memory of the in-memory index       */
  uint64_t recovered_bytes_dropped;   /* at open: torn/uncommitted tail   */
  uint64_t recovered_records_dropped;
  int checkpoint_state;           /* at open: EVS_CHECKPOINT_*            */
  uint64_t open_replayed_bytes;   /* log bytes replayed at open          */
  uint64_t checkpoints_written;   /* by this handle                      */
  uint64_t log_bytes_since_checkpoint;
  uint64_t compactions;           /* evs_compact passes that changed the log */
  uint64_t compact_removed_events;
  int maintenance_error;          /* last failure of background work (a
                                     periodic checkpoint or compaction), 0
                                     if none; evs_errmsg does not keep it */
  int dict_state;                 /* EVS_DICT_*                          */
  uint32_t dict_id;               /* zstd dictionary id; 0 = none        */
  uint64_t store_id;              /* random at creation (evstore.meta):
                                     the store's identity                */
  uint64_t leased;                /* held by a consumer now (not in
                                     pending)                            */
  uint64_t dead;                  /* dead (not in pending)               */
  uint64_t delayed;               /* held back until a time: appended with
                                     not_before_us, or released with a
                                     delay (not in pending)              */
} evs_stats;

/* evs_stats.dict_state: the small-payload dictionary (dict_compress). */
#define EVS_DICT_NONE 0    /* none (off, or still sampling payloads)     */
#define EVS_DICT_LOADED 1  /* in use: read at open or trained since      */
#define EVS_DICT_CORRUPT 2 /* evstore.dict failed its checks at open:
                              payloads compressed with it fail to read
                              (EVS_ECORRUPT); others read fine; no new
                              dictionary is trained over it              */
#define EVS_DICT_FAILED 3  /* training gave no dictionary, or its file
                              could not be written (maintenance_error):
                              payloads stay raw until the next open      */

/* evs_stats.checkpoint_state: how open built the index. */
#define EVS_CHECKPOINT_NONE 0    /* no checkpoint file: whole log replayed */
#define EVS_CHECKPOINT_LOADED 1  /* loaded; only the log after it replayed */
#define EVS_CHECKPOINT_STALE 2   /* written for another log (compacted or
                                    cut since): ignored, whole log replayed */
#define EVS_CHECKPOINT_CORRUPT 3 /* failed its checksum or checks: ignored */
#define EVS_CHECKPOINT_OFF 4     /* checkpoint_bytes = -1, or in memory    */

/* Fill *out with the store's counters, read at one moment under the
** index lock (readers and writers go on). Thread-safe. Errors: EVS_EINVAL
** (s or out NULL, a struct size refused). */
EVS_API int evs_stats_get_sized(evs_store *s, evs_stats *out, size_t out_size);
static inline int evs_stats_get(evs_store *s, evs_stats *out) {
  return evs_stats_get_sized(s, out, sizeof(evs_stats));
}

/* ---- Checkpoints ------------------------------------------------------- */
/* Write the in-memory index to evstore.checkpoint now (the log up to it is
** synced first), so the next open loads it and replays only the log
** written after it. Done automatically at close and every
** checkpoint_bytes of log. Waits for the write transaction; readers go
** on. Checkpoints from several threads, from compaction and from the
** background thread take turns. A no-op for in-memory stores and with
** checkpoint_bytes = -1. Errors: EVS_EINVAL (s NULL), EVS_EIO, EVS_ENOSPC, EVS_ENOMEM,
** EVS_EREADONLY, EVS_EDEADLK (the calling thread holds the write
** transaction). */
EVS_API int evs_checkpoint(evs_store *s);

/* ---- Compaction -------------------------------------------------------- */
typedef struct evs_compact_report {
  uint64_t segments_before, segments_after;
  uint64_t segments_removed;   /* every event in them was dead          */
  uint64_t segments_rewritten; /* live records copied to a new file     */
  uint64_t events_removed;     /* event records dropped from the log    */
  uint64_t bytes_before, bytes_after; /* all files of the store         */
  uint64_t max_pause_us;       /* longest time writers were held        */
  /* Since 1.1 (an older library leaves them 0): why anything was kept. */
  uint64_t segments_kept;      /* sealed segments left as they were: too
                                  little dead (below compact_dead_percent,
                                  and not worth merging with a neighbour) */
  uint64_t open_segment;       /* what became of the open segment: one of
                                  EVS_COMPACT_OPEN_* */
} evs_compact_report;

/* evs_compact_report.open_segment. Explicit compaction seals the open
** segment (rolls to a new one) when its dead share passes
** compact_dead_percent, so a store smaller than one segment shrinks too;
** otherwise it is kept, for the reason given. */
#define EVS_COMPACT_OPEN_UNKNOWN 0   /* a library before 1.1 */
#define EVS_COMPACT_OPEN_SEALED 1    /* sealed, then compacted with the rest */
#define EVS_COMPACT_OPEN_EMPTY 2     /* kept: it holds no records */
#define EVS_COMPACT_OPEN_LIVE 3      /* kept: nothing in it is dead */
#define EVS_COMPACT_OPEN_BELOW 4     /* kept: some dead, below compact_dead_percent */
#define EVS_COMPACT_OPEN_AUTO 5      /* kept: background passes never seal it */
#define EVS_COMPACT_OPEN_NO_SLOT 6   /* kept: no segment number was free */

/* Reclaim the space of dead events: deleted ones, expired ones (older
** than retention_us), and acknowledged ones whose idempotency key (if
** any) is past idempotency_window_us. Sealed segments whose events are
** all dead are removed; those with at least compact_dead_percent dead
** are rewritten with their live records unchanged (ids, times, payload
** bytes). The open segment is first sealed (a new one opened) when its
** dead share passes compact_dead_percent, so it is compacted too; the
** background pass leaves it open. The report says what was kept and why
** (segments_kept, open_segment). Acknowledged events are readable until compaction removes
** them (then EVS_ENOTFOUND). Crash-safe at every point; appends, acks
** and readers go on meanwhile, except for a short pause per segment
** while the index is repointed (max_pause_us). Runs automatically in
** the background past auto_compact_percent; one pass runs at a time (a
** call waits for the one running). report may be NULL.
** Errors: EVS_EINVAL (s NULL, a struct size refused), EVS_EIO, EVS_ENOSPC,
** EVS_ENOMEM, EVS_EREADONLY, EVS_EDEADLK (the calling thread holds the
** write transaction). */
EVS_API int evs_compact_sized(evs_store *s, evs_compact_report *report, size_t report_size);
static inline int evs_compact(evs_store *s, evs_compact_report *report) {
  return evs_compact_sized(s, report, sizeof(evs_compact_report));
}

/* ---- Verification ------------------------------------------------------ */
typedef struct evs_verify_report {
  uint64_t segments;  /* checked */
  uint64_t records;   /* whose checksum was verified */
  uint64_t events;    /* index entries compared with the log */
  uint64_t payloads;  /* compressed payloads decompressed */
  uint64_t problems;  /* 0 when the store is consistent */
} evs_verify_report;

/* Check the whole store: every record's checksum, the log's structure,
** every compressed payload, and that the in-memory index (entries,
** pending sets, per-source and per-type lists, idempotency keys) agrees
** with a fresh replay of the log. Waits for the write transaction; readers
** go on. Writes nothing (also on a read_only handle). report may be NULL.
** Returns 0, or EVS_ECORRUPT with the first problem in evs_errmsg
** (EVS_ENOMEM if the replay cannot be built; EVS_EDEADLK if this thread
** holds the write transaction; EVS_EINVAL for s NULL or a struct size
** refused). */
EVS_API int evs_verify_sized(evs_store *s, evs_verify_report *report, size_t report_size);
static inline int evs_verify(evs_store *s, evs_verify_report *report) {
  return evs_verify_sized(s, report, sizeof(evs_verify_report));
}

/* ---- Repair ------------------------------------------------------------ */
typedef struct evs_repair_report {
  int changed;                   /* 0: nothing needed repair               */
  uint64_t segments_checked;     /* every record of each was checked       */
  uint64_t segments_rewritten;   /* damaged: copied without what was lost  */
  uint64_t segments_adopted;     /* unlisted files added to the manifest   */
  uint64_t segments_lost;        /* listed, sealed, but the file is gone   */
  uint64_t transactions_dropped; /* holding a damaged record, or torn      */
  uint64_t records_dropped;      /* whole records among them               */
  uint64_t bytes_dropped;
  char saved_to[64];             /* the folder in dir with the copies ("") */
} evs_repair_report;

/* The explicit way out of damage that evs_store_open refuses to cut: a
** bad record followed by intact ones, damage in a sealed segment, a torn
** tail below what a checkpoint recorded as durable, segment files an older
** manifest does not list, sealed segments whose files are missing. For the
** store in dir (not open for writing anywhere: EVS_ELOCKED otherwise;
** read_only handles keep the view they had until they refresh), it
**  - copies each damaged segment without the transactions holding damaged
**    records (every intact transaction before and after stays, byte for
**    byte; their ids are never reused), cuts a torn or uncommitted tail;
**  - adopts unlisted segment files that continue the log, in order;
**  - drops from the manifest sealed segments whose files are gone;
**  - writes the new manifest, then opens the store and runs evs_verify.
** Everything it replaces (segment files, manifest, checkpoint, unlisted
** files it did not adopt) is moved, not deleted, into the folder
** dir/repair-<UTC time>/ named in report->saved_to. If the result does not
** open and verify, everything is put back as it was and an error returned.
** A store that needs nothing is left untouched (report->changed = 0).
** opts: only the open options (sync, clock...) matter; may be NULL.
** report may be NULL.
** Errors: EVS_EINVAL (also a struct size refused), EVS_ENOTFOUND (no store in dir), EVS_ELOCKED,
** EVS_ECORRUPT (cannot be repaired: a damaged meta file, manifest or
** segment header, a missing last segment; the message says which; nothing
** was changed), EVS_EIO, EVS_ENOSPC, EVS_ENOMEM. */
EVS_API int evs_repair_sized(const char *dir, const evs_options *opts, size_t opts_size,
                             evs_repair_report *report, size_t report_size);
static inline int evs_repair(const char *dir, const evs_options *opts,
                             evs_repair_report *report) {
  return evs_repair_sized(dir, opts, sizeof(evs_options), report, sizeof(evs_repair_report));
}

/* ---- Text: times, durations, JSON ------------------------------------ */
/* The library's own text forms, for programs that show or read them the
** way the CLI and the SQL module do (both use these and nothing else).
** All but evs_stats_json and evs_settings_json are pure functions of
** their arguments: thread-safe, no allocation, no evs_errmsg message. */

/* Room for a time as evs_time_format writes it, NUL included. */
#define EVS_TIME_BUF 28

/* Format us (µs since the epoch) as ISO-8601 UTC with microseconds,
** "2026-11-23T13:44:08.123456Z": always 27 characters, so times sort as
** text. out (EVS_TIME_BUF bytes) belongs to the caller. Errors:
** EVS_EINVAL (out NULL, or a time outside years 0000..9999: out gets ""). */
EVS_API int evs_time_format(int64_t us, char out[EVS_TIME_BUF]);

/* Parse the time s[0..len) (not NUL-terminated; no white space) into *us:
**  - decimal digits only: microseconds since the epoch (at most INT64_MAX);
**  - YYYY-MM-DD: that day's first microsecond, UTC;
**  - YYYY-MM-DD{T|t|space}HH:MM:SS[.f]{Z|z|+HH:MM|-HH:MM|+HHMM|-HHMM}: a
**    fraction of 1 to 9 digits (cut to microseconds); a zone is required,
**    so the answer never depends on where the program runs.
** Every evs_time_format result parses back to the same time. Dates are
** checked (no 02-30, 02-29 only in leap years). Years 0000..9999; times
** before 1970 give negative values. Errors: EVS_EINVAL (anything else,
** NULL arguments; *us unchanged). */
EVS_API int evs_time_parse(const char *s, size_t len, int64_t *us);

/* Parse the duration s[0..len) into *us: N followed by one unit, us, ms,
** s, m, h or d, or none (microseconds), N decimal digits, at least 1,
** the product at most INT64_MAX; or "forever" or "0", which both give -1
** (as the options' "forever"). No sign, no white space, no fractions.
** Errors: EVS_EINVAL (anything else, NULL arguments; *us unchanged). */
EVS_API int evs_duration_parse(const char *s, size_t len, int64_t *us);

/* Decode the UTF-8 sequence at p (n bytes left): 0 with its length (1..4)
** in *len and its code point in *cp (either may be NULL). The one decoder
** the library validates names, keys and JSON with: no overlongs, no
** surrogates, nothing above U+10FFFF. Errors: EVS_EINVAL (not a
** well-formed sequence, cut short by n, p NULL or n 0). */
EVS_API int evs_utf8_next(const char *p, size_t n, size_t *len, uint32_t *cp);

/* Check that text[0..len) is one JSON object (RFC 8259, strictly: as
** payloads are checked, see README "Event rules"), white space around it
** allowed. Each member's value may nest as deep as a payload may (1000
** levels), so an object holding a payload can be checked whole (the CLI
** checks each import line so). Returns 0 if valid. Errors: EVS_EJSON, with
** *offset the byte where the problem is, *why a static English text (as in
** payload errors) and *incomplete 1 when the text only ends too early
** (every byte so far can begin a valid object: more input may complete
** it), else 0; any of the three may be NULL. EVS_EINVAL (text NULL, len
** not 0). */
EVS_API int evs_json_check(const char *text, size_t len, size_t *offset, const char **why,
                   int *incomplete);

/* A byte range of a text: text + off, len bytes. Fixed for good (unlike
** the growable structs, it is never extended). */
typedef struct evs_json_span {
  size_t off, len;
} evs_json_span;

/* Step through the top-level members of an object that evs_json_check
** accepted, in order. *pos is 0 at the start and is advanced past each
** member. Returns 0 with the member's name (the bytes between its quotes,
** escapes as written: see evs_json_string_decode) and value (its text,
** exactly as written) as ranges of obj; either may be NULL. Errors:
** EVS_ENOTFOUND (no more members), EVS_EJSON (obj is not a checked
** object), EVS_EINVAL (NULL obj or pos, *pos past len). */
EVS_API int evs_json_member_next(const char *obj, size_t len, size_t *pos, evs_json_span *name,
                         evs_json_span *value);

/* Unescape the body of a JSON string (the bytes between its quotes, as
** evs_json_check accepted them) into out, which must have room for len + 1
** bytes and may be str itself (the text never grows). A NUL is appended;
** *outlen (may be NULL) gets the length without it. A \u0000 escape
** decodes to a NUL byte inside the text: compare *outlen with strlen
** when that matters. Errors: EVS_EJSON (a bad escape or unpaired
** surrogate; out is then undefined), EVS_EINVAL (NULL arguments). */
EVS_API int evs_json_string_decode(const char *str, size_t len, char *out, size_t *outlen);

/* The store's statistics and settings as one JSON object, the text the
** CLI's `stats` and SQL's evstore_stats() print: every evs_stats field
** ("oldest_pending_at" is oldest_pending_us as evs_time_format writes it,
** or null) and the settings as "settings":{...} (evs_store_options). out
** (size bytes, EVS_STATS_JSON_SIZE is always enough) belongs to the
** caller; no line break. Thread-safe as evs_stats_get is. Errors: those
** of evs_stats_get and evs_store_options, EVS_ETOOBIG
** (size too small: out holds as much as fits, NUL-terminated), EVS_EINVAL
** (s or out NULL). */
#define EVS_STATS_JSON_SIZE 2048
EVS_API int evs_stats_json(evs_store *s, char *out, size_t size);

/* The store's settings (evs_store_options: retention_us,
** idempotency_window_us, max_payload, max_metadata, compress_threshold,
** compress_level, dict_compress, segment_size) as one JSON object, the
** "settings" of evs_stats_json and what the CLI's `config` prints. out as
** for evs_stats_json. Errors: those of evs_store_options, EVS_ETOOBIG,
** EVS_EINVAL (s or out NULL). */
EVS_API int evs_settings_json(evs_store *s, char *out, size_t size);

/* A compaction report as one JSON object, what the CLI's `compact` and
** SQL's evstore_compact() print. out as for evs_stats_json (no store: no
** evs_errmsg message). Errors: EVS_ETOOBIG, EVS_EINVAL (r or out NULL). */
EVS_API int evs_compact_report_json_sized(const evs_compact_report *r, size_t r_size, char *out,
                                          size_t size);
static inline int evs_compact_report_json(const evs_compact_report *r, char *out, size_t size) {
  return evs_compact_report_json_sized(r, sizeof(evs_compact_report), out, size);
}

/* ---- SQLite ------------------------------------------------------------ */
/* The SQL module's registration for programs that link SQLite,
** evs_sqlite_register, is in evstore_sqlite.h (library libevstore_sqlite),
** so that this header and libevstore need no SQLite. */

#ifdef __cplusplus
}
#endif
#endif /* EVSTORE_H */
