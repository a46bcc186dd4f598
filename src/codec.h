/*
** codec.h: the byte layout of everything the store writes (docs/FORMAT.md
** is the prose version): the meta, settings, manifest, checkpoint and
** dictionary files, segment headers, and the four record types. Other
** modules call these encoders, decoders and accessors instead of reading
** offsets. Also base64url for cursors. Decoders return 0 or EVS_ECORRUPT
** (EVS_ENOMEM where they allocate), like the rest of the library.
*/
#ifndef EVS_CODEC_H
#define EVS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"
#include "util.h"

/* Meta file "evstore.meta": identity of the store. */
#define EVS_META_NAME "evstore.meta"
#define EVS_META_MAGIC "EVSTMETA"
#define EVS_META_SIZE 64
/* 2: segments listed by a manifest, index checkpoints, compaction.
** 1 (pre-release, chained segment sizes) is not read. */
#define EVS_FORMAT_VERSION 2

/* meta flags */
#define EVS_META_OWN_DIR 1 /* the store created its directory (DROP may remove it) */

typedef struct evs_meta {
  uint64_t store_id;
  uint64_t cursor_key;
  int64_t created_us;
  uint32_t flags; /* EVS_META_*; unknown bits are kept, not refused */
} evs_meta;

void evs_meta_encode(const evs_meta *m, uint8_t out[EVS_META_SIZE]);
/* 0, or EVS_ECORRUPT with a reason in why (static string). */
int evs_meta_decode(const uint8_t *p, size_t n, evs_meta *m, const char **why);

/* The index checkpoint "evstore.checkpoint" (docs/FORMAT.md): a header
** of EVS_CK_HDR bytes, the index entries (EVS_CK_ENT bytes each, the
** layout of struct evs_ent in index.h), the source and type lists, the
** idempotency table, and a trailing u64 xxh3. checkpoint.c writes it and
** checkpoint_load.c reads it, both through these functions. */
#define EVS_CHECKPOINT_NAME "evstore.checkpoint"
#define EVS_CK_MAGIC "EVSTCKPT"
#define EVS_CK_HDR 144
#define EVS_CK_ENT 24

/* The header's fields. The entries follow it, then the names section:
** nsrc + ntyp records of u32 len | len bytes | u32 count | count x u32 rel
** (increasing), then idem_size x (u32 tag | u32 rel), then the u64 xxh3 of
** everything before. */
typedef struct evs_ckpt_hdr {
  uint64_t store_id, layout;
  uint64_t segno, off, mark; /* the log position it covers, and what
                                vouches for the log before it */
  uint64_t base, n;          /* index base id and entries */
  uint64_t pending, acked, payload_bytes, payload_stored;
  int64_t last_created, written_us;
  uint64_t idem_size, idem_used;
  uint32_t nsrc, ntyp;
  uint32_t version;          /* 2, or 3: a leases section follows the keys */
} evs_ckpt_hdr;

/* Version 3's leases section, after the keys: u64 last token | u64 dead
** count | u32 consumer names N | u32 leases L | N x (u16 len | len bytes)
** | L x (u64 id | u64 token | i64 until_us | u32 consumer (1 + name
** index; 0 none) | u32 zero); then the ordering keys: u32 keys K | u32
** zero | K x (u16 len | len bytes | u32 count C (>= 1) | u64 the key's
** event claimed last (0: none) | C x u64 id, increasing: its events not
** acknowledged or deleted). */
#define EVS_CK_LEASE 32
typedef struct evs_ckpt_leases {
  uint64_t lease_seq, ndead;
  uint32_t nnames, nleases, nkeys;
  size_t names_at, leases_at, keys_at; /* offsets of the names, the leases
                                          and the first ordering key */
} evs_ckpt_leases;
/* Ordering key i of a checked file, at *at (moved past it). */
static inline void evs_ckpt_okey_next(const uint8_t *p, size_t *at, const char **key,
                                      uint16_t *len, uint64_t *leased, const uint8_t **ids,
                                      uint32_t *count) {
  *len = get_u16(p + *at);
  *key = (const char *)p + *at + 2;
  *count = get_u32(p + *at + 2 + *len);
  *leased = get_u64(p + *at + 6 + *len);
  *ids = p + *at + 14 + *len;
  *at += 14 + (size_t)*len + 8 * (size_t)*count;
}
/* The leases section of a checked v3 file (h->version 3). */
void evs_ckpt_leases_get(const uint8_t *p, const evs_ckpt_hdr *h, evs_ckpt_leases *out);

