/*
 * tree.h - immutable directory listings ("trees"), their canonical bytes and a shared
 * cache of parsed trees.
 *
 * A tree lists one directory's entries, sorted by name (bytewise), names unique. Its id
 * is the SHA-256 of its canonical bytes, so identical directories anywhere, in any env,
 * are one object and, once parsed, one struct vv_tree in memory.
 *
 * Canonical bytes (all numbers decimal without leading zeros, mode octal):
 *   "venvfs-tree 2\n"
 *   then per entry:  KIND SP MODE SP SIZE SP MTIME SP REF SP NAMELEN ":" NAME "\n"
 *   then, in an env's root tree only, optionally: "t" SP LEN "\n" and LEN >= 1 bytes,
 *         the env's times section (store/times.h), to the end
 *   KIND  'f' regular file, 's' console script (stored with "#!python" first line; the
 *         mount shows the env's interpreter there), 'c' compiled Python file (stored
 *         as a template without its env's path, python/pyc.h), 'r' a .dist-info's
 *         RECORD stored as a template without its scripts' hashes (pkg/rectpl.h),
 *         'd' directory,
 *         'l' symlink, 'p' FIFO (named pipe), 'k' UNIX socket
 *   MODE  permission bits only (<= 07777), octal
 *   SIZE  bytes of the object ('f','s','c','r'), of the target ('l'), 0 for 'p', 'k';
 *         for 'd' the number of entries below it, at every depth (times.h numbers
 *         entries with it)
 *   MTIME nanoseconds since the epoch (signed); 0 in the trees the mount writes,
 *         whose mtimes are in the env root's times section
 *   REF   'f','s': 64-hex object id; 'd': 64-hex tree id; 'l': LEN ":" TARGET;
 *         'c': 64-hex object id "," HDR "," NSUB "," SUFL (struct vv_pycent);
 *         'r': 64-hex object id "," K "," SUM "," SMIN "," SMAX (struct vv_recent);
 *         'p','k': "-" (they have no content: nothing in the store belongs to them)
 * Names: 1..255 bytes, no '/' or NUL, not "." or "..". Targets: 1..4095 bytes, no NUL.
 * The parser rejects anything else with -EUCLEAN (it reads outside input).
 * Format 1 ("venvfs-tree 1\n", stores made before times sections) is read too: SIZE 0
 * for 'd' and no section; vv_tree_count walks such a tree for its count.
 */
#ifndef VV_TREE_H
#define VV_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"

struct vv_store;

enum vv_kind {
	VV_REG = 'f',
	VV_SCRIPT = 's',
	VV_PYC = 'c',
	VV_RECORD = 'r',
	VV_DIR = 'd',
	VV_LNK = 'l',
	VV_FIFO = 'p',
	VV_SOCK = 'k',
};

/* Is kind one of enum vv_kind? */
static inline bool vv_kind_ok(unsigned kind)
{
	return kind == VV_REG || kind == VV_SCRIPT || kind == VV_PYC || kind == VV_RECORD ||
	       kind == VV_DIR || kind == VV_LNK || kind == VV_FIFO || kind == VV_SOCK;
}

/* Is kind a regular file (its content an object, shown as is or rendered)? */
static inline bool vv_kind_file(unsigned kind)
{
	return kind == VV_REG || kind == VV_SCRIPT || kind == VV_PYC || kind == VV_RECORD;
}

/* Does an entry of this kind name an object (a file's content, or a tree)? Symlinks,
 * FIFOs and sockets do not: walks of the store (reach, fsck, gc, stats) skip them. */
static inline bool vv_kind_has_oid(unsigned kind)
{
	return vv_kind_file(kind) || kind == VV_DIR;
}

/* A node without content: a FIFO or a UNIX socket (SIZE 0, REF "-"). What goes
 * through one is the kernel's business; only its name, mode and mtime are kept. */
