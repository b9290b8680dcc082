/*
 * wheel.c - install a wheel (PEP 427) into a tree builder the way pip installs it into
 * a venv, so an env's site-packages looks exactly like one pip made.
 *
 * The wheel is outside input, so this file is defensive first: every member name is
 * confined before it is used, symlinks/devices/duplicates are refused, bytes are counted
 * while decompressing (headers are not trusted) and every member must be listed in
 * RECORD and match its hash and size there. Member contents are streamed into store
 * temp files while being hashed; the store holds each distinct file once, so every env
 * that installs the same wheel points at the same objects.
 *
 * Determinism matters as much as safety: files get the member's zip mtime, generated
 * files (console scripts, INSTALLER, RECORD) get the newest member mtime, and console
 * scripts keep a neutral "#!python" first line (the mount shows the env's interpreter
 * there). The same wheel therefore always gives byte-identical trees.
 */
#include "pkg/wheel.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ini.h>
#include <zip.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "python/python.h"
#include "store/store.h"
#include "store/tree.h"
#include "store/treebuild.h"

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

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}

/* Copy a name for a message: control bytes become '?', long names are cut. */
static void shown(const char *in, char *out, size_t sz)
{
	size_t i = 0;
	for (; in[i] && i + 4 < sz; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ? '?' : in[i];
	if (in[i])
		memcpy(out + i, "...", 4);
	else
		out[i] = 0;
}

/* "WHEEL: MEMBER: reason" (or "WHEEL: reason" without a member), -EINVAL. */
static int werr(const struct wheel *w, const char *member, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int werr(const struct wheel *w, const char *member, const char *fmt, ...)
{
	char why[600], mem[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!member)
		return vv_err(-EINVAL, "%s: %s", w->wname, why);
	shown(member, mem, sizeof(mem));
	return vv_err(-EINVAL, "%s: %s: %s", w->wname, mem, why);
}

/* Add wheel/member context to an error that already has a message (I/O, ENOMEM). */
static int wprefix(const struct wheel *w, const char *member, int code)
{
	char mem[300];
	if (!member)
		return vv_err_prefix(code, "%s", w->wname);
	shown(member, mem, sizeof(mem));
	return vv_err_prefix(code, "%s: %s", w->wname, mem);
}

/* DOS times carry no zone; libzip reads them as local time. Reading the fields back
 * as UTC makes the result independent of $TZ, so every process gets the same trees. */
static int64_t zip_time_ns(time_t t)
{
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return 0;
	return (int64_t)timegm(&tm) * 1000000000LL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ZIP_CHECKCONS refuses duplicate names without saying which: find one (malloc'd). */
static char *find_duplicate(const char *path)
{
	int ze = 0;
	zip_t *za = zip_open(path, ZIP_RDONLY, &ze);
	if (!za)
		return NULL;
	zip_int64_t n = zip_get_num_entries(za, 0);
	char *dup = NULL;
	const char **names = n > 0 && n <= MAX_ENTRIES ? calloc((size_t)n, sizeof(*names)) : NULL;
	if (names) {
		zip_int64_t k = 0;
		for (zip_int64_t i = 0; i < n; i++)
			if ((names[k] = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_STRICT)))
				k++;
		qsort(names, (size_t)k, sizeof(*names), cmp_str);
		for (zip_int64_t i = 1; i < k && !dup; i++)
			if (!strcmp(names[i - 1], names[i]))
				dup = strdup(names[i]);
		free(names);
	}
	zip_discard(za);
	return dup;
}

static int open_zip(const char *path, const char *wname, zip_t **out)
{
	/* libzip says "no such file" for some corrupt archives too: ask the kernel. */
	struct stat sb;
	if (stat(path, &sb) < 0)
		return vv_err_sys(-errno, "%s: cannot open", wname);
	if (!S_ISREG(sb.st_mode))
		return vv_err(-EINVAL, "%s: not a regular file", wname);
	int ze = 0;
	zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
	if (za) {
		*out = za;
		return 0;
	}
	int sys = errno;
	zip_error_t e;
	zip_error_init_with_code(&e, ze);
	int code;
	char *dup = NULL;
	if (ze == ZIP_ER_EXISTS && (dup = find_duplicate(path))) {
		char mem[300];
		shown(dup, mem, sizeof(mem));
		code = vv_err(-EINVAL, "%s: %s: duplicate member", wname, mem);
		free(dup);
	} else if (ze == ZIP_ER_MEMORY)
		code = vv_err(-ENOMEM, "%s: out of memory", wname);
	else if (ze == ZIP_ER_OPEN || ze == ZIP_ER_READ || ze == ZIP_ER_SEEK)
		code = vv_err_sys(sys > 0 ? -sys : -EIO, "%s: cannot read", wname);
	else
		code = vv_err(-EINVAL, "%s: not a valid wheel (zip archive): %s", wname,
			      zip_error_strerror(&e));
	zip_error_fini(&e);
	return code;
}

/* ---------------------------------------------------------------- RECORD (CSV) */

struct strbuf {
	char *p;
	size_t len, cap;
};

static int sb_push(struct strbuf *b, char c)
{
	if (b->len + 1 >= b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
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
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct vv_record_row *p = realloc(rows, nc * sizeof(*p));
			if (!p)
				goto oom;
			rows = p;
			cap = nc;
		}
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

static const struct vv_record_row *rec_find(const struct wheel *w, const char *path)
{
	struct vv_record_row key = {.path = (char *)path};
	return bsearch(&key, w->rec, w->nrec, sizeof(*w->rec), cmp_rec);
}

/* Exempt from RECORD listing (PEP 376 / PEP 427). */
static bool record_exempt(const struct wheel *w, const char *name)
{
	size_t dl = strlen(w->distinfo);
	if (strncmp(name, w->distinfo, dl) || name[dl] != '/')
		return false;
	const char *f = name + dl + 1;
	return !strcmp(f, "RECORD") || !strcmp(f, "RECORD.jws") || !strcmp(f, "RECORD.p7s");
}

/* The member's original bytes (hash, size) against its RECORD row. */
static int check_record(const struct wheel *w, const struct member *m, const vv_oid *oid)
{
	const struct vv_record_row *row = rec_find(w, m->name);
	if (!row) {
		if (record_exempt(w, m->name))
			return 0;
		return werr(w, m->name, "not listed in RECORD");
	}
	/* Every member must be verifiable: a sha256 and a size (pip's RECORDs always have
	 * both; other algorithms cannot be checked here, so they are refused). */
	const char *eq = strchr(row->hash, '=');
	if (!row->hash[0])
		return werr(w, m->name, "no hash in RECORD");
	if (!eq || eq == row->hash)
		return werr(w, m->name, "malformed hash '%.80s' in RECORD", row->hash);
	if ((size_t)(eq - row->hash) != 6 || memcmp(row->hash, "sha256", 6))
		return werr(w, m->name, "hash '%.*s' in RECORD is not sha256 (cannot be verified)",
			    (int)(eq - row->hash > 40 ? 40 : eq - row->hash), row->hash);
	vv_oid want;
	if (b64url_oid(eq + 1, &want) < 0)
		return werr(w, m->name, "malformed sha256 '%.80s' in RECORD", eq + 1);
	if (!vv_oid_eq(&want, oid))
		return werr(w, m->name, "sha256 does not match RECORD");
	if (!row->size[0])
		return werr(w, m->name, "no size in RECORD");
	uint64_t sz;
	if (parse_u64(row->size, &sz) < 0)
		return werr(w, m->name, "malformed size '%.40s' in RECORD", row->size);
	if (sz != m->size)
		return werr(w, m->name, "size %llu does not match RECORD (%llu)",
			    (unsigned long long)m->size, (unsigned long long)sz);
	return 0;
}

/* ---------------------------------------------------------------- scanning */

/* NULL if the member name is acceptable, else why not. Sets *is_dir for "x/". */
static const char *bad_name(const char *name, bool *is_dir)
{
	size_t len = strlen(name);
	if (!len)
		return "empty member name";
	if (len > MAX_NAME)
		return "member name too long";
	if (name[0] == '/')
		return "absolute member name";
	*is_dir = name[len - 1] == '/';
	if (*is_dir)
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '\\')
			return "backslash in member name";
		if (c < 0x20 || c == 0x7f)
			return "control character in member name";
	}
	for (size_t s = 0; s <= len;) {
		size_t e = s;
		while (e < len && name[e] != '/')
			e++;
		size_t cl = e - s;
		if (cl == 0)
			return "empty path component in member name";
		if (cl == 1 && name[s] == '.')
			return "'.' component in member name";
		if (cl == 2 && name[s] == '.' && name[s + 1] == '.')
			return "'..' component in member name";
		if (cl > 255)
			return "path component longer than 255 bytes";
		s = e + 1;
	}
	return NULL;
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp((*(struct member *const *)a)->name, (*(struct member *const *)b)->name);
}

static const struct member *find_member(const struct wheel *w, const char *name)
{
	struct member key = {.name = (char *)name}, *kp = &key;
	struct member **r = bsearch(&kp, w->byname, w->nm, sizeof(*w->byname), cmp_member);
	return r ? *r : NULL;
}

static int scan(struct wheel *w)
{
	zip_int64_t n = zip_get_num_entries(w->za, 0);
	if (n < 0)
		return werr(w, NULL, "cannot list members");
	if (n > MAX_ENTRIES)
		return werr(w, NULL, "too many members (%lld)", (long long)n);
	w->m = calloc((size_t)n + 1, sizeof(*w->m));
	w->byname = calloc((size_t)n + 1, sizeof(*w->byname));
	if (!w->m || !w->byname)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);

	uint64_t declared = 0;
	for (zip_uint64_t i = 0; i < (zip_uint64_t)n; i++) {
		const char *name = zip_get_name(w->za, i, ZIP_FL_ENC_STRICT);
		if (!name)
			return werr(w, NULL, "cannot read the name of member %llu: %s",
				    (unsigned long long)i, zip_error_strerror(zip_get_error(w->za)));
		struct member *m = &w->m[w->nm];
		if (!(m->name = strdup(name)))
			return vv_err(-ENOMEM, "%s: out of memory", w->wname);
		w->byname[w->nm] = m;
		w->nm++;
		m->index = i;

		const char *why = bad_name(name, &m->is_dir);
		if (why)
			return werr(w, name, "%s", why);

		zip_stat_t sb;
		zip_stat_init(&sb);
		if (zip_stat_index(w->za, i, ZIP_FL_ENC_STRICT, &sb) < 0)
			return werr(w, name, "cannot stat: %s",
				    zip_error_strerror(zip_get_error(w->za)));
		if (!(sb.valid & ZIP_STAT_SIZE) || !(sb.valid & ZIP_STAT_COMP_SIZE))
			return werr(w, name, "member sizes unknown");
		m->size = sb.size;
		m->csize = sb.comp_size;
		m->mtime_ns = (sb.valid & ZIP_STAT_MTIME) ? zip_time_ns(sb.mtime) : 0;
		if (m->mtime_ns > w->mtime_ns)
			w->mtime_ns = m->mtime_ns;

		zip_uint8_t opsys = 0;
		zip_uint32_t attr = 0;
		if (zip_file_get_external_attributes(w->za, i, 0, &opsys, &attr) < 0)
			return werr(w, name, "cannot read attributes");
		m->mode = 0644;
		if (opsys == ZIP_OPSYS_UNIX) {
			uint32_t mode = attr >> 16, fmt = mode & S_IFMT;
			if (fmt == S_IFLNK)
				return werr(w, name, "symbolic links are not allowed");
			if (fmt != 0 && fmt != S_IFREG && !(m->is_dir && fmt == S_IFDIR))
				return werr(w, name, "not a regular file (mode %o)", mode);
			if (mode & 0111)
				m->mode = 0755;
		}
		if (m->is_dir) {
			if (m->size)
				return werr(w, name, "directory entry with content");
			continue;
		}
		declared += m->size;
		if (declared > MAX_TOTAL)
			return werr(w, name, "wheel expands to more than %llu bytes",
				    (unsigned long long)MAX_TOTAL);
		if (m->size > RATIO_FLOOR && m->size / (m->csize ? m->csize : 1) > MAX_RATIO)
			return werr(w, name, "compression ratio above %llu:1 (%llu of %llu bytes)",
				    MAX_RATIO, (unsigned long long)m->size,
				    (unsigned long long)m->csize);
	}

	qsort(w->byname, w->nm, sizeof(*w->byname), cmp_member);
	for (size_t i = 1; i < w->nm; i++)
		if (!strcmp(w->byname[i - 1]->name, w->byname[i]->name))
			return werr(w, w->byname[i]->name, "duplicate member");
	return 0;
}

/* The one top-level NAME-VER.dist-info/ directory. */
static int find_distinfo(struct wheel *w)
{
	const char *found = NULL;
	size_t flen = 0;
	for (size_t i = 0; i < w->nm; i++) {
		const char *name = w->m[i].name, *slash = strchr(name, '/');
		if (!slash)
			continue;
		size_t tl = (size_t)(slash - name);
		if (tl <= 10 || memcmp(slash - 10, ".dist-info", 10))
			continue;
		if (!found) {
			found = name;
			flen = tl;
		} else if (tl != flen || memcmp(found, name, tl)) {
			return werr(w, NULL, "more than one .dist-info directory ('%.*s', '%.*s')",
				    (int)flen, found, (int)tl, name);
		}
	}
	if (!found)
		return werr(w, NULL, "no .dist-info directory");
	size_t stem = flen - 10;
	const char *dash = memchr(found, '-', stem);
	if (!dash || dash == found || (size_t)(dash - found) + 1 >= stem)
		return werr(w, NULL, "bad .dist-info directory name '%.*s'", (int)flen, found);
	w->distinfo = strndup(found, flen);
	w->datadir = malloc(stem + 6);
	if (!w->distinfo || !w->datadir)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	memcpy(w->datadir, found, stem);
	memcpy(w->datadir + stem, ".data", 6);
	return 0;
}

/* ---------------------------------------------------------------- reading members */

typedef int (*sink_fn)(void *ctx, const char *buf, size_t n);

/* Decompress a member, counting bytes as they come (headers are not trusted): the
 * original bytes go to h (may be NULL) and sink. */
static int stream(struct wheel *w, const struct member *m, vv_hasher *h, sink_fn sink,
		  void *ctx)
{
	zip_file_t *zf = zip_fopen_index(w->za, m->index, 0);
	if (!zf)
		return werr(w, m->name, "cannot open: %s",
			    zip_error_strerror(zip_get_error(w->za)));
	char *buf = malloc(CHUNK);
	if (!buf) {
		zip_fclose(zf);
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	}
	uint64_t got = 0;
	int r = 0;
	for (;;) {
		zip_int64_t k = zip_fread(zf, buf, CHUNK);
		if (k < 0) {
			r = werr(w, m->name, "cannot decompress: %s", zip_file_strerror(zf));
			break;
		}
		if (k == 0)
			break;
		got += (uint64_t)k;
		w->total += (uint64_t)k;
		if (got > m->size) {
			r = werr(w, m->name, "more data than its header says (%llu bytes)",
				 (unsigned long long)m->size);
			break;
		}
		if (w->total > MAX_TOTAL) {
			r = werr(w, m->name, "wheel expands to more than %llu bytes",
				 (unsigned long long)MAX_TOTAL);
			break;
		}
		if (got > RATIO_FLOOR && got / (m->csize ? m->csize : 1) > MAX_RATIO) {
			r = werr(w, m->name, "compression ratio above %llu:1", MAX_RATIO);
			break;
		}
		if (h)
			vv_hasher_update(h, buf, (size_t)k);
		if (sink && (r = sink(ctx, buf, (size_t)k)) < 0) {
			r = wprefix(w, m->name, r);
			break;
		}
	}
	if (!r && got != m->size)
		r = werr(w, m->name, "%llu bytes, but its header says %llu",
			 (unsigned long long)got, (unsigned long long)m->size);
	int ze = zip_fclose(zf);
	if (!r && ze != 0) {
		zip_error_t e;
		zip_error_init_with_code(&e, ze);
		r = werr(w, m->name, "corrupt member: %s", zip_error_strerror(&e));
		zip_error_fini(&e);
	}
	free(buf);
	return r;
}

struct memsink {
	char *p;
	size_t len;
};

static int mem_sink(void *ctx, const char *buf, size_t n)
{
	struct memsink *s = ctx;
	memcpy(s->p + s->len, buf, n); /* stream() never passes more than m->size */
	s->len += n;
	return 0;
}

/* A whole member into memory (NUL-terminated), refusing members above max. */
static int read_member(struct wheel *w, const struct member *m, size_t max, char **out,
		       size_t *len)
{
	if (m->size > max)
		return werr(w, m->name, "too large (%llu bytes)", (unsigned long long)m->size);
	struct memsink s = {.p = malloc((size_t)m->size + 1)};
	if (!s.p)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	int r = stream(w, m, NULL, mem_sink, &s);
	if (r < 0) {
		free(s.p);
		return r;
	}
	s.p[s.len] = 0;
	*out = s.p;
	if (len)
		*len = s.len;
	return 0;
}

/* The value of header key in an email-style header block (stops at the first empty
 * line), malloc'd and trimmed, or NULL if absent. -ENOMEM on OOM. */
static int header_value(const char *text, const char *key, char **out)
{
	size_t kl = strlen(key);
	*out = NULL;
	for (const char *l = text; *l;) {
		const char *e = strchr(l, '\n');
		size_t ll = e ? (size_t)(e - l) : strlen(l);
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break;
		if (ll > kl && !strncasecmp(l, key, kl) && l[kl] == ':') {
			const char *v = l + kl + 1, *ve = l + ll;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (!(*out = strndup(v, (size_t)(ve - v))))
				return -ENOMEM;
			return 0;
		}
		if (!e)
			break;
		l = e + 1;
	}
	return 0;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* PEP 508 names: ASCII letters, digits, '.', '_', '-', starting and ending alnum. */
static bool valid_dist_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 200 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static bool valid_version(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 200)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr(".!+_-", s[i]))
			return false;
	return true;
}

