/*
 * mtree.c - the live model of a store's environments (see mtree.h for the model).
 *
 * Sections: fd refs, node basics, directories (lookup, materialize, listing), synthesized
 * entries, namespace changes, content (stage, publish), commit, envs, envset.
 */
#include "live/mtree.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/damaged.h"
#include "env/envlock.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "env/history.h"
#include "env/journal.h"
#include "pkg/seed.h"
#include "store/store.h"
#include "python/synth.h"
#include "live/live.h"

/* A stored console script starts with "#!python" + SUFFIX + "\n" (SUFFIX: [0-9.]*, as
 * in python3.11); the mount shows the env's interpreter there instead. */
#define SCRIPT_MAGIC "#!python"
#define SCRIPT_MAGIC_LEN 8
#define SCRIPT_SFX_MAX 15

/* Slots of env->syn: the three interpreter links and lib64, then one per synthesized
 * file of synth.h. */
enum { SYN_LIB64, SYN_PY, SYN_PY3, SYN_PYX, SYN_FILES, SYN_COUNT = SYN_FILES + VV_SYNTH_NFILES };
_Static_assert(SYN_COUNT <= 16, "env->syn is too small");

static bool syn_in_bin(int slot)
{
	return slot >= SYN_FILES ? vv_synth_in_bin((enum vv_synth_file)(slot - SYN_FILES))
				 : slot != SYN_LIB64;
}

int64_t vv_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- fd refs ------------------------------------------------------------------ */

struct vv_fdref *vv_fdref_new(int fd)
{
	struct vv_fdref *r = malloc(sizeof(*r));
	if (!r)
		return NULL;
	r->fd = fd;
	r->refs = 1;
	return r;
}

void vv_fdref_get(struct vv_fdref *r)
{
	__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
}

void vv_fdref_put(struct vv_fdref *r)
{
	if (r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		close(r->fd);
		free(r);
	}
}

/* ---- node basics --------------------------------------------------------------- */

static struct vv_node *node_new(struct vv_env *env, const char *name, size_t len, uint8_t kind)
{
	struct vv_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strndup(name, len);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->env = env;
	n->kind = kind;
	return n;
}

static void node_free(struct vv_node *n)
{
	if (n->base)
		vv_tree_unref(n->base);
	vv_fdref_put(n->stage);
	free(n->stage_envpath);
	free(n->kids);
	free(n->target);
	free(n->synth);
	free(n->name);
	free(n);
}

static struct vv_node *node_from_ent(struct vv_env *env, const struct vv_tree_ent *e)
{
	struct vv_node *n = node_new(env, e->name, e->namelen, e->kind);
	if (!n)
		return NULL;
	n->mode = e->mode;
	n->size = e->size;
	n->mtime_ns = n->ctime_ns = n->atime_ns = e->mtime_ns;
	n->oid = e->oid;
	if (e->kind == VV_LNK) {
		n->target = strdup(e->target);
		if (!n->target) {
			node_free(n);
			return NULL;
		}
	}
	return n;
}

static bool is_dir(const struct vv_node *n)
{
	return n->kind == VV_DIR;
}

static bool is_synth(const struct vv_node *n)
{
	return n->kind == VV_SYN_FILE || n->kind == VV_SYN_LINK;
}

/* An unlinked file nobody writes to any more will never be published: give its stage's
 * space back now instead of when the kernel forgets the inode (open read handles hold
 * their own reference). */
static void drop_dead_stage(struct vv_node *n)
{
	if (n->unlinked && !n->writers && n->stage && !n->publishing &&
	    n->kind != VV_DIR) {
		vv_fdref_put(n->stage);
		n->stage = NULL;
	}
}

/* Frees subtrees of materialized/clean dirs that are no longer reachable. Only nodes
 * without kernel references are freed; others stay until vv_node_forget. */
static void node_drop(struct vv_node *n)
{
	n->parent = NULL;
	n->unlinked = true;
	drop_dead_stage(n);
	if (n->nlookup == 0 && n->pins == 0) {
		for (size_t i = 0; i < n->nkids; i++)
			node_drop(n->kids[i]);
		node_free(n);
	}
}

/* ---- directories --------------------------------------------------------------- */