void evs_ckpt_hdr_encode(const evs_ckpt_hdr *h, uint8_t out[EVS_CK_HDR]);
/* A checkpoint file of n bytes that checks out (size, magic, version,
** checksum, store id): 0 with *h decoded, or EVS_ECORRUPT. */
int evs_ckpt_hdr_decode(const uint8_t *p, size_t n, uint64_t store_id, evs_ckpt_hdr *h);
/* The header's fields alone, of a file evs_ckpt_hdr_decode accepted. */
void evs_ckpt_hdr_fields(const uint8_t *p, evs_ckpt_hdr *h);
/* Are the sections' sizes and structure what h says (entries, names with
** increasing rels below h->n, keys)? 0 or EVS_ECORRUPT. */
int evs_ckpt_check(const uint8_t *p, size_t n, const evs_ckpt_hdr *h);
/* Sealing: the trailing checksum of a file of n bytes. */
void evs_ckpt_seal(uint8_t *p, size_t n);

/* An entry (EVS_CK_ENT bytes, at p + EVS_CK_HDR + i * EVS_CK_ENT):
** i64 created_us | i64 acked_us | u32 record offset | u16 slot | u8 flags
** | u8 zero. The index copies entries as they are (index.h). */
typedef struct evs_ckpt_ent {
  int64_t created_us, acked_us;
  uint32_t off;
  uint16_t slot;
  uint8_t flags;
  uint8_t deliveries; /* version 3 (zero in 2) */
} evs_ckpt_ent;
void evs_ckpt_ent_encode(const evs_ckpt_ent *e, uint8_t out[EVS_CK_ENT]);
/* Inline, as the few below: open runs them once per entry or id. */
static inline void evs_ckpt_ent_decode(const uint8_t *p, evs_ckpt_ent *e) {
  e->created_us = (int64_t)get_u64(p);
  e->acked_us = (int64_t)get_u64(p + 8);
  e->off = get_u32(p + 16);
  e->slot = get_u16(p + 20);
  e->flags = p[22];
  e->deliveries = p[23];
}

/* Names section, writing: a name's head (4 + len bytes: len, bytes) is
** followed by its count and rels (4 bytes each, evs_put32). */
void evs_ckpt_name_head(uint8_t *out, const char *name, uint32_t len);
static inline void evs_put32(uint8_t *out, uint32_t v) { put_u32(out, v); }
static inline void evs_put64(uint8_t *out, uint64_t v) { put_u64(out, v); }
static inline void evs_put16(uint8_t *out, uint16_t v) { put_u16(out, v); }
/* Reading a checked file: the name at *at and its rels; *at moves past. */
static inline void evs_ckpt_name_next(const uint8_t *p, size_t *at, const char **name,
                                      uint32_t *len, const uint8_t **rels, uint32_t *count) {
  *len = get_u32(p + *at);
  *name = (const char *)p + *at + 4;
  *count = get_u32(p + *at + 4 + *len);
  *rels = p + *at + 8 + *len;
  *at += 8 + (size_t)*len + 4 * (size_t)*count;
}
static inline uint32_t evs_get32(const uint8_t *p) { return get_u32(p); }
static inline uint64_t evs_get64(const uint8_t *p) { return get_u64(p); }
static inline uint16_t evs_get16(const uint8_t *p) { return get_u16(p); }
/* Keys section, at the given offset: slot i. */
static inline void evs_ckpt_key_put(uint8_t *keys, size_t i, uint32_t tag, uint32_t rel) {
  put_u32(keys + 8 * i, tag);
  put_u32(keys + 8 * i + 4, rel);
}
static inline void evs_ckpt_key_get(const uint8_t *keys, size_t i, uint32_t *tag,
                                    uint32_t *rel) {
  *tag = get_u32(keys + 8 * i);
  *rel = get_u32(keys + 8 * i + 4);
}

/* Settings file "evstore.settings": the store-level settings every opener
** uses (retention, limits, compression, segment size), replaced
** atomically when one is changed. 96 bytes (docs/FORMAT.md). */
#define EVS_SETTINGS_NAME "evstore.settings"
#define EVS_SETTINGS_MAGIC "EVSTSETS"
#define EVS_SETTINGS_SIZE 96
/* Metadata lengths are u16 in an event record. */
#define EVS_MAX_METADATA_LIMIT 65535

