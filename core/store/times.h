/*
 * times.h - an env's mtimes kept out of its shared trees.
 *
 * A tree is shared by every env whose directory holds the same entries. The mtime of a
 * file pip writes (and the source mtime a timestamp .pyc carries in its header) is the
 * one thing that differs between two such envs, so trees the mount writes hold 0 in
 * both places and the env root carries the values, once for the whole env: the root
 * tree's times section (tree.h). Entries are numbered depth first: the root's entries
 * from 0, each directory followed by everything below it (a 'd' entry's SIZE is that
 * count, so the number of any entry follows from its directory's number without
 * reading any other tree; vv_tree_ent.pos). The section lists, in that order, the
 * entries whose mtime (and header word) is not the one their tree holds. Entries of
 * a format-1 tree (tree.h) have no numbers of their own: nothing applies to them.
 *
 * Encoding (outside input: the parser is strict and each value has one encoding;
 * varints are LEB128, 10 bytes at most, no redundant final zero byte):
 *   NRUNS                             varint
 *   NRUNS x (GAP, LEN)                varints: a run of LEN >= 1 numbered entries
 *                                     starting GAP after the previous run's end (the
 *                                     first run at GAP; later runs need GAP >= 1)
 *   TOTAL x ZMTIME                    varint: mtime minus the previous entry's (the
 *                                     first: minus 0), zigzag, modulo 2^64
 *   ceil(TOTAL / 8) bytes             bit i (LSB first): entry i has a header word;
 *                                     unused bits 0
 *   per flagged entry: ZHDR           varint: the header word minus its mtime's
 *                                     seconds modulo 2^32, zigzag
 * A pip-installed env costs about 3.7 bytes an entry (nanosecond mtimes written a
 * few hundred microseconds apart, in name order much like write order).
 */
#ifndef VV_TIMES_H
#define VV_TIMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/tree.h"

struct vv_store;

/* A decoded section: entries sorted by number. Immutable and refcounted. */
struct vv_times {
	size_t n;
	uint32_t *idx;
	int64_t *mtime;
	uint32_t *hdr;
	uint32_t refs; /* private */
};

/* Decode a section of a root whose entries number count. -EUCLEAN on anything but the
 * one encoding of a table whose numbers are below count. */
int vv_times_decode(const void *buf, size_t len, uint64_t count, struct vv_times **out);
void vv_times_ref(struct vv_times *t);
void vv_times_unref(struct vv_times *t);

/* The values of entry idx: true with *mtime and *hdr (0 without a header word) when
 * the table has it, else false. t may be NULL. */
bool vv_times_get(const struct vv_times *t, uint64_t idx, int64_t *mtime, uint32_t *hdr);

/* e with its values from the table when it has entry idx (mtime, and a pyc's header
 * word). True when it did. */
bool vv_times_apply(const struct vv_times *t, uint64_t idx, struct vv_tree_ent *e);

/* Is any entry numbered in [from, from + n) in the table? */
bool vv_times_any(const struct vv_times *t, uint64_t from, uint64_t n);

/* Building a table in number order. */
struct vv_timesb {
	size_t n, cap;
	uint32_t *idx;
	int64_t *mtime;
	uint32_t *hdr;
};
/* Append entry idx (above every number added before: -EINVAL otherwise). */
int vv_timesb_add(struct vv_timesb *b, uint64_t idx, int64_t mtime, uint32_t hdr);
/* Append src's entries numbered [from, from + n), renumbered to start at to. */
int vv_timesb_copy(struct vv_timesb *b, const struct vv_times *src, uint64_t from,
		   uint64_t n, uint64_t to);
/* The section's bytes (malloc'd; *len 0 and *out NULL for an empty table). */
int vv_timesb_encode(const struct vv_timesb *b, char **out, size_t *len);
void vv_timesb_free(struct vv_timesb *b);

/* The table of a parsed root tree (NULL when it has no section). */
int vv_times_of(const struct vv_tree *root, struct vv_times **out);

/* root with the values of its times section written into its trees: the same env in
 * trees that say everything themselves (*out = *root when there is no section). For
 * tools that edit an env's tree with the tree builder, which knows no sections. */
int vv_times_inline(struct vv_store *st, const vv_oid *root, vv_oid *out);

#endif
