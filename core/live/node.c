/*
 * node.c - a node by itself: refcounted fds, making and freeing nodes, the sorted array
 * of a directory's kids, what stat and readlink show (shown sizes of scripts and
 * synthesized files), paths, and forgetting nodes the kernel no longer holds.
 *
 * The bottom of the live model: everything else here builds on these, and nothing here
 * calls another file of core/live/.
 */
#include "live/live.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/odb.h"
#include "store/store.h"
#include "util/error.h"
#include "util/clock.h"
#include "util/vec.h"
#include "pkg/rectpl.h"
#include "python/pyc.h"
#include "python/script.h"
#include "python/synth.h"

/* A stored console script starts with "#!python" + SUFFIX + "\n" (python/script.h);
 * the mount shows the env's interpreter there instead. */
#define SCRIPT_MAGIC_LEN VV_SCRIPT_MAGIC_LEN

/* ---- fd refs ------------------------------------------------------------------- */

struct vv_fdref *vv_fdref_new(int fd)
{
	struct vv_fdref *r = calloc(1, sizeof(*r));
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

struct vv_node *vv_live_node_new(struct vv_env *env, const char *name, size_t len,
				 uint8_t kind)
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

/* ---- stages ------------------------------------------------------------------- */

static bool named(const struct vv_fdref *s)
{
	return s && s->stage[0];
}

static void unlist(struct vv_node *n)
{
	if (n->st_prev)
		n->st_prev->st_next = n->st_next;
	else if (n->env->staged == n)
		n->env->staged = n->st_next;
	if (n->st_next)
		n->st_next->st_prev = n->st_prev;
	n->st_prev = n->st_next = NULL;
}

/* A stage the journal named is no longer n's content: its name can go once a new
 * journal no longer names it (vv_live_stages_after_commit). Without memory for the
 * list it stays for gc. */
static void retire(struct vv_env *env, const struct vv_fdref *s)
{
	if (VV_GROW(env->retired, env->nretired, env->capretired, 64) == 0)
		memcpy(env->retired[env->nretired++], s->stage, sizeof(s->stage));
}

void vv_live_stage_set(struct vv_node *n, struct vv_fdref *s)
{
	if (named(n->stage)) {
		unlist(n);
		retire(n->env, n->stage);
	}
	vv_fdref_put(n->stage);
	n->stage = s;
	n->publish_failed = false;
	if (named(s)) {
		n->st_prev = NULL;
		n->st_next = n->env->staged;
		if (n->st_next)
			n->st_next->st_prev = n;
		n->env->staged = n;
	}
}

void vv_live_stage_discard(struct vv_node *n)
{
	if (named(n->stage)) {
		unlist(n);
		vv_odb_stage_remove(&n->env->set->st->odb, n->stage->stage);
	}
	vv_fdref_put(n->stage);
	n->stage = NULL;
	n->publish_failed = false;
}

int vv_live_link_sealed(struct vv_node *n)
{
	struct vv_fdref *s = n->stage;
	int r = vv_odb_link_synced(&n->env->set->st->odb, s->fd, &s->seal_oid);
	if (r < 0)
		return r;
	n->oid = s->seal_oid;
	n->size = s->seal_size;
	n->kind = VV_REG;
	n->script_oid = false;
	n->pyc = (struct vv_pycent){ 0 };
	n->rec = (struct vv_recent){ 0 };
	vv_live_stage_clear(n);
	return 0;
}

bool vv_live_sealed(const struct vv_node *n)
{
	return n->stage && n->stage->sealed && n->stage->seal_gen == n->stage_gen &&
	       !n->writers && !n->publishing && !n->unlinked;
}

void vv_live_stage_clear(struct vv_node *n)
{
	vv_live_stage_set(n, NULL);
}

void vv_live_node_free(struct vv_node *n)
{
	if (n->base)
		vv_tree_unref(n->base);
	vv_times_unref(n->times);
	/* a stage still named stays for the journal that names it (the next mount),
	 * unless its file was removed (a publish stopped by the removal ends here) */
	if (named(n->stage)) {
		unlist(n);
		if (n->unlinked)
			vv_odb_stage_remove(&n->env->set->st->odb, n->stage->stage);
	}
	vv_fdref_put(n->stage);
	free(n->stage_envpath);
	free(n->kids);
	free(n->target);
	free(n->synth);
	free(n->name);
	free(n);
}

struct vv_node *vv_live_node_from_tent(struct vv_env *env, const struct vv_tree_ent *e,
				       struct vv_times *times, uint64_t idx, bool *found)
{
	struct vv_tree_ent v = *e;
	*found = vv_times_apply(times, idx, &v);
	struct vv_node *n = vv_live_node_from_ent(env, &v);
	/* a directory keeps the table only if it holds values for entries below it */
	if (n && e->kind == VV_DIR && vv_times_any(times, idx + 1, e->size)) {
		vv_times_ref(times);
		n->times = times;
		n->tbase = idx + 1;
	}
	return n;
}

struct vv_node *vv_live_node_from_ent(struct vv_env *env, const struct vv_tree_ent *e)
{
	struct vv_node *n = vv_live_node_new(env, e->name, e->namelen, e->kind);
	if (!n)
		return NULL;
	n->mode = e->mode;
	n->size = e->size;
	n->mtime_ns = n->ctime_ns = n->atime_ns = e->mtime_ns;
	n->oid = e->oid;
	if (e->kind == VV_PYC)
		n->pyc = e->pyc;
	if (e->kind == VV_RECORD)
		n->rec = e->rec;
	if (e->kind == VV_LNK) {
		n->target = strdup(e->target);
		if (!n->target) {
			vv_live_node_free(n);
			return NULL;
		}
	}
	return n;
}

/* An unlinked file nobody writes to any more will never be published: give its stage's
 * space back now instead of when the kernel forgets the inode (open read handles hold
 * their own reference). */
void vv_live_drop_dead_stage(struct vv_node *n)
{
	/* its space comes back now: the journal removed the file after naming the stage,
	 * and replay takes a gone stage of a removed file as it is */
	if (n->unlinked && !n->writers && n->stage && !n->publishing && n->kind != VV_DIR)
		vv_live_stage_discard(n);
}

/* Frees subtrees of materialized/clean dirs that are no longer reachable. Only nodes
 * without kernel references are freed; others stay until vv_node_forget. */
void vv_live_node_drop(struct vv_node *n)
{
	n->parent = NULL;
	n->unlinked = true;
	if (n->publishing && n->stage) /* nobody will see what it would store */
		__atomic_store_n(&n->stage->cancel, true, __ATOMIC_RELEASE);
	vv_live_drop_dead_stage(n);
	if (n->nlookup == 0 && n->pins == 0) {
		for (size_t i = 0; i < n->nkids; i++)
			vv_live_node_drop(n->kids[i]);
		vv_live_node_free(n);
	}
}

/* ---- the kids of a directory --------------------------------------------------- */

int vv_live_kid_cmp(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Binary search; returns the node or NULL, *idx the insertion point. */
struct vv_node *vv_live_kid_find(struct vv_node *dir, const char *name, size_t len,
				 size_t *idx)
{
	size_t lo = 0, hi = dir->nkids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = vv_live_kid_cmp(name, len, dir->kids[mid]->name);
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

int vv_live_kid_insert(struct vv_node *dir, size_t idx, struct vv_node *n)
{
	int r = VV_GROW(dir->kids, dir->nkids, dir->capkids, 8);
	if (r < 0)
		return r;
	memmove(dir->kids + idx + 1, dir->kids + idx, (dir->nkids - idx) * sizeof(*dir->kids));
	dir->kids[idx] = n;
	dir->nkids++;
	n->parent = dir;
	return 0;
}

void vv_live_kid_remove(struct vv_node *dir, struct vv_node *n)
{
	size_t idx;
	if (vv_live_kid_find(dir, n->name, strlen(n->name), &idx) != n)
		return;
	memmove(dir->kids + idx, dir->kids + idx + 1, (dir->nkids - idx - 1) * sizeof(*dir->kids));
	dir->nkids--;
}

/* ---- stat ---------------------------------------------------------------------- */

/* The first line(s) shown for a script of env: interpreter "python" + sfx. */
static int shebang(const struct vv_env *env, const char *sfx, char **out, size_t *len)
{
	char *path = vv_env_path(env);
	if (!path)
		return -ENOMEM;
	int r = vv_script_shebang(path, sfx, out, len);
	free(path);
	return r;
}

/* Read the stored first line of a script object: suffix into sfx, its length into
 * *skip. -EUCLEAN if the object is not a stored script. */
static int script_sfx(int fd, char *sfx, size_t *skip)
{
	char head[VV_SCRIPT_MAGIC_LEN + VV_SCRIPT_SFX_MAX + 2];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	if (n < 0)
		return vv_err(-errno, "cannot read a script object");
	return vv_script_head(head, (size_t)n, sfx, skip);
}

/* Shown prefix and hidden stored head of a script object. */
int vv_live_script_prefix(struct vv_node *n, int fd, char **out, size_t *len, size_t *skip)
{
	char sfx[VV_SCRIPT_SFX_MAX + 1];
	int r = script_sfx(fd, sfx, skip);
	return r < 0 ? r : shebang(n->env, sfx, out, len);
}

/* Generate (or reuse) the content of a synthesized node. */
int vv_live_synth_content(struct vv_node *n)
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
		.no_command = env->cfg.no_command,
		.pykeys = env->cfg.pykeys,
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

/* The size a RECORD template shows in n's env (pkg/rectpl.h): from its entry, else
 * rendered (a damaged template shows its stored size; reading it is EIO). */
static uint64_t record_size(struct vv_node *n)
{
	char *path = vv_env_path(n->env), *t = NULL, *out = NULL;
	size_t tl = 0, ol = 0;
	uint64_t size = path ? vv_rectpl_size(n->size, &n->rec, path) : UINT64_MAX;
	if (path && size == UINT64_MAX &&
	    vv_odb_read_obj(&n->env->set->st->odb, &n->oid, 2 * (size_t)VV_RECTPL_MAX, &t,
			    &tl) == 0 &&
	    vv_rectpl_render(t, tl, &n->rec, path, &out, &ol) == 0)
		size = ol;
	vv_err_clear();
	free(out);
	free(t);
	free(path);
	return size == UINT64_MAX ? n->size : size;
}

static uint64_t node_size(struct vv_node *n)
{
	switch (n->kind) {
	case VV_REG:
		return n->stage ? n->ssize : n->size;
	case VV_PYC: {
		if (n->stage)
			return n->ssize;
		char *path = vv_env_path(n->env);
		uint64_t size = path ? vv_pyc_size(n->size, &n->pyc, path) : n->size;
		free(path);
		return size;
	}
	case VV_RECORD:
		return n->stage ? n->ssize : record_size(n);
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
		return vv_live_synth_content(n) < 0 ? 0 : n->synthlen;
	}
	return 0;
}

bool vv_env_readonly(const struct vv_env *env)
{
	return env->set->readonly || env->cfg.locked;
}

mode_t vv_node_type(uint8_t kind)
{
	switch (kind) {
	case VV_DIR: return S_IFDIR;
	case VV_LNK:
	case VV_SYN_LINK: return S_IFLNK;
	case VV_FIFO: return S_IFIFO;
	case VV_SOCK: return S_IFSOCK;
	}
	return S_IFREG;
}

void vv_node_stat(struct vv_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	mode_t type = vv_node_type(n->kind);
	st->st_mode = type | n->mode;
	/* a locked env (or a read-only mount) shows no write permission, so tools that
	 * test for it (test -w, os.access) see the truth before trying */
	if (type != S_IFLNK && vv_env_readonly(n->env))
		st->st_mode &= ~(mode_t)0222;
	st->st_nlink = vv_live_is_dir(n) ? 2 : 1;
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
	st->st_atim.tv_sec = n->atime_ns / 1000000000;
	st->st_atim.tv_nsec = n->atime_ns % 1000000000;
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
	for (const struct vv_node *p = n; p && !vv_live_is_root(p); p = p->parent)
		len += strlen(p->name) + 1;
	char *buf = malloc(len + 1);
	if (!buf)
		return NULL;
	buf[len] = 0;
	size_t pos = len;
	for (const struct vv_node *p = n; p && !vv_live_is_root(p); p = p->parent) {
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

/* ---- the kernel's references --------------------------------------------------- */

/* Tell the FUSE layer that the kernel's entry dir/name is stale. */
void vv_live_inval_entry(struct vv_node *dir, const char *name)
{
	struct vv_envset *set = dir->env->set;
	if (set->inval_entry && dir->nlookup)
		set->inval_entry(set->inval_ctx, dir, name);
}

/* Does anything below n still matter: a node the kernel holds or something pins, or
 * state that is not just a cache of the tree? The kernel may forget a directory before
 * the entries below it (forgets of an invalidated subtree come in any order, from
 * several threads), so the whole subtree counts, not only n's own kids. */
static bool subtree_busy(const struct vv_node *n, int depth)
{
	for (size_t i = 0; i < n->nkids; i++) {
		const struct vv_node *c = n->kids[i];
		if (c->nlookup || c->pins || c->stage || c->dirty || vv_live_is_synth(c) ||
		    (vv_live_is_dir(c) && c->mat) || depth > 4096 || subtree_busy(c, depth + 1))
			return true;
	}
	return false;
}

static void subtree_free(struct vv_node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		subtree_free(n->kids[i]);
	vv_live_node_free(n);
}

bool vv_node_forget(struct vv_node *n, uint64_t k)
{
	n->nlookup = n->nlookup > k ? n->nlookup - k : 0;
	if (n->nlookup || n->pins || vv_live_is_synth(n) || vv_live_is_root(n))
		return false;
	if (n->unlinked) {
		vv_live_node_drop(n);
		return true;
	}
	/* a clean node under a clean directory is just a cache of the tree: drop it */
	struct vv_node *p = n->parent;
	if (p && !p->mat && !n->stage && !n->dirty && !(vv_live_is_dir(n) && n->mat)) {
		size_t idx;
		if (vv_live_kid_find(p, n->name, strlen(n->name), &idx) == n) {
			if (subtree_busy(n, 0))
				return false;
			vv_live_kid_remove(p, n);
			subtree_free(n);
			return true;
		}
	}
	return false;
}
