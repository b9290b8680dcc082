/*
 * record.c - a wheel's RECORD (wheel_int.h): the strict CSV parser (public for the
 * fuzz target, wheel.h), every member checked against its row while it is installed
 * (a sha256 and a size that match, nothing unlisted), and the RECORD written into the
 * env, listing what was installed as pip's does.
 */
#include "pkg/wheel.h"
#include "pkg/wheel_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/hash.h"
#include "util/vec.h"

/* ---------------------------------------------------------------- RECORD (CSV) */

struct strbuf {
	char *p;
	size_t len, cap;
};

static int sb_push(struct strbuf *b, char c)
{
	/* room for c and a final NUL */
	int r = VV_GROW(b->p, b->len + 1, b->cap, 64);
	if (r < 0)
		return r;
	b->p[b->len++] = c;
	return 0;
}

static int sb_puts(struct strbuf *b, const char *s)
{
	for (; *s; s++)
		if (sb_push(b, *s) < 0)
			return -ENOMEM;
	return 0;
}

void vv_record_free(struct vv_record_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].path);
		free(rows[i].hash);
		free(rows[i].size);
	}
	free(rows);
}

static bool at_crlf(const char *buf, size_t len, size_t i)
{
	return buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n';
}

int vv_record_parse(const char *buf, size_t len, struct vv_record_row **rows_out, size_t *n_out)
{
	struct vv_record_row *rows = NULL;
	size_t n = 0, cap = 0, line = 1, i = 0;
	struct strbuf fb = {0};
	char *f[3] = {0};
	int nf = 0, r = 0;

	while (i < len) {
		if (buf[i] == '\n' || at_crlf(buf, len, i)) { /* empty line */
			i += buf[i] == '\r' ? 2 : 1;
			line++;
			continue;
		}
		size_t rowline = line;
		nf = 0;
		for (;;) {
			fb.len = 0;
			if (i < len && buf[i] == '"') {
				for (i++;; i++) {
					if (i >= len) {
						r = vv_err(-EINVAL, "line %zu: unterminated quoted field",
							   rowline);
						goto fail;
					}
					char c = buf[i];
					if (c == 0) {
						r = vv_err(-EINVAL, "line %zu: NUL byte", line);
						goto fail;
					}
					if (c == '"') {
						if (i + 1 < len && buf[i + 1] == '"') {
							i++;
						} else {
							i++;
							break;
						}
					} else if (c == '\n') {
						line++;
					}
					if (sb_push(&fb, c) < 0)
						goto oom;
				}
				if (i < len && buf[i] != ',' && buf[i] != '\n' && !at_crlf(buf, len, i)) {
					r = vv_err(-EINVAL, "line %zu: text after a closing quote", line);
					goto fail;
				}
			} else {
				for (; i < len && buf[i] != ',' && buf[i] != '\n'; i++) {
					char c = buf[i];
					if (c == '\r') {
						if (at_crlf(buf, len, i))
							break;
						r = vv_err(-EINVAL, "line %zu: stray carriage return",
							   line);
						goto fail;
					}
					if (c == '"') {
						r = vv_err(-EINVAL, "line %zu: quote inside an unquoted field",
							   line);
						goto fail;
					}
					if (c == 0) {
						r = vv_err(-EINVAL, "line %zu: NUL byte", line);
						goto fail;
					}
					if (sb_push(&fb, c) < 0)
						goto oom;
				}
			}
			if (nf == 3) {
				r = vv_err(-EINVAL, "line %zu: more than three fields", rowline);
				goto fail;
			}
			if (!(f[nf] = strndup(fb.p ? fb.p : "", fb.len)))
				goto oom;
			nf++;
			if (i < len && buf[i] == ',') {
				i++;
				continue;
			}
			if (i < len) { /* "\n" or "\r\n" */
				i += buf[i] == '\r' ? 2 : 1;
				line++;
			}
			break;
		}
		if (nf != 3) {
			r = vv_err(-EINVAL, "line %zu: expected three fields, found %d", rowline, nf);
			goto fail;
		}
		if (VV_GROW(rows, n, cap, 64) < 0)
			goto oom;
		rows[n].path = f[0];
		rows[n].hash = f[1];
		rows[n].size = f[2];
		n++;
		f[0] = f[1] = f[2] = NULL;
		nf = 0;
	}
	free(fb.p);
	*rows_out = rows;
	*n_out = n;
	return 0;
oom:
	r = vv_err(-ENOMEM, "out of memory parsing RECORD");
fail:
	for (int k = 0; k < 3; k++)
		free(f[k]);
	free(fb.p);
	vv_record_free(rows, n);
	*rows_out = NULL;
	*n_out = 0;
	return r;
}

/* base64url (padding optional) of exactly 32 bytes -> raw. */
static int b64url_oid(const char *s, vv_oid *out)
{
	size_t len = strlen(s);
	while (len && s[len - 1] == '=')
		len--;
	if (len != 43)
		return -EINVAL;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < VV_OID_RAW)
				out->b[o] = (uint8_t)(acc >> bits);
			o++;
			acc &= (1u << bits) - 1;
		}
	}
	return o == VV_OID_RAW ? 0 : -EINVAL;
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct vv_record_row *)a)->path,
		      ((const struct vv_record_row *)b)->path);
}