/* PEP 503 normalization, compared without allocating: runs of -_. are one '-'. */
static bool same_canonical(const char *a, size_t al, const char *b, size_t bl)
{
	size_t i = 0, j = 0;
	for (;;) {
		bool sa = i < al && strchr("-_.", a[i]), sb = j < bl && strchr("-_.", b[j]);
		if (sa || sb) {
			if (!(sa && sb))
				return false;
			while (i < al && strchr("-_.", a[i]))
				i++;
			while (j < bl && strchr("-_.", b[j]))
				j++;
			continue;
		}
		if (i == al || j == bl)
			return i == al && j == bl;
		char ca = a[i], cb = b[j];
		if (ca >= 'A' && ca <= 'Z')
			ca = (char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (char)(cb - 'A' + 'a');
		if (ca != cb)
			return false;
		i++;
		j++;
	}
}

static int read_control(struct wheel *w)
{
	char path[600];
	const struct member *m;
	char *text = NULL, *v = NULL;
	size_t len;
	int r;

	/* RECORD */
	snprintf(path, sizeof(path), "%s/RECORD", w->distinfo);
	if (!(m = find_member(w, path)))
		return werr(w, path, "missing");
	if ((r = read_member(w, m, MAX_RECORD, &text, &len)) < 0)
		return r;
	r = vv_record_parse(text, len, &w->rec, &w->nrec);
	free(text);
	if (r < 0) {
		char why[600];
		snprintf(why, sizeof(why), "%s", vv_errmsg());
		return r == -EINVAL ? werr(w, path, "%s", why) : wprefix(w, path, r);
	}
	qsort(w->rec, w->nrec, sizeof(*w->rec), cmp_rec);
	for (size_t i = 1; i < w->nrec; i++)
		if (!strcmp(w->rec[i - 1].path, w->rec[i].path))
			return werr(w, path, "lists '%.300s' twice", w->rec[i].path);

	/* WHEEL */
	snprintf(path, sizeof(path), "%s/WHEEL", w->distinfo);
	if (!(m = find_member(w, path)))
		return werr(w, path, "missing");
	if ((r = read_member(w, m, MAX_SMALL, &text, &len)) < 0)
		return r;
	if ((r = header_value(text, "Wheel-Version", &v)) < 0)
		goto oom;
	if (!v || !(v[0] == '1' && (v[1] == '.' || v[1] == 0))) {
		r = werr(w, path, "unsupported Wheel-Version '%.40s'", v ? v : "");
		goto out;
	}
	free(v);
	if ((r = header_value(text, "Root-Is-Purelib", &v)) < 0)
		goto oom;
	/* In a venv purelib and platlib are the same directory; only check the value. */
	if (!v || (strcasecmp(v, "true") && strcasecmp(v, "false"))) {
		r = werr(w, path, "bad or missing Root-Is-Purelib");
		goto out;
	}
	free(v);
	v = NULL;
	free(text);

	/* METADATA */
	snprintf(path, sizeof(path), "%s/METADATA", w->distinfo);
	if (!(m = find_member(w, path)))
		return werr(w, path, "missing");
	if ((r = read_member(w, m, MAX_RECORD, &text, &len)) < 0)
		return r;
	if (strlen(text) != len) {
		r = werr(w, path, "NUL byte");
		goto out;
	}
	if ((r = header_value(text, "Name", &w->name)) < 0 ||
	    (r = header_value(text, "Version", &w->version)) < 0)
		goto oom;
	if (!w->name || !valid_dist_name(w->name)) {
		r = werr(w, path, "missing or invalid Name");
		goto out;
	}
	if (!w->version || !valid_version(w->version)) {
		r = werr(w, path, "missing or invalid Version");
		goto out;
	}
	const char *dash = strchr(w->distinfo, '-');
	if (!same_canonical(w->distinfo, (size_t)(dash - w->distinfo), w->name,
			    strlen(w->name))) {
		r = werr(w, path, "Name '%s' does not match '%s'", w->name, w->distinfo);
		goto out;
	}
	r = 0;
	goto out;
oom:
	r = vv_err(-ENOMEM, "%s: out of memory", w->wname);
out:
	free(v);
	free(text);
	return r;
}

/* ---------------------------------------------------------------- installing */

/* Names the mount synthesizes for every env; a wheel may not put files there. */
static bool reserved_dest(const struct wheel *w, const char *dest)
{
	char a[32], b[32];
	if (!strcmp(dest, "pyvenv.cfg") || !strcmp(dest, "lib64") || !strncmp(dest, "lib64/", 6))
		return true;
	if (strncmp(dest, "bin/", 4))
		return false;
	const char *f = dest + 4;
	snprintf(a, sizeof(a), "python%d", w->major);
	snprintf(b, sizeof(b), "python%d.%d", w->major, w->minor);
	return !strcmp(f, "python") || !strcmp(f, a) || !strcmp(f, b) || !strcmp(f, "activate") ||
	       !strcmp(f, "activate.csh") || !strcmp(f, "activate.fish") ||
	       !strcmp(f, "Activate.ps1");
}

static int add_row(struct wheel *w, const char *dest, const vv_oid *oid, uint64_t size)
{
	if (w->nrows == w->caprows) {
		size_t nc = w->caprows ? w->caprows * 2 : 256;
		struct outrow *p = realloc(w->rows, nc * sizeof(*p));
		if (!p)
			return vv_err(-ENOMEM, "%s: out of memory", w->wname);
		w->rows = p;
		w->caprows = nc;
	}
	struct outrow *row = &w->rows[w->nrows];
	size_t spl = strlen(w->sp);
	int n;
	if (!strncmp(dest, w->sp, spl) && dest[spl] == '/')
		n = asprintf(&row->path, "%s", dest + spl + 1);
	else
		n = asprintf(&row->path, "../../../%s", dest);
	if (n < 0)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	if (oid)
		vv_oid_b64(oid, row->b64);
	else
		row->b64[0] = 0;
	row->size = size;
	w->nrows++;
	return 0;
}

/* Put a file into the builder; conflicts name the member that caused them. */
static int tb_put(struct wheel *w, const char *member, const char *dest, uint8_t kind,
		  uint16_t mode, uint64_t size, int64_t mtime_ns, const vv_oid *oid)
{
	if (reserved_dest(w, dest))
		return werr(w, member, "'%s' is reserved for the file the mount provides", dest);
	struct vv_tree_ent e = {
		.kind = kind, .mode = mode, .size = size, .mtime_ns = mtime_ns, .oid = *oid,
	};
	int r = vv_tb_add(w->tb, dest, &e);
	if (r == -EEXIST || r == -ENOTDIR)
		return werr(w, member, "conflicts with another installed file at '%s'", dest);
	if (r < 0)
		return wprefix(w, member, r);
	return add_row(w, dest, oid, size);
}

/* Publish a finished temp file whose content hashes to want. Always through the store
 * (an existing object is fine there), which also removes a named fallback temp file. */
static int publish_tmp(struct wheel *w, int fd, const vv_oid *want, const char *member)
{
	vv_oid got;
	int r;
	if ((r = vv_odb_publish_tmpfile(&w->st->odb, fd, &got, NULL)) < 0)
		return wprefix(w, member, r);
	if (!vv_oid_eq(&got, want))
		return vv_err(-EIO, "%s: %s: content changed while being stored", w->wname,
			      member);
	return 0;
}

/* Writes what gets stored, rewriting a "#!python..." first line to exactly
 * "#!python\n" when asked (scripts from .data/scripts). */
enum { S_PLAIN, S_DECIDE, S_SKIPLINE };
#define PY_SHEBANG "#!python"

struct filesink {
	int fd;
	vv_hasher *h;
	uint64_t size;
	int state;
	char head[8];
	size_t nhead;
	bool rewritten;
};

static int fs_emit(struct filesink *s, const char *buf, size_t n)
{
	if (!n)
		return 0;
	vv_hasher_update(s->h, buf, n);
	s->size += n;
	int r = vv_write_all(s->fd, buf, n);
	return r < 0 ? vv_err_sys(r, "cannot write store temp file") : 0;
}

static int file_sink(void *ctx, const char *buf, size_t n)
{
	struct filesink *s = ctx;
	size_t i = 0;
	while (s->state == S_DECIDE && i < n) {
		s->head[s->nhead++] = buf[i++];
		if (s->head[s->nhead - 1] != PY_SHEBANG[s->nhead - 1]) {
			s->state = S_PLAIN;
			int r = fs_emit(s, s->head, s->nhead);
			if (r < 0)
				return r;
		} else if (s->nhead == sizeof(s->head)) {
			s->state = S_SKIPLINE;
			s->rewritten = true;
			int r = fs_emit(s, PY_SHEBANG "\n", sizeof(PY_SHEBANG));
			if (r < 0)
				return r;
		}
	}
	if (s->state == S_SKIPLINE && i < n) {
		const char *nl = memchr(buf + i, '\n', n - i);
		if (!nl)
			return 0;
		i = (size_t)(nl - buf) + 1;
		s->state = S_PLAIN;
	}
	return fs_emit(s, buf + i, n - i);
}

static int install_member(struct wheel *w, const struct member *m, const char *dest,
			  bool script)
{
	int fd = vv_odb_tmpfile(&w->st->odb);
	if (fd < 0)
		return wprefix(w, m->name, fd);
	vv_hasher *orig = vv_hasher_new();
	struct filesink s = {.fd = fd, .h = vv_hasher_new(), .state = script ? S_DECIDE : S_PLAIN};
	int r;
	if (!orig || !s.h) {
		r = vv_err(-ENOMEM, "%s: out of memory", w->wname);
		goto out;
	}
	if ((r = stream(w, m, orig, file_sink, &s)) < 0)
		goto out;
	if (s.state == S_DECIDE && (r = fs_emit(&s, s.head, s.nhead)) < 0) {
		r = wprefix(w, m->name, r);
		goto out;
	}
	vv_oid ooid, soid;
	vv_hasher_final(orig, &ooid);
	vv_hasher_final(s.h, &soid);
	if ((r = check_record(w, m, &ooid)) < 0)
		goto out;
	if ((r = publish_tmp(w, fd, &soid, m->name)) < 0)
		goto out;
	r = tb_put(w, m->name, dest, s.rewritten ? VV_SCRIPT : VV_REG, m->mode, s.size,
		   m->mtime_ns, &soid);
out:
	vv_hasher_free(orig);
	vv_hasher_free(s.h);
	close(fd);
	return r;
}

/* Where a member goes, relative to the env root (malloc'd); *script for .data/scripts. */
static int dest_of(struct wheel *w, const struct member *m, char **dest, bool *script)
{
	const char *name = m->name, *slash = strchr(name, '/');
	size_t tl = slash ? (size_t)(slash - name) : strlen(name);
	int n;
	*script = false;
	*dest = NULL;
	if (tl > 5 && !memcmp(name + tl - 5, ".data", 5)) {
		if (!slash)
			return werr(w, name, "a .data entry that is not a directory");
		if (strlen(w->datadir) != tl || memcmp(name, w->datadir, tl))
			return werr(w, name, "unexpected .data directory (expected '%s')",
				    w->datadir);
		const char *scheme = slash + 1, *s2 = strchr(scheme, '/');
		if (!s2)
			return werr(w, name, "file directly in the .data directory");
		size_t sl = (size_t)(s2 - scheme);
		const char *rest = s2 + 1;
		if ((sl == 7 && !memcmp(scheme, "purelib", 7)) ||
		    (sl == 7 && !memcmp(scheme, "platlib", 7))) {
			n = asprintf(dest, "%s/%s", w->sp, rest);
		} else if (sl == 7 && !memcmp(scheme, "scripts", 7)) {
			n = asprintf(dest, "bin/%s", rest);
			*script = true;
		} else if (sl == 7 && !memcmp(scheme, "headers", 7)) {
			n = asprintf(dest, "include/site/%s/%s/%s", w->pyname, w->name, rest);
		} else if (sl == 4 && !memcmp(scheme, "data", 4)) {
			n = asprintf(dest, "%s", rest);
		} else {
			return werr(w, name, "unknown .data scheme '%.*s'", (int)sl, scheme);
		}
	} else {
		n = asprintf(dest, "%s/%s", w->sp, name);
	}
	if (n < 0) {
		*dest = NULL;
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	}
	return 0;
}

static int install_members(struct wheel *w)
{
	char rec[600], inst[600], req[600];
	snprintf(rec, sizeof(rec), "%s/RECORD", w->distinfo);
	snprintf(inst, sizeof(inst), "%s/INSTALLER", w->distinfo);
	snprintf(req, sizeof(req), "%s/REQUESTED", w->distinfo);
	for (size_t i = 0; i < w->nm; i++) {
		const struct member *m = &w->m[i];
		/* Directories come from file paths; RECORD and INSTALLER are rewritten, and
		 * REQUESTED too when the installer writes its own. */
		if (m->is_dir || !strcmp(m->name, rec))
			continue;
		if (!strcmp(m->name, inst) ||
		    ((w->flags & VV_WHEEL_REQUESTED) && !strcmp(m->name, req))) {
			/* Not installed (rewritten), but still listed like every member. */
			if (!rec_find(w, m->name) && !record_exempt(w, m->name))
				return werr(w, m->name, "not listed in RECORD");
			continue;
		}
		char *dest;
		bool script;
		int r = dest_of(w, m, &dest, &script);
		if (r == 0)
			r = install_member(w, m, dest, script);
		free(dest);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- entry points */

struct ep {
	char *name, *value;
};

struct epset {
	struct ep *v;
	size_t n, cap;
	bool oom;
};

static int ep_add(struct epset *s, const char *name, const char *value)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		struct ep *p = realloc(s->v, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = nc;
	}
	s->v[s->n].name = strdup(name);
	s->v[s->n].value = strdup(value);
	if (!s->v[s->n].name || !s->v[s->n].value) {
		free(s->v[s->n].name);
		free(s->v[s->n].value);
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

static void ep_free(struct epset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].value);
	}
	free(s->v);
}

static int ep_handler(void *user, const char *section, const char *name, const char *value)
{
	struct epset *s = user;
	if (strcmp(section, "console_scripts") && strcmp(section, "gui_scripts"))
		return 1;
	if (ep_add(s, name, value) < 0) {
		s->oom = true;
		return 0;
	}
	return 1;
}

static bool valid_script_name(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

/* A dotted Python name of ASCII identifiers; returns its length (0 if none). */
static size_t dotted_name(const char *s)
{
	size_t i = 0;
	for (;;) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
			return 0;
		while (is_alnum(s[i]) || s[i] == '_')
			i++;
		if (s[i] != '.')
			return i;
		i++;
	}
}

/* "module:attr [extras]" -> module and attr (malloc'd). */
static int parse_ep_value(const char *v, char **module, char **attr)
{
	const char *p = v;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t ml = dotted_name(p);
	if (!ml)
		return -EINVAL;
	const char *mod = p;
	p += ml;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != ':')
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t al = dotted_name(p);
	if (!al)
		return -EINVAL;
	const char *at = p;
	p += al;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '[') {
		p = strchr(p, ']');
		if (!p)
			return -EINVAL;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (*p)
		return -EINVAL;
	*module = strndup(mod, ml);
	*attr = strndup(at, al);
	if (!*module || !*attr) {
		free(*module);
		free(*attr);
		return -ENOMEM;
	}
	return 0;
}