#define EVS_MAX_DELIVERIES_DEFAULT 5
typedef struct evs_settings {
  uint64_t generation; /* +1 at every change */
  int64_t retention_us;          /* > 0, or -1 forever */
  int64_t idempotency_window_us; /* > 0, or -1 never expire */
  uint32_t max_payload, max_metadata, compress_threshold, segment_size;
  int32_t compress_level;
  uint32_t dict_compress; /* 0 off, 1 on */
  uint32_t max_deliveries; /* 1..255 (0 in a file written before it: 5) */
} evs_settings;

void evs_settings_encode(const evs_settings *st, uint64_t store_id, int64_t now,
                         uint8_t out[EVS_SETTINGS_SIZE]);
/* 0, or EVS_ECORRUPT with a reason in why (static string): size, magic, checksum,
** version, store id, and every value within its range. */
int evs_settings_decode(const uint8_t *p, size_t n, uint64_t store_id, evs_settings *st,
                        const char **why);

/* Segment file "<16 hex digits>.evlog": a header, then records. */
#define EVS_SEG_NAME_SIZE 23 /* 16 hex digits, ".evlog", NUL */
void evs_seg_name(uint64_t no, char out[EVS_SEG_NAME_SIZE]);
#define EVS_SEG_MAGIC "EVSTSEG\0"
#define EVS_SEG_HDR 64

/* first_id: the next event id when the segment was started (for a
** rewritten segment, its original's): ids below it were handed out before,
** so a store whose events were all compacted away still never reuses one. */
/* flags: EVS_SEG_REWRITTEN for a segment written by compaction (its ids
** may be sparse). */
#define EVS_SEG_REWRITTEN 1
/* A segment that may hold lease records (consumers): its header says
** format version 3, which versions before leases refuse to open rather
** than take those records for damage. */
#define EVS_SEG_LEASES 2
/* Event ids stay below this (so id arithmetic never wraps). */
#define EVS_ID_MAX ((uint64_t)1 << 62)
void evs_seghdr_encode(uint64_t segno, uint64_t store_id, int64_t created_us,
                       uint64_t first_id, uint64_t flags, uint8_t out[EVS_SEG_HDR]);
/* The checksum at the end of a segment header. */
uint64_t evs_seghdr_sum(const uint8_t *hdr);
int evs_seghdr_decode(const uint8_t *p, size_t n, uint64_t *segno, uint64_t *store_id,
                      uint64_t *first_id, uint64_t *flags, const char **why);

/* Manifest "evstore.manifest": which segment files make up the log, in
** replay order, and the exact size of every sealed one. Replaced
** atomically (temp file, fdatasync, rename) at each segment roll and each
** compaction step.
** u8[8] magic | u32 version | u32 count | u64 store_id | u64 generation
** | u64 layout | count x (u64 segno | u64 size; 0 = the open last one)
** | u64 xxh3 of everything before. layout changes only when compaction
** moves records (checkpoints name the layout they index). */
#define EVS_MANIFEST_NAME "evstore.manifest"
#define EVS_MANIFEST_MAGIC "EVSTMANF"
#define EVS_MANIFEST_HDR 40
#define EVS_MANIFEST_MAX 65536

typedef struct evs_manifest {
  uint64_t store_id, generation, layout;
  uint32_t count;
  uint64_t *segno, *size; /* count each */
} evs_manifest;

/* Bytes of the encoding of a manifest with `count` segments. */
size_t evs_manifest_len(uint32_t count);
void evs_manifest_encode(const evs_manifest *m, uint8_t *out);
/* Decode into m; m->segno/size are malloc'ed (free both). 0, EVS_ECORRUPT
** with why, or EVS_ENOMEM. */
int evs_manifest_decode(const uint8_t *p, size_t n, evs_manifest *m, const char **why);

/* Record header: u64 xxh3 of bytes [8,len) | u32 len | u8 type | u8 flags
** | u16 zero. len counts the header. */
#define EVS_REC_HDR 16
#define EVS_REC_EVENT 1
#define EVS_REC_ACK 2
#define EVS_REC_DELETE 3
#define EVS_REC_COMMIT 4
#define EVS_REC_LEASE 5

