/*
 * journal.c - per-env change log since the committed root (format in journal.h).
 *
 * Appends are one write(2) each on an O_APPEND fd, so a killed daemon leaves whole
 * records; only a power loss can tear the last one, which replay then ignores.
 *
 * The format only: nothing here knows the live model. Its writers are handed the paths
 * and values to record, and vv_journal_read hands each record to a callback (the live
 * model's replay, live/replay.c).
 */
#include "env/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/vec.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"

#define JOURNAL_MAGIC "venvfs-journal 1 "
#define JOURNAL_MAX ((size_t)1 << 30)

/* ---- is it pending -------------------------------------------------------------- */

int vv_journal_pending(struct vv_store *st, const char *name, const vv_oid *root)
{
	int fd = openat(st->journalfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : vv_err_sys(-errno, "cannot open journal/%s", name);
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	int e = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? vv_err_sys(-e, "cannot read journal/%s", name) : 0;
	buf[n] = 0;
	char hex[VV_OID_HEX + 1], want[VV_OID_HEX + 32];
	vv_oid_hex(root, hex);
	snprintf(want, sizeof(want), JOURNAL_MAGIC "%s\n", hex);
	if (strncmp(buf, want, strlen(want)))
		return 0; /* names another root: stale, ignored */
	/* `b` records say which boot wrote what follows: alone they change nothing */
	const char *p = buf + strlen(want);
	while (!strncmp(p, "b ", 2) && strlen(p) >= 2 + VV_BOOT_ID_LEN + 1 &&
	       p[2 + VV_BOOT_ID_LEN] == '\n')
		p += 2 + VV_BOOT_ID_LEN + 1;
	return *p != 0;
}

/* ---- writing ------------------------------------------------------------------- */

struct jbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void jb_add(struct jbuf *b, const void *data, size_t len)
{
	if (b->err)
		return;
	/* n == cap: each VV_GROW doubles (256 bytes first) until len bytes and a NUL fit */
	while (b->len + len + 1 > b->cap) {
		if (VV_GROW(b->p, b->cap, b->cap, 256) < 0) {
			b->err = -ENOMEM;
			return;
		}
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = 0;
}

static void jb_fmt(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_fmt(struct jbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->err = -EINVAL;
		return;
	}
	jb_add(b, tmp, (size_t)n);
}

static void jb_str(struct jbuf *b, const char *s)
{
	size_t len = strlen(s);
	jb_fmt(b, " %zu:", len);
	jb_add(b, s, len);
}

static int header(const vv_oid *root, char *buf, size_t size)
{
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(root, hex);
	return snprintf(buf, size, JOURNAL_MAGIC "%s\n", hex);
}


int vv_journal_reset(struct vv_store *st, const char *name, const vv_oid *root, int *jfd)
{
	vv_journal_close(jfd);
	char head[128];
	int hl = header(root, head, sizeof(head));
	/* write the new journal beside and rename it over: the old one (for the previous
	 * root) stays valid until the new one replaces it, and either is harmless */
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "journal.%d.%lx", (int)getpid(), (unsigned long)random());
	int fd = openat(st->tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return vv_err_sys(-errno, "cannot create journal for env '%s'", name);
	int r = vv_write_all(fd, head, (size_t)hl);
	if (r == 0 && renameat(st->tmpfd, tmp, st->journalfd, name) < 0)
		r = vv_err_sys(-errno, "cannot install journal for env '%s'", name);
	if (r < 0) {
		close(fd);
		unlinkat(st->tmpfd, tmp, 0);
		return r;
	}
	/* reopen for appending */
	close(fd);
	fd = openat(st->journalfd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return vv_err_sys(-errno, "cannot open journal of env '%s'", name);
	*jfd = fd;
	return 0;
}

/* Open the journal for appending; start a new one if it is missing or stale. */
int vv_journal_open(struct vv_store *st, const char *name, const vv_oid *root, int *jfd)
{
	if (*jfd >= 0)
		return 0;
	char head[128], have[128];
	int hl = header(root, head, sizeof(head));
	int fd = openat(st->journalfd, name, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		ssize_t n = pread(fd, have, (size_t)hl, 0);
		if (n == hl && !memcmp(have, head, (size_t)hl)) {
			*jfd = fd;
			return 0;
		}
		close(fd);
	}
	return vv_journal_reset(st, name, root, jfd);
}

/* End the record with its newline and write it with one write(2). */
static int append(int fd, struct jbuf *b)
{
	int r = b->err;
	if (r == 0) {
		jb_add(b, "\n", 1);
		if ((r = b->err) == 0)
			r = vv_write_all(fd, b->p, b->len);
	}
	free(b->p);
	return r;
}

static int with_path(int fd, struct jbuf *b, const char *path)
{
	jb_str(b, path);
	return append(fd, b);
}

int vv_journal_put(int fd, const char *path, char kind, unsigned mode, uint64_t size,
		   int64_t mtime_ns, const vv_oid *oid, const struct vv_pycent *pyc,
		   const struct vv_recent *rec)
{
	struct jbuf b = { 0 };
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(oid, hex);
	jb_fmt(&b, "c %c %o %" PRIu64 " %" PRId64 " %s", kind, mode, size, mtime_ns, hex);
	if (kind == VV_PYC) {
		struct vv_pycent z = { 0 };
		const struct vv_pycent *v = pyc ? pyc : &z;
		jb_fmt(&b, ",%" PRIu32 ",%u,%u", v->hdr, (unsigned)v->nsub, (unsigned)v->sufl);
	} else if (kind == VV_RECORD) {
		struct vv_recent z = { 0 };
		const struct vv_recent *v = rec ? rec : &z;
		jb_fmt(&b, ",%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRIu32, v->k, v->sum,
		       v->smin, v->smax);
	}
	return with_path(fd, &b, path);
}

int vv_journal_stage(int fd, const char *path, unsigned mode, const char *stage)
{
	struct jbuf b = { 0 };
	jb_fmt(&b, "w %o %s", mode, stage);
	return with_path(fd, &b, path);
}

int vv_journal_boot(int fd)
{
	const char *id = vv_boot_id();
	if (!*id) /* unknown: every record is trusted as written in this boot */
		return 0;
	struct jbuf b = { 0 };
	jb_fmt(&b, "b %s", id);
	return append(fd, &b);
}

int vv_journal_sealed(int fd, const char *stage, uint64_t size, const vv_oid *oid)
{
	struct jbuf b = { 0 };
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(oid, hex);
	jb_fmt(&b, "s %s %" PRIu64 " %s", stage, size, hex);
	return append(fd, &b);
}

int vv_journal_synced(int fd, const char *stage)
{
	struct jbuf b = { 0 };
	jb_fmt(&b, "f %s", stage);
	return append(fd, &b);
}

int vv_journal_mkdir(int fd, const char *path, unsigned mode, int64_t mtime_ns)
{
	struct jbuf b = { 0 };
	jb_fmt(&b, "d %o %" PRId64, mode, mtime_ns);
	return with_path(fd, &b, path);
}

int vv_journal_mknod(int fd, const char *path, char kind, unsigned mode, int64_t mtime_ns)
{
	if (!vv_kind_special((unsigned char)kind))
		return vv_err(-EINVAL, "journal record for '%s': bad node kind %d", path, kind);
	struct jbuf b = { 0 };
	jb_fmt(&b, "n %c %o %" PRId64, kind, mode, mtime_ns);
	return with_path(fd, &b, path);
}

int vv_journal_symlink(int fd, const char *path, const char *target, int64_t mtime_ns)
{
	struct jbuf b = { 0 };
	jb_fmt(&b, "l %" PRId64, mtime_ns);
	jb_str(&b, target);
	return with_path(fd, &b, path);
}

int vv_journal_remove(int fd, const char *path)
{
	struct jbuf b = { 0 };
	jb_add(&b, "u", 1);
	jb_str(&b, path);
	return append(fd, &b);
}

int vv_journal_rename(int fd, const char *from, const char *to, unsigned flags)
{
	struct jbuf b = { 0 };
	jb_fmt(&b, "r %u", flags);
	jb_str(&b, from);
	jb_str(&b, to);
	return append(fd, &b);
}

int vv_journal_attr(int fd, const char *path, unsigned mode, int64_t mtime_ns)
{
	struct jbuf b = { 0 };
	jb_fmt(&b, "a %o %" PRId64, mode, mtime_ns);
	return with_path(fd, &b, path);
}

int vv_journal_datasync(struct vv_store *st, int fd, const char *name, bool dir)
{
	if (fd >= 0 && fdatasync(fd) < 0)
		return vv_err_sys(-errno, "fsync of journal of env '%s'", name);
	if (fd >= 0 && dir && fsync(st->journalfd) < 0 && errno != EINVAL)
		return vv_err_sys(-errno, "fsync of journal/ for env '%s'", name);
	return 0;
}

void vv_journal_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- parsing ------------------------------------------------------------------- */

struct cur {
	const char *p, *end;
};

static int c_char(struct cur *c, char ch)
{
	if (c->p >= c->end)
		return 0;
	if (*c->p != ch)
		return -EUCLEAN;
	c->p++;
	return 1;
}

/* Unsigned number in base 8 or 10, no leading zeros (except "0"), no overflow. */
static int c_num(struct cur *c, int base, unsigned long long max, unsigned long long *out)
{
	const char *s = c->p;
	unsigned long long v = 0;
	while (c->p < c->end && *c->p >= '0' && *c->p < '0' + base) {
		unsigned d = (unsigned)(*c->p - '0');
		if (d > max || v > (max - d) / (unsigned)base)
			return -EUCLEAN;
		v = v * (unsigned)base + d;
		c->p++;
	}
	if (c->p == s)
		return c->p >= c->end ? 0 : -EUCLEAN;
	if (*s == '0' && c->p - s > 1)
		return -EUCLEAN;
	if (c->p >= c->end)
		return 0;
	*out = v;
	return 1;
}

static int c_snum(struct cur *c, long long *out)
{
	bool neg = false;
	if (c->p < c->end && *c->p == '-') {
		neg = true;
		c->p++;
	}
	unsigned long long v;
	int r = c_num(c, 10, (unsigned long long)INT64_MAX, &v);
	if (r <= 0)
		return r;
	*out = neg ? -(long long)v : (long long)v;
	return 1;
}

/* " LEN:BYTES" */
static int c_str(struct cur *c, const char **s, size_t *len)
{
	int r;
	unsigned long long l;
	if ((r = c_char(c, ' ')) <= 0 || (r = c_num(c, 10, 65536, &l)) <= 0 ||
	    (r = c_char(c, ':')) <= 0)
		return r;
	if ((size_t)(c->end - c->p) < l)
		return 0;
	if (l == 0 || memchr(c->p, 0, (size_t)l))
		return -EUCLEAN;
	*s = c->p;
	*len = (size_t)l;
	c->p += l;
	return 1;
}

#define STEP(x)                                                                            \
	do {                                                                               \
		int r_ = (x);                                                              \
		if (r_ <= 0)                                                               \
			return r_;                                                         \
	} while (0)

/* " MODE MTIME LEN:PATH", the rest of 'd', 'a' and 'n' records. */
static int c_mode_mtime_path(struct cur *c, struct vv_jrec *out)
{
	unsigned long long u;
	long long s;
	STEP(c_char(c, ' '));
	STEP(c_num(c, 8, 07777, &u));
	out->mode = (unsigned)u;
	STEP(c_char(c, ' '));
	STEP(c_snum(c, &s));
	out->mtime_ns = s;
	return c_str(c, &out->a, &out->alen);
}

/* A stage name (16 hex digits). */
static int c_stage(struct cur *c, struct vv_jrec *out)
{
	if ((size_t)(c->end - c->p) < VV_ODB_STAGE_LEN)
		return 0;
	if (!vv_odb_stage_name_ok(c->p, VV_ODB_STAGE_LEN))
		return -EUCLEAN;
	memcpy(out->stage, c->p, VV_ODB_STAGE_LEN);
	c->p += VV_ODB_STAGE_LEN;
	return 1;
}

/* An object id (64 hex digits) into out->oidhex. */
static int c_oid(struct cur *c, struct vv_jrec *out)
{
	if ((size_t)(c->end - c->p) < VV_OID_HEX)
		return 0;
	memcpy(out->oidhex, c->p, VV_OID_HEX);
	c->p += VV_OID_HEX;
	vv_oid tmp;
	return vv_oid_from_hex(&tmp, out->oidhex, VV_OID_HEX) < 0 ? -EUCLEAN : 1;
}

int vv_journal_parse(const char *buf, size_t len, struct vv_jrec *out)
{
	struct cur c = { buf, buf + len };
	unsigned long long u;
	long long s;
	memset(out, 0, sizeof(*out));
	if (len < 2)
		return 0;
	out->op = *c.p++;
	switch (out->op) {
	case 'c':
		STEP(c_char(&c, ' '));
		if (c.p >= c.end)
			return 0;
		out->kind = *c.p++;
		if (!vv_kind_file((unsigned char)out->kind))
			return -EUCLEAN;
		STEP(c_char(&c, ' '));
		STEP(c_num(&c, 8, 07777, &u));
		out->mode = (unsigned)u;
		STEP(c_char(&c, ' '));
		STEP(c_num(&c, 10, UINT64_MAX, &out->size));
		STEP(c_char(&c, ' '));
		STEP(c_snum(&c, &s));
		out->mtime_ns = s;
		STEP(c_char(&c, ' '));
		STEP(c_oid(&c, out));
		if (out->kind == VV_PYC) {
			STEP(c_char(&c, ','));
			STEP(c_num(&c, 10, UINT32_MAX, &u));
			out->pyc.hdr = (uint32_t)u;
			STEP(c_char(&c, ','));
			STEP(c_num(&c, 10, UINT16_MAX, &u));
			out->pyc.nsub = (uint16_t)u;
			STEP(c_char(&c, ','));
			STEP(c_num(&c, 10, UINT16_MAX, &u));
			out->pyc.sufl = (uint16_t)u;
		} else if (out->kind == VV_RECORD) {
			STEP(c_char(&c, ','));
			STEP(c_num(&c, 10, UINT32_MAX, &u));
			out->rec.k = (uint32_t)u;
			STEP(c_char(&c, ','));
			STEP(c_num(&c, 10, UINT32_MAX, &u));
			out->rec.sum = (uint32_t)u;
			STEP(c_char(&c, ','));
			STEP(c_num(&c, 10, UINT32_MAX, &u));
			out->rec.smin = (uint32_t)u;
			STEP(c_char(&c, ','));
			STEP(c_num(&c, 10, UINT32_MAX, &u));
			out->rec.smax = (uint32_t)u;
		}
		STEP(c_str(&c, &out->a, &out->alen));
		break;
	case 'w':
		STEP(c_char(&c, ' '));
		STEP(c_num(&c, 8, 07777, &u));
		out->mode = (unsigned)u;
		STEP(c_char(&c, ' '));
		STEP(c_stage(&c, out));
		STEP(c_str(&c, &out->a, &out->alen));
		break;
	case 's':
		STEP(c_char(&c, ' '));
		STEP(c_stage(&c, out));
		STEP(c_char(&c, ' '));
		STEP(c_num(&c, 10, UINT64_MAX, &out->size));
		STEP(c_char(&c, ' '));
		STEP(c_oid(&c, out));
		break;
	case 'f':
		STEP(c_char(&c, ' '));
		STEP(c_stage(&c, out));
		break;
	case 'b':
		STEP(c_char(&c, ' '));
		if ((size_t)(c.end - c.p) < VV_BOOT_ID_LEN)
			return 0;
		for (size_t i = 0; i < VV_BOOT_ID_LEN; i++) {
			char ch = c.p[i];
			if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || ch == '-'))
				return -EUCLEAN;
		}
		memcpy(out->boot, c.p, VV_BOOT_ID_LEN);
		c.p += VV_BOOT_ID_LEN;
		break;
	case 'n':
		STEP(c_char(&c, ' '));
		if (c.p >= c.end)
			return 0;
		out->kind = *c.p++;
		if (!vv_kind_special((unsigned char)out->kind))
			return -EUCLEAN;
		STEP(c_mode_mtime_path(&c, out));
		break;
	case 'd':
	case 'a':
		STEP(c_mode_mtime_path(&c, out));
		break;
	case 'l':
		STEP(c_char(&c, ' '));
		STEP(c_snum(&c, &s));
		out->mtime_ns = s;
		STEP(c_str(&c, &out->a, &out->alen));
		STEP(c_str(&c, &out->b, &out->blen));
		break;
	case 'u':
		STEP(c_str(&c, &out->a, &out->alen));
		break;
	case 'r':
		STEP(c_char(&c, ' '));
		STEP(c_num(&c, 10, 3, &u));
		out->flags = (unsigned)u;
		STEP(c_str(&c, &out->a, &out->alen));
		STEP(c_str(&c, &out->b, &out->blen));
		break;
	default:
		return -EUCLEAN;
	}
	STEP(c_char(&c, '\n'));
	return (int)(c.p - buf);
}

/* ---- reading ------------------------------------------------------------------- */

static int journal_read(struct vv_store *st, const char *name, const vv_oid *root,
			vv_journal_fn fn, void *ctx, bool repair)
{
	char *buf = NULL;
	size_t len = 0;
	int r = vv_read_file_at(st->journalfd, name, JOURNAL_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	char head[128];
	int hl = header(root, head, sizeof(head));
	if (len < (size_t)hl || memcmp(buf, head, (size_t)hl)) {
		free(buf); /* stale: written for another root, already part of the commit */
		return 0;
	}
	size_t off = (size_t)hl;
	int records = 0;
	r = 0;
	while (off < len) {
		struct vv_jrec j;
		int n = vv_journal_parse(buf + off, len - off, &j);
		if (n <= 0) {
			/* a torn or damaged tail: cut it so later appends stay readable */
			if (!repair)
				break;
			fprintf(stderr, "venvfs: env '%s': journal ends with %zu unusable bytes\n",
				name, len - off);
			int fd = st->readonly ? -1 : openat(st->journalfd, name,
							    O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd >= 0) {
				if (ftruncate(fd, (off_t)off) < 0)
					fprintf(stderr, "venvfs: env '%s': journal: %s\n", name,
						strerror(errno));
				close(fd);
			}
			break;
		}
		records++;
		if ((r = fn(ctx, &j)) < 0)
			break;
		off += (size_t)n;
	}
	free(buf);
	return r < 0 ? r : records;
}

int vv_journal_read(struct vv_store *st, const char *name, const vv_oid *root,
		    vv_journal_fn fn, void *ctx)
{
	return journal_read(st, name, root, fn, ctx, true);
}

int vv_journal_scan(struct vv_store *st, const char *name, const vv_oid *root,
		    vv_journal_fn fn, void *ctx)
{
	return journal_read(st, name, root, fn, ctx, false);
}

/* ---- lost content ------------------------------------------------------------- */

/* Is p (plen bytes) the path a, or below it? */
static bool under(const char *p, size_t plen, const char *a, size_t alen)
{
	return plen >= alen && !memcmp(p, a, alen) && (plen == alen || p[alen] == '/');
}

bool vv_jlost_holds(const struct vv_jlost *l, const char *path, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (under(path, len, l->paths[i], strlen(l->paths[i])))
			return true;
	return false;
}

/* Drop the paths at or below a. */
static void lost_drop(struct vv_jlost *l, const char *a, size_t alen)
{
	for (size_t i = 0; i < l->n;) {
		if (under(l->paths[i], strlen(l->paths[i]), a, alen)) {
			free(l->paths[i]);
			l->paths[i] = l->paths[--l->n];
		} else {
			i++;
		}
	}
}

/* Move the paths marked in moved[] (at or below a path flen bytes long) to the same
 * place below to. */
static int lost_move(struct vv_jlost *l, size_t flen, const char *to, size_t tlen,
		     const bool *moved)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!moved[i])
			continue;
		size_t plen = strlen(l->paths[i]);
		char *np = malloc(tlen + plen - flen + 1);
		if (!np)
			return -ENOMEM;
		memcpy(np, to, tlen);
		memcpy(np + tlen, l->paths[i] + flen, plen - flen + 1);
		free(l->paths[i]);
		l->paths[i] = np;
	}
	return 0;
}

