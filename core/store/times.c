/*
 * times.c - the times section of an env root (format in times.h): decoding it
 * strictly, looking entries up, building and encoding a new one, and writing an env
 * whose trees say their own mtimes for tools that edit trees.
 *
 * Why a section and not mtimes in the trees: two envs that pip installed the same
 * packages into differ only in when each file was written, so with the mtimes out of
 * the trees every tree below the root is shared and an env costs its root tree.
 */
#include "store/times.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/handle.h"
#include "store/odb.h"
#include "util/error.h"
#include "util/vec.h"

/* ---- varints ---- */

struct rd {
	const uint8_t *p, *end;
};

static int bad(const char *what)
{
	return vv_err(-EUCLEAN, "bad times section: %s", what);
}

static int get_varint(struct rd *r, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 10; i++) {
		if (r->p >= r->end)
			return bad("truncated number");
		uint8_t b = *r->p++;
		if (i == 9 && b > 1)
			return bad("number above 2^64");
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (i > 0 && b == 0)
				return bad("number not in its shortest form");
			*out = v;
			return 0;
		}
	}
	return bad("number longer than 10 bytes");
}

static int put_varint(char **buf, size_t *len, size_t *cap, uint64_t v)
{
	do {
		if (VV_GROW(*buf, *len, *cap, 256) < 0)
			return -ENOMEM;
		uint8_t b = v & 0x7f;
		v >>= 7;
		(*buf)[(*len)++] = (char)(v ? b | 0x80 : b);
	} while (v);
	return 0;
}

static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (uint64_t)-(int64_t)(d >> 63);
}

static uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (uint64_t)-(int64_t)(z & 1);
}

/* The seconds of an mtime modulo 2^32: what a timestamp pyc's header word holds. */
static uint32_t secs32(int64_t mtime_ns)
{
	int64_t s = mtime_ns / 1000000000;
	if (mtime_ns % 1000000000 < 0)
		s--;
	return (uint32_t)(uint64_t)s;
}

/* ---- decoding and lookup ---- */

static void times_free(struct vv_times *t)
{
	free(t->idx);
	free(t->mtime);
	free(t->hdr);
	free(t);
}

void vv_times_ref(struct vv_times *t)
{
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
}

void vv_times_unref(struct vv_times *t)
{
	if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
		times_free(t);
}

int vv_times_decode(const void *buf, size_t len, uint64_t count, struct vv_times **out)
{
	struct rd rd = { buf, (const uint8_t *)buf + len };
	uint64_t nruns, total = 0, next = 0;
	int r = get_varint(&rd, &nruns);
	if (r < 0)
		return r;
	/* every run takes at least 3 bytes (its gap, its length, one mtime) */
	if (nruns == 0 || nruns > len / 3)
		return bad("bad number of runs");
	struct vv_times *t = calloc(1, sizeof(*t));
	uint64_t *runs = calloc((size_t)nruns, 2 * sizeof(*runs));
	if (!t || !runs) {
		free(t);
		free(runs);
		return vv_err(-ENOMEM, "out of memory");
	}
	t->refs = 1;
	for (uint64_t i = 0; i < nruns; i++) {
		uint64_t gap, n;
		if ((r = get_varint(&rd, &gap)) < 0 || (r = get_varint(&rd, &n)) < 0)
			goto fail;
		if ((i > 0 && gap == 0) || n == 0 || gap >= count - next ||
		    n > count - next - gap || n > len) {
			r = bad("a run outside the tree's entries");
			goto fail;
		}
		runs[2 * i] = next + gap;
		runs[2 * i + 1] = n;
		next += gap + n;
		total += n;
		if (total > len) {
			r = bad("more entries than bytes");
			goto fail;
		}
	}
	if (next - 1 > UINT32_MAX) {
		r = bad("entry number above 2^32");
		goto fail;
	}
	t->n = (size_t)total;
	t->idx = malloc(t->n * sizeof(*t->idx));
	t->mtime = malloc(t->n * sizeof(*t->mtime));
	t->hdr = calloc(t->n, sizeof(*t->hdr));
	if (!t->idx || !t->mtime || !t->hdr) {
		r = vv_err(-ENOMEM, "out of memory");
		goto fail;
	}
	size_t k = 0;
	for (uint64_t i = 0; i < nruns; i++)
		for (uint64_t j = 0; j < runs[2 * i + 1]; j++)
			t->idx[k++] = (uint32_t)(runs[2 * i] + j);
	uint64_t prev = 0;
	for (size_t i = 0; i < t->n; i++) {
		uint64_t z;
		if ((r = get_varint(&rd, &z)) < 0)
			goto fail;
		prev += unzigzag(z); /* modulo 2^64, as encoded */
		t->mtime[i] = (int64_t)prev;
	}
	size_t nbits = (t->n + 7) / 8;
	if ((size_t)(rd.end - rd.p) < nbits) {
		r = bad("truncated header-word bitmap");
		goto fail;
	}
	const uint8_t *bits = rd.p;
	rd.p += nbits;
	if (t->n % 8 && bits[nbits - 1] >> (t->n % 8)) {
		r = bad("bits set past the last entry");
		goto fail;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (!(bits[i / 8] >> (i % 8) & 1))
			continue;
		uint64_t z;
		if ((r = get_varint(&rd, &z)) < 0)
			goto fail;
		int64_t d = (int64_t)unzigzag(z);
		if (d < -(int64_t)UINT32_MAX || d > (int64_t)UINT32_MAX) {
			r = bad("header word out of range");
			goto fail;
		}
		int64_t h = (int64_t)secs32(t->mtime[i]) + d;
		if (h < 1 || h > (int64_t)UINT32_MAX) {
			r = bad("header word out of range");
			goto fail;
		}
		t->hdr[i] = (uint32_t)h;
	}
	if (rd.p != rd.end) {
		r = bad("bytes after the last value");
		goto fail;
	}
	free(runs);
	*out = t;
	return 0;
fail:
	free(runs);
	times_free(t);
	return r;
}

