/*
 * wheel_int.h - what the files of the wheel reader and installer share; not an API
 * (wheel.h is). One wheel being read or installed is a struct wheel. The files, each
 * calling only those listed before it:
 *
 *   wheelzip.c   the zip archive: opening it, checking member names, modes and sizes,
 *                streaming a member's bytes (counted as they come, bounded)
 *   record.c     RECORD: the strict CSV parser, members checked against their rows,
 *                the RECORD written into the env
 *   wheel.c      the .dist-info and its control files (RECORD, WHEEL, METADATA); the
 *                public calls that only read a wheel
 *   wheelinst.c  installing: members into the tree builder, console scripts from
 *                entry_points.txt, INSTALLER, REQUESTED and RECORD written
 *
 * Errors follow wheel.h: they name the wheel, the member and the reason.
 */
#ifndef VV_WHEEL_INT_H
#define VV_WHEEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zip.h>

#include "util/hash.h"

struct vv_store;
struct vv_tb;
struct vv_record_row;

#define MAX_TOTAL (2ULL << 30)   /* bytes a whole wheel may expand to */
#define RATIO_FLOOR (1ULL << 20) /* the ratio limit applies to members above this */
#define MAX_RATIO 200ULL         /* uncompressed : compressed */
#define MAX_ENTRIES 200000
#define MAX_NAME 4000
#define MAX_RECORD (32u << 20)  /* RECORD and METADATA are read into memory */
#define MAX_SMALL (1u << 20)    /* WHEEL, entry_points.txt */
#define CHUNK 65536

struct member {
	char *name;
	zip_uint64_t index;
	uint64_t size, csize; /* as the headers claim */
	int64_t mtime_ns;
	uint16_t mode;
	bool is_dir;
};

struct outrow {
	char *path;    /* relative to site-packages */
	char b64[44];  /* empty for RECORD itself */
	uint64_t size;
};

struct wheel {
	struct vv_store *st;
	struct vv_tb *tb;
	zip_t *za;
	const char *wname;        /* base name, for messages */
	int major, minor;
	char pyname[32];          /* python3.X */
	char sp[64];              /* lib/python3.X/site-packages */
	struct member *m;
	size_t nm;
	struct member **byname;   /* sorted by name */
	char *distinfo;           /* NAME-VER.dist-info */
	char *datadir;            /* NAME-VER.data */
	struct vv_record_row *rec; /* sorted by path */
	size_t nrec;
	char *name, *version;     /* from METADATA */
	int64_t mtime_ns;         /* newest member mtime */
	unsigned flags;           /* VV_WHEEL_* */
	uint64_t total;           /* bytes decompressed so far */
	struct outrow *rows;
	size_t nrows, caprows;
};

/* ---- wheelzip.c: the archive */

/* "WHEEL: MEMBER: reason" (or "WHEEL: reason" without a member), -EINVAL. */
int wheel_err(const struct wheel *w, const char *member, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Add wheel/member context to an error that already has a message (I/O, ENOMEM). */
int wheel_prefix(const struct wheel *w, const char *member, int code);

/* Open the zip archive at path (wname names it in messages) with libzip's consistency
 * check; a duplicate member name is refused naming it. */
int wheel_open_zip(const char *path, const char *wname, zip_t **out);

/* Every member of w->za into w->m and w->byname (sorted), w->mtime_ns the newest
 * mtime: names confined, no symlinks or special files, no duplicates, the declared
 * sizes and compression ratios bounded. */
int wheel_scan(struct wheel *w);

/* The member called name, or NULL. */
const struct member *wheel_find_member(const struct wheel *w, const char *name);

/* Where wheel_stream delivers a member's bytes; a negative errno (with a message)
 * stops it. */
typedef int (*sink_fn)(void *ctx, const char *buf, size_t n);

/* Decompress a member, counting bytes as they come (headers are not trusted): the
 * original bytes go to h (may be NULL) and sink. */
int wheel_stream(struct wheel *w, const struct member *m, vv_hasher *h, sink_fn sink,
		 void *ctx);

/* A whole member into memory (NUL-terminated), refusing members above max; len may be
 * NULL. */
int wheel_read_member(struct wheel *w, const struct member *m, size_t max, char **out,
		      size_t *len);

/* ---- record.c: RECORD */

/* The .dist-info's RECORD into w->rec, sorted by path; a path listed twice is refused. */
int wheel_load_record(struct wheel *w);

/* The RECORD row of path, or NULL. */
const struct vv_record_row *wheel_rec_find(const struct wheel *w, const char *path);

/* Exempt from RECORD listing (PEP 376 / PEP 427): RECORD and its signatures. */
bool wheel_record_exempt(const struct wheel *w, const char *name);

/* The member's original bytes (oid: their sha256) against its RECORD row: a sha256
 * and a size that match; an unlisted member is refused unless exempt. */
int wheel_check_record(const struct wheel *w, const struct member *m, const vv_oid *oid);

/* The text of the RECORD written into the env from w->rows (sorted by this call). */
int wheel_record_text(struct wheel *w, char **text, size_t *len);

/* ---- wheel.c: the .dist-info */

/* The one top-level NAME-VER.dist-info/ directory into w->distinfo, and w->datadir. */
int wheel_find_distinfo(struct wheel *w);

/* RECORD, WHEEL and METADATA read and checked; w->name and w->version set. */
int wheel_read_control(struct wheel *w);

/* Free what w holds (not w itself); closes the archive. */
void wheel_free(struct wheel *w);

#endif
