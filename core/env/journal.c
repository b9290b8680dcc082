/*
 * journal.c - per-env change log since the committed root (format in journal.h).
 *
 * Appends are one write(2) each on an O_APPEND fd, so a killed daemon leaves whole
 * records; only a power loss can tear the last one, which replay then ignores.
 */
#include "env/journal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "live/mtree.h"
#include "store/store.h"

#define JOURNAL_MAGIC "venvfs-journal 1 "
#define JOURNAL_MAX ((size_t)1 << 30)

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
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (b->len + len + 1 > cap)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
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

static int header(const struct vv_env *env, char *buf, size_t size)
{
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&env->cfg.root, hex);
	return snprintf(buf, size, JOURNAL_MAGIC "%s\n", hex);
}

int vv_journal_reset(struct vv_env *env)
{
	vv_journal_close(env);
	struct vv_store *st = env->set->st;
	char head[128];
	int hl = header(env, head, sizeof(head));
	/* write the new journal beside and rename it over: the old one (for the previous
	 * root) stays valid until the new one replaces it, and either is harmless */
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "journal.%d.%lx", (int)getpid(), (unsigned long)random());
	int fd = openat(st->tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return vv_err_sys(-errno, "cannot create journal for env '%s'", env->name);
	int r = vv_write_all(fd, head, (size_t)hl);
	if (r == 0 && renameat(st->tmpfd, tmp, st->journalfd, env->name) < 0)
		r = vv_err_sys(-errno, "cannot install journal for env '%s'", env->name);
	if (r < 0) {
		close(fd);
		unlinkat(st->tmpfd, tmp, 0);
		return r;
	}
	/* reopen for appending */
	close(fd);
	fd = openat(st->journalfd, env->name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return vv_err_sys(-errno, "cannot open journal of env '%s'", env->name);
	env->jfd = fd;
	return 0;
}

/* Open the journal for appending; start a new one if it is missing or stale. */
static int jopen(struct vv_env *env)
{
	if (env->jfd >= 0)
		return 0;
	struct vv_store *st = env->set->st;
	char head[128], have[128];
	int hl = header(env, head, sizeof(head));
	int fd = openat(st->journalfd, env->name, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		ssize_t n = pread(fd, have, (size_t)hl, 0);
		if (n == hl && !memcmp(have, head, (size_t)hl)) {
			env->jfd = fd;
			return 0;
		}
		close(fd);
	}
	return vv_journal_reset(env);
}

static int append(struct vv_env *env, struct jbuf *b)
{
	int r = b->err;
	if (r == 0 && !env->replaying && !env->removed) {
		jb_add(b, "\n", 1);
		if ((r = b->err) == 0 && (r = jopen(env)) == 0)
			r = vv_write_all(env->jfd, b->p, b->len);
		if (r < 0)
			fprintf(stderr, "venvfs: env '%s': journal: %s\n", env->name, vv_errmsg());
	}
	free(b->p);
	return r;
}

static int with_path(struct vv_env *env, struct jbuf *b, struct vv_node *n)
{
	char *rel = vv_node_relpath(n);
	if (!rel) {
		free(b->p);
		return -ENOMEM;
	}
	jb_str(b, rel);
	free(rel);
	return append(env, b);
}

int vv_journal_put(struct vv_env *env, struct vv_node *n)
{
	if (env->replaying)
		return 0;
	struct jbuf b = { 0 };
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&n->oid, hex);
	jb_fmt(&b, "c %c %o %" PRIu64 " %" PRId64 " %s", n->kind, n->mode, n->size, n->mtime_ns,
	       hex);
	return with_path(env, &b, n);
}

int vv_journal_mkdir(struct vv_env *env, struct vv_node *n)
{
	if (env->replaying)
		return 0;
	struct jbuf b = { 0 };
	jb_fmt(&b, "d %o %" PRId64, n->mode, n->mtime_ns);
	return with_path(env, &b, n);
}

int vv_journal_symlink(struct vv_env *env, struct vv_node *n)
{
	if (env->replaying)
		return 0;
	struct jbuf b = { 0 };
	jb_fmt(&b, "l %" PRId64, n->mtime_ns);
	jb_str(&b, n->target);
	return with_path(env, &b, n);
}

int vv_journal_remove(struct vv_env *env, const char *relpath)
{
	if (env->replaying)
		return 0;
	struct jbuf b = { 0 };
	jb_add(&b, "u", 1);
	jb_str(&b, relpath);
	return append(env, &b);
}

int vv_journal_rename(struct vv_env *env, const char *from, const char *to, unsigned flags)
{
	if (env->replaying)
		return 0;
	struct jbuf b = { 0 };
	jb_fmt(&b, "r %u", flags);
	jb_str(&b, from);
	jb_str(&b, to);
	return append(env, &b);
}

int vv_journal_attr(struct vv_env *env, struct vv_node *n)
{
	if (env->replaying)
		return 0;
	struct jbuf b = { 0 };
	jb_fmt(&b, "a %o %" PRId64, n->mode, n->mtime_ns);
	return with_path(env, &b, n);
}

int vv_journal_sync(struct vv_env *env)
{
	if (env->jfd >= 0 && fdatasync(env->jfd) < 0)
		return vv_err_sys(-errno, "fsync of journal of env '%s'", env->name);
	return 0;
}

