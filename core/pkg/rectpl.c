/*
 * rectpl.c - RECORD templates (rectpl.h): making one from the RECORD pip wrote, the
 * strict parser, rendering and the rendered size.
 *
 * A line is a candidate when its path starts with "../" (bin/ lies outside
 * site-packages) and its last two fields are "sha256=" + 43 base64url characters and
 * a decimal size: the path before them is taken as RECORD writes it (a quoted field is
 * unquoted), and the caller hands over the stored script it names, if any. Only a line
 * whose hash and size are exactly those of that script as shown is left out, and the
 * template is kept only if rendering it gives back the input byte for byte.
 */
#include "pkg/rectpl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/script.h"
#include "store/handle.h"
#include "store/odb.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/vec.h"

#define MAGIC "VVREC1\n"
#define MAGIC_LEN 7
#define HEAD_LEN (MAGIC_LEN + 4)
#define SUB_LEN 8
#define HASH_PREFIX "sha256="
#define HASH_FIELD (7 + 43) /* "sha256=" + base64url of 32 bytes */
#define SCRIPT_MAX (1u << 20)

static void put32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (8 * i));
}

static uint32_t get32(const char *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)(uint8_t)p[i] << (8 * i);
	return v;
}

static unsigned digits(uint64_t v)
{
	unsigned d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* The field "sha256=H,S" at the end of line [s, e) (no line end): 1 with its start
 * and the path before it (unquoted, into buf), else 0. */
static int split_line(const char *s, const char *e, const char **field, char *buf,
		      size_t bufsize, size_t *pathlen)
{
	const char *c2 = e;
	while (c2 > s && c2[-1] >= '0' && c2[-1] <= '9')
		c2--;
	if (c2 == e || c2 == s || c2[-1] != ',' || (e - c2 > 1 && *c2 == '0'))
		return 0;
	if (c2 - s < HASH_FIELD + 2)
		return 0;
	const char *h = c2 - 1 - HASH_FIELD;
	if (h[-1] != ',' || memcmp(h, HASH_PREFIX, 7))
		return 0;
	for (const char *q = h + 7; q < c2 - 1; q++)
		if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
		      (*q >= '0' && *q <= '9') || *q == '-' || *q == '_'))
			return 0;
	const char *ps = s, *pe = h - 1;
	size_t n = 0;
	if (*ps == '"') {
		if (pe - ps < 2 || pe[-1] != '"')
			return 0;
		for (const char *q = ps + 1; q < pe - 1; q++) {
			if (*q == '"' && (++q >= pe - 1 || *q != '"'))
				return 0;
			if (n + 1 >= bufsize)
				return 0;
			buf[n++] = *q;
		}
	} else {
		if (memchr(ps, '"', (size_t)(pe - ps)) || memchr(ps, ',', (size_t)(pe - ps)) ||
		    (size_t)(pe - ps) >= bufsize)
			return 0;
		memcpy(buf, ps, (size_t)(pe - ps));
		n = (size_t)(pe - ps);
	}
	buf[n] = 0;
	*pathlen = n;
	*field = h;
	return 1;
}

/* sha256 and size of a stored script as shown in envpath. */
static int shown(const char *envpath, const char *script, size_t len, vv_oid *hash,
		 uint64_t *size)
{
	char *o;
	size_t ol;
	int r = vv_script_show(envpath, script, len, &o, &ol);
	if (r < 0)
		return r;
	vv_hash_buf(o, ol, hash);
	*size = ol;
	free(o);
	return 0;
}

struct sub {
	uint32_t off;
	char *script;
	size_t len;
};

static void subs_free(struct sub *subs, size_t k)
{
	for (size_t i = 0; i < k; i++)
		free(subs[i].script);
	free(subs);
}

/* One line [s, e) of rec (e past its '\n', if any): 1 with *sub filled (*field: where
 * the left-out field starts, *le: where it ends) if it names a stored script with the
 * hash and size that script shows; 0 if not; -errno. */
static int take_line(const char *s, const char *e, const char *envpath, vv_rectpl_script_fn fn,
		     void *ctx, struct sub *sub, const char **field, const char **le_out)
{
	const char *le = e > s && e[-1] == '\n' ? e - 1 : e;
	if (le > s && le[-1] == '\r')
		le--;
	char path[4096];
	size_t pl;
	if (le - s < 4 || (memcmp(s, "../", 3) && memcmp(s, "\"../", 4)) ||
	    !split_line(s, le, field, path, sizeof(path), &pl))
		return 0;
	char *script = NULL;
	size_t len = 0;
	int r = fn(ctx, path, pl, &script, &len);
	if (r <= 0)
		return r;
	vv_oid hash;
	uint64_t size;
	char b64[44], want[HASH_FIELD + 24];
	if (len > SCRIPT_MAX || shown(envpath, script, len, &hash, &size) < 0) {
		vv_err_clear();
		free(script);
		return 0;
	}
	vv_oid_b64(&hash, b64);
	int wl = snprintf(want, sizeof(want), HASH_PREFIX "%s,%llu", b64, (unsigned long long)size);
	if (wl != le - *field || memcmp(want, *field, (size_t)wl)) {
		free(script);
		return 0;
	}
	sub->script = script;
	sub->len = len;
	*le_out = le;
	return 1;
}