static inline bool vv_kind_special(unsigned kind)
{
	return kind == VV_FIFO || kind == VV_SOCK;
}

/* What a 'c' entry holds beside its template's id: the pyc header word the template
 * leaves out (the source's mtime) and the shape of its path strings (python/pyc.h). */
struct vv_pycent {
	uint32_t hdr;   /* header bytes 8..11, little-endian */
	uint16_t nsub;  /* co_filename strings that carry the env's path */
	uint16_t sufl;  /* bytes after the path in each of them */
};

/* What an 'r' entry holds beside its template's id (pkg/rectpl.h): how many fields it
 * leaves out, and the total, smallest and largest stored size of the scripts they
 * name (a stat computes the shown size from them). */
struct vv_recent {
	uint32_t k;
	uint32_t sum, smin, smax;
};

struct vv_tree_ent {
	const char *name;   /* NUL-terminated; points into the tree's own memory */
	uint16_t namelen;
	uint8_t kind;       /* enum vv_kind */
	uint16_t mode;      /* permission bits */
	uint64_t size;
	int64_t mtime_ns;
	vv_oid oid;         /* object ('f','s','c') or tree ('d'); zero for 'l', 'p', 'k' */
	struct vv_pycent pyc; /* 'c' only; zero otherwise */
	struct vv_recent rec; /* 'r' only; zero otherwise */
	const char *target; /* 'l' only, NUL-terminated */
	uint64_t pos;       /* parsed trees: the entry's number among the tree's entries
			       and everything below them, depth first (times.h) */
};

struct vv_tree {
	vv_oid oid;
	size_t n;
	struct vv_tree_ent *ents; /* sorted by name */
	uint64_t count;           /* entries here and below (format 1: here only) */
	const char *times;        /* the times section, or NULL */
	size_t timeslen;
	uint8_t version;          /* 1 or 2 */
	/* private: */
	uint32_t refs;
	char *mem;
};

/* Parse canonical bytes. Does not check the id (the caller hashed the bytes). */
int vv_tree_parse(const char *buf, size_t len, struct vv_tree **out);

/* Canonical bytes of n entries (must already be sorted and valid; a 'd' entry's size
 * its count) and a times section (NULL, 0 for none). malloc'd. */
int vv_tree_serialize(const struct vv_tree_ent *ents, size_t n, const char *times,
		      size_t timeslen, char **out, size_t *len_out);

/* Sort ents by name in place (helper for writers). */
void vv_tree_sort(struct vv_tree_ent *ents, size_t n);

/* Serialize + publish into the store. A 'd' entry of size 0 gets its count from its
 * tree (so 0 is always right; any other size must be the count). */
int vv_tree_write(struct vv_store *st, const struct vv_tree_ent *ents, size_t n, vv_oid *out);

/* Entries in the tree oid and everything below it (what a 'd' entry's SIZE holds).
 * A tree of format 1 does not say it: it is walked. */
int vv_tree_count(struct vv_store *st, const vv_oid *oid, uint64_t *out);

/* Get a parsed tree by id: from the store's cache, else read (hash-verified) and parse.
 * The result is shared and immutable; release it with vv_tree_unref(). */
int vv_tree_get(struct vv_store *st, const vv_oid *oid, struct vv_tree **out);
void vv_tree_ref(struct vv_tree *t);
void vv_tree_unref(struct vv_tree *t);

/* Binary search by name. NULL if absent. */
const struct vv_tree_ent *vv_tree_find(const struct vv_tree *t, const char *name, size_t len);

/* The id of the empty tree (its bytes are just the header). */
int vv_tree_empty(struct vv_store *st, vv_oid *out);

/* Is name a valid entry name? 0 or -EINVAL / -ENAMETOOLONG. */
int vv_name_check(const char *name, size_t len);

/* Tree cache lifetime (called by vv_store_open/close). */
struct vv_treecache *vv_treecache_new(void);
void vv_treecache_free(struct vv_treecache *c);

#endif
