/*
 * pyc.c - the shared stored form of .pyc files (pyc.h): a walk of CPython's marshal
 * format that finds the code objects' co_filename strings, the template made from a
 * pyc, and the rendering of a template under an env's current path.
 *
 * The walk reads outside input (any file an env holds that starts with a pyc magic), so
 * it checks every length against the bytes left, bounds its depth and never trusts a
 * count; anything it does not know makes the file be stored as it is.
 */
#include "python/pyc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/vec.h"

#define TMPL_MAGIC "VVPYC1\n\0"
#define TMPL_MAGIC_LEN 8
#define TMPL_SUB_LEN 8
#define FLAG_REF 0x80
#define MAX_DEPTH 2000  /* CPython's own limit is lower */

/* Code object layouts by marshal writer. */
enum layout { L_NONE, L_37, L_38, L_311 };

static enum layout layout_of(const unsigned char *b, size_t len)
{
	if (len < 16 || b[2] != '\r' || b[3] != '\n')
		return L_NONE;
	unsigned m = b[0] | (unsigned)b[1] << 8;
	switch (m) {
	case 3394: return L_37;
	case 3413: case 3425: case 3439: return L_38;
	case 3495: case 3531: case 3571: return L_311;
	}
	return L_NONE;
}

int vv_pyc_magic_ok(const char *buf, size_t len)
{
	return layout_of((const unsigned char *)buf, len < 16 ? len : 16) != L_NONE;
}

static uint32_t rd32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* ---- the env path as marshal writes it ------------------------------------------- */

/* Length of a valid UTF-8 sequence at p (Python's strict rules), 0 if none. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
		   c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	if (!n || (size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/* The bytes marshal writes for a str made from path by the file system decoding
 * (UTF-8, undecodable bytes escaped as U+DC80..U+DCFF, written with surrogatepass).
 * *ascii tells which string type CPython picks. malloc'd. */
static unsigned char *enc_path(const char *path, size_t *len, bool *ascii)
{
	const unsigned char *p = (const unsigned char *)path, *end = p + strlen(path);
	unsigned char *out = malloc((size_t)(end - p) * 3 + 1), *o = out;
	if (!out)
		return NULL;
	*ascii = true;
	while (p < end) {
		size_t n = utf8_seq(p, end);
		if (n) {
			if (n > 1)
				*ascii = false;
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			*ascii = false;
			*o++ = 0xed;
			*o++ = (unsigned char)(0xb0 | (*p >> 6));
			*o++ = (unsigned char)(0x80 | (*p & 0x3f));
			p++;
		}
	}
	*len = (size_t)(o - out);
	return out;
}

/* Type byte and length bytes marshal (version 4) writes for a str of len bytes. */
static unsigned str_type(bool ascii, size_t len, bool interned, unsigned *lenbytes)
{
	if (ascii && len <= 255) {
		*lenbytes = 1;
		return interned ? 'Z' : 'z';
	}
	*lenbytes = 4;
	if (ascii)
		return interned ? 'A' : 'a';
	return interned ? 't' : 'u';
}

/* ---- the marshal walk -------------------------------------------------------------- */

struct sub {
	size_t at;      /* offset of the string's type byte in the pyc */
	size_t end;     /* offset after its last byte */
	unsigned char type; /* 'z' or 'Z', with FLAG_REF as written */
};

struct walk {
	const unsigned char *base, *p, *end;
	enum layout layout;
	uint64_t nrefs;
	unsigned depth;
	/* substitution: co_filename strings starting with pe + '/' */
	const unsigned char *pe;
	size_t pel;
	bool pe_ascii;
	struct sub *subs;
	size_t nsubs, cap;
	const unsigned char *suf; /* the first one's suffix: all must agree */
	size_t sufl;
	bool mixed;
};

static bool need(struct walk *w, size_t n)
{
	return (size_t)(w->end - w->p) >= n;
}

static int obj(struct walk *w, bool filename);