static int kid_cmp(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Binary search; returns the node or NULL, *idx the insertion point. */
static struct vv_node *kid_find(struct vv_node *dir, const char *name, size_t len, size_t *idx)
{
	size_t lo = 0, hi = dir->nkids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = kid_cmp(name, len, dir->kids[mid]->name);
		if (c == 0) {
			if (idx)
				*idx = mid;
			return dir->kids[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (idx)
		*idx = lo;
	return NULL;
}

static int kid_insert(struct vv_node *dir, size_t idx, struct vv_node *n)
{
	if (dir->nkids == dir->capkids) {
		size_t cap = dir->capkids ? dir->capkids * 2 : 8;
		struct vv_node **k = realloc(dir->kids, cap * sizeof(*k));
		if (!k)
			return vv_err(-ENOMEM, "out of memory");
		dir->kids = k;
		dir->capkids = cap;
	}
	memmove(dir->kids + idx + 1, dir->kids + idx, (dir->nkids - idx) * sizeof(*dir->kids));
	dir->kids[idx] = n;
	dir->nkids++;
	n->parent = dir;
	return 0;
}

static void kid_remove(struct vv_node *dir, struct vv_node *n)
{
	size_t idx;
	if (kid_find(dir, n->name, strlen(n->name), &idx) != n)
		return;
	memmove(dir->kids + idx, dir->kids + idx + 1, (dir->nkids - idx - 1) * sizeof(*dir->kids));
	dir->nkids--;
}

/* Make sure a clean dir has its tree. */
static int dir_base(struct vv_node *dir)
{
	if (dir->mat || dir->base)
		return 0;
	int r = vv_tree_get(dir->env->set->st, &dir->oid, &dir->base);
	if (r == -ENOENT || r == -EUCLEAN || r == -EIO) {
		/* a missing or damaged tree: EIO to the reader, logged once (damaged.h) */
		char what[300];
		snprintf(what, sizeof(what), "env %.200s, directory %.80s", dir->env->name,
			 dir->name);
		return vv_obj_report_bad(dir->env->set->st, &dir->oid, what,
					 r == -ENOENT ? "is missing from the store" :
					 "is a damaged tree");
	}
	if (r < 0)
		return vv_err_prefix(r, "directory '%s'", dir->name);
	return 0;
}

/* Turn every entry into a node so the listing can change. */
static int dir_materialize(struct vv_node *dir)
{
	if (dir->mat)
		return 0;
	int r = dir_base(dir);
	if (r < 0)
		return r;
	struct vv_tree *t = dir->base;
	struct vv_node **kids = calloc(t->n ? t->n : 1, sizeof(*kids));
	if (!kids)
		return vv_err(-ENOMEM, "out of memory");
	size_t j = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct vv_tree_ent *e = &t->ents[i];
		struct vv_node *n = NULL;
		if (j < dir->nkids && !kid_cmp(e->name, e->namelen, dir->kids[j]->name))
			n = dir->kids[j++];
		else if (!(n = node_from_ent(dir->env, e))) {
			for (size_t k = 0; k < i; k++)
				if (kids[k] && !kid_find(dir, kids[k]->name, strlen(kids[k]->name), NULL))
					node_free(kids[k]);
			free(kids);
			return vv_err(-ENOMEM, "out of memory");
		}
		n->parent = dir;
		kids[i] = n;
	}
	free(dir->kids);
	dir->kids = kids;
	dir->nkids = dir->capkids = t->n;
	if (!dir->capkids) {
		free(kids);
		dir->kids = NULL;
	}
	vv_tree_unref(t);
	dir->base = NULL;
	dir->mat = true;
	return 0;
}

/* A change is about to happen in dir: materialize it and its ancestors, mark them
 * dirty, and note the change time for the committer. */
static int dir_touch(struct vv_node *dir, bool stamp)
{
	for (struct vv_node *d = dir; d; d = d->parent) {
		int r = dir_materialize(d);
		if (r < 0)
			return r;
	}
	for (struct vv_node *d = dir; d && !d->dirty; d = d->parent)
		d->dirty = true;
	int64_t now = vv_now_ns();
	if (stamp)
		dir->mtime_ns = dir->ctime_ns = now;
	struct vv_env *env = dir->env;
	if (!env->first_change_ns)
		env->first_change_ns = now;
	env->last_change_ns = now;
	env->jrecords++;
	return 0;
}

static bool env_is_root(const struct vv_node *n)
{
	return n->env && n->env->root == n;
}

/* Is dir the env's top-level bin/ directory? */
static bool is_env_bin(const struct vv_node *dir)
{
	return dir->parent && env_is_root(dir->parent) && !strcmp(dir->name, "bin");
}

static const char *syn_name(const struct vv_env *env, int slot, char *buf)
{
	switch (slot) {
	case SYN_LIB64: return "lib64";
	case SYN_PY: return "python";
	case SYN_PY3: return "python3";
	case SYN_PYX: vv_python_name(&env->py, buf); return buf;
	}
	return vv_synth_name((enum vv_synth_file)(slot - SYN_FILES));
}

/* Visible synthesized node of dir named name, or NULL. */
/* The synthesized entry of dir named name (NULL if none); with hidden, also one the
 * user unlinked, which is then shown again (see vv_node_unlink). */
static struct vv_node *syn_lookup(struct vv_node *dir, const char *name, size_t len,
				  bool unhide)
{
	struct vv_env *env = dir->env;
	bool root = env_is_root(dir), bin = !root && is_env_bin(dir);
	if (!root && !bin)
		return NULL;
	for (size_t s = 0; s < env->nsyn; s++) {
		if (syn_in_bin((int)s) != bin || !env->syn[s])
			continue;
		if ((env->hidden & (1u << s)) && !unhide)
			continue;
		char buf[32];
		const char *sn = syn_name(env, (int)s, buf);
		if (strlen(sn) == len && !memcmp(sn, name, len)) {
			env->hidden &= ~(1u << s);
			env->syn[s]->parent = dir;
			return env->syn[s];
		}
	}
	return NULL;
}

static struct vv_node *syn_find(struct vv_node *dir, const char *name, size_t len)
{
	return syn_lookup(dir, name, len, false);
}

int vv_node_lookup(struct vv_node *dir, const char *name, struct vv_node **out)
{
	if (!is_dir(dir))
		return -ENOTDIR;
	size_t len = strlen(name);
	struct vv_node *n = syn_find(dir, name, len);
	if (n) {
		*out = n;
		return 0;
	}
	size_t idx;
	n = kid_find(dir, name, len, &idx);
	if (n) {
		*out = n;
		return 0;
	}
	if (dir->mat)
		return -ENOENT;
	int r = dir_base(dir);
	if (r < 0)
		return r;
	const struct vv_tree_ent *e = vv_tree_find(dir->base, name, len);
	if (!e)
		return -ENOENT;
	n = node_from_ent(dir->env, e);
	if (!n)
		return -ENOMEM;
	r = kid_insert(dir, idx, n);
	if (r < 0) {
		node_free(n);
		return r;
	}
	*out = n;
	return 0;
}

int vv_node_readdir(struct vv_node *dir, uint64_t off, vv_dir_fn fn, void *ctx)
{
	if (!is_dir(dir))
		return -ENOTDIR;
	struct vv_env *env = dir->env;
	bool root = env_is_root(dir), bin = !root && is_env_bin(dir);
	uint64_t i = 0;
	/* synthesized entries first, in slot order */
	if (root || bin) {
		for (size_t s = 0; s < env->nsyn; s++) {
			if (syn_in_bin((int)s) != bin || !env->syn[s] || (env->hidden & (1u << s)))
				continue;
			if (i++ < off)
				continue;
			char buf[32];
			env->syn[s]->parent = dir;
			if (fn(ctx, syn_name(env, (int)s, buf), env->syn[s]->kind, env->syn[s], i))
				return 0;
		}
	}
	if (dir->mat) {
		for (size_t k = 0; k < dir->nkids; k++) {
			struct vv_node *n = dir->kids[k];
			if ((root || bin) && syn_find(dir, n->name, strlen(n->name)))
				continue;
			if (i++ < off)
				continue;
			if (fn(ctx, n->name, n->kind, n, i))
				return 0;
		}
		return 0;
	}
	int r = dir_base(dir);
	if (r < 0)
		return r;
	struct vv_tree *t = dir->base;
	for (size_t k = 0; k < t->n; k++) {
		const struct vv_tree_ent *e = &t->ents[k];
		if ((root || bin) && syn_find(dir, e->name, e->namelen))
			continue;
		if (i++ < off)
			continue;
		struct vv_node *n = NULL;
		if ((r = vv_node_lookup(dir, e->name, &n)) < 0)
			return r;
		if (fn(ctx, e->name, e->kind, n, i))
			return 0;
	}
	return 0;
}

/* ---- stat ---------------------------------------------------------------------- */

/* The first line(s) shown for a script of env: interpreter "python" + sfx. */
static int shebang(const struct vv_env *env, const char *sfx, char **out, size_t *len)
{
	char *path = vv_env_path(env);
	if (!path)
		return -ENOMEM;
	int r = vv_synth_shebang(path, out, len);
	free(path);
	size_t sl = strlen(sfx);
	if (r < 0 || !sl)
		return r;
	/* put the suffix after the last "/bin/python" of the exec line */
	char *nl = strchr(*out, '\n'), *at = NULL;
	char *end = strncmp(*out, "#!/bin/sh", 9) ? nl : strchr(nl + 1, '\n');
	for (char *q = *out; (q = strstr(q, "/bin/python")) && q < end; q++)
		at = q + 11;
	char *x = at ? malloc(*len + sl + 1) : NULL;
	if (!x) {
		free(*out);
		return -ENOMEM;
	}
	size_t head = (size_t)(at - *out);
	memcpy(x, *out, head);
	memcpy(x + head, sfx, sl);
	memcpy(x + head + sl, at, *len - head + 1);
	free(*out);
	*out = x;
	*len += sl;
	return 0;
}

/* Read the stored first line of a script object: suffix into sfx, its length into
 * *skip. -EUCLEAN if the object is not a stored script. */
static int script_sfx(int fd, char *sfx, size_t *skip)
{
	char head[SCRIPT_MAGIC_LEN + SCRIPT_SFX_MAX + 2];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	if (n < SCRIPT_MAGIC_LEN + 1 || memcmp(head, SCRIPT_MAGIC, SCRIPT_MAGIC_LEN))
		return vv_err(-EUCLEAN, "script object does not start with #!python");
	size_t i = SCRIPT_MAGIC_LEN, k = 0;
	while (i < (size_t)n && k < SCRIPT_SFX_MAX &&
	       ((head[i] >= '0' && head[i] <= '9') || head[i] == '.'))
		sfx[k++] = head[i++];
	sfx[k] = 0;
	if (i >= (size_t)n || head[i] != '\n')
		return vv_err(-EUCLEAN, "script object has a bad first line");
	*skip = i + 1;
	return 0;
}

/* Shown prefix and hidden stored head of a script object. */
static int script_prefix(struct vv_node *n, int fd, char **out, size_t *len, size_t *skip)
{
	char sfx[SCRIPT_SFX_MAX + 1];
	int r = script_sfx(fd, sfx, skip);
	return r < 0 ? r : shebang(n->env, sfx, out, len);
}

/* Generate (or reuse) the content of a synthesized node. */
static int synth_content(struct vv_node *n)
{
	struct vv_env *env = n->env;
	if (n->synth && n->synth_epoch == env->epoch)
		return 0;
	char *path = vv_env_path(env);
	if (!path)
		return -ENOMEM;
	struct vv_synth_env se = {
		.path = path,
		.name = env->name,
		.prompt = env->cfg.prompt,
		.system_site = env->cfg.system_site,
		.without_pip = env->cfg.without_pip,
		.py = &env->py,
	};
	char *buf = NULL;
	size_t len = 0;
	int r = vv_synth_file((enum vv_synth_file)n->synth_which, &se, &buf, &len);
	free(path);
	if (r < 0)
		return r;
	free(n->synth);
	n->synth = buf;
	n->synthlen = len;
	n->synth_epoch = env->epoch;
	return 0;
}

static uint64_t node_size(struct vv_node *n)
{
	switch (n->kind) {
	case VV_REG:
		return n->stage ? n->ssize : n->size;
	case VV_SCRIPT: {
		if (n->stage)
			return n->ssize;
		/* shown and stored first lines differ by the same bytes whatever the
		 * suffix: "#!python" + SFX + "\n" becomes shebang("") with SFX inside */
		char *sb = NULL;
		size_t len = 0;
		if (shebang(n->env, "", &sb, &len) < 0 || n->size < SCRIPT_MAGIC_LEN + 1) {
			free(sb);
			return n->size;
		}
		free(sb);
		return n->size - (SCRIPT_MAGIC_LEN + 1) + len;
	}
	case VV_LNK:
		return strlen(n->target);
	case VV_SYN_LINK:
		return n->target ? strlen(n->target) : 0;
	case VV_SYN_FILE:
		if (n->stage)
			return n->ssize;
		return synth_content(n) < 0 ? 0 : n->synthlen;
	}
	return 0;
}

void vv_node_stat(struct vv_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	mode_t type;
	switch (n->kind) {
	case VV_DIR: type = S_IFDIR; break;
	case VV_LNK:
	case VV_SYN_LINK: type = S_IFLNK; break;
	default: type = S_IFREG; break;
	}
	st->st_mode = type | n->mode;
	/* a locked env (or a read-only mount) shows no write permission, so tools that
	 * test for it (test -w, os.access) see the truth before trying */
	if (type != S_IFLNK && vv_env_readonly(n->env))
		st->st_mode &= ~(mode_t)0222;
	st->st_nlink = is_dir(n) ? 2 : 1;
	/* every file of an env is its owner's (envs/NAME `owner`) */
	st->st_uid = n->env->cfg.owned ? n->env->cfg.uid : getuid();
	st->st_gid = n->env->cfg.owned ? n->env->cfg.gid : getgid();
	st->st_size = (off_t)node_size(n);
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_blksize = 4096;
	st->st_mtim.tv_sec = n->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = n->mtime_ns % 1000000000;
	st->st_ctim.tv_sec = n->ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = n->ctime_ns % 1000000000;
	st->st_atim = st->st_mtim;
}

int vv_node_readlink(struct vv_node *n, char **out)
{
	if (n->kind != VV_LNK && n->kind != VV_SYN_LINK)
		return -EINVAL;
	*out = strdup(n->target ? n->target : "");
	return *out ? 0 : -ENOMEM;
}

/* ---- paths --------------------------------------------------------------------- */

char *vv_node_relpath(const struct vv_node *n)
{
	size_t len = 0;
	for (const struct vv_node *p = n; p && !env_is_root(p); p = p->parent)
		len += strlen(p->name) + 1;
	char *buf = malloc(len + 1);
	if (!buf)
		return NULL;
	buf[len] = 0;
	size_t pos = len;
	for (const struct vv_node *p = n; p && !env_is_root(p); p = p->parent) {
		size_t l = strlen(p->name);
		pos -= l;
		memcpy(buf + pos, p->name, l);
		if (pos)
			buf[--pos] = '/';
	}
	/* a leading '/' may remain when len counted one separator too many */
	if (len && buf[0] == '/')
		memmove(buf, buf + 1, len);
	return buf;
}

char *vv_env_path(const struct vv_env *env)
{
	const char *mp = env->set->mountpoint;
	size_t a = strlen(mp), b = strlen(env->name);
	bool slash = a && mp[a - 1] == '/';
	char *p = malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, mp, a);
	if (!slash)
		p[a++] = '/';
	memcpy(p + a, env->name, b + 1);
	return p;
}

int vv_env_walk(struct vv_env *env, const char *relpath, struct vv_node **out)
{
	int r = vv_env_load_root(env);
	if (r < 0)
		return r;
	struct vv_node *n = env->root;
	const char *p = relpath;
	char name[NAME_MAX + 1];
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || len > NAME_MAX)
			return -EINVAL;
		memcpy(name, p, len);
		name[len] = 0;
		struct vv_node *k;
		if ((r = vv_node_lookup(n, name, &k)) < 0)
			return r;
		n = k;
		p += len;
		if (*p == '/')
			p++;
	}
	*out = n;
	return 0;
}

/* ---- journal records ------------------------------------------------------------- */

/* Changes are journaled while the env is not being replayed (replay rebuilds what the
 * journal already says) and still belongs to the store. */
static bool recording(const struct vv_env *env)
{
	return !env->replaying && !env->removed;
}

/* Open the env's journal for appending (a new one if it is missing or stale). */
static int jopen(struct vv_env *env)
{
	return vv_journal_open(env->set->st, env->name, &env->cfg.root, &env->jfd);
}

/* A record that could not be written is reported; the change stays in memory and
 * reaches the store with the next commit. */
static int recorded(struct vv_env *env, int r)
{
	if (r < 0)
		fprintf(stderr, "venvfs: env '%s': journal: %s\n", env->name, vv_errmsg());
	return r;
}