/* Index of the first entry numbered >= idx. */
static size_t lower(const struct vv_times *t, uint64_t idx)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->idx[mid] < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool vv_times_get(const struct vv_times *t, uint64_t idx, int64_t *mtime, uint32_t *hdr)
{
	if (!t || idx > UINT32_MAX)
		return false;
	size_t i = lower(t, idx);
	if (i == t->n || t->idx[i] != idx)
		return false;
	*mtime = t->mtime[i];
	*hdr = t->hdr[i];
	return true;
}

bool vv_times_apply(const struct vv_times *t, uint64_t idx, struct vv_tree_ent *e)
{
	int64_t m;
	uint32_t h;
	if (!vv_times_get(t, idx, &m, &h))
		return false;
	e->mtime_ns = m;
	if (e->kind == VV_PYC)
		e->pyc.hdr = h;
	return true;
}

bool vv_times_any(const struct vv_times *t, uint64_t from, uint64_t n)
{
	if (!t || from > UINT32_MAX)
		return false;
	size_t i = lower(t, from);
	return i < t->n && t->idx[i] - from < n;
}

int vv_times_of(const struct vv_tree *root, struct vv_times **out)
{
	*out = NULL;
	if (!root->times)
		return 0;
	return vv_times_decode(root->times, root->timeslen, root->count, out);
}

/* ---- building ---- */

int vv_timesb_add(struct vv_timesb *b, uint64_t idx, int64_t mtime, uint32_t hdr)
{
	if (idx > UINT32_MAX || (b->n && idx <= b->idx[b->n - 1]))
		return vv_err(-EINVAL, "times: entry %llu out of order", (unsigned long long)idx);
	size_t cap = b->cap;
	if (VV_GROW(b->idx, b->n, cap, 256) < 0)
		return -ENOMEM;
	if (cap != b->cap) {
		int64_t *m = realloc(b->mtime, cap * sizeof(*m));
		if (m)
			b->mtime = m;
		uint32_t *h = m ? realloc(b->hdr, cap * sizeof(*h)) : NULL;
		if (!m || !h)
			return vv_err(-ENOMEM, "out of memory");
		b->hdr = h;
		b->cap = cap;
	}
	b->idx[b->n] = (uint32_t)idx;
	b->mtime[b->n] = mtime;
	b->hdr[b->n++] = hdr;
	return 0;
}

int vv_timesb_copy(struct vv_timesb *b, const struct vv_times *src, uint64_t from,
		   uint64_t n, uint64_t to)
{
	if (!src || from > UINT32_MAX)
		return 0;
	int r = 0;
	for (size_t i = lower(src, from); r == 0 && i < src->n && src->idx[i] - from < n; i++)
		r = vv_timesb_add(b, to + (src->idx[i] - from), src->mtime[i], src->hdr[i]);
	return r;
}