/* The wrapper pip 23 generates (distlib's template), first line "#!python". */
static int make_script(const char *module, const char *attr, char **out, size_t *len)
{
	size_t rl = strcspn(attr, ".");
	int n = asprintf(out,
			 "#!python\n"
			 "# -*- coding: utf-8 -*-\n"
			 "import re\n"
			 "import sys\n"
			 "from %s import %.*s\n"
			 "if __name__ == '__main__':\n"
			 "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
			 "    sys.exit(%s())\n",
			 module, (int)rl, attr, attr);
	if (n < 0)
		return -ENOMEM;
	*len = (size_t)n;
	return 0;
}

/* pip(\d+(\.\d+)?)?  /  easy_install(-\d+\.\d+)? */
static bool versioned_name(const char *s, const char *base, char sep, bool opt_minor)
{
	size_t bl = strlen(base);
	if (strncmp(s, base, bl))
		return false;
	s += bl;
	if (!*s)
		return true;
	if (sep) {
		if (*s++ != sep)
			return false;
	}
	if (!(*s >= '0' && *s <= '9'))
		return false;
	while (*s >= '0' && *s <= '9')
		s++;
	if (!*s)
		return opt_minor;
	if (*s++ != '.' || !(*s >= '0' && *s <= '9'))
		return false;
	while (*s >= '0' && *s <= '9')
		s++;
	return !*s;
}