void vv_journal_close(struct vv_env *env)
{
	if (env->jfd >= 0)
		close(env->jfd);
	env->jfd = -1;
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
		if (out->kind != VV_REG && out->kind != VV_SCRIPT)
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
		if ((size_t)(c.end - c.p) < VV_OID_HEX)
			return 0;
		memcpy(out->oidhex, c.p, VV_OID_HEX);
		c.p += VV_OID_HEX;
		{
			vv_oid tmp;
			if (vv_oid_from_hex(&tmp, out->oidhex, VV_OID_HEX) < 0)
				return -EUCLEAN;
		}
		STEP(c_str(&c, &out->a, &out->alen));
		break;
	case 'd':
	case 'a':
		STEP(c_char(&c, ' '));
		STEP(c_num(&c, 8, 07777, &u));
		out->mode = (unsigned)u;
		STEP(c_char(&c, ' '));
		STEP(c_snum(&c, &s));
		out->mtime_ns = s;
		STEP(c_str(&c, &out->a, &out->alen));
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

/* ---- replay -------------------------------------------------------------------- */

/* Split "a/b/c" into the node for "a/b" and the name "c" (copied into name). */
static int walk_parent(struct vv_env *env, const char *path, size_t len, struct vv_node **dir,
		       char *name)
{
	char *p = strndup(path, len);
	if (!p)
		return -ENOMEM;
	char *slash = strrchr(p, '/');
	const char *base = slash ? slash + 1 : p;
	if (slash)
		*slash = 0;
	int r = -EINVAL;
	if (strlen(base) && strlen(base) <= 255) {
		strcpy(name, base);
		r = vv_env_walk(env, slash ? p : "", dir);
	}
	free(p);
	return r;
}

static int apply(struct vv_env *env, const struct vv_jrec *j)
{
	struct vv_node *dir, *dir2, *n;
	char name[256], name2[256];
	int r;
	const char *pa = j->op == 'l' ? j->b : j->a;
	size_t pl = j->op == 'l' ? j->blen : j->alen;
	if ((r = walk_parent(env, pa, pl, &dir, name)) < 0)
		return r;
	switch (j->op) {
	case 'c': {
		struct vv_tree_ent e = {
			.kind = (uint8_t)j->kind,
			.mode = (uint16_t)j->mode,
			.size = j->size,
			.mtime_ns = j->mtime_ns,
		};
		if ((r = vv_oid_from_hex(&e.oid, j->oidhex, VV_OID_HEX)) < 0)
			return r;
		return vv_node_put(dir, name, &e);
	}
	case 'd':
		if ((r = vv_node_mkdir(dir, name, (uint16_t)j->mode, &n)) < 0)
			return r;
		n->mtime_ns = n->ctime_ns = n->atime_ns = j->mtime_ns;
		return 0;
	case 'l': {
		char *target = strndup(j->a, j->alen);
		if (!target)
			return -ENOMEM;
		r = vv_node_symlink(dir, name, target, &n);
		free(target);
		if (r == 0)
			n->mtime_ns = n->ctime_ns = n->atime_ns = j->mtime_ns;
		return r;
	}
	case 'u':
		if ((r = vv_node_lookup(dir, name, &n)) < 0)
			return r;
		return n->kind == VV_DIR ? vv_node_rmdir(dir, name) : vv_node_unlink(dir, name);
	case 'r':
		if ((r = walk_parent(env, j->b, j->blen, &dir2, name2)) < 0)
			return r;
		return vv_node_rename(dir, name, dir2, name2, j->flags);
	case 'a':
		if ((r = vv_node_lookup(dir, name, &n)) < 0)
			return r;
		return vv_node_setattr(n, n->kind == VV_LNK ? -1 : (int)j->mode, -1, j->mtime_ns);
	}
	return -EINVAL;
}

int vv_journal_replay(struct vv_env *env)
{
	struct vv_store *st = env->set->st;
	char *buf = NULL;
	size_t len = 0;
	int r = vv_read_file_at(st->journalfd, env->name, JOURNAL_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	char head[128];
	int hl = header(env, head, sizeof(head));
	if (len < (size_t)hl || memcmp(buf, head, (size_t)hl)) {
		free(buf); /* stale: written for another root, already part of the commit */
		return 0;
	}
	env->replaying = true;
	size_t off = (size_t)hl;
	int applied = 0;
	while (off < len) {
		struct vv_jrec j;
		int n = vv_journal_parse(buf + off, len - off, &j);
		if (n <= 0) {
			/* a torn or damaged tail: cut it so later appends stay readable */
			fprintf(stderr, "venvfs: env '%s': journal ends with %zu unusable bytes\n",
				env->name, len - off);
			int fd = st->readonly ? -1 : openat(st->journalfd, env->name,
							    O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd >= 0) {
				if (ftruncate(fd, (off_t)off) < 0)
					fprintf(stderr, "venvfs: env '%s': journal: %s\n", env->name,
						strerror(errno));
				close(fd);
			}
			break;
		}
		r = apply(env, &j);
		if (r < 0)
			fprintf(stderr, "venvfs: env '%s': journal record %d (%c) skipped: %s\n",
				env->name, applied + 1, j.op, strerror(-r));
		else
			applied++;
		off += (size_t)n;
	}
	env->replaying = false;
	free(buf);
	/* keep appending to this journal: it still describes changes over the root */
	if (applied)
		env->jrecords += (uint64_t)applied;
	return applied;
}
