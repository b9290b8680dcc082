/*
 * tree.c - canonical tree bytes, their strict parser and the shared tree cache.
 *
 * Tree bytes come from the store, which is outside input: the parser checks every
 * byte against the grammar in tree.h (bounds, sorting, uniqueness, number syntax with
 * no leading zeros, lower-case hex ids, name and target rules) and rejects anything
 * else with -EUCLEAN, so exactly one byte string describes each directory.
 *
 * Kinds (tree.h): 'f' file, 's' console script, 'c' compiled Python file and 'r' a
 * RECORD template (their REF
 * carries the per-entry values after the id), 'd' directory, 'l' symlink, and two
 * nodes without content, 'p' FIFO and 'k' UNIX socket. Those always have SIZE 0 and the
 * REF "-", which no other kind may have (an object id is 64 hex digits, a symlink's
 * REF starts with its length), so a REF can never be taken for the wrong thing.
 *
 * A parsed tree is one allocation of entries plus a private copy of the bytes whose
 * delimiters are overwritten with NULs, so names and targets point into it.
 *
 * Cache: a hash map keyed by oid under one mutex, plus an LRU list. The cache owns one
 * reference to each tree it holds; callers get their own. Trees stay cached while any
 * caller holds them; once only the cache's reference remains they may be evicted from
 * the LRU tail when the cache exceeds its byte or count budget. Eviction happens under
 * the lock and only at refs == 1, and a new reference can only be taken under the lock
 * (vv_tree_get) or from an existing one, so eviction never races with a user.
 */
#include "store/tree.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/handle.h"
#include "store/odb.h"
#include "util/error.h"
#include "util/vec.h"

#define TREE_HDR "venvfs-tree 2\n"
#define TREE_HDR1 "venvfs-tree 1\n"
#define TREE_HDR_LEN (sizeof(TREE_HDR) - 1)
#define TREE_DEPTH_MAX 2048 /* format 1 count walks: the depth reach.h bounds walks at */
#define NAME_MAXLEN 255
#define TARGET_MAXLEN 4095
#define TREE_READ_MAX ((size_t)256 << 20)
#define CACHE_MAX_BYTES ((size_t)64 << 20)
#define CACHE_MAX_COUNT 65536

/* ---- names ---- */

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static size_t ent_namelen(const struct vv_tree_ent *e)
{
	return e->namelen ? e->namelen : strlen(e->name);
}

int vv_name_check(const char *name, size_t len)
{
	if (len == 0)
		return vv_err(-EINVAL, "bad name: empty");
	if (len > NAME_MAXLEN)
		return vv_err(-ENAMETOOLONG, "bad name: %zu bytes, limit %d", len, NAME_MAXLEN);
	if (memchr(name, 0, len))
		return vv_err(-EINVAL, "bad name: contains a NUL byte");
	if (memchr(name, '/', len))
		return vv_err(-EINVAL, "bad name '%.*s': contains '/'", (int)len, name);
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return vv_err(-EINVAL, "bad name '%.*s'", (int)len, name);
	return 0;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct vv_tree_ent *x = a, *y = b;
	return name_cmp(x->name, ent_namelen(x), y->name, ent_namelen(y));
}

void vv_tree_sort(struct vv_tree_ent *ents, size_t n)
{
	if (n > 1)
		qsort(ents, n, sizeof(*ents), ent_cmp);
}