static int write_script(struct wheel *w, const char *epmember, const char *name,
			const char *value)
{
	char *module = NULL, *attr = NULL, *text = NULL, dest[300];
	size_t len;
	int r = parse_ep_value(value, &module, &attr);
	if (r == -ENOMEM)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	if (r < 0)
		return werr(w, epmember, "bad entry point '%s = %.200s'", name, value);
	if ((r = make_script(module, attr, &text, &len)) < 0) {
		r = vv_err(-ENOMEM, "%s: out of memory", w->wname);
		goto out;
	}
	vv_oid oid;
	if ((r = vv_odb_put_buf(&w->st->odb, text, len, &oid)) < 0) {
		r = wprefix(w, epmember, r);
		goto out;
	}
	snprintf(dest, sizeof(dest), "bin/%s", name);
	r = tb_put(w, epmember, dest, VV_SCRIPT, 0755, len, w->mtime_ns, &oid);
out:
	free(module);
	free(attr);
	free(text);
	return r;
}

static int install_entry_points(struct wheel *w)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/entry_points.txt", w->distinfo);
	const struct member *m = find_member(w, path);
	if (!m)
		return 0;
	char *text;
	size_t len;
	int r = read_member(w, m, MAX_SMALL, &text, &len);
	if (r < 0)
		return r;
	if (strlen(text) != len) {
		free(text);
		return werr(w, path, "NUL byte");
	}
	/* Lines are stripped first, as Python's entry point reader does: no inih
	 * continuation lines. Lines inih would split are refused. */
	char *clean = malloc(len + 1), *o = clean;
	if (!clean) {
		free(text);
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	}
	size_t lineno = 1;
	for (const char *l = text; *l; lineno++) {
		while (*l == ' ' || *l == '\t')
			l++;
		const char *e = strchr(l, '\n');
		size_t ll = e ? (size_t)(e - l) + 1 : strlen(l);
		if (ll + 3 > INI_MAX_LINE) {
			free(text);
			free(clean);
			return werr(w, path, "line %zu is too long", lineno);
		}
		memcpy(o, l, ll);
		o += ll;
		l += ll;
	}
	*o = 0;
	free(text);

	struct epset set = {0};
	int line = ini_parse_string(clean, ep_handler, &set);
	free(clean);
	if (set.oom || line == -2) {
		r = vv_err(-ENOMEM, "%s: out of memory", w->wname);
		goto out;
	}
	if (line != 0) {
		r = werr(w, path, "syntax error on line %d", line);
		goto out;
	}
	for (size_t i = 0; i < set.n; i++) {
		if (!valid_script_name(set.v[i].name)) {
			r = werr(w, path, "bad entry point name '%.200s'", set.v[i].name);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(set.v[i].name, set.v[j].name)) {
				r = werr(w, path, "entry point '%s' defined twice", set.v[i].name);
				goto out;
			}
	}

	/* pip replaces pip/easy_install wrappers with ones for the running interpreter:
	 * pip, pipX, pipX.Y and easy_install, easy_install-X.Y. */
	const char *pipv = NULL, *eiv = NULL;
	for (size_t i = 0; i < set.n; i++) {
		if (!strcmp(set.v[i].name, "pip"))
			pipv = set.v[i].value;
		if (!strcmp(set.v[i].name, "easy_install"))
			eiv = set.v[i].value;
	}
	for (size_t i = 0; i < set.n; i++) {
		const char *n = set.v[i].name;
		if ((pipv && versioned_name(n, "pip", 0, true)) ||
		    (eiv && versioned_name(n, "easy_install", '-', false)))
			continue;
		if ((r = write_script(w, path, n, set.v[i].value)) < 0)
			goto out;
	}
	char name[64];
	if (pipv) {
		const char *names[3] = {"pip", name, name + 32};
		snprintf(name, 32, "pip%d", w->major);
		snprintf(name + 32, 32, "pip%d.%d", w->major, w->minor);
		for (int k = 0; k < 3; k++)
			if ((r = write_script(w, path, names[k], pipv)) < 0)
				goto out;
	}
	if (eiv) {
		snprintf(name, sizeof(name), "easy_install-%d.%d", w->major, w->minor);
		if ((r = write_script(w, path, "easy_install", eiv)) < 0 ||
		    (r = write_script(w, path, name, eiv)) < 0)
			goto out;
	}
	r = 0;