const struct vv_record_row *wheel_rec_find(const struct wheel *w, const char *path)
{
	struct vv_record_row key = {.path = (char *)path};
	return bsearch(&key, w->rec, w->nrec, sizeof(*w->rec), cmp_rec);
}

/* Exempt from RECORD listing (PEP 376 / PEP 427). */
bool wheel_record_exempt(const struct wheel *w, const char *name)
{
	size_t dl = strlen(w->distinfo);
	if (strncmp(name, w->distinfo, dl) || name[dl] != '/')
		return false;
	const char *f = name + dl + 1;
	return !strcmp(f, "RECORD") || !strcmp(f, "RECORD.jws") || !strcmp(f, "RECORD.p7s");
}

/* The member's original bytes (hash, size) against its RECORD row. */
int wheel_check_record(const struct wheel *w, const struct member *m, const vv_oid *oid)
{
	const struct vv_record_row *row = wheel_rec_find(w, m->name);
	if (!row) {
		if (wheel_record_exempt(w, m->name))
			return 0;
		return wheel_err(w, m->name, "not listed in RECORD");
	}
	/* Every member must be verifiable: a sha256 and a size (pip's RECORDs always have
	 * both; other algorithms cannot be checked here, so they are refused). */
	const char *eq = strchr(row->hash, '=');
	if (!row->hash[0])
		return wheel_err(w, m->name, "no hash in RECORD");
	if (!eq || eq == row->hash)
		return wheel_err(w, m->name, "malformed hash '%.80s' in RECORD", row->hash);
	if ((size_t)(eq - row->hash) != 6 || memcmp(row->hash, "sha256", 6))
		return wheel_err(w, m->name, "hash '%.*s' in RECORD is not sha256 (cannot be "
				 "verified)", (int)(eq - row->hash > 40 ? 40 : eq - row->hash),
				 row->hash);
	vv_oid want;
	if (b64url_oid(eq + 1, &want) < 0)
		return wheel_err(w, m->name, "malformed sha256 '%.80s' in RECORD", eq + 1);
	if (!vv_oid_eq(&want, oid))
		return wheel_err(w, m->name, "sha256 does not match RECORD");
	if (!row->size[0])
		return wheel_err(w, m->name, "no size in RECORD");
	uint64_t sz;
	if (parse_u64(row->size, &sz) < 0)
		return wheel_err(w, m->name, "malformed size '%.40s' in RECORD", row->size);
	if (sz != m->size)
		return wheel_err(w, m->name, "size %llu does not match RECORD (%llu)",
				 (unsigned long long)m->size, (unsigned long long)sz);
	return 0;
}

/* The .dist-info's RECORD into w->rec, sorted by path; a path listed twice is refused. */
int wheel_load_record(struct wheel *w)
{
	char path[600], *text = NULL;
	const struct member *m;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/RECORD", w->distinfo);
	if (!(m = wheel_find_member(w, path)))
		return wheel_err(w, path, "missing");
	if ((r = wheel_read_member(w, m, MAX_RECORD, &text, &len)) < 0)
		return r;
	r = vv_record_parse(text, len, &w->rec, &w->nrec);
	free(text);
	if (r < 0) {
		char why[600];
		snprintf(why, sizeof(why), "%s", vv_errmsg());
		return r == -EINVAL ? wheel_err(w, path, "%s", why) : wheel_prefix(w, path, r);
	}
	qsort(w->rec, w->nrec, sizeof(*w->rec), cmp_rec);
	for (size_t i = 1; i < w->nrec; i++)
		if (!strcmp(w->rec[i - 1].path, w->rec[i].path))
			return wheel_err(w, path, "lists '%.300s' twice", w->rec[i].path);
	return 0;
}

/* ---------------------------------------------------------------- RECORD out */

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct outrow *)a)->path, ((const struct outrow *)b)->path);
}

/* CSV field, quoted the way Python's csv module does when needed. */
static int csv_field(struct strbuf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n"))
		return sb_puts(b, s);
	if (sb_push(b, '"') < 0)
		return -ENOMEM;
	for (; *s; s++)
		if ((*s == '"' && sb_push(b, '"') < 0) || sb_push(b, *s) < 0)
			return -ENOMEM;
	return sb_push(b, '"');
}

/* The text of the RECORD written into the env: w->rows sorted by path, one
 * "PATH,sha256=B64,SIZE" line each ("PATH,," for RECORD itself), quoted as Python's csv
 * module does. *text is malloc'd (NULL with *len 0 when there are no rows). */
int wheel_record_text(struct wheel *w, char **text, size_t *len)
{
	qsort(w->rows, w->nrows, sizeof(*w->rows), cmp_row);
	struct strbuf b = {0};
	for (size_t i = 0; i < w->nrows; i++) {
		const struct outrow *row = &w->rows[i];
		char tail[96];
		if (row->b64[0])
			snprintf(tail, sizeof(tail), ",sha256=%s,%llu\n", row->b64,
				 (unsigned long long)row->size);
		else
			snprintf(tail, sizeof(tail), ",,\n");
		if (csv_field(&b, row->path) < 0 || sb_puts(&b, tail) < 0) {
			free(b.p);
			return vv_err(-ENOMEM, "%s: out of memory", w->wname);
		}
	}
	*text = b.p;
	*len = b.len;
	return 0;
}