const struct vv_tree_ent *vv_tree_find(const struct vv_tree *t, const char *name, size_t len)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vv_tree_ent *e = &t->ents[mid];
		int c = name_cmp(name, len, e->name, e->namelen);
		if (c == 0)
			return e;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- serializing ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static int sb_add(struct sbuf *b, const void *data, size_t len)
{
	/* n == cap: each VV_GROW doubles (256 bytes first) until len bytes fit */
	while (b->cap - b->len < len)
		if (VV_GROW(b->p, b->cap, b->cap, 256) < 0)
			return -ENOMEM;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

/* The REF of an entry without content ('p', 'k'). */
#define NO_REF "-"

int vv_tree_serialize(const struct vv_tree_ent *ents, size_t n, const char *times,
		      size_t timeslen, char **out, size_t *len_out)
{
	struct sbuf b = { 0 };
	int r = 0;
	if (sb_add(&b, TREE_HDR, TREE_HDR_LEN) < 0)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		const struct vv_tree_ent *e = &ents[i];
		size_t nl = ent_namelen(e);
		if ((r = vv_name_check(e->name, nl)) < 0) {
			r = vv_err_prefix(r, "cannot serialize tree entry %zu", i);
			goto fail;
		}
		const struct vv_tree_ent *prev = i > 0 ? &ents[i - 1] : NULL;
		if (prev && name_cmp(prev->name, ent_namelen(prev), e->name, nl) >= 0) {
			r = vv_err(-EINVAL, "cannot serialize tree: entry '%.*s' is not sorted or "
				   "is a duplicate", (int)nl, e->name);
			goto fail;
		}
		if (!vv_kind_ok(e->kind)) {
			r = vv_err(-EINVAL, "cannot serialize tree entry '%.*s': bad kind %u",
				   (int)nl, e->name, e->kind);
			goto fail;
		}
		if (e->mode > 07777) {
			r = vv_err(-EINVAL, "cannot serialize tree entry '%.*s': bad mode %o",
				   (int)nl, e->name, e->mode);
			goto fail;
		}
		uint64_t size = e->size;
		size_t tlen = 0;
		if (vv_kind_special(e->kind))
			size = 0;
		if (e->kind == VV_LNK) {
			tlen = e->target ? strlen(e->target) : 0;
			if (tlen == 0 || tlen > TARGET_MAXLEN) {
				r = vv_err(-EINVAL, "cannot serialize tree entry '%.*s': bad "
					   "symlink target length %zu", (int)nl, e->name, tlen);
				goto fail;
			}
			size = tlen;
		}
		char head[128];
		int hl = snprintf(head, sizeof(head), "%c %o %" PRIu64 " %" PRId64 " ", e->kind,
				  (unsigned)e->mode, size, e->mtime_ns);
		if (sb_add(&b, head, (size_t)hl) < 0)
			goto oom;
		if (e->kind == VV_LNK) {
			hl = snprintf(head, sizeof(head), "%zu:", tlen);
			if (sb_add(&b, head, (size_t)hl) < 0 || sb_add(&b, e->target, tlen) < 0)
				goto oom;
		} else if (vv_kind_special(e->kind)) {
			if (sb_add(&b, NO_REF, sizeof(NO_REF) - 1) < 0)
				goto oom;
		} else {
			char hex[VV_OID_HEX + 1];
			vv_oid_hex(&e->oid, hex);
			if (sb_add(&b, hex, VV_OID_HEX) < 0)
				goto oom;
			if (e->kind == VV_PYC) {
				hl = snprintf(head, sizeof(head), ",%" PRIu32 ",%u,%u", e->pyc.hdr,
					      (unsigned)e->pyc.nsub, (unsigned)e->pyc.sufl);
				if (sb_add(&b, head, (size_t)hl) < 0)
					goto oom;
			} else if (e->kind == VV_RECORD) {
				hl = snprintf(head, sizeof(head),
					      ",%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRIu32,
					      e->rec.k, e->rec.sum, e->rec.smin, e->rec.smax);
				if (sb_add(&b, head, (size_t)hl) < 0)
					goto oom;
			}
		}
		hl = snprintf(head, sizeof(head), " %zu:", nl);
		if (sb_add(&b, head, (size_t)hl) < 0 || sb_add(&b, e->name, nl) < 0 ||
		    sb_add(&b, "\n", 1) < 0)
			goto oom;
	}
	if (timeslen) {
		char head[32];
		int hl = snprintf(head, sizeof(head), "t %zu\n", timeslen);
		if (sb_add(&b, head, (size_t)hl) < 0 || sb_add(&b, times, timeslen) < 0)
			goto oom;
	}
	*out = b.p;
	*len_out = b.len;
	return 0;
oom:
	r = vv_err(-ENOMEM, "cannot serialize tree: out of memory");
fail:
	free(b.p);
	return r;
}

/* ---- parsing ---- */