/* File n has new published content (n->oid). */
static int record_put(struct vv_node *n)
{
	struct vv_env *env = n->env;
	if (!recording(env))
		return 0;
	char *rel = vv_node_relpath(n);
	if (!rel)
		return -ENOMEM;
	int r = jopen(env);
	if (r == 0)
		r = vv_journal_put(env->jfd, rel, (char)n->kind, n->mode, n->size, n->mtime_ns,
				   &n->oid);
	free(rel);
	return recorded(env, r);
}

static int record_mkdir(struct vv_node *n)
{
	struct vv_env *env = n->env;
	if (!recording(env))
		return 0;
	char *rel = vv_node_relpath(n);
	if (!rel)
		return -ENOMEM;
	int r = jopen(env);
	if (r == 0)
		r = vv_journal_mkdir(env->jfd, rel, n->mode, n->mtime_ns);
	free(rel);
	return recorded(env, r);
}

static int record_symlink(struct vv_node *n)
{
	struct vv_env *env = n->env;
	if (!recording(env))
		return 0;
	char *rel = vv_node_relpath(n);
	if (!rel)
		return -ENOMEM;
	int r = jopen(env);
	if (r == 0)
		r = vv_journal_symlink(env->jfd, rel, n->target, n->mtime_ns);
	free(rel);
	return recorded(env, r);
}

/* n is about to be unlinked or removed (it still has its path). */
static int record_remove(struct vv_node *n)
{
	struct vv_env *env = n->env;
	if (!recording(env))
		return 0;
	char *rel = vv_node_relpath(n);
	if (!rel)
		return -ENOMEM;
	int r = jopen(env);
	if (r == 0)
		r = vv_journal_remove(env->jfd, rel);
	free(rel);
	return recorded(env, r);
}

/* from and to: the paths before and after the rename. */
static int record_rename(struct vv_env *env, const char *from, const char *to, unsigned flags)
{
	if (!recording(env))
		return 0;
	int r = jopen(env);
	if (r == 0)
		r = vv_journal_rename(env->jfd, from, to, flags);
	return recorded(env, r);
}

static int record_attr(struct vv_node *n)
{
	struct vv_env *env = n->env;
	if (!recording(env))
		return 0;
	char *rel = vv_node_relpath(n);
	if (!rel)
		return -ENOMEM;
	int r = jopen(env);
	if (r == 0)
		r = vv_journal_attr(env->jfd, rel, n->mode, n->mtime_ns);
	free(rel);
	return recorded(env, r);
}

int vv_journal_sync(struct vv_env *env)
{
	return vv_journal_datasync(env->jfd, env->name);
}

/* ---- namespace changes ----------------------------------------------------------- */

static bool cfg_equal(const struct vv_envcfg *a, const struct vv_envcfg *b);
static void env_bury(struct vv_envset *set, struct vv_env *env);
static int env_new(struct vv_envset *set, const char *name, struct vv_env **out);
static int envs_insert(struct vv_envset *set, struct vv_env *env);
static void envs_remove(struct vv_envset *set, struct vv_env *env);

/* Replace env by a fresh, unloaded one of the same name (none if envs/NAME is gone):
 * its loaded view is stale. The kernel's entry for the name is invalidated. */
static int env_reload(struct vv_envset *set, struct vv_env *env, bool exists)
{
	struct vv_env *fresh = NULL;
	int r;
	if (exists && (r = env_new(set, env->name, &fresh)) < 0)
		return r;
	envs_remove(set, env);
	env_bury(set, env);
	if (fresh)
		envs_insert(set, fresh);
	set->mtime_ns = vv_now_ns();
	if (set->inval_entry)
		set->inval_entry(set->inval_ctx, NULL, env->name);
	return 0;
}

/* Take env's writer lock for a change (see mtree.h): -EBUSY if another writer holds
 * it, -ESTALE if the loaded view turned out stale (the env is reloaded). */
static int env_lock(struct vv_env *env)
{
	struct vv_envset *set = env->set;
	int fd, r = vv_envlock_take(set->st, env->name, &fd);
	if (r < 0) {
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		return r;
	}
	struct vv_envcfg now;
	bool stale = false, exists = true;
	r = vv_env_load(set->st, env->name, &now);
	if (r == -ENOENT) {
		stale = true;
		exists = false;
	} else if (r < 0) {
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		vv_envlock_release(fd);
		return r;
	} else {
		/* another writer committed since we loaded it, or one stopped with changes
		 * not committed (its journal is replayed by the reload) */
		stale = env->cfg.python && (!cfg_equal(&env->cfg, &now) ||
					    vv_env_journal_pending(set->st, env->name, &now.root) > 0);
		vv_envcfg_release(&now);
	}
	if (stale) {
		vv_envlock_release(fd);
		fprintf(stderr, "venvfs: env '%s' was changed by another writer since this mount "
			"loaded it: reloaded (the request is retried)\n", env->name);
		r = env_reload(set, env, exists);
		return r < 0 ? r : -ESTALE;
	}
	/* another writer may have replaced journal/NAME meanwhile: append to the current
	 * one */
	vv_journal_close(&env->jfd);
	env->lockfd = fd;
	return 0;
}

/* Every change to an env starts here. Writes into env are refused with -EROFS when the
 * envset is read-only (venvfs -o ro) or the env is locked (envs/NAME `locked = true`);
 * the first change takes the env's writer lock (env_lock). Journal replay rebuilds
 * what was already written, so it is never refused. A detached env (replaced or
 * removed behind a process whose cwd is inside) is stale. */
static int env_writable(struct vv_env *env)
{
	if (env->replaying)
		return 0;
	if (env->set->readonly || env->cfg.locked)
		return -EROFS;
	if (env->removed)
		return -ESTALE;
	return env->lockfd >= 0 ? 0 : env_lock(env);
}

bool vv_env_release_idle(struct vv_env *env)
{
	if (env->lockfd < 0)
		return true;
	if (env->active || vv_env_has_changes(env))
		return false;
	vv_envlock_release(env->lockfd);
	env->lockfd = -1;
	return true;
}

bool vv_env_readonly(const struct vv_env *env)
{
	return env->set->readonly || env->cfg.locked;
}

static int check_new_name(struct vv_node *dir, const char *name)
{
	if (!is_dir(dir))
		return -ENOTDIR;
	if (dir->unlinked)
		return -ENOENT;
	int r = vv_name_check(name, strlen(name));
	if (r < 0)
		return r;
	struct vv_node *old;
	r = vv_node_lookup(dir, name, &old);
	if (r == 0)
		return -EEXIST;
	return r == -ENOENT ? 0 : r;
}

static int add_new(struct vv_node *dir, struct vv_node *n)
{
	int r = dir_touch(dir, true);
	if (r < 0)
		return r;
	size_t idx;
	if (kid_find(dir, n->name, strlen(n->name), &idx))
		return -EEXIST;
	return kid_insert(dir, idx, n);
}