/* Event flags. */
#define EVS_EF_PRIO_MASK 0x03
#define EVS_EF_ZSTD 0x04
#define EVS_EF_META 0x08
#define EVS_EF_IDEM 0x10
#define EVS_EF_DELAY 0x20 /* an i64 not_before_us follows the fixed part
                             (only in segments of format version 3) */
#define EVS_EF_ORDER 0x40 /* an ordering key follows (after not_before_us
                             if any): u16 len K | K bytes | NUL (only in
                             segments of format version 3) */

/* Event body: u64 id | i64 created_us | u32 stored payload len | u32 raw
** payload len | u16 source len | u16 type len | u16 idem len | u16 meta len
** | source NUL | type NUL | [idem NUL] | [meta NUL] | payload [NUL if raw]. */
#define EVS_EV_FIXED (EVS_REC_HDR + 32)

/* Ack body: i64 acked_us | u32 count | u32 zero | count x u64 id.
** Delete body: u32 count | u32 zero | count x u64 id.
** Commit body: i64 commit_us | u32 records in the transaction | u32 zero. */
#define EVS_ACK_FIXED (EVS_REC_HDR + 16)
/* Lease body: u8 op | u8 zero[3] | u32 count | i64 at_us | i64 until_us
** | u64 token | u16 consumer len C | u16 zero | u32 zero | [consumer NUL]
** | count x u64 id. op: claim (token of the first id, +1 per id; until =
** lease expiry; consumer 1..100 bytes), renew (until = new expiry),
** release (until = when the event is claimable again; <= at: at once),
** reject (to dead), redrive (dead to pending, delivery count 0). */
#define EVS_LEASE_FIXED (EVS_REC_HDR + 40)
#define EVS_LEASE_CLAIM 1
#define EVS_LEASE_RENEW 2
#define EVS_LEASE_RELEASE 3
#define EVS_LEASE_REJECT 4
#define EVS_LEASE_REDRIVE 5
#define EVS_LEASE_SEQ 6 /* no ids: token = the last token handed out, kept
                           in the open segment by compaction before it drops
                           claim records, so tokens never repeat */
#define EVS_LEASE_HOLD 100 /* not a record's op: an event appended with a
                              not_before in the future (its record says so) */
#define EVS_CONSUMER_MAX 100
typedef struct evs_lease_rec {
  int op;
  uint32_t count;
  int64_t at_us, until_us;
  uint64_t token;
  const char *consumer; /* NUL-terminated in the record; NULL if none */
  uint32_t consumer_len;
  const uint8_t *ids;   /* count x u64 (evs_ids_at) */
} evs_lease_rec;
/* Bytes of a lease record with a consumer of clen bytes (0: none) and n
** ids; 0 if n is too many. */
uint32_t evs_lease_len(uint32_t clen, size_t n);
/* Encode and seal a lease record (ids NULL: put with evs_lease_set_id). */
void evs_lease_encode(uint8_t *out, const evs_lease_rec *l, const uint64_t *ids);
/* Seal again after the ids were put in place (ids NULL to encode). */
void evs_lease_seal(uint8_t *out, const evs_lease_rec *l);
/* Decode a checked lease record of length len: 0 or EVS_ECORRUPT. */
int evs_lease_decode(const uint8_t *rec, uint32_t len, evs_lease_rec *l);
#define EVS_DEL_FIXED (EVS_REC_HDR + 8)
#define EVS_COMMIT_LEN (EVS_REC_HDR + 16)

/* Header fields of a record that checked out (or is being checked). */
static inline uint32_t evs_rec_len(const uint8_t *rec) { return get_u32(rec + 8); }
static inline uint8_t evs_rec_type(const uint8_t *rec) { return rec[12]; }
/* The record's checksum (its first 8 bytes). */
uint64_t evs_rec_sum(const uint8_t *rec);
/* Id k of the list evs_ids_decode found. */
uint64_t evs_ids_at(const uint8_t *ids, uint32_t k);
/* The id of an event record. */
uint64_t evs_ev_id(const uint8_t *rec);

/* Fill the header of a record whose body is already in place at p[16..len)
** and compute its checksum. */
void evs_rec_seal(uint8_t *p, uint32_t len, uint8_t type, uint8_t flags);

/* Check the record at p with `avail` bytes readable.
** Returns 1 ok (*len, *type set), 0 when the bytes cannot be a complete
** record (zero length, or it runs past avail: a torn tail), -1 when the
** checksum or the type is wrong. */
int evs_rec_check(const uint8_t *p, size_t avail, uint32_t *len,
                  uint8_t *type);