static int objs(struct walk *w, uint64_t n)
{
	if (n > (uint64_t)(w->end - w->p)) /* every object takes a byte at least */
		return -EUCLEAN;
	for (uint64_t i = 0; i < n; i++) {
		int r = obj(w, false);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool is_ascii(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0x80)
			return false;
	return true;
}

/* A co_filename string at `at` (type t, n bytes of text at s): note it if it carries
 * the env's path and CPython would have written it exactly so. */
static int filename_str(struct walk *w, size_t at, unsigned t, const unsigned char *s,
			size_t n)
{
	if (!w->pe || n <= w->pel || memcmp(s, w->pe, w->pel) || s[w->pel] != '/')
		return 0;
	const unsigned char *suf = s + w->pel;
	size_t sufl = n - w->pel;
	bool interned = (t & 0x7f) == 'Z' || (t & 0x7f) == 'A' || (t & 0x7f) == 't';
	unsigned lb;
	if (!is_ascii(suf, sufl) || sufl > UINT16_MAX ||
	    str_type(w->pe_ascii, n, interned, &lb) != (t & 0x7f)) {
		w->mixed = true;
		return 0;
	}
	if (w->suf && (w->sufl != sufl || memcmp(w->suf, suf, sufl))) {
		w->mixed = true;
		return 0;
	}
	w->suf = suf;
	w->sufl = sufl;
	if (VV_GROW(w->subs, w->nsubs, w->cap, 4) < 0)
		return -ENOMEM;
	w->subs[w->nsubs++] = (struct sub){ .at = at, .end = (size_t)(s + n - w->base),
					    .type = (unsigned char)((interned ? 'Z' : 'z') |
								    (t & FLAG_REF)) };
	return 0;
}

static int code(struct walk *w)
{
	int r;
	unsigned ints = w->layout == L_38 ? 6 : 5;
	unsigned before = w->layout == L_311 ? 5 : 6; /* objects before co_filename */
	unsigned after = w->layout == L_311 ? 2 : 1;  /* name (and qualname) */
	unsigned tail = w->layout == L_311 ? 2 : 1;   /* line table (exception table) */
	if (!need(w, 4 * ints))
		return -EUCLEAN;
	w->p += 4 * ints;
	if ((r = objs(w, before)) < 0 || (r = obj(w, true)) < 0 || (r = objs(w, after)) < 0)
		return r;
	if (!need(w, 4))
		return -EUCLEAN;
	w->p += 4; /* co_firstlineno */
	return objs(w, tail);
}

static int obj(struct walk *w, bool filename)
{
	if (!need(w, 1) || w->depth >= MAX_DEPTH)
		return -EUCLEAN;
	size_t at = (size_t)(w->p - w->base);
	unsigned t = *w->p++;
	unsigned type = t & 0x7f;
	if (t & FLAG_REF)
		w->nrefs++;
	uint64_t n;
	int r = 0;
	w->depth++;
	switch (type) {
	case '0': case 'N': case 'F': case 'T': case 'S': case '.':
		break;
	case 'i':
		r = need(w, 4) ? (w->p += 4, 0) : -EUCLEAN;
		break;
	case 'I': case 'g':
		r = need(w, 8) ? (w->p += 8, 0) : -EUCLEAN;
		break;
	case 'y':
		r = need(w, 16) ? (w->p += 16, 0) : -EUCLEAN;
		break;
	case 'f': case 'x':
		for (int k = 0; k < (type == 'x' ? 2 : 1) && r == 0; k++) {
			if (!need(w, 1) || !need(w, 1 + (size_t)w->p[0]))
				r = -EUCLEAN;
			else
				w->p += 1 + (size_t)w->p[0];
		}
		break;
	case 'l': {
		if (!need(w, 4)) {
			r = -EUCLEAN;
			break;
		}
		int64_t d = (int32_t)rd32(w->p);
		w->p += 4;
		uint64_t digits = d < 0 ? (uint64_t)(-d) : (uint64_t)d;
		r = need(w, 0) && digits <= (uint64_t)(w->end - w->p) / 2 ?
			    (w->p += 2 * digits, 0) : -EUCLEAN;
		break;
	}
	case 's': case 't': case 'u': case 'a': case 'A': case 'z': case 'Z': {
		bool shrt = type == 'z' || type == 'Z';
		if (!need(w, shrt ? 1 : 4)) {
			r = -EUCLEAN;
			break;
		}
		n = shrt ? w->p[0] : rd32(w->p);
		w->p += shrt ? 1 : 4;
		if (n > (uint64_t)(w->end - w->p)) {
			r = -EUCLEAN;
			break;
		}
		const unsigned char *s = w->p;
		w->p += n;
		if (filename && type != 's')
			r = filename_str(w, at, t, s, (size_t)n);
		break;
	}
	case 'r':
		if (!need(w, 4) || rd32(w->p) >= w->nrefs)
			r = -EUCLEAN;
		else
			w->p += 4;
		break;
	case '(': case '[': case '<': case '>':
		if (!need(w, 4)) {
			r = -EUCLEAN;
			break;
		}
		n = rd32(w->p);
		w->p += 4;
		r = objs(w, n);
		break;
	case ')':
		if (!need(w, 1)) {
			r = -EUCLEAN;
			break;
		}
		n = *w->p++;
		r = objs(w, n);
		break;
	case '{':
		for (;;) {
			if (!need(w, 1)) {
				r = -EUCLEAN;
				break;
			}
			if ((*w->p & 0x7f) == '0') {
				w->p++;
				break;
			}
			if ((r = obj(w, false)) < 0 || (r = obj(w, false)) < 0)
				break;
		}
		break;
	case 'c':
		r = code(w);
		break;
	default:
		r = -EUCLEAN;
	}
	w->depth--;
	return r;
}

/* Walk pyc bytes buf; subs are collected when pe is set. */
static int walk_pyc(struct walk *w, const char *buf, size_t len)
{
	const unsigned char *b = (const unsigned char *)buf;
	w->base = b;
	w->end = b + len;
	w->layout = layout_of(b, len);
	if (w->layout == L_NONE)
		return -EUCLEAN;
	uint32_t flags = rd32(b + 4);
	if (flags != 0 && flags != 1 && flags != 3)
		return -EUCLEAN;
	w->p = b + 16;
	int r = obj(w, false);
	if (r < 0)
		return r;
	return w->p == w->end ? 0 : -EUCLEAN;
}

int vv_pyc_check(const char *buf, size_t len)
{
	struct walk w = { 0 };
	int r = walk_pyc(&w, buf, len);
	free(w.subs);
	return r;
}

/* ---- templates ----------------------------------------------------------------------- */

uint64_t vv_pyc_size(uint64_t tlen, const struct vv_pycent *ent, const char *envpath)
{
	uint64_t head = TMPL_MAGIC_LEN + 4 + (uint64_t)TMPL_SUB_LEN * ent->nsub;
	if (tlen < head)
		return tlen;
	size_t pel = 0;
	bool ascii = true;
	if (ent->nsub) {
		unsigned char *pe = enc_path(envpath, &pel, &ascii);
		if (!pe)
			return tlen;
		free(pe);
	}
	unsigned lb;
	str_type(ascii, pel + ent->sufl, false, &lb);
	return tlen - head + (uint64_t)ent->nsub * (1 + lb + pel);
}

int vv_pyc_render(const char *tmpl, size_t tlen, const struct vv_pycent *ent,
		  const char *envpath, char **out, size_t *outlen)
{
	const unsigned char *t = (const unsigned char *)tmpl;
	*out = NULL;
	*outlen = 0;
	size_t head = TMPL_MAGIC_LEN + 4 + (size_t)TMPL_SUB_LEN * ent->nsub;
	if (tlen < head + 16 || memcmp(t, TMPL_MAGIC, TMPL_MAGIC_LEN) ||
	    rd32(t + TMPL_MAGIC_LEN) != ent->nsub)
		return -EUCLEAN;
	const unsigned char *body = t + head;
	size_t blen = tlen - head;
	/* check the substitution list before writing anything */
	size_t prev = 16;
	for (size_t i = 0; i < ent->nsub; i++) {
		const unsigned char *s = t + TMPL_MAGIC_LEN + 4 + TMPL_SUB_LEN * i;
		size_t off = rd32(s);
		unsigned ty = s[4] & 0x7f;
		if (off < prev || off > blen || blen - off < ent->sufl ||
		    (ty != 'z' && ty != 'Z') || (s[4] & ~(FLAG_REF | 0x7f)) || s[5] || s[6] || s[7])
			return -EUCLEAN;
		prev = off + ent->sufl;
	}
	size_t pel = 0;
	bool ascii = true;
	unsigned char *pe = enc_path(envpath, &pel, &ascii);
	if (!pe)
		return -ENOMEM;
	uint64_t size = vv_pyc_size(tlen, ent, envpath);
	unsigned char *o = malloc(size ? size : 1), *w = o;
	if (!o) {
		free(pe);
		return -ENOMEM;
	}
	prev = 0;
	for (size_t i = 0; i < ent->nsub; i++) {
		const unsigned char *s = t + TMPL_MAGIC_LEN + 4 + TMPL_SUB_LEN * i;
		size_t off = rd32(s);
		memcpy(w, body + prev, off - prev);
		w += off - prev;
		size_t n = pel + ent->sufl;
		unsigned lb;
		unsigned ty = str_type(ascii, n, (s[4] & 0x7f) == 'Z', &lb);
		*w++ = (unsigned char)(ty | (s[4] & FLAG_REF));
		if (lb == 1) {
			*w++ = (unsigned char)n;
		} else {
			wr32(w, (uint32_t)n);
			w += 4;
		}
		memcpy(w, pe, pel);
		w += pel;
		prev = off;
	}
	memcpy(w, body + prev, blen - prev);
	w += blen - prev;
	free(pe);
	wr32(o + 8, ent->hdr);
	*out = (char *)o;
	*outlen = (size_t)(w - o);
	return 0;
}

int vv_pyc_neutral(const char *buf, size_t len, const char *envpath, char **tmpl,
		   size_t *tlen, struct vv_pycent *ent)
{
	*tmpl = NULL;
	*tlen = 0;
	if (len > VV_PYC_MAX || !vv_pyc_magic_ok(buf, len))
		return 0;
	struct walk w = { 0 };
	size_t pel = 0;
	bool ascii = true;
	unsigned char *pe = enc_path(envpath, &pel, &ascii);
	if (!pe)
		return -ENOMEM;
	w.pe = pel ? pe : NULL;
	w.pel = pel;
	w.pe_ascii = ascii;
	int r = walk_pyc(&w, buf, len);
	free(pe);
	if (r == -ENOMEM)
		goto out;
	if (r < 0 || w.mixed || w.nsubs > UINT16_MAX) {
		r = 0;
		goto out;
	}
	size_t head = TMPL_MAGIC_LEN + 4 + TMPL_SUB_LEN * w.nsubs;
	size_t cut = 0;
	for (size_t i = 0; i < w.nsubs; i++)
		cut += w.subs[i].end - w.subs[i].at - w.sufl;
	unsigned char *t = malloc(head + len - cut);
	if (!t) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(t, TMPL_MAGIC, TMPL_MAGIC_LEN);
	wr32(t + TMPL_MAGIC_LEN, (uint32_t)w.nsubs);
	unsigned char *body = t + head, *o = body;
	const unsigned char *b = (const unsigned char *)buf;
	size_t prev = 0;
	for (size_t i = 0; i < w.nsubs; i++) {
		memcpy(o, b + prev, w.subs[i].at - prev);
		o += w.subs[i].at - prev;
		unsigned char *s = t + TMPL_MAGIC_LEN + 4 + TMPL_SUB_LEN * i;
		wr32(s, (uint32_t)(o - body));
		s[4] = w.subs[i].type;
		s[5] = s[6] = s[7] = 0;
		memcpy(o, b + w.subs[i].end - w.sufl, w.sufl);
		o += w.sufl;
		prev = w.subs[i].end;
	}
	memcpy(o, b + prev, len - prev);
	o += len - prev;
	ent->hdr = rd32(b + 8);
	ent->nsub = (uint16_t)w.nsubs;
	ent->sufl = (uint16_t)w.sufl;
	memset(body + 8, 0, 4);
	size_t tl = (size_t)(o - t);
	/* only a template that renders back to the very bytes written is kept */
	char *back = NULL;
	size_t backlen = 0;
	r = vv_pyc_render((char *)t, tl, ent, envpath, &back, &backlen);
	if (r == 0 && backlen == len && !memcmp(back, buf, len)) {
		*tmpl = (char *)t;
		*tlen = tl;
		r = 1;
	} else {
		free(t);
		r = r == -ENOMEM ? r : 0;
	}
	free(back);
out:
	free(w.subs);
	return r;
}