static int new_stage(struct vv_env *env, struct vv_fdref **out)
{
	int fd = vv_store_tmpfile(env->set->st);
	if (fd < 0)
		return fd;
	*out = vv_fdref_new(fd);
	if (!*out) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

int vv_node_create(struct vv_node *dir, const char *name, uint16_t mode, bool excl,
		   struct vv_node **out)
{
	struct vv_node *old;
	int wr = env_writable(dir->env);
	if (wr < 0)
		return wr;
	/* re-creating an unlinked pyvenv.cfg or activator: the env's own file comes back
	 * and what is written becomes an edit of it (see vv_node_flush) */
	struct vv_node *syn = is_dir(dir) ? syn_lookup(dir, name, strlen(name), true) : NULL;
	if (syn && syn->kind == VV_SYN_FILE) {
		int r = vv_node_open_write(syn, true);
		if (r == 0)
			*out = syn;
		return r;
	}
	if (!excl && vv_node_lookup(dir, name, &old) == 0) {
		if (is_dir(old))
			return -EISDIR;
		int r = vv_node_open_write(old, false);
		if (r < 0)
			return r;
		*out = old;
		return 0;
	}
	int r = check_new_name(dir, name);
	if (r < 0)
		return r;
	struct vv_node *n = node_new(dir->env, name, strlen(name), VV_REG);
	if (!n)
		return -ENOMEM;
	n->mode = mode & 07777;
	n->oid = dir->env->set->empty_oid;
	n->mtime_ns = n->ctime_ns = n->atime_ns = vv_now_ns();
	if ((r = new_stage(dir->env, &n->stage)) < 0 || (r = add_new(dir, n)) < 0) {
		node_free(n);
		return r;
	}
	n->writers = 1;
	dir->env->active++;
	if (is_env_bin(dir))
		n->stage_envpath = vv_env_path(dir->env);
	record_put(n);
	*out = n;
	return 0;
}

int vv_node_mkdir(struct vv_node *dir, const char *name, uint16_t mode, struct vv_node **out)
{
	int r = env_writable(dir->env);
	if (r < 0)
		return r;
	r = check_new_name(dir, name);
	if (r < 0)
		return r;
	struct vv_node *n = node_new(dir->env, name, strlen(name), VV_DIR);
	if (!n)
		return -ENOMEM;
	n->mode = mode & 07777;
	n->mat = true;
	n->dirty = true;
	n->mtime_ns = n->ctime_ns = n->atime_ns = vv_now_ns();
	if ((r = add_new(dir, n)) < 0) {
		node_free(n);
		return r;
	}
	record_mkdir(n);
	*out = n;
	return 0;
}

int vv_node_symlink(struct vv_node *dir, const char *name, const char *target,
		    struct vv_node **out)
{
	size_t tl = strlen(target);
	int wr = env_writable(dir->env);
	if (wr < 0)
		return wr;
	if (tl == 0 || tl >= PATH_MAX)
		return -EINVAL;
	/* bin/python* and lib64 are the env's: a tool that unlinks and makes them itself
	 * (virtualenv, venv --clear) gets the synthesized link back, which points where
	 * its own would */
	struct vv_node *syn = is_dir(dir) ? syn_lookup(dir, name, strlen(name), true) : NULL;
	if (syn && syn->kind == VV_SYN_LINK) {
		*out = syn;
		return 0;
	}
	int r = check_new_name(dir, name);
	if (r < 0)
		return r;
	struct vv_node *n = node_new(dir->env, name, strlen(name), VV_LNK);
	if (!n)
		return -ENOMEM;
	n->mode = 0777;
	n->target = strdup(target);
	n->size = tl;
	n->mtime_ns = n->ctime_ns = n->atime_ns = vv_now_ns();
	if (!n->target || (r = add_new(dir, n)) < 0) {
		node_free(n);
		return n->target ? r : -ENOMEM;
	}
	record_symlink(n);
	*out = n;
	return 0;
}

int vv_node_unlink(struct vv_node *dir, const char *name)
{
	struct vv_node *n;
	int r = env_writable(dir->env);
	if (r < 0)
		return r;
	r = vv_node_lookup(dir, name, &n);
	if (r < 0)
		return r;
	if (is_dir(n))
		return -EISDIR;
	/* Synthesized entries belong to the env, not to its tree: unlinking one hides it
	 * (so rm -rf, venv --clear and virtualenv see a normal unlink), and making the
	 * name again (create, symlink) brings back the env's own entry. Hidden entries
	 * come back at the next mount. */
	if (is_synth(n)) {
		for (size_t s = 0; s < n->env->nsyn; s++)
			if (n->env->syn[s] == n)
				n->env->hidden |= 1u << s;
		return 0;
	}
	if ((r = dir_touch(dir, true)) < 0)
		return r;
	record_remove(n);
	kid_remove(dir, n);
	n->ctime_ns = vv_now_ns();
	node_drop(n);
	return 0;
}

/* Empty as far as the tree is concerned: synthesized entries do not count. */
static bool dir_empty(struct vv_node *d)
{
	if (d->mat)
		return d->nkids == 0;
	return dir_base(d) == 0 && d->base->n == 0;
}

int vv_node_rmdir(struct vv_node *dir, const char *name)
{
	struct vv_node *n;
	int r = env_writable(dir->env);
	if (r < 0)
		return r;
	r = vv_node_lookup(dir, name, &n);
	if (r < 0)
		return r;
	if (!is_dir(n))
		return -ENOTDIR;
	if (!dir_empty(n))
		return -ENOTEMPTY;
	if ((r = dir_touch(dir, true)) < 0)
		return r;
	record_remove(n);
	kid_remove(dir, n);
	node_drop(n);
	return 0;
}

static int synth_edit(struct vv_node *n, int fd, uint64_t size);

int vv_node_rename(struct vv_node *dir, const char *name, struct vv_node *newdir,
		   const char *newname, unsigned int flags)
{
	if (dir->env != newdir->env)
		return -EXDEV;
	int wr = env_writable(dir->env);
	if (wr < 0)
		return wr;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	struct vv_node *src, *dst = NULL;
	int r = vv_node_lookup(dir, name, &src);
	if (r < 0)
		return r;
	if (is_synth(src))
		return -EPERM;
	if ((r = vv_name_check(newname, strlen(newname))) < 0)
		return r;
	r = vv_node_lookup(newdir, newname, &dst);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT)
		dst = NULL;
	if (dst == src)
		return 0;
	if (dst && dst->kind == VV_SYN_FILE && (src->kind == VV_REG || src->kind == VV_SCRIPT) &&
	    !(flags & RENAME_EXCHANGE)) {
		/* saving by rename over pyvenv.cfg or an activator: apply the new content
		 * as an edit, then the source name goes away like after a rename */
		struct vv_readsrc rs;
		if ((r = vv_node_read_source(src, &rs)) < 0)
			return r;
		uint64_t size = src->stage ? src->ssize : src->size;
		r = rs.fd ? synth_edit(dst, rs.fd->fd, size) : -EINVAL;
		vv_fdref_put(rs.fd);
		free((char *)rs.prefix);
		return r < 0 ? r : vv_node_unlink(dir, name);
	}
	if (dst && is_synth(dst))
		return -EPERM;
	if ((flags & RENAME_NOREPLACE) && dst)
		return -EEXIST;
	if ((flags & RENAME_EXCHANGE) && !dst)
		return -ENOENT;
	/* no moving a directory into itself */
	if (is_dir(src))
		for (struct vv_node *p = newdir; p; p = p->parent)
			if (p == src)
				return -EINVAL;
	if (dst && (flags & RENAME_EXCHANGE) && is_dir(dst))
		for (struct vv_node *p = dir; p; p = p->parent)
			if (p == dst)
				return -EINVAL;
	if (dst && !(flags & RENAME_EXCHANGE)) {
		if (is_dir(dst) && !is_dir(src))
			return -EISDIR;
		if (!is_dir(dst) && is_dir(src))
			return -ENOTDIR;
		if (is_dir(dst) && !dir_empty(dst))
			return -ENOTEMPTY;
	}
	if ((r = dir_touch(dir, true)) < 0 || (r = dir_touch(newdir, true)) < 0)
		return r;
	char *from = vv_node_relpath(src);
	char *nn = strdup(newname);
	if (!from || !nn) {
		free(from);
		free(nn);
		return -ENOMEM;
	}
	if (flags & RENAME_EXCHANGE) {
		char *on = strdup(src->name);
		if (!on) {
			free(from);
			free(nn);
			return -ENOMEM;
		}
		kid_remove(dir, src);
		kid_remove(newdir, dst);
		free(dst->name);
		dst->name = on;
		free(src->name);
		src->name = nn;
		size_t idx;
		kid_find(dir, dst->name, strlen(dst->name), &idx);
		kid_insert(dir, idx, dst);
		kid_find(newdir, src->name, strlen(src->name), &idx);
		kid_insert(newdir, idx, src);
	} else {
		if (dst) {
			kid_remove(newdir, dst);
			node_drop(dst);
		}
		kid_remove(dir, src);
		free(src->name);
		src->name = nn;
		size_t idx;
		kid_find(newdir, nn, strlen(nn), &idx);
		/* the slot was freed above, so this cannot fail for lack of room */
		kid_insert(newdir, idx, src);
	}
	src->ctime_ns = vv_now_ns();
	char *to = vv_node_relpath(src);
	if (to) {
		record_rename(dir->env, from, to, flags);
		free(to);
	}
	free(from);
	return 0;
}

int vv_node_setattr(struct vv_node *n, int mode, int64_t atime_ns, int64_t mtime_ns)
{
	int wr = env_writable(n->env);
	if (wr < 0)
		return wr;
	/* modes and times of synthesized entries are the env's: accept and keep them
	 * (venv copies the mode of its activation scripts onto them) */
	if (is_synth(n))
		return 0;
	if (mode >= 0 && n->kind == VV_LNK)
		return -EOPNOTSUPP;
	if (n->parent) {
		int r = dir_touch(n->parent, false);
		if (r < 0)
			return r;
	}
	if (mode >= 0)
		n->mode = (uint16_t)(mode & 07777);
	if (mtime_ns >= 0)
		n->mtime_ns = mtime_ns;
	if (atime_ns >= 0)
		n->atime_ns = atime_ns;
	n->ctime_ns = vv_now_ns();
	if (is_dir(n))
		n->dirty = true;
	if (!env_is_root(n))
		record_attr(n);
	return 0;
}

/* ---- content ------------------------------------------------------------------- */

/* Open the published object of a file node for its bytes: a missing, truncated or
 * damaged object is -EIO (logged once), never wrong bytes (damaged.h). */
static int open_content(struct vv_node *n)
{
	char what[300];
	snprintf(what, sizeof(what), "env %.256s", n->env->name);
	return vv_obj_open_checked(n->env->set->st, &n->oid, n->size, what);
}

/* Copy the node's current content (as users see it) into fd. */
static int copy_content(struct vv_node *n, int fd)
{
	if (n->stage)
		return vv_copy_fd(n->stage->fd, fd);
	if (n->kind == VV_SYN_FILE) {
		int r = synth_content(n);
		return r < 0 ? r : vv_write_all(fd, n->synth, n->synthlen);
	}
	int src = open_content(n);
	if (src < 0)
		return src;
	int r;
	if (n->kind == VV_SCRIPT) {
		char *sb = NULL, *buf = NULL;
		size_t sl = 0, skip = 0;
		struct stat s;
		if ((r = script_prefix(n, src, &sb, &sl, &skip)) == 0 &&
		    (r = fstat(src, &s) < 0 ? -errno : 0) == 0) {
			size_t len = (size_t)s.st_size;
			buf = malloc(len ? len : 1);
			if (!buf)
				r = -ENOMEM;
			else if (pread(src, buf, len, 0) != (ssize_t)len || len < skip)
				r = -EIO;
			else if ((r = vv_write_all(fd, sb, sl)) == 0)
				r = vv_write_all(fd, buf + skip, len - skip);
		}
		free(sb);
		free(buf);
	} else {
		r = vv_copy_fd(src, fd);
	}
	close(src);
	return r;
}