int vv_jlost_step(struct vv_jlost *l, const struct vv_jrec *j, bool missing)
{
	if (j->op == 'b' || j->op == 's' || j->op == 'f')
		return 0; /* about stages and boots, not paths */
	const char *p = j->op == 'l' ? j->b : j->a;
	size_t plen = j->op == 'l' ? j->blen : j->alen;
	if (j->op == 'r') {
		bool *ma = calloc(l->n + 1, sizeof(bool)), *mb = calloc(l->n + 1, sizeof(bool));
		int r = ma && mb ? 0 : -ENOMEM;
		for (size_t i = 0; r == 0 && i < l->n; i++) {
			size_t len = strlen(l->paths[i]);
			ma[i] = under(l->paths[i], len, j->a, j->alen);
			mb[i] = under(l->paths[i], len, j->b, j->blen);
		}
		if (r == 0 && (j->flags & 2 /* RENAME_EXCHANGE */)) {
			/* both ways at once: mark first, then move each side */
			bool *mb2 = mb;
			if ((r = lost_move(l, j->alen, j->b, j->blen, ma)) == 0) {
				for (size_t i = 0; i < l->n; i++)
					mb2[i] = mb2[i] && !ma[i];
				r = lost_move(l, j->blen, j->a, j->alen, mb2);
			}
		} else if (r == 0) {
			/* what `to` held is replaced */
			for (size_t i = 0; i < l->n;) {
				if (mb[i] && !ma[i]) {
					free(l->paths[i]);
					l->n--;
					l->paths[i] = l->paths[l->n];
					ma[i] = ma[l->n];
					mb[i] = mb[l->n];
				} else {
					i++;
				}
			}
			r = lost_move(l, j->alen, j->b, j->blen, ma);
		}
		free(ma);
		free(mb);
		return r;
	}
	if (j->op == 'a')
		return 0;
	lost_drop(l, p, plen); /* removed, or given new content */
	if (!missing || j->op == 'u')
		return 0;
	if (VV_GROW(l->paths, l->n, l->cap, 8) < 0)
		return -ENOMEM;
	if (!(l->paths[l->n] = strndup(p, plen)))
		return -ENOMEM;
	l->n++;
	return 0;
}

void vv_jlost_free(struct vv_jlost *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	memset(l, 0, sizeof(*l));
}