out:
	ep_free(&set);
	return r;
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

static int write_installer_and_record(struct wheel *w, const char *installer)
{
	char dest[700], member[600];
	vv_oid oid;
	int r;
	size_t il = strlen(installer);
	char *text = malloc(il + 2);
	if (!text)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	memcpy(text, installer, il);
	memcpy(text + il, "\n", 2);
	snprintf(member, sizeof(member), "%s/INSTALLER", w->distinfo);
	snprintf(dest, sizeof(dest), "%s/%s", w->sp, member);
	r = vv_odb_put_buf(&w->st->odb, text, il + 1, &oid);
	free(text);
	if (r < 0)
		return wprefix(w, member, r);
	if ((r = tb_put(w, member, dest, VV_REG, 0644, il + 1, w->mtime_ns, &oid)) < 0)
		return r;

	if (w->flags & VV_WHEEL_REQUESTED) {
		/* Empty, and listed in RECORD with its hash, as pip writes it. */
		snprintf(member, sizeof(member), "%s/REQUESTED", w->distinfo);
		snprintf(dest, sizeof(dest), "%s/%s", w->sp, member);
		if ((r = vv_odb_put_buf(&w->st->odb, "", 0, &oid)) < 0)
			return wprefix(w, member, r);
		if ((r = tb_put(w, member, dest, VV_REG, 0644, 0, w->mtime_ns, &oid)) < 0)
			return r;
	}

	snprintf(member, sizeof(member), "%s/RECORD", w->distinfo);
	snprintf(dest, sizeof(dest), "%s/%s", w->sp, member);
	if ((r = add_row(w, dest, NULL, 0)) < 0)
		return r;
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
	r = vv_odb_put_buf(&w->st->odb, b.p ? b.p : "", b.len, &oid);
	size_t len = b.len;
	free(b.p);
	if (r < 0)
		return wprefix(w, member, r);
	struct vv_tree_ent e = {
		.kind = VV_REG, .mode = 0644, .size = len, .mtime_ns = w->mtime_ns, .oid = oid,
	};
	r = vv_tb_add(w->tb, dest, &e);
	if (r == -EEXIST || r == -ENOTDIR)
		return werr(w, member, "conflicts with another installed file at '%s'", dest);
	return r < 0 ? wprefix(w, member, r) : 0;
}