int vv_timesb_encode(const struct vv_timesb *b, char **out, size_t *len_out)
{
	*out = NULL;
	*len_out = 0;
	if (!b->n)
		return 0;
	char *buf = NULL;
	size_t len = 0, cap = 0, nruns = 0;
	for (size_t i = 0; i < b->n; i++)
		nruns += i == 0 || b->idx[i] != b->idx[i - 1] + 1;
	int r = put_varint(&buf, &len, &cap, nruns);
	uint64_t next = 0;
	for (size_t i = 0; r == 0 && i < b->n;) {
		size_t j = i + 1;
		while (j < b->n && b->idx[j] == b->idx[j - 1] + 1)
			j++;
		if ((r = put_varint(&buf, &len, &cap, b->idx[i] - next)) == 0)
			r = put_varint(&buf, &len, &cap, j - i);
		next = (uint64_t)b->idx[j - 1] + 1;
		i = j;
	}
	uint64_t prev = 0;
	for (size_t i = 0; r == 0 && i < b->n; i++) {
		r = put_varint(&buf, &len, &cap, zigzag((uint64_t)b->mtime[i] - prev));
		prev = (uint64_t)b->mtime[i];
	}
	size_t bitsat = len;
	for (size_t i = 0; r == 0 && i < (b->n + 7) / 8; i++)
		r = put_varint(&buf, &len, &cap, 0); /* one zero byte each */
	for (size_t i = 0; r == 0 && i < b->n; i++) {
		if (!b->hdr[i])
			continue;
		buf[bitsat + i / 8] |= (char)(1u << (i % 8));
		r = put_varint(&buf, &len, &cap,
			       zigzag((uint64_t)((int64_t)b->hdr[i] -
						 (int64_t)secs32(b->mtime[i]))));
	}
	if (r < 0) {
		free(buf);
		return vv_err(-ENOMEM, "out of memory");
	}
	*out = buf;
	*len_out = len;
	return 0;
}

void vv_timesb_free(struct vv_timesb *b)
{
	free(b->idx);
	free(b->mtime);
	free(b->hdr);
	memset(b, 0, sizeof(*b));
}

/* ---- writing the values into the trees ---- */

/* The tree oid numbered from base with its entries' values from t: *out is oid itself
 * when t has nothing for them. */
static int inline_tree(struct vv_store *st, const struct vv_times *t, const vv_oid *oid,
		       uint64_t base, int depth, vv_oid *out)
{
	struct vv_tree *tr;
	int r = vv_tree_get(st, oid, &tr);
	if (r < 0)
		return r;
	if (depth > 2048) {
		vv_tree_unref(tr);
		return vv_err(-EUCLEAN, "bad tree: nested more than 2048 levels");
	}
	if (tr->version == 1 || !vv_times_any(t, base, tr->count)) {
		*out = *oid; /* a section holds nothing for a format-1 tree (times.h) */
		vv_tree_unref(tr);
		return 0;
	}
	struct vv_tree_ent *ents = malloc((tr->n ? tr->n : 1) * sizeof(*ents));
	if (!ents) {
		vv_tree_unref(tr);
		return vv_err(-ENOMEM, "out of memory");
	}
	for (size_t i = 0; r == 0 && i < tr->n; i++) {
		ents[i] = tr->ents[i];
		uint64_t idx = base + tr->ents[i].pos;
		vv_times_apply(t, idx, &ents[i]);
		if (ents[i].kind == VV_DIR)
			r = inline_tree(st, t, &tr->ents[i].oid, idx + 1, depth + 1, &ents[i].oid);
	}
	if (r == 0)
		r = vv_tree_write(st, ents, tr->n, out);
	free(ents);
	vv_tree_unref(tr);
	return r;
}

int vv_times_inline(struct vv_store *st, const vv_oid *root, vv_oid *out)
{
	struct vv_tree *tr;
	struct vv_times *t = NULL;
	int r = vv_tree_get(st, root, &tr);
	if (r < 0)
		return r;
	if ((r = vv_times_of(tr, &t)) < 0 || !t) {
		vv_tree_unref(tr);
		*out = *root;
		return r;
	}
	vv_tree_unref(tr);
	r = inline_tree(st, t, root, 0, 0, out);
	vv_times_unref(t);
	return r;
}