static int build(const struct sub *subs, size_t k, const char *text, size_t tl, char **out,
		 size_t *outlen, struct vv_recent *ent)
{
	size_t total = HEAD_LEN + k * SUB_LEN + tl;
	for (size_t i = 0; i < k; i++)
		total += subs[i].len;
	char *t = malloc(total ? total : 1);
	if (!t)
		return vv_err(-ENOMEM, "out of memory");
	memcpy(t, MAGIC, MAGIC_LEN);
	put32(t + MAGIC_LEN, (uint32_t)k);
	struct vv_recent e = { (uint32_t)k, 0, UINT32_MAX, 0 };
	char *p = t + HEAD_LEN + k * SUB_LEN;
	for (size_t i = 0; i < k; i++) {
		uint32_t n = (uint32_t)subs[i].len;
		put32(t + HEAD_LEN + i * SUB_LEN, subs[i].off);
		put32(t + HEAD_LEN + i * SUB_LEN + 4, n);
		memcpy(p, subs[i].script, n);
		p += n;
		e.sum += n;
		e.smin = n < e.smin ? n : e.smin;
		e.smax = n > e.smax ? n : e.smax;
	}
	memcpy(p, text, tl);
	*out = t;
	*outlen = total;
	*ent = e;
	return 0;
}

int vv_rectpl_make(const char *rec, size_t len, const char *envpath, vv_rectpl_script_fn fn,
		   void *ctx, char **out, size_t *outlen, struct vv_recent *ent)
{
	*out = NULL;
	*outlen = 0;
	if (len > VV_RECTPL_MAX)
		return 0;
	struct sub *subs = NULL;
	size_t k = 0, cap = 0, tl = 0, scripts = 0;
	bool giveup = false;
	char *text = malloc(len ? len : 1);
	if (!text)
		return vv_err(-ENOMEM, "out of memory");
	int r = 0;
	for (const char *s = rec, *end = rec + len; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl + 1 : end, *field = NULL, *le = NULL;
		struct sub sub = { 0 };
		if ((r = take_line(s, e, envpath, fn, ctx, &sub, &field, &le)) < 0)
			break;
		if (r > 0 && (r = VV_GROW(subs, k, cap, 16)) < 0) {
			free(sub.script);
			break;
		}
		if (sub.script) {
			if ((scripts += sub.len) > VV_RECTPL_MAX) { /* sizes stay 32-bit */
				free(sub.script);
				r = 0;
				giveup = true;
				break;
			}
			memcpy(text + tl, s, (size_t)(field - s));
			tl += (size_t)(field - s);
			sub.off = (uint32_t)tl;
			subs[k++] = sub;
			memcpy(text + tl, le, (size_t)(e - le));
			tl += (size_t)(e - le);
		} else {
			memcpy(text + tl, s, (size_t)(e - s));
			tl += (size_t)(e - s);
		}
		s = e;
	}
	char *t = NULL, *back = NULL;
	size_t tlen = 0, bl = 0;
	struct vv_recent e;
	if (r >= 0 && k && !giveup && (r = build(subs, k, text, tl, &t, &tlen, &e)) == 0 &&
	    (r = vv_rectpl_render(t, tlen, &e, envpath, &back, &bl)) == 0) {
		r = 0;
		if (bl == len && !memcmp(back, rec, len)) {
			*out = t;
			*outlen = tlen;
			*ent = e;
			t = NULL;
			r = 1;
		}
	} else if (r == -EUCLEAN) {
		vv_err_clear();
		r = 0;
	}
	free(t);
	free(back);
	free(text);
	subs_free(subs, k);
	return r;
}

/* The template's parts: K, the table, the scripts and TEXT. */
struct parts {
	uint32_t k;
	const char *table, *scripts, *text;
	size_t textlen;
};