/* ---------------------------------------------------------------- public */

static void wheel_free(struct wheel *w)
{
	if (w->za)
		zip_discard(w->za);
	for (size_t i = 0; i < w->nm; i++)
		free(w->m[i].name);
	free(w->m);
	free(w->byname);
	free(w->distinfo);
	free(w->datadir);
	vv_record_free(w->rec, w->nrec);
	free(w->name);
	free(w->version);
	for (size_t i = 0; i < w->nrows; i++)
		free(w->rows[i].path);
	free(w->rows);
}

int vv_wheel_install(struct vv_store *st, const char *wheel_path, const struct vv_python *py,
		     const char *installer, struct vv_tb *tb, struct vv_wheel_info *info)
{
	return vv_wheel_install_ex(st, wheel_path, py, installer, 0, tb, info);
}

int vv_wheel_install_ex(struct vv_store *st, const char *wheel_path, const struct vv_python *py,
			const char *installer, unsigned flags, struct vv_tb *tb,
			struct vv_wheel_info *info)
{
	struct wheel w = {.st = st, .tb = tb, .wname = base_name(wheel_path), .flags = flags};
	int r;
	if (info)
		info->name = info->version = NULL;
	w.major = py->major;
	w.minor = py->minor;
	snprintf(w.pyname, sizeof(w.pyname), "python%d.%d", py->major, py->minor);
	snprintf(w.sp, sizeof(w.sp), "lib/%s/site-packages", w.pyname);
	if (!installer || !*installer || strpbrk(installer, "\r\n"))
		return vv_err(-EINVAL, "%s: bad installer name", w.wname);