/* The first offset in [from, end) where a whole record checks out (*len
** its length), or end: where a scan resumes after a bad record. */
uint64_t evs_rec_next(const uint8_t *base, uint64_t from, uint64_t end, uint32_t *len);

/* The ids of an ack or delete record (checked) of length len: *ids points
** at its count x u64. 0, or EVS_ECORRUPT when the count does not fill the
** record. */
int evs_ids_decode(const uint8_t *rec, uint32_t len, const uint8_t **ids, uint32_t *count);

/* Sizes of an event record's parts, for encoding. */
typedef struct evs_ev_sizes {
  uint32_t source, type, idem, meta; /* 0 idem/meta = absent */
  uint32_t stored, raw;              /* payload bytes on disk / original */
  int zstd;
  int delay;                         /* a not_before_us field */
  uint32_t order;                    /* ordering key bytes; 0 = none */
} evs_ev_sizes;

uint32_t evs_ev_len(const evs_ev_sizes *z);

/* The parts of an event record to encode (lengths in z). */
typedef struct evs_ev_parts {
  uint64_t id;
  int64_t created_us;
  int priority;
  const char *source, *type, *idem, *meta; /* idem/meta NULL = absent */
  const void *payload;                     /* z.stored bytes as stored */
  int64_t not_before_us;                   /* with z.delay */
  const char *order;                       /* z.order bytes */
} evs_ev_parts;

/* Encode and seal a whole event record of evs_ev_len(z) bytes at out. */
void evs_ev_encode(uint8_t *out, const evs_ev_sizes *z, const evs_ev_parts *ev);

/* Bytes of an ack or delete record of n ids, or 0 if n is too many. */
uint32_t evs_ids_len(int type, size_t n);
/* Encode and seal an ack (acked at `at`) or delete record of n ids; ids
** NULL: they are already in place (put there with evs_ids_set). */
void evs_ids_encode(uint8_t *out, int type, int64_t at, const uint64_t *ids, uint32_t n);
void evs_ids_set(uint8_t *out, int type, uint32_t i, uint64_t id);
/* The time an ack record acknowledges at. */
int64_t evs_ack_at(const uint8_t *rec);
/* Encode and seal a commit record ending a transaction of nrec records. */
void evs_commit_encode(uint8_t *out, int64_t commit_us, uint32_t nrec);
/* A commit record's time and the records it says its transaction holds. */
int64_t evs_commit_time(const uint8_t *rec);
uint32_t evs_commit_nrec(const uint8_t *rec);

/* Decode an event record (already checked) into ev with pointers into the
** record. Payload fields describe the stored bytes; *zstd and *raw_len
** tell whether and to what they decompress. Returns 0, or EVS_ECORRUPT if
** the lengths disagree with the record. */
int evs_ev_decode(const uint8_t *rec, uint32_t len, evs_event *ev, int *zstd,
                  uint32_t *raw_len);

/* Dictionary file "evstore.dict" (dict.c):
** u8[8] magic | u32 version | u32 header size (40) | u64 store id
** | u32 dictionary id | u32 length L | i64 time written | L bytes
** | u64 xxh3 of everything before. */
#define EVS_DICT_NAME "evstore.dict"
#define EVS_DICT_MAGIC "EVSTDICT"
#define EVS_DICT_HDR 40
/* Fill the header and checksum around the L dictionary bytes already at
** out + EVS_DICT_HDR; the file is EVS_DICT_HDR + len + 8 bytes. */
void evs_dict_file_encode(uint8_t *out, uint64_t store_id, uint32_t dict_id, uint32_t len,
                          int64_t written_us);
/* Check a dictionary file of n bytes: 0 with *dict / *len / *dict_id set,
** or EVS_ECORRUPT with a reason in why (static string). */
int evs_dict_file_decode(const uint8_t *p, size_t n, uint64_t store_id, const uint8_t **dict,
                         uint32_t *len, uint32_t *dict_id, const char **why);

/* base64url without padding. enc returns the length written (out needs
** 4*ceil(n/3)+1 bytes, NUL-terminated). dec returns bytes written, or
** EVS_ECORRUPT (not base64url, or more than cap bytes). */
size_t evs_b64_encode(const uint8_t *in, size_t n, char *out);
int evs_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