/* Make sure n has a stage that may be written (copying up its content unless trunc). */
static int stage_for_write(struct vv_node *n, bool trunc)
{
	if (n->stage && !n->publishing) {
		if (trunc) {
			if (ftruncate(n->stage->fd, 0) < 0)
				return -errno;
			n->ssize = 0;
			n->stage_gen++;
			n->stage_err = 0;
		}
		return 0;
	}
	struct vv_fdref *s;
	int r = new_stage(n->env, &s);
	if (r < 0)
		return r;
	uint64_t size = 0;
	if (!trunc) {
		if ((r = copy_content(n, s->fd)) < 0) {
			vv_fdref_put(s);
			return r;
		}
		struct stat st;
		size = fstat(s->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	vv_fdref_put(n->stage);
	n->stage = s;
	n->ssize = size;
	n->stage_gen++;
	n->stage_err = 0;
	n->publishing = false;
	free(n->stage_envpath);
	n->stage_envpath = n->parent && is_env_bin(n->parent) ? vv_env_path(n->env) : NULL;
	if (n->kind == VV_SYN_FILE)
		return 0;
	if (n->kind == VV_SCRIPT)
		n->kind = VV_REG; /* its content now names this env's interpreter */
	return 0;
}

int vv_node_open_write(struct vv_node *n, bool trunc)
{
	int wr = env_writable(n->env);
	if (wr < 0)
		return wr;
	if (is_dir(n))
		return -EISDIR;
	if (n->kind != VV_REG && n->kind != VV_SCRIPT && n->kind != VV_SYN_FILE)
		return -EINVAL;
	int r = stage_for_write(n, trunc);
	if (r < 0)
		return r;
	if (trunc)
		n->mtime_ns = n->ctime_ns = vv_now_ns();
	n->writers++;
	n->env->active++;
	return 0;
}

int vv_node_truncate(struct vv_node *n, uint64_t size)
{
	int wr = env_writable(n->env);
	if (wr < 0)
		return wr;
	if (n->kind == VV_SYN_LINK)
		return -EPERM;
	if (is_dir(n))
		return -EISDIR;
	int r = stage_for_write(n, size == 0);
	if (r < 0)
		return r;
	if (ftruncate(n->stage->fd, (off_t)size) < 0)
		return -errno;
	n->ssize = size;
	n->stage_gen++;
	n->mtime_ns = n->ctime_ns = vv_now_ns();
	return 0;
}

int vv_node_read_source(struct vv_node *n, struct vv_readsrc *out)
{
	memset(out, 0, sizeof(*out));
	if (n->kind == VV_SYN_FILE) {
		int r = synth_content(n);
		if (r < 0)
			return r;
		out->prefix = malloc(n->synthlen ? n->synthlen : 1);
		if (!out->prefix)
			return -ENOMEM;
		memcpy((char *)out->prefix, n->synth, n->synthlen);
		out->prefixlen = n->synthlen;
		return 0;
	}
	if (n->kind != VV_REG && n->kind != VV_SCRIPT)
		return -EINVAL;
	if (n->stage) {
		vv_fdref_get(n->stage);
		out->fd = n->stage;
		return 0;
	}
	int fd = open_content(n);
	if (fd < 0)
		return fd;
	out->fd = vv_fdref_new(fd);
	if (!out->fd) {
		close(fd);
		return -ENOMEM;
	}
	if (n->kind == VV_SCRIPT) {
		char *sb = NULL;
		size_t sl = 0, skip = 0;
		int r = script_prefix(n, fd, &sb, &sl, &skip);
		if (r < 0) {
			vv_fdref_put(out->fd);
			out->fd = NULL;
			return r;
		}
		out->prefix = sb;
		out->prefixlen = sl;
		out->skip = skip;
	}
	return 0;
}

int vv_node_write_begin(struct vv_node *n, struct vv_fdref **out)
{
	if (!n->stage || n->publishing || n->writers == 0)
		return -EBADF;
	vv_fdref_get(n->stage);
	*out = n->stage;
	return 0;
}

void vv_node_write_failed(struct vv_node *n, int err, uint64_t at)
{
	if (err >= 0 || !n->stage)
		return;
	if (!n->stage_err || at < n->stage_err_at)
		n->stage_err_at = at;
	n->stage_err = err;
}

void vv_node_write_ok(struct vv_node *n, uint64_t start, uint64_t end)
{
	if (n->stage_err && start <= n->stage_err_at && end > n->stage_err_at)
		n->stage_err = 0;
}

void vv_node_write_end(struct vv_node *n, uint64_t end_off)
{
	if (end_off > n->ssize)
		n->ssize = end_off;
	n->stage_gen++;
	n->mtime_ns = n->ctime_ns = vv_now_ns();
}

int vv_node_publish_begin(struct vv_node *n, struct vv_publish *p, bool *need)
{
	memset(p, 0, sizeof(*p));
	*need = false;
	if (!n->stage || n->publishing || n->unlinked || is_synth(n))
		return 0;
	if (n->stage_err)
		return n->stage_err; /* half-written: never published */
	*need = true;
	p->node = n;
	p->fd = n->stage;
	vv_fdref_get(p->fd);
	p->gen = n->stage_gen;
	p->link = n->writers == 0;
	if (p->link)
		n->publishing = true;
	if (n->stage_envpath)
		p->envpath = strdup(n->stage_envpath);
	else if (n->parent && is_env_bin(n->parent))
		p->envpath = vv_env_path(n->env);
	n->pins++;
	n->env->active++; /* the writer lock stays until the result is journaled */
	return 0;
}

/* Store a script's neutral form; 1 if it was one, 0 if not, -errno. */
static int publish_script(struct vv_store *st, struct vv_publish *p)
{
	struct stat s;
	if (fstat(p->fd->fd, &s) < 0 || s.st_size > (1 << 20) || s.st_size < 4)
		return 0;
	size_t len = (size_t)s.st_size;
	char *buf = malloc(len + 32);
	if (!buf)
		return -ENOMEM;
	char sfx[16];
	int r = 0;
	ssize_t got = pread(p->fd->fd, buf, len, 0);
	size_t head = got == (ssize_t)len ? vv_synth_script_head(buf, len, p->envpath, sfx, sizeof(sfx)) : 0;
	if (head) {
		/* "#!python" + suffix + "\n" replaces the head in place */
		int nl = snprintf(NULL, 0, "#!python%s\n", sfx);
		char *out = malloc(len - head + (size_t)nl + 1);
		if (!out) {
			free(buf);
			return -ENOMEM;
		}
		snprintf(out, (size_t)nl + 1, "#!python%s\n", sfx);
		memcpy(out + nl, buf + head, len - head);
		p->size = len - head + (size_t)nl;
		r = vv_store_put_buf(st, out, p->size, &p->oid);
		free(out);
		if (r == 0)
			r = 1;
	}
	free(buf);
	return r;
}

void vv_publish_run(struct vv_store *st, struct vv_publish *p)
{
	if (p->envpath) {
		int r = publish_script(st, p);
		if (r != 0) {
			p->script = r > 0;
			p->err = r < 0 ? r : 0;
			return;
		}
	}
	if (p->link)
		p->err = vv_store_publish_tmpfile(st, p->fd->fd, &p->oid, &p->size);
	else
		p->err = vv_store_put_fd(st, p->fd->fd, &p->oid, &p->size);
}

int vv_node_publish_end(struct vv_publish *p)
{
	struct vv_node *n = p->node;
	int r = p->err;
	/* Only while the published stage is still the node's content: a write that began
	 * meanwhile (an O_TRUNC open makes a new stage) may even have been published first,
	 * and this older result must not replace it. */
	bool current = n->stage == p->fd && n->stage_gen == p->gen;
	if (r == 0 && current) {
		n->oid = p->oid;
		n->size = p->size;
		n->kind = p->script ? VV_SCRIPT : VV_REG;
		if (p->link || (p->script && !n->writers)) {
			/* the stage is now the object itself: drop it */
			vv_fdref_put(n->stage);
			n->stage = NULL;
		}
		if (!n->unlinked && n->parent) {
			/* a content change does not change the parent's mtime */
			if (dir_touch(n->parent, false) == 0)
				record_put(n);
		}
	}
	if (current)
		n->publishing = false;
	free(p->envpath);
	vv_fdref_put(p->fd);
	n->pins--;
	n->env->active--;
	if (n->unlinked && n->nlookup == 0 && n->pins == 0)
		node_free(n);
	return r;
}

int vv_node_put(struct vv_node *dir, const char *name, const struct vv_tree_ent *e)
{
	int wr = env_writable(dir->env);
	if (wr < 0)
		return wr;
	if (e->kind != VV_REG && e->kind != VV_SCRIPT)
		return -EINVAL;
	struct vv_node *n;
	int r = vv_node_lookup(dir, name, &n);
	if (r == -ENOENT) {
		if ((r = check_new_name(dir, name)) < 0)
			return r;
		if (!(n = node_new(dir->env, name, strlen(name), e->kind)))
			return -ENOMEM;
		if ((r = add_new(dir, n)) < 0) {
			node_free(n);
			return r;
		}
	} else if (r < 0) {
		return r;
	} else if (is_dir(n) || is_synth(n) || n->kind == VV_LNK) {
		return -EEXIST;
	} else if ((r = dir_touch(dir, false)) < 0) {
		return r;
	}
	if (n->stage && !n->publishing) {
		vv_fdref_put(n->stage);
		n->stage = NULL;
	}
	n->kind = e->kind;
	n->mode = e->mode & 07777;
	n->size = e->size;
	n->oid = e->oid;
	n->mtime_ns = n->atime_ns = e->mtime_ns;
	n->ctime_ns = vv_now_ns();
	record_put(n);
	return 0;
}

void vv_node_close_write(struct vv_node *n)
{
	if (n->writers) {
		n->writers--;
		n->env->active--;
	}
	/* an edit of a synthesized file lives only while it is open (see vv_node_flush) */
	if (!n->writers && n->kind == VV_SYN_FILE && n->stage) {
		vv_fdref_put(n->stage);
		n->stage = NULL;
	}
	drop_dead_stage(n);
}

/* ---- edits of synthesized files ---------------------------------------------------- */

/* Tell the FUSE layer that the kernel's entry dir/name is stale. */
static void inval_entry(struct vv_node *dir, const char *name)
{
	struct vv_envset *set = dir->env->set;
	if (set->inval_entry && dir->nlookup)
		set->inval_entry(set->inval_ctx, dir, name);
}

/* rm -r of dir/name through the model (journaled like any removal). */
static int node_rm_r(struct vv_node *dir, const char *name)
{
	struct vv_node *n;
	int r = vv_node_lookup(dir, name, &n);
	if (r < 0)
		return r;
	if (is_dir(n)) {
		if ((r = dir_materialize(n)) < 0)
			return r;
		while (n->nkids && r == 0) {
			char *kn = strdup(n->kids[n->nkids - 1]->name);
			if (!kn)
				return -ENOMEM;
			r = node_rm_r(n, kn);
			free(kn);
		}
		if (r == 0)
			r = vv_node_rmdir(dir, name);
	} else {
		r = vv_node_unlink(dir, name);
	}
	if (r == 0)
		inval_entry(dir, name);
	return r;
}

/* The id of the entry at path (e.g. "lib/python3.11/site-packages") in tree root. */
static int tree_path_oid(struct vv_store *st, const vv_oid *root, const char *path, vv_oid *out)
{
	vv_oid cur = *root;
	const char *p = path;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		struct vv_tree *t;
		int r = vv_tree_get(st, &cur, &t);
		if (r < 0)
			return r;
		const struct vv_tree_ent *e = vv_tree_find(t, p, len);
		if (e)
			cur = e->oid;
		vv_tree_unref(t);
		if (!e)
			return -ENOENT;
		p += len + (slash ? 1 : 0);
	}
	*out = cur;
	return 0;
}

/* Is node n (looked up at path in the env) still exactly what skeleton skel has there? */
static bool is_seeded(struct vv_env *env, const vv_oid *skel, const char *path, struct vv_node *n)
{
	vv_oid o;
	if (vv_oid_is_zero(skel) || tree_path_oid(env->set->st, skel, path, &o) < 0)
		return false;
	return !n->dirty && !n->stage && vv_oid_eq(&n->oid, &o);
}

/* `python -m venv` rewrote pyvenv.cfg for another interpreter (newpy) or without pip:
 * take out what venvfs seeded for the old setup and nobody changed since - the old
 * lib/python3.X and its pip scripts, or pip itself - so the env looks like the one venv
 * makes. Anything the user changed stays. */
static void prune_seed(struct vv_env *env, const struct vv_python *oldpy, bool newpy,
		       bool newminor, bool drop_pip)
{
	char pyx[32], sp[96], path[160];
	vv_python_name(oldpy, pyx);
	snprintf(sp, sizeof(sp), "lib/%s/site-packages", pyx);
	struct vv_node *site, *n;
	if (vv_env_walk(env, sp, &site) < 0)
		return;
	bool was_pip = is_seeded(env, &oldpy->skel_pip, sp, site);
	bool was_nopip = is_seeded(env, &oldpy->skel_nopip, sp, site);
	if (!was_pip && !was_nopip)
		return;
	if (newpy && newminor) {
		struct vv_node *lib, *inc;
		if (vv_env_walk(env, "lib", &lib) == 0)
			node_rm_r(lib, pyx);
		if (vv_env_walk(env, "include", &inc) == 0 && vv_node_lookup(inc, pyx, &n) == 0 &&
		    dir_empty(n))
			node_rm_r(inc, pyx);
	} else if (drop_pip && was_pip) {
		struct vv_tree *t;
		vv_oid so;
		if (tree_path_oid(env->set->st, &oldpy->skel_pip, sp, &so) == 0 &&
		    vv_tree_get(env->set->st, &so, &t) == 0) {
			for (size_t i = 0; i < t->n; i++)
				node_rm_r(site, t->ents[i].name);
			vv_tree_unref(t);
		}
	} else {
		return;
	}
	/* the seeded pip scripts */
	struct vv_node *bin;
	const char *scripts[] = { "pip", "pip3", NULL };
	char pipx[40];
	snprintf(pipx, sizeof(pipx), "pip%d.%d", oldpy->major, oldpy->minor);
	if (!was_pip || vv_env_walk(env, "bin", &bin) < 0)
		return;
	for (int i = 0; i < 3; i++) {
		const char *s = i < 2 ? scripts[i] : pipx;
		snprintf(path, sizeof(path), "bin/%s", s);
		if (vv_node_lookup(bin, s, &n) == 0 && is_seeded(env, &oldpy->skel_pip, path, n))
			node_rm_r(bin, s);
	}
}

/* Parse pyvenv.cfg the way CPython does (site.py / getpath: split each line at the first
 * '=', strip both sides, keys case-insensitive), and apply what venvfs keeps of it:
 * include-system-site-packages, prompt, and the interpreter (executable, else
 * home/python3.X for `version`). Anything that does not make a working env is -EINVAL
 * and changes nothing. */
static int apply_pyvenv_cfg(struct vv_env *env, const char *buf, size_t len)
{
	struct vv_envcfg cfg = env->cfg;
	char *home = NULL, *exe = NULL, *version = NULL, *prompt = NULL;
	bool without_pip = env->cfg.without_pip;
	int r = 0;
	const char *p = buf, *end = buf + len;
	if (memchr(buf, 0, len))
		return vv_err(-EINVAL, "pyvenv.cfg: NUL byte");
	const char *ks, *vs;
	size_t kl, vl;
	while (r == 0 && vv_pycfg_next(&p, end, &ks, &kl, &vs, &vl)) {
		char *v = strndup(vs, vl);
		if (!v) {
			r = -ENOMEM;
			break;
		}
		if (kl == 4 && !strncasecmp(ks, "home", 4)) {
			free(home), home = v;
		} else if (kl == 10 && !strncasecmp(ks, "executable", 10)) {
			free(exe), exe = v;
		} else if (kl == 7 && !strncasecmp(ks, "version", 7)) {
			free(version), version = v;
		} else if (kl == 6 && !strncasecmp(ks, "prompt", 6)) {
			/* venv writes repr(prompt): strip one pair of matching quotes */
			if (vl >= 2 && (v[0] == '\'' || v[0] == '"') && v[vl - 1] == v[0]) {
				memmove(v, v + 1, vl - 2);
				v[vl - 2] = 0;
			}
			free(prompt), prompt = v;
		} else if (kl == 28 && !strncasecmp(ks, "include-system-site-packages", 28)) {
			if (!strcasecmp(v, "true"))
				cfg.system_site = true;
			else if (!strcasecmp(v, "false"))
				cfg.system_site = false;
			else
				r = vv_err(-EINVAL, "pyvenv.cfg: include-system-site-packages "
					   "must be true or false, not '%s'", v);
			free(v);
		} else if (kl == 7 && !strncasecmp(ks, "command", 7)) {
			without_pip = strstr(v, " --without-pip") != NULL;
			free(v);
		} else {
			free(v); /* other tools' keys are not kept */
		}
	}
	struct vv_python py = { 0 };
	bool newpy = false;
	if (r == 0 && !home)
		r = vv_err(-EINVAL, "pyvenv.cfg: no 'home' line (the interpreter would not see a venv)");
	if (r == 0) {
		/* the interpreter: `executable`, else home/python3.X from `version` */
		char path[PATH_MAX], real[PATH_MAX];
		int major = 0, minor = 0;
		if (exe)
			snprintf(path, sizeof(path), "%s", exe);
		else if (version && sscanf(version, "%d.%d", &major, &minor) == 2)
			snprintf(path, sizeof(path), "%s/python%d.%d", home, major, minor);
		else
			snprintf(path, sizeof(path), "%s/python3", home);
		/* Resolved like realpath(3), but the daemon runs a new interpreter to learn
		 * about it: only one that no other user can have put there (a root daemon
		 * serves every user), and never through this mount (its lookups would wait
		 * for this very request). */
		int t = vv_path_trusted(path, geteuid(), env->set->mountpoint, real);
		if (t < 0 && !strcmp(path, env->cfg.python))
			snprintf(real, sizeof(real), "%s", path); /* unchanged */
		else if (t == -EPERM)
			r = vv_err_prefix(-EPERM, "pyvenv.cfg: interpreter '%s' not run", path);
		else if (t < 0)
			r = vv_err_prefix(-EINVAL, "pyvenv.cfg: interpreter '%s'", path);
		if (r == 0 && strcmp(real, env->cfg.python)) {
			if ((r = vv_python_load(env->set->st, real, &py)) < 0)
				r = vv_err_prefix(-EINVAL, "pyvenv.cfg: interpreter '%s'", real);
			else
				newpy = true;
		}
	}
	bool same = r == 0 && !newpy && cfg.system_site == env->cfg.system_site &&
		    without_pip == env->cfg.without_pip &&
		    !(prompt ? !env->cfg.prompt || strcmp(prompt, env->cfg.prompt) : !!env->cfg.prompt);
	if (r == 0 && !same) {
		cfg.without_pip = without_pip;
		cfg.prompt = prompt;
		if (newpy)
			cfg.python = py.exe;
		r = vv_env_save(env->set->st, env->name, &cfg, "mount", 0);
	}
	if (r == 0 && !same) {
		prune_seed(env, &env->py, newpy, newpy && py.minor != env->py.minor,
			   without_pip && !env->cfg.without_pip);
		char *oldprompt = env->cfg.prompt;
		env->cfg.system_site = cfg.system_site;
		env->cfg.without_pip = cfg.without_pip;
		env->cfg.prompt = prompt;
		prompt = oldprompt;
		if (newpy) {
			char oldpyx[32];
			vv_python_name(&env->py, oldpyx);
			char *oldpy = env->cfg.python;
			env->cfg.python = strdup(py.exe);
			free(oldpy);
			vv_python_release(&env->py);
			env->py = py;
			memset(&py, 0, sizeof(py));
			env->py_ok = true;
			/* the interpreter links follow the new interpreter */
			char pyx[32];
			vv_python_name(&env->py, pyx);
			struct vv_node *bin;
			/* bin/python3.X may have a new name: drop the kernel's old one */
			if (strcmp(oldpyx, pyx) && vv_env_walk(env, "bin", &bin) == 0)
				inval_entry(bin, oldpyx);
			struct vv_node *links[] = { env->syn[SYN_PY], env->syn[SYN_PY3] };
			for (size_t i = 0; i < 2; i++)
				if (links[i] && (free(links[i]->target), 1))
					links[i]->target = strdup(pyx);
			if (env->syn[SYN_PYX]) {
				free(env->syn[SYN_PYX]->target);
				env->syn[SYN_PYX]->target = strdup(env->py.exe);
			}
		}
		env->epoch++;
	}
	vv_python_release(&py);
	free(home);
	free(exe);
	free(version);
	free(prompt);
	return r;
}

/* Apply the content of fd (size bytes) as an edit of synthesized file n. */
static int synth_edit(struct vv_node *n, int fd, uint64_t size)
{
	if (n->synth_which != VV_SYNTH_PYVENV_CFG)
		return 0; /* activators are generated for the env: edits are not kept */
	if (size > (1 << 20))
		return vv_err(-EINVAL, "pyvenv.cfg: too large");
	char *buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	ssize_t got = pread(fd, buf, size, 0);
	int r = got < 0 ? -errno : apply_pyvenv_cfg(n->env, buf, (size_t)got);
	free(buf);
	return r;
}

int vv_node_flush(struct vv_node *n)
{
	/* every close(2) of a descriptor flushes, also of dup'd ones that stay open: apply
	 * the edit each time, keep the stage until the last writer is gone */
	if (n->kind != VV_SYN_FILE || !n->stage)
		return 0;
	return synth_edit(n, n->stage->fd, n->ssize);
}

/* Does anything below n still matter: a node the kernel holds or something pins, or
 * state that is not just a cache of the tree? The kernel may forget a directory before
 * the entries below it (forgets of an invalidated subtree come in any order, from
 * several threads), so the whole subtree counts, not only n's own kids. */
static bool subtree_busy(const struct vv_node *n, int depth)
{
	for (size_t i = 0; i < n->nkids; i++) {
		const struct vv_node *c = n->kids[i];
		if (c->nlookup || c->pins || c->stage || c->dirty || is_synth(c) ||
		    (is_dir(c) && c->mat) || depth > 4096 || subtree_busy(c, depth + 1))
			return true;
	}
	return false;
}

static void subtree_free(struct vv_node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		subtree_free(n->kids[i]);
	node_free(n);
}

bool vv_node_forget(struct vv_node *n, uint64_t k)
{
	n->nlookup = n->nlookup > k ? n->nlookup - k : 0;
	if (n->nlookup || n->pins || is_synth(n) || env_is_root(n))
		return false;
	if (n->unlinked) {
		node_drop(n);
		return true;
	}
	/* a clean node under a clean directory is just a cache of the tree: drop it */
	struct vv_node *p = n->parent;
	if (p && !p->mat && !n->stage && !n->dirty && !(is_dir(n) && n->mat)) {
		size_t idx;
		if (kid_find(p, n->name, strlen(n->name), &idx) == n) {
			if (subtree_busy(n, 0))
				return false;
			kid_remove(p, n);
			subtree_free(n);
			return true;
		}
	}
	return false;
}

/* ---- commit -------------------------------------------------------------------- */

static int commit_dir(struct vv_store *st, struct vv_node *d)
{
	if (!d->dirty)
		return 0;
	struct vv_tree_ent *ents = calloc(d->nkids ? d->nkids : 1, sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	int r = 0;
	for (size_t i = 0; i < d->nkids; i++) {
		struct vv_node *k = d->kids[i];
		if (is_dir(k) && (r = commit_dir(st, k)) < 0)
			break;
		struct vv_tree_ent *e = &ents[i];
		e->name = k->name;
		e->namelen = (uint16_t)strlen(k->name);
		e->kind = k->kind;
		e->mode = k->mode;
		e->size = is_dir(k) ? 0 : k->kind == VV_LNK ? strlen(k->target) : k->size;
		e->mtime_ns = k->mtime_ns;
		e->oid = k->oid;
		e->target = k->target;
	}
	if (r == 0)
		r = vv_tree_write(st, ents, d->nkids, &d->oid);
	free(ents);
	if (r == 0)
		d->dirty = false;
	return r;
}

bool vv_env_has_changes(const struct vv_env *env)
{
	return env->root && (env->root->dirty || env->jrecords);
}

int vv_env_commit(struct vv_env *env)
{
	return vv_env_commit_batch(env, false);
}

int vv_env_commit_batch(struct vv_env *env, bool more)
{
	/* a read-only envset never writes the store (a replayed journal stays pending) */
	if (env->removed || env->set->readonly)
		return 0;
	if (!vv_env_has_changes(env)) {
		/* an explicit commit with nothing left to write still ends the batch */
		if (!more && env->cfg.python) {
			int r = vv_history_close_batch(env->set->st, env->name);
			if (r < 0)
				return vv_err_prefix(r, "committing env '%s'", env->name);
		}
		vv_env_release_idle(env);
		return 0;
	}
	/* changes are made only under the writer lock: never commit without it (that
	 * would write over another writer's commit) */
	if (env->lockfd < 0)
		return vv_err(-EBUSY, "committing env '%s': it has changes but its writer lock "
			      "is not held", env->name);
	struct vv_store *st = env->set->st;
	int r = commit_dir(st, env->root);
	if (r < 0)
		return vv_err_prefix(r, "committing env '%s'", env->name);
	struct vv_envcfg cfg = env->cfg;
	cfg.root = env->root->oid;
	unsigned hflags = VV_HIST_COALESCE | (more ? VV_HIST_OPEN : 0);
	if ((r = vv_env_save(st, env->name, &cfg, "mount", hflags)) < 0)
		return vv_err_prefix(r, "committing env '%s'", env->name);
	env->cfg.root = cfg.root;
	env->jrecords = 0;
	env->first_change_ns = 0;
	if ((r = vv_journal_reset(st, env->name, &env->cfg.root, &env->jfd)) < 0)
		return vv_err_prefix(r, "committing env '%s'", env->name);
	vv_env_release_idle(env);
	return 0;
}

/* ---- envs ---------------------------------------------------------------------- */

static struct vv_node *syn_node(struct vv_env *env, uint8_t kind, const char *target, uint16_t mode)
{
	struct vv_node *n = node_new(env, "", 0, kind);
	if (!n)
		return NULL;
	n->mode = mode;
	n->mtime_ns = n->ctime_ns = n->atime_ns = env->mtime_ns;
	if (target && !(n->target = strdup(target))) {
		node_free(n);
		return NULL;
	}
	return n;
}

static int env_load_cfg(struct vv_env *env)
{
	if (env->cfg.python)
		return 0;
	int r = vv_env_load(env->set->st, env->name, &env->cfg);
	if (r < 0)
		return r;
	if (vv_python_load(env->set->st, env->cfg.python, &env->py) == 0) {
		env->py_ok = true;
	} else {
		fprintf(stderr, "venvfs: env '%s': interpreter %s: %s\n", env->name,
			env->cfg.python, vv_errmsg());
	}
	return 0;
}

/* Replay journal/NAME unless another writer holds the env's lock: a live daemon's
 * journal is its own (this mount shows the committed root until it commits). One that
 * a writer left behind when it stopped is replayed under the lock, which is kept until
 * the replay is committed. */
static int env_replay(struct vv_env *env)
{
	struct vv_envset *set = env->set;
	int r = vv_env_journal_pending(set->st, env->name, &env->cfg.root);
	if (r <= 0)
		return r;
	if (set->readonly) {
		if (vv_envlock_held(set->st, env->name) > 0) {
			fprintf(stderr, "venvfs: env '%s': another writer is changing it; showing "
				"its committed state\n", env->name);
			return 0;
		}
		return vv_live_replay(env);
	}
	if (env->lockfd < 0) {
		if ((r = vv_envlock_take(set->st, env->name, &env->lockfd)) == -EBUSY) {
			fprintf(stderr, "venvfs: showing the committed state: %s\n", vv_errmsg());
			return 0;
		}
		if (r < 0)
			return r;
		/* the writer may have committed between the check and the lock */
		if ((r = vv_env_journal_pending(set->st, env->name, &env->cfg.root)) <= 0) {
			vv_env_release_idle(env);
			return r;
		}
	}
	r = vv_live_replay(env);
	if (r > 0)
		fprintf(stderr, "venvfs: env '%s': replayed %d change%s a stopped writer left "
			"uncommitted in journal/%s\n", env->name, r, r == 1 ? "" : "s", env->name);
	else if (r == 0 &&
		 (r = vv_journal_reset(set->st, env->name, &env->cfg.root, &env->jfd)) == 0)
		vv_env_release_idle(env); /* nothing usable: not pending any more */
	return r;
}

int vv_env_load_root(struct vv_env *env)
{
	if (env->root)
		return 0;
	if (env->removed)
		return -ENOENT;
	int r = env_load_cfg(env);
	if (r < 0)
		return r;
	struct vv_node *root = node_new(env, env->name, strlen(env->name), VV_DIR);
	if (!root)
		return -ENOMEM;
	root->mode = (uint16_t)vv_envcfg_mode(&env->cfg);
	root->oid = env->cfg.root;
	root->mtime_ns = root->ctime_ns = root->atime_ns = env->mtime_ns;
	env->root = root;
	if (env->py_ok) {
		char pyx[32];
		vv_python_name(&env->py, pyx);
		env->syn[SYN_LIB64] = syn_node(env, VV_SYN_LINK, "lib", 0777);
		env->syn[SYN_PY] = syn_node(env, VV_SYN_LINK, pyx, 0777);
		env->syn[SYN_PY3] = syn_node(env, VV_SYN_LINK, pyx, 0777);
		env->syn[SYN_PYX] = syn_node(env, VV_SYN_LINK, env->py.exe, 0777);
		bool oom = !env->syn[SYN_LIB64] || !env->syn[SYN_PY] || !env->syn[SYN_PY3] ||
			   !env->syn[SYN_PYX];
		for (int f = 0; f < VV_SYNTH_NFILES; f++) {
			if (!vv_synth_exists((enum vv_synth_file)f, &env->py))
				continue;
			struct vv_node *n = syn_node(env, VV_SYN_FILE, NULL, 0644);
			if (!n) {
				oom = true;
				continue;
			}
			n->synth_which = (uint8_t)f;
			env->syn[SYN_FILES + f] = n;
		}
		env->nsyn = SYN_COUNT;
		if (oom)
			return -ENOMEM;
	}
	r = env_replay(env);
	if (r < 0)
		return vv_err_prefix(r, "env '%s': journal", env->name);
	return 0;
}

static void env_free(struct vv_env *env)
{
	vv_journal_close(&env->jfd);
	vv_envlock_release(env->lockfd);
	if (env->root) {
		/* free the whole materialized graph */
		struct vv_node *stack_root = env->root;
		env->root = NULL;
		stack_root->nlookup = 0;
		stack_root->pins = 0;
		/* node_drop frees recursively only nodes without references; at teardown
		 * every reference is gone, so clear them on the way */
		struct vv_node **todo = malloc(sizeof(*todo) * 64);
		size_t n = 0, cap = 64;
		if (todo)
			todo[n++] = stack_root;
		while (n) {
			struct vv_node *x = todo[--n];
			for (size_t i = 0; i < x->nkids; i++) {
				if (n == cap) {
					struct vv_node **t = realloc(todo, sizeof(*t) * cap * 2);
					if (!t)
						break;
					todo = t;
					cap *= 2;
				}
				todo[n++] = x->kids[i];
			}
			node_free(x);
		}
		free(todo);
	}
	for (size_t s = 0; s < env->nsyn; s++)
		if (env->syn[s])
			node_free(env->syn[s]);
	vv_envcfg_release(&env->cfg);
	vv_python_release(&env->py);
	free(env->name);
	free(env);
}

/* ---- envset -------------------------------------------------------------------- */

static int env_new(struct vv_envset *set, const char *name, struct vv_env **out)
{
	struct vv_env *env = calloc(1, sizeof(*env));
	if (!env || !(env->name = strdup(name))) {
		free(env);
		return -ENOMEM;
	}
	env->set = set;
	env->jfd = -1;
	env->lockfd = -1;
	struct stat s;
	if (fstatat(set->st->envfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0)
		env->mtime_ns = (int64_t)s.st_mtim.tv_sec * 1000000000 + s.st_mtim.tv_nsec;
	else
		env->mtime_ns = vv_now_ns();
	*out = env;
	return 0;
}

static size_t env_index(struct vv_envset *set, const char *name, size_t len, bool *found)
{
	size_t lo = 0, hi = set->nenvs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = kid_cmp(name, len, set->envs[mid]->name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

static int envs_insert(struct vv_envset *set, struct vv_env *env)
{
	bool found;
	size_t idx = env_index(set, env->name, strlen(env->name), &found);
	if (found)
		return -EEXIST;
	if (set->nenvs == set->capenvs) {
		size_t cap = set->capenvs ? set->capenvs * 2 : 16;
		struct vv_env **e = realloc(set->envs, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		set->envs = e;
		set->capenvs = cap;
	}
	memmove(set->envs + idx + 1, set->envs + idx, (set->nenvs - idx) * sizeof(*set->envs));
	set->envs[idx] = env;
	set->nenvs++;
	return 0;
}

static void envs_remove(struct vv_envset *set, struct vv_env *env)
{
	bool found;
	size_t idx = env_index(set, env->name, strlen(env->name), &found);
	if (!found || set->envs[idx] != env)
		return;
	memmove(set->envs + idx, set->envs + idx + 1, (set->nenvs - idx - 1) * sizeof(*set->envs));
	set->nenvs--;
}

struct vv_env *vv_envset_find(struct vv_envset *set, const char *name, size_t len)
{
	bool found;
	size_t idx = env_index(set, name, len, &found);
	return found ? set->envs[idx] : NULL;
}

int vv_envset_open(struct vv_envset **out, struct vv_store *st, const struct vv_envset_opts *o)
{
	struct vv_envset *set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	set->st = st;
	set->without_pip = o->without_pip;
	set->readonly = o->readonly;
	set->mtime_ns = vv_now_ns();
	int r = -ENOMEM;
	if (!(set->mountpoint = strdup(o->mountpoint)))
		goto fail;
	/* read-only: no file is ever created and no env made, so neither the empty
	 * object nor a seeded interpreter is needed (and neither may be written) */
	if (!set->readonly && (r = vv_store_put_buf(st, "", 0, &set->empty_oid)) < 0)
		goto fail;
	if ((r = vv_python_resolve(st, o->python, &set->defpy)) < 0)
		goto fail;
	if (!set->readonly && (r = vv_seed_ensure(st, &set->defpy)) < 0)
		goto fail;
	char **names = NULL;
	size_t n = 0;
	if ((r = vv_env_list(st, &names, &n)) < 0)
		goto fail;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct vv_env *env;
		if ((r = env_new(set, names[i], &env)) == 0 && (r = envs_insert(set, env)) < 0)
			env_free(env);
	}
	vv_env_list_free(names, n);
	if (r < 0)
		goto fail;
	*out = set;
	return 0;
fail:
	vv_envset_close(set);
	return r;
}

/* Keep a detached env alive until the envset closes (the kernel may hold its nodes). */
static void env_bury(struct vv_envset *set, struct vv_env *env)
{
	vv_journal_close(&env->jfd);
	vv_envlock_release(env->lockfd);
	env->lockfd = -1;
	env->removed = true;
	if (env->root) {
		env->root->unlinked = true;
		env->root->parent = NULL;
	}
	if (set->ndead == set->capdead) {
		size_t cap = set->capdead ? set->capdead * 2 : 8;
		struct vv_env **d = realloc(set->dead, cap * sizeof(*d));
		if (!d)
			return; /* leaked rather than freed under the kernel's feet */
		set->dead = d;
		set->capdead = cap;
	}
	set->dead[set->ndead++] = env;
}

static bool cfg_equal(const struct vv_envcfg *a, const struct vv_envcfg *b)
{
	return a->python && b->python && !strcmp(a->python, b->python) &&
	       vv_oid_eq(&a->root, &b->root) && a->system_site == b->system_site &&
	       a->without_pip == b->without_pip && a->locked == b->locked &&
	       a->owned == b->owned && a->uid == b->uid && a->gid == b->gid &&
	       vv_envcfg_mode(a) == vv_envcfg_mode(b) &&
	       !(a->prompt ? !b->prompt || strcmp(a->prompt, b->prompt) : !!b->prompt);
}

/* b differs from a in its lock, owner or root mode only */
static bool lock_only_change(const struct vv_envcfg *a, const struct vv_envcfg *b)
{
	struct vv_envcfg t = *b;
	t.locked = a->locked;
	t.owned = a->owned;
	t.uid = a->uid;
	t.gid = a->gid;
	t.has_mode = a->has_mode;
	t.mode = a->mode;
	return !cfg_equal(a, b) && cfg_equal(a, &t);
}

int vv_envset_sync(struct vv_envset *set, const char *name)
{
	struct vv_env *env = vv_envset_find(set, name, strlen(name));
	struct vv_envcfg cfg;
	int r = vv_env_load(set->st, name, &cfg);
	if (r < 0 && r != -ENOENT)
		return r;
	bool exists = r == 0;
	int ret = VV_SYNC_NONE;
	if (env && env->cfg.python && exists && cfg_equal(&env->cfg, &cfg)) {
		ret = VV_SYNC_NONE; /* our own write */
	} else if (env && env->cfg.python && exists && lock_only_change(&env->cfg, &cfg)) {
		/* only the lock changed (venvctl lock/unlock): apply it in place, so every
		 * node the kernel holds, a shell's cwd included, follows it at once; a
		 * commit of changes made before keeps the new flag. The same for a new
		 * owner or root mode (chown/chmod of the env through another mount). */
		env->cfg.locked = cfg.locked;
		env->cfg.owned = cfg.owned;
		env->cfg.uid = cfg.uid;
		env->cfg.gid = cfg.gid;
		env->cfg.has_mode = cfg.has_mode;
		env->cfg.mode = cfg.mode;
		if (env->root)
			env->root->mode = (uint16_t)vv_envcfg_mode(&cfg);
		ret = VV_SYNC_LOCK;
	} else if (env && vv_env_has_changes(env)) {
		fprintf(stderr, "venvfs: env '%s' was changed by another process while it has "
			"changes of its own; keeping this mount's version\n", name);
	} else if (env && !exists) {
		envs_remove(set, env);
		env_bury(set, env);
		ret = VV_SYNC_REMOVED;
	} else if (exists && (!env || env->root || env->cfg.python)) {
		struct vv_env *fresh;
		if ((r = env_new(set, name, &fresh)) < 0) {
			vv_envcfg_release(&cfg);
			return r;
		}
		if (env) {
			envs_remove(set, env);
			env_bury(set, env);
		}
		envs_insert(set, fresh);
		ret = env ? VV_SYNC_REPLACED : VV_SYNC_ADDED;
	}
	if (exists)
		vv_envcfg_release(&cfg);
	if (ret != VV_SYNC_NONE)
		set->mtime_ns = vv_now_ns();
	return ret;
}

int vv_envset_close(struct vv_envset *set)
{
	if (!set)
		return 0;
	int ret = 0;
	for (size_t i = 0; i < set->ndead; i++)
		env_free(set->dead[i]);
	free(set->dead);
	for (size_t i = 0; i < set->nenvs; i++) {
		int r = vv_env_commit(set->envs[i]);
		if (r < 0) {
			fprintf(stderr, "venvfs: %s\n", vv_errmsg());
			ret = r;
		}
		env_free(set->envs[i]);
	}
	free(set->envs);
	vv_python_release(&set->defpy);
	free(set->mountpoint);
	free(set);
	return ret;
}

int vv_envset_create(struct vv_envset *set, const char *name, struct vv_env **out)
{
	return vv_envset_create_as(set, name, getuid(), getgid(), -1, out);
}

int vv_envset_create_as(struct vv_envset *set, const char *name, uid_t uid, gid_t gid,
			int mode, struct vv_env **out)
{
	if (set->readonly)
		return -EROFS;
	int r = vv_env_name_check(name, strlen(name));
	if (r < 0)
		return r;
	if (vv_envset_find(set, name, strlen(name)))
		return -EEXIST;
	struct vv_envcfg cfg = {
		.python = set->defpy.exe,
		.root = set->without_pip ? set->defpy.skel_nopip : set->defpy.skel_pip,
		.without_pip = set->without_pip,
		.owned = true,
		.uid = uid,
		.gid = gid,
		.has_mode = mode >= 0,
		.mode = mode >= 0 ? (mode_t)mode & 07777 : 0,
	};
	if ((r = vv_env_create(set->st, name, &cfg)) < 0)
		return r;
	struct vv_env *env;
	if ((r = env_new(set, name, &env)) < 0)
		return r;
	if ((r = envs_insert(set, env)) < 0) {
		env_free(env);
		return r;
	}
	set->mtime_ns = vv_now_ns();
	*out = env;
	return 0;
}

int vv_envset_remove(struct vv_envset *set, const char *name)
{
	struct vv_env *env = vv_envset_find(set, name, strlen(name));
	if (!env)
		return -ENOENT;
	int r = vv_env_load_root(env);
	if (r < 0)
		return r;
	if ((r = env_writable(env)) < 0)
		return r;
	struct vv_node *root = env->root;
	if (!dir_empty(root))
		return -ENOTEMPTY;
	if ((r = vv_env_remove(set->st, name)) < 0)
		return r;
	vv_envlock_drop(set->st, name, env->lockfd);
	env->lockfd = -1;
	vv_journal_close(&env->jfd);
	env->removed = true;
	envs_remove(set, env);
	set->mtime_ns = vv_now_ns();
	/* The kernel may still hold the root; keep the env alive (detached) until the
	 * envset closes. */
	if (env->root->nlookup == 0)
		env_free(env);
	else
		env_bury(set, env);
	return 0;
}

int vv_envset_rename(struct vv_envset *set, const char *from, const char *to, bool noreplace)
{
	struct vv_env *env = vv_envset_find(set, from, strlen(from));
	if (!env)
		return -ENOENT;
	int r = vv_env_name_check(to, strlen(to));
	if (r < 0)
		return r;
	if ((r = env_load_cfg(env)) < 0 || (r = env_writable(env)) < 0)
		return r;
	if (vv_envset_find(set, to, strlen(to)))
		return noreplace ? -EEXIST : -ENOTEMPTY;
	/* both names' writer locks: from's is the env's (taken above) */
	int tofd;
	if ((r = vv_envlock_take(set->st, to, &tofd)) < 0) {
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		return r;
	}
	env->active++; /* the commit must not let from's lock go before the rename */
	if ((r = vv_env_commit(env)) == 0) {
		vv_journal_close(&env->jfd);
		r = vv_env_rename(set->st, from, to);
	}
	env->active--;
	if (r < 0) {
		vv_envlock_release(tofd);
		vv_env_release_idle(env);
		return r;
	}
	/* from's lock file goes with the name; writers still open keep the env locked
	 * under its new name */
	vv_envlock_drop(set->st, from, env->lockfd);
	env->lockfd = -1;
	if (env->active)
		env->lockfd = tofd;
	else
		vv_envlock_release(tofd);
	char *nn = strdup(to);
	if (!nn)
		return -ENOMEM;
	envs_remove(set, env);
	free(env->name);
	env->name = nn;
	if (env->root) {
		free(env->root->name);
		env->root->name = strdup(to);
	}
	envs_insert(set, env);
	env->epoch++;
	set->mtime_ns = vv_now_ns();
	return 0;
}

int vv_env_set_owner(struct vv_env *env, long uid, long gid, int mode)
{
	int r = vv_env_load_root(env);
	if (r < 0)
		return r;
	if ((r = env_writable(env)) < 0)
		return r;
	struct vv_envcfg cfg = env->cfg;
	if (uid >= 0)
		cfg.uid = (uid_t)uid;
	if (gid >= 0)
		cfg.gid = (gid_t)gid;
	if (uid >= 0 || gid >= 0)
		cfg.owned = true;
	if (mode >= 0) {
		cfg.has_mode = true;
		cfg.mode = (mode_t)mode & 07777;
	}
	if (cfg_equal(&cfg, &env->cfg) && cfg.has_mode == env->cfg.has_mode)
		return 0;
	/* committed like a pyvenv.cfg edit: the env file with the committed root, so the
	 * journal of changes not committed yet stays valid on top of it */
	if ((r = vv_env_save(env->set->st, env->name, &cfg, "mount", 0)) < 0)
		return r;
	env->cfg.owned = cfg.owned;
	env->cfg.uid = cfg.uid;
	env->cfg.gid = cfg.gid;
	env->cfg.has_mode = cfg.has_mode;
	env->cfg.mode = cfg.mode;
	env->root->mode = (uint16_t)vv_envcfg_mode(&cfg);
	env->root->ctime_ns = vv_now_ns();
	return 0;
}