	if ((r = open_zip(wheel_path, w.wname, &w.za)) < 0)
		return r;
	if ((r = scan(&w)) < 0 || (r = find_distinfo(&w)) < 0 || (r = read_control(&w)) < 0 ||
	    (r = install_members(&w)) < 0 || (r = install_entry_points(&w)) < 0 ||
	    (r = write_installer_and_record(&w, installer)) < 0)
		goto out;
	if (info) {
		info->name = w.name;
		info->version = w.version;
		w.name = w.version = NULL;
	}
out:
	wheel_free(&w);
	return r;
}

void vv_wheel_info_release(struct vv_wheel_info *info)
{
	if (!info)
		return;
	free(info->name);
	free(info->version);
	info->name = info->version = NULL;
}

int vv_wheel_mtime(const char *wheel_path, int64_t *mtime_ns)
{
	zip_t *za;
	const char *wname = base_name(wheel_path);
	int r = open_zip(wheel_path, wname, &za);
	if (r < 0)
		return r;
	zip_int64_t n = zip_get_num_entries(za, 0);
	int64_t best = 0;
	for (zip_int64_t i = 0; i < n; i++) {
		zip_stat_t sb;
		zip_stat_init(&sb);
		if (zip_stat_index(za, (zip_uint64_t)i, 0, &sb) < 0) {
			zip_discard(za);
			return vv_err(-EINVAL, "%s: cannot stat member %lld", wname, (long long)i);
		}
		if (sb.valid & ZIP_STAT_MTIME) {
			int64_t t = zip_time_ns(sb.mtime);
			if (t > best)
				best = t;
		}
	}
	zip_discard(za);
	*mtime_ns = best;
	return 0;
}

int vv_wheel_requires_python(const char *wheel_path, char **out)
{
	struct wheel w = {.wname = base_name(wheel_path)};
	char path[600], *text = NULL;
	const struct member *m;
	*out = NULL;
	int r = open_zip(wheel_path, w.wname, &w.za);
	if (r < 0)
		return r;
	if ((r = scan(&w)) < 0 || (r = find_distinfo(&w)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/METADATA", w.distinfo);
	if (!(m = find_member(&w, path))) {
		r = werr(&w, path, "missing");
		goto out;
	}
	if ((r = read_member(&w, m, MAX_RECORD, &text, NULL)) < 0)
		goto out;
	if (header_value(text, "Requires-Python", out) < 0)
		r = vv_err(-ENOMEM, "%s: out of memory", w.wname);
	free(text);
out:
	wheel_free(&w);
	return r;
}