static int parse(const char *tpl, size_t len, const struct vv_recent *ent, struct parts *p)
{
	if (len < HEAD_LEN || memcmp(tpl, MAGIC, MAGIC_LEN))
		return vv_err(-EUCLEAN, "bad RECORD template: no VVREC1 header");
	p->k = get32(tpl + MAGIC_LEN);
	if (p->k == 0 || p->k > (len - HEAD_LEN) / SUB_LEN)
		return vv_err(-EUCLEAN, "bad RECORD template: %u fields in %zu bytes", p->k, len);
	p->table = tpl + HEAD_LEN;
	p->scripts = p->table + (size_t)p->k * SUB_LEN;
	size_t left = len - HEAD_LEN - (size_t)p->k * SUB_LEN;
	uint32_t smin = UINT32_MAX, smax = 0, sum = 0;
	for (uint32_t i = 0; i < p->k; i++) {
		uint32_t n = get32(p->table + (size_t)i * SUB_LEN + 4);
		if (n > left)
			return vv_err(-EUCLEAN, "bad RECORD template: script %u past the end", i);
		left -= n;
		sum += n;
		smin = n < smin ? n : smin;
		smax = n > smax ? n : smax;
	}
	p->text = tpl + (len - left);
	p->textlen = left;
	uint32_t prev = 0;
	for (uint32_t i = 0; i < p->k; i++) {
		uint32_t off = get32(p->table + (size_t)i * SUB_LEN);
		if (off > left || (i && off <= prev))
			return vv_err(-EUCLEAN, "bad RECORD template: field %u out of place", i);
		prev = off;
	}
	if (ent && (ent->k != p->k || ent->sum != sum || ent->smin != smin || ent->smax != smax))
		return vv_err(-EUCLEAN, "bad RECORD template: not the one its entry describes");
	return 0;
}

int vv_rectpl_text(const char *tpl, size_t len, const char **text, size_t *textlen)
{
	struct parts p;
	int r = parse(tpl, len, NULL, &p);
	if (r == 0) {
		*text = p.text;
		*textlen = p.textlen;
	}
	return r;
}

int vv_rectpl_render(const char *tpl, size_t len, const struct vv_recent *ent,
		     const char *envpath, char **out, size_t *outlen)
{
	struct parts p;
	int r = parse(tpl, len, ent, &p);
	if (r < 0)
		return r;
	vv_oid *hash = malloc(p.k * sizeof(*hash));
	uint64_t *size = malloc(p.k * sizeof(*size));
	size_t total = p.textlen;
	r = hash && size ? 0 : vv_err(-ENOMEM, "out of memory");
	const char *sc = p.scripts;
	for (uint32_t i = 0; r == 0 && i < p.k; i++) {
		uint32_t n = get32(p.table + (size_t)i * SUB_LEN + 4);
		if ((r = shown(envpath, sc, n, &hash[i], &size[i])) < 0) {
			if (r == -EUCLEAN)
				r = vv_err(-EUCLEAN, "bad RECORD template: script %u is not a "
					   "stored script", i);
			break;
		}
		sc += n;
		total += HASH_FIELD + 1 + digits(size[i]);
	}
	char *o = r == 0 ? malloc(total + 1) : NULL;
	if (r == 0 && !o)
		r = vv_err(-ENOMEM, "out of memory");
	size_t at = 0, from = 0;
	for (uint32_t i = 0; r == 0 && i < p.k; i++) {
		uint32_t off = get32(p.table + (size_t)i * SUB_LEN);
		memcpy(o + at, p.text + from, off - from);
		at += off - from;
		from = off;
		char b64[44];
		vv_oid_b64(&hash[i], b64);
		at += (size_t)snprintf(o + at, total + 1 - at, HASH_PREFIX "%s,%llu", b64,
				       (unsigned long long)size[i]);
	}
	if (r == 0) {
		memcpy(o + at, p.text + from, p.textlen - from);
		*out = o;
		*outlen = at + p.textlen - from;
		o = NULL;
	}
	free(o);
	free(hash);
	free(size);
	return r;
}

uint64_t vv_rectpl_size(uint64_t tsize, const struct vv_recent *ent, const char *envpath)
{
	/* a script is shown longer than stored by the same bytes whatever its suffix */
	char *sb;
	size_t sl;
	if (vv_script_shebang(envpath, "", &sb, &sl) < 0) {
		vv_err_clear();
		return UINT64_MAX;
	}
	free(sb);
	int64_t delta = (int64_t)sl - (VV_SCRIPT_MAGIC_LEN + 1);
	int64_t lo = (int64_t)ent->smin + delta, hi = (int64_t)ent->smax + delta;
	uint64_t fixed = HEAD_LEN + (uint64_t)ent->k * SUB_LEN + ent->sum;
	if (lo < 0 || tsize < fixed || digits((uint64_t)lo) != digits((uint64_t)hi))
		return UINT64_MAX;
	return tsize - fixed + (uint64_t)ent->k * (HASH_FIELD + 1 + digits((uint64_t)lo));
}

int vv_rectpl_read(struct vv_store *st, const struct vv_tree_ent *e, size_t max, char **out,
		   size_t *len)
{
	*out = NULL;
	int r = vv_odb_read_obj(&st->odb, &e->oid, e->kind == VV_RECORD ? 2 * max : max, out, len);
	if (r < 0 || e->kind != VV_RECORD)
		return r;
	char *text = NULL;
	r = vv_rectpl_render(*out, *len, &e->rec, "/", &text, len);
	free(*out);
	*out = text;
	return r;
}