struct cur {
	const char *base, *p, *end;
	size_t ent;
};

static int bad(struct cur *c, const char *what)
{
	return vv_err(-EUCLEAN, "bad tree: entry %zu: %s at byte %zu", c->ent, what,
		      (size_t)(c->p - c->base));
}

static int expect(struct cur *c, char ch, const char *what)
{
	if (c->p >= c->end || *c->p != ch)
		return bad(c, what);
	c->p++;
	return 0;
}

/* Unsigned number in base 8 or 10, no sign, no leading zeros, <= max. */
static int parse_uint(struct cur *c, unsigned base, uint64_t max, uint64_t *out,
		      const char *what)
{
	const char *start = c->p;
	uint64_t v = 0;
	while (c->p < c->end && *c->p >= '0' && *c->p < (char)('0' + base)) {
		unsigned d = (unsigned)(*c->p - '0');
		if (v > (max - d) / base)
			return bad(c, what);
		v = v * base + d;
		c->p++;
	}
	if (c->p == start || (*start == '0' && c->p - start > 1)) {
		c->p = start;
		return bad(c, what);
	}
	*out = v;
	return 0;
}

static int parse_mtime(struct cur *c, int64_t *out)
{
	int neg = 0;
	if (c->p < c->end && *c->p == '-') {
		neg = 1;
		c->p++;
	}
	uint64_t v;
	int r = parse_uint(c, 10, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v,
			   "bad mtime");
	if (r < 0)
		return r;
	if (neg && v == 0)
		return bad(c, "bad mtime (negative zero)");
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

static int parse_hexid(struct cur *c, vv_oid *out)
{
	if ((size_t)(c->end - c->p) < VV_OID_HEX)
		return bad(c, "truncated object id");
	for (size_t i = 0; i < VV_OID_HEX; i++) {
		char ch = c->p[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
			c->p += i;
			return bad(c, "bad object id (want 64 lower-case hex digits)");
		}
	}
	if (vv_oid_from_hex(out, c->p, VV_OID_HEX) < 0)
		return bad(c, "bad object id");
	c->p += VV_OID_HEX;
	return 0;
}

/* LEN ":" BYTES with 1 <= LEN <= max; *data points into the input. */
static int parse_counted(struct cur *c, uint64_t max, const char **data, size_t *len,
			 const char *what)
{
	uint64_t n;
	int r = parse_uint(c, 10, max, &n, what);
	if (r < 0)
		return r;
	if (n == 0)
		return bad(c, what);
	if ((r = expect(c, ':', what)) < 0)
		return r;
	if ((uint64_t)(c->end - c->p) < n)
		return bad(c, what);
	*data = c->p;
	*len = (size_t)n;
	c->p += n;
	return 0;
}

/* "t" SP LEN "\n" and exactly LEN >= 1 bytes to the end: the times section, kept as
 * it is (store/times.c decodes it). */
static int parse_times(struct cur *c, struct vv_tree *t, const char *buf)
{
	c->p++;
	uint64_t n;
	int r;
	if ((r = expect(c, ' ', "expected space after 't'")) < 0 ||
	    (r = parse_uint(c, 10, SIZE_MAX, &n, "bad times length")) < 0 ||
	    (r = expect(c, '\n', "expected newline after the times length")) < 0)
		return r;
	if (n == 0 || (uint64_t)(c->end - c->p) != n)
		return bad(c, "times section length does not match the bytes left");
	if (t->n == 0)
		return bad(c, "times section in a tree without entries");
	t->times = t->mem + (c->p - buf);
	t->timeslen = (size_t)n;
	c->p = c->end;
	return 0;
}

static void tree_free(struct vv_tree *t)
{
	free(t->ents);
	free(t->mem);
	free(t);
}

int vv_tree_parse(const char *buf, size_t len, struct vv_tree **out)
{
	struct cur c = { buf, buf, buf + len, 0 };
	int version = len < TREE_HDR_LEN ? 0 : !memcmp(buf, TREE_HDR, TREE_HDR_LEN) ? 2 :
		      !memcmp(buf, TREE_HDR1, TREE_HDR_LEN) ? 1 : 0;
	if (!version)
		return vv_err(-EUCLEAN, "bad tree: missing 'venvfs-tree 2' header");
	c.p += TREE_HDR_LEN;

	struct vv_tree *t = calloc(1, sizeof(*t));
	if (!t)
		return vv_err(-ENOMEM, "cannot parse tree: out of memory");
	t->refs = 1;
	t->version = (uint8_t)version;
	/* Private copy; names and targets are NUL-terminated in place. */
	t->mem = malloc(len + 1);
	if (!t->mem) {
		free(t);
		return vv_err(-ENOMEM, "cannot parse tree: out of memory");
	}
	memcpy(t->mem, buf, len);
	t->mem[len] = 0;

	size_t cap = 0;
	int r = 0;
	uint64_t count = 0;
	while (c.p < c.end) {
		if (version == 2 && *c.p == 't') {
			if ((r = parse_times(&c, t, buf)) < 0)
				goto fail;
			break;
		}
		if (VV_GROW(t->ents, t->n, cap, 16) < 0) {
			r = vv_err(-ENOMEM, "cannot parse tree: out of memory");
			goto fail;
		}
		struct vv_tree_ent *e = &t->ents[t->n];
		memset(e, 0, sizeof(*e));
		c.ent = t->n;

		char kind = *c.p;
		if (!vv_kind_ok((uint8_t)kind)) {
			r = bad(&c, "bad kind");
			goto fail;
		}
		e->kind = (uint8_t)kind;
		c.p++;
		uint64_t mode, size;
		if ((r = expect(&c, ' ', "expected space after kind")) < 0 ||
		    (r = parse_uint(&c, 8, 07777, &mode, "bad mode")) < 0 ||
		    (r = expect(&c, ' ', "expected space after mode")) < 0 ||
		    (r = parse_uint(&c, 10, UINT64_MAX, &size, "bad size")) < 0 ||
		    (r = expect(&c, ' ', "expected space after size")) < 0 ||
		    (r = parse_mtime(&c, &e->mtime_ns)) < 0 ||
		    (r = expect(&c, ' ', "expected space after mtime")) < 0)
			goto fail;
		e->mode = (uint16_t)mode;
		e->size = size;

		if (kind == VV_LNK) {
			const char *tgt;
			size_t tlen;
			if ((r = parse_counted(&c, TARGET_MAXLEN, &tgt, &tlen,
					       "bad symlink target")) < 0)
				goto fail;
			if (memchr(tgt, 0, tlen)) {
				r = bad(&c, "symlink target contains a NUL byte");
				goto fail;
			}
			if (size != tlen) {
				r = bad(&c, "symlink size does not match its target");
				goto fail;
			}
			if ((r = expect(&c, ' ', "expected space after target")) < 0)
				goto fail;
			e->target = t->mem + (tgt - buf);
			t->mem[c.p - 1 - buf] = 0;
		} else if (vv_kind_special((uint8_t)kind)) {
			if (size != 0) {
				r = bad(&c, "fifo or socket with non-zero size");
				goto fail;
			}
			if ((r = expect(&c, NO_REF[0], "bad fifo or socket ref (want '-')")) < 0 ||
			    (r = expect(&c, ' ', "expected space after '-'")) < 0)
				goto fail;
		} else {
			if (kind == VV_DIR && size != 0 && version == 1) {
				r = bad(&c, "directory with non-zero size");
				goto fail;
			}
			if (c.p < c.end && *c.p == NO_REF[0]) {
				r = bad(&c, "ref '-' (only a fifo or socket has no object)");
				goto fail;
			}
			if ((r = parse_hexid(&c, &e->oid)) < 0)
				goto fail;
			uint64_t hdr, nsub, sufl;
			if (kind == VV_PYC &&
			    ((r = expect(&c, ',', "expected ',' after a pyc's id")) < 0 ||
			     (r = parse_uint(&c, 10, UINT32_MAX, &hdr, "bad pyc header")) < 0 ||
			     (r = expect(&c, ',', "expected ',' after a pyc's header")) < 0 ||
			     (r = parse_uint(&c, 10, UINT16_MAX, &nsub, "bad pyc count")) < 0 ||
			     (r = expect(&c, ',', "expected ',' after a pyc's count")) < 0 ||
			     (r = parse_uint(&c, 10, UINT16_MAX, &sufl, "bad pyc suffix")) < 0))
				goto fail;
			if (kind == VV_PYC)
				e->pyc = (struct vv_pycent){ (uint32_t)hdr, (uint16_t)nsub,
							     (uint16_t)sufl };
			uint64_t rk, sum, smin, smax;
			if (kind == VV_RECORD &&
			    ((r = expect(&c, ',', "expected ',' after a RECORD's id")) < 0 ||
			     (r = parse_uint(&c, 10, UINT32_MAX, &rk, "bad RECORD count")) < 0 ||
			     (r = expect(&c, ',', "expected ',' after a RECORD's count")) < 0 ||
			     (r = parse_uint(&c, 10, UINT32_MAX, &sum, "bad RECORD total")) < 0 ||
			     (r = expect(&c, ',', "expected ',' after a RECORD's total")) < 0 ||
			     (r = parse_uint(&c, 10, UINT32_MAX, &smin, "bad RECORD size")) < 0 ||
			     (r = expect(&c, ',', "expected ',' after a RECORD's size")) < 0 ||
			     (r = parse_uint(&c, 10, UINT32_MAX, &smax, "bad RECORD size")) < 0))
				goto fail;
			if (kind == VV_RECORD)
				e->rec = (struct vv_recent){ (uint32_t)rk, (uint32_t)sum,
							     (uint32_t)smin, (uint32_t)smax };
			if ((r = expect(&c, ' ', "expected space after id")) < 0)
				goto fail;
		}

		const char *name;
		size_t nlen;
		if ((r = parse_counted(&c, NAME_MAXLEN, &name, &nlen, "bad name length")) < 0)
			goto fail;
		if (vv_name_check(name, nlen) < 0) {
			r = vv_err_prefix(-EUCLEAN, "bad tree: entry %zu", c.ent);
			goto fail;
		}
		if ((r = expect(&c, '\n', "expected newline after name")) < 0)
			goto fail;
		e->name = t->mem + (name - buf);
		e->namelen = (uint16_t)nlen;
		t->mem[c.p - 1 - buf] = 0;

		if (t->n > 0) {
			const struct vv_tree_ent *p = &t->ents[t->n - 1];
			if (name_cmp(p->name, p->namelen, e->name, e->namelen) >= 0) {
				r = vv_err(-EUCLEAN, "bad tree: entry %zu '%s' is not sorted after "
					   "'%s' or is a duplicate", c.ent, e->name, p->name);
				goto fail;
			}
		}
		/* numbering (times.h): this entry, then everything below a directory */
		e->pos = count;
		uint64_t below = kind == VV_DIR ? size : 0;
		if (below >= UINT64_MAX - count) {
			r = bad(&c, "directory count too large");
			goto fail;
		}
		count += 1 + below;
		t->n++;
	}
	t->count = count;
	*out = t;
	return 0;
fail:
	tree_free(t);
	return r;
}

/* ---- refcounts and cache ---- */

void vv_tree_ref(struct vv_tree *t)
{
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
}

void vv_tree_unref(struct vv_tree *t)
{
	if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
		tree_free(t);
}

struct cnode {
	struct vv_tree *t;
	struct cnode *hnext;       /* bucket chain */
	struct cnode *prev, *next; /* LRU list, most recent first */
	size_t cost;
};

struct vv_treecache {
	pthread_mutex_t mu;
	struct cnode **buckets;
	size_t nbuckets; /* power of two */
	size_t count, bytes;
	struct cnode lru; /* sentinel */
};

struct vv_treecache *vv_treecache_new(void)
{
	struct vv_treecache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->nbuckets = 256;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets || pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c->buckets);
		free(c);
		return NULL;
	}
	c->lru.prev = c->lru.next = &c->lru;
	return c;
}

void vv_treecache_free(struct vv_treecache *c)
{
	if (!c)
		return;
	struct cnode *n = c->lru.next;
	while (n != &c->lru) {
		struct cnode *next = n->next;
		vv_tree_unref(n->t);
		free(n);
		n = next;
	}
	free(c->buckets);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static size_t bucket_of(const struct vv_treecache *c, const vv_oid *oid)
{
	uint64_t h;
	memcpy(&h, oid->b, sizeof(h));
	return (size_t)h & (c->nbuckets - 1);
}

static void lru_unlink(struct cnode *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

static void lru_push_front(struct vv_treecache *c, struct cnode *n)
{
	n->next = c->lru.next;
	n->prev = &c->lru;
	c->lru.next->prev = n;
	c->lru.next = n;
}

static struct cnode *cache_lookup(struct vv_treecache *c, const vv_oid *oid)
{
	for (struct cnode *n = c->buckets[bucket_of(c, oid)]; n; n = n->hnext)
		if (vv_oid_eq(&n->t->oid, oid))
			return n;
	return NULL;
}

static void cache_remove(struct vv_treecache *c, struct cnode *n)
{
	struct cnode **pp = &c->buckets[bucket_of(c, &n->t->oid)];
	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	lru_unlink(n);
	c->count--;
	c->bytes -= n->cost;
}

static void cache_grow(struct vv_treecache *c)
{
	size_t nb = c->nbuckets * 2;
	struct cnode **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct cnode *n = c->buckets[i];
		while (n) {
			struct cnode *next = n->hnext;
			uint64_t h;
			memcpy(&h, n->t->oid.b, sizeof(h));
			size_t k = (size_t)h & (nb - 1);
			n->hnext = b[k];
			b[k] = n;
			n = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nb;
}

/* Drop least recently used trees nobody but the cache holds, until within budget. */
static void cache_evict(struct vv_treecache *c)
{
	struct cnode *n = c->lru.prev;
	while (n != &c->lru && (c->bytes > CACHE_MAX_BYTES || c->count > CACHE_MAX_COUNT)) {
		struct cnode *prev = n->prev;
		if (__atomic_load_n(&n->t->refs, __ATOMIC_ACQUIRE) == 1) {
			cache_remove(c, n);
			vv_tree_unref(n->t);
			free(n);
		}
		n = prev;
	}
}

int vv_tree_get(struct vv_store *st, const vv_oid *oid, struct vv_tree **out)
{
	struct vv_treecache *c = st->trees;
	pthread_mutex_lock(&c->mu);
	struct cnode *n = cache_lookup(c, oid);
	if (n) {
		vv_tree_ref(n->t);
		lru_unlink(n);
		lru_push_front(c, n);
		*out = n->t;
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	pthread_mutex_unlock(&c->mu);

	/* Read and parse without the lock; another thread may race us to the same tree,
	 * in which case the first one inserted wins. */
	char shown[8 + VV_OID_HEX + 2];
	vv_odb_obj_path(oid, shown);
	char *buf;
	size_t len;
	int r = vv_odb_read_obj(&st->odb, oid, TREE_READ_MAX, &buf, &len);
	if (r < 0)
		return r;
	struct vv_tree *t;
	r = vv_tree_parse(buf, len, &t);
	free(buf);
	if (r < 0)
		return vv_err_prefix(r, "tree '%s' in store '%s'", shown, st->path);
	t->oid = *oid;

	struct cnode *nn = malloc(sizeof(*nn));
	pthread_mutex_lock(&c->mu);
	n = cache_lookup(c, oid);
	if (n) {
		vv_tree_ref(n->t);
		lru_unlink(n);
		lru_push_front(c, n);
		*out = n->t;
		pthread_mutex_unlock(&c->mu);
		free(nn);
		vv_tree_unref(t);
		return 0;
	}
	if (!nn) {
		/* Uncached but usable: the caller holds the only reference. */
		pthread_mutex_unlock(&c->mu);
		*out = t;
		return 0;
	}
	nn->t = t;
	nn->cost = sizeof(*t) + len + 1 + t->n * sizeof(*t->ents) + sizeof(*nn);
	vv_tree_ref(t); /* the cache's reference */
	size_t k = bucket_of(c, oid);
	nn->hnext = c->buckets[k];
	c->buckets[k] = nn;
	lru_push_front(c, nn);
	c->count++;
	c->bytes += nn->cost;
	if (c->count > c->nbuckets)
		cache_grow(c);
	cache_evict(c);
	*out = t;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* ---- writing ---- */

/* Counts of the format 1 trees one vv_tree_count has walked: trees share subtrees (a
 * DAG), and a crafted store can make every level name the one below twice, so a walk
 * without it would take 2^depth steps. Open addressing, keyed by the oid's first
 * bytes (a hash already). */
struct count_memo {
	struct count_slot {
		vv_oid oid;
		uint64_t n;
		bool used;
	} *slot;
	size_t cap, len; /* cap: 0 or a power of two */
};

static struct count_slot *memo_find(const struct count_memo *m, const vv_oid *oid)
{
	uint64_t h;
	memcpy(&h, oid->b, sizeof(h));
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
		if (!m->slot[i].used || vv_oid_eq(&m->slot[i].oid, oid))
			return &m->slot[i];
}

static int memo_put(struct count_memo *m, const vv_oid *oid, uint64_t n)
{
	if (2 * (m->len + 1) > m->cap) {
		struct count_memo g = { .cap = m->cap ? 2 * m->cap : 64 };
		if (!(g.slot = calloc(g.cap, sizeof(*g.slot))))
			return vv_err(-ENOMEM, "out of memory");
		for (size_t i = 0; i < m->cap; i++)
			if (m->slot[i].used)
				*memo_find(&g, &m->slot[i].oid) = m->slot[i];
		g.len = m->len;
		free(m->slot);
		*m = g;
	}
	struct count_slot *s = memo_find(m, oid);
	*s = (struct count_slot){ .oid = *oid, .n = n, .used = true };
	m->len++;
	return 0;
}

static int count_walk(struct vv_store *st, const vv_oid *oid, int depth,
		      struct count_memo *memo, uint64_t *out)
{
	if (depth > TREE_DEPTH_MAX)
		return vv_err(-EUCLEAN, "bad tree: nested more than %d levels", TREE_DEPTH_MAX);
	if (memo->cap) {
		const struct count_slot *s = memo_find(memo, oid);
		if (s->used) {
			*out = s->n;
			return 0;
		}
	}
	struct vv_tree *t;
	int r = vv_tree_get(st, oid, &t);
	if (r < 0)
		return r;
	uint64_t n = t->count;
	bool walked = t->version == 1 && t->n;
	for (size_t i = 0; t->version == 1 && r == 0 && i < t->n; i++) {
		uint64_t sub = 0;
		if (t->ents[i].kind == VV_DIR &&
		    (r = count_walk(st, &t->ents[i].oid, depth + 1, memo, &sub)) == 0 &&
		    (n += sub) < sub)
			r = vv_err(-EUCLEAN, "bad tree: more than 2^64 entries below it");
	}
	vv_tree_unref(t);
	if (r == 0 && walked)
		r = memo_put(memo, oid, n);
	*out = n;
	return r;
}

int vv_tree_count(struct vv_store *st, const vv_oid *oid, uint64_t *out)
{
	struct count_memo memo = { 0 };
	int r = count_walk(st, oid, 0, &memo, out);
	free(memo.slot);
	return r;
}

int vv_tree_write(struct vv_store *st, const struct vv_tree_ent *ents, size_t n, vv_oid *out)
{
	struct vv_tree_ent *copy = n ? malloc(n * sizeof(*copy)) : NULL;
	if (n && !copy)
		return vv_err(-ENOMEM, "out of memory");
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		copy[i] = ents[i];
		if (copy[i].kind == VV_DIR && !copy[i].size)
			r = vv_tree_count(st, &copy[i].oid, &copy[i].size);
	}
	char *buf = NULL;
	size_t len;
	if (r == 0 && (r = vv_tree_serialize(copy, n, NULL, 0, &buf, &len)) == 0)
		r = vv_odb_put_buf(&st->odb, buf, len, out);
	free(buf);
	free(copy);
	return r;
}

int vv_tree_empty(struct vv_store *st, vv_oid *out)
{
	return vv_tree_write(st, NULL, 0, out);
}
