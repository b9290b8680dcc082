/*
 * content.c - the bytes of files: copy-up into a stage for writing (a file in the
 * store's stage/ that the journal names before the first byte is written, so nothing
 * a writer was told is written can be lost with the daemon), reading (a stored script
 * shows the env's interpreter in its first line, a stored pyc is rendered with the
 * env's path), and publishing a stage as an object,
 * after which its new content is journaled as that object. Also replacing a file's
 * content with a published object (vv_node_put: replay and tools).
 */
#include "live/live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg/rectpl.h"
#include "python/pyc.h"
#include "store/damaged.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "store/odb.h"
#include "store/store.h"
#include "python/synth.h"

int vv_live_new_stage(struct vv_env *env, bool named, struct vv_fdref **out)
{
	char name[VV_ODB_STAGE_SIZE] = "";
	struct vv_odb *odb = &env->set->st->odb;
	int fd = named ? vv_odb_stage_new(odb, name) : vv_odb_tmpfile(odb);
	if (fd < 0)
		return fd;
	*out = vv_fdref_new(fd);
	if (!*out) {
		close(fd);
		if (named)
			vv_odb_stage_remove(odb, name);
		return -ENOMEM;
	}
	_Static_assert(sizeof((*out)->stage) == VV_ODB_STAGE_SIZE, "stage name size");
	memcpy((*out)->stage, name, sizeof(name));
	return 0;
}

/* Open the published object of a file node for its bytes: a missing, truncated or
 * damaged object is -EIO (logged once), never wrong bytes (damaged.h). */
static int open_content(struct vv_node *n)
{
	char what[300];
	snprintf(what, sizeof(what), "env %.256s", n->env->name);
	return vv_obj_open_checked(n->env->set->st, &n->oid, n->size, what);
}

/* The bytes of a stored template as this env shows them: a pyc (python/pyc.h) or a
 * RECORD (pkg/rectpl.h). The template is read whole and checked against its id
 * (templates are small): a corrupt or malformed one is -EIO and a log line, never
 * wrong bytes. */
static int render_tpl(struct vv_node *n, char **out, size_t *len)
{
	*out = NULL;
	char what[300];
	snprintf(what, sizeof(what), "env %.256s", n->env->name);
	bool pyc = n->kind == VV_PYC;
	uint64_t max = pyc ? VV_PYC_MAX + (1u << 20) : 2 * (uint64_t)VV_RECTPL_MAX;
	if (n->size > max)
		return vv_obj_report_bad(n->env->set->st, &n->oid, what, "is too large a template");
	int fd = open_content(n);
	if (fd < 0)
		return fd;
	size_t tl = (size_t)n->size;
	char *t = malloc(tl ? tl : 1);
	int r = t ? 0 : -ENOMEM;
	if (r == 0 && vv_pread_all(fd, t, tl, 0) < 0)
		r = vv_obj_report_bad(n->env->set->st, &n->oid, what, "cannot be read");
	close(fd);
	vv_oid got;
	if (r == 0) {
		vv_hash_buf(t, tl, &got);
		if (!vv_oid_eq(&got, &n->oid))
			r = vv_obj_report_bad(n->env->set->st, &n->oid, what, "is corrupt");
	}
	char *path = r == 0 ? vv_env_path(n->env) : NULL;
	if (r == 0 && !path)
		r = -ENOMEM;
	if (r == 0)
		r = pyc ? vv_pyc_render(t, tl, &n->pyc, path, out, len) :
			  vv_rectpl_render(t, tl, &n->rec, path, out, len);
	if (r == -EUCLEAN)
		r = vv_obj_report_bad(n->env->set->st, &n->oid, what, pyc ?
				      "is not the stored form of a pyc its tree says" :
				      "is not the RECORD template its tree says");
	free(path);
	free(t);
	return r;
}

/* Copy the node's current content (as users see it) into fd. */
static int copy_content(struct vv_node *n, int fd)
{
	if (n->stage)
		return vv_copy_fd(n->stage->fd, fd);
	if (n->kind == VV_SYN_FILE) {
		int r = vv_live_synth_content(n);
		return r < 0 ? r : vv_write_all(fd, n->synth, n->synthlen);
	}
	if (n->kind == VV_PYC || n->kind == VV_RECORD) {
		char *buf;
		size_t len;
		int r = render_tpl(n, &buf, &len);
		if (r == 0)
			r = vv_write_all(fd, buf, len);
		free(buf);
		return r;
	}
	int src = open_content(n);
	if (src < 0)
		return src;
	int r;
	if (n->kind == VV_SCRIPT) {
		char *sb = NULL, *buf = NULL;
		size_t sl = 0, skip = 0;
		struct stat s;
		if ((r = vv_live_script_prefix(n, src, &sb, &sl, &skip)) == 0 &&
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

/* A sealed stage about to be written again is stored first (its bytes synced, then
 * linked): what was closed must not be lost if the new writer fails and the file
 * goes back to its object. The writer then gets a fresh stage. */
static int store_sealed_now(struct vv_node *n)
{
	int r = vv_odb_stage_sync(&n->env->set->st->odb, n->stage->fd, false);
	return r < 0 ? r : vv_live_link_sealed(n);
}

/* Make sure n has a stage that may be written (copying up its content unless trunc). */
static int stage_for_write(struct vv_node *n, bool trunc)
{
	if (vv_live_sealed(n)) {
		int r = store_sealed_now(n);
		if (r < 0)
			return r;
	}
	if (n->stage && !n->publishing && !n->stage->rdonly) {
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
	bool named = n->kind != VV_SYN_FILE;
	int r = vv_live_new_stage(n->env, named, &s);
	if (r < 0)
		return r;
	uint64_t size = 0;
	if (!trunc) {
		if ((r = copy_content(n, s->fd)) < 0) {
			vv_odb_stage_remove(&n->env->set->st->odb, s->stage);
			vv_fdref_put(s);
			return r;
		}
		struct stat st;
		size = fstat(s->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
		/* the stage's mtime is the file's (a replay reads it from there) */
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT },
					  { .tv_sec = n->mtime_ns / 1000000000,
					    .tv_nsec = n->mtime_ns % 1000000000 } };
		if (named && n->mtime_ns >= 0)
			(void)futimens(s->fd, ts);
	}
	if (n->publishing && n->stage) /* its content is about to change: stop storing it */
		__atomic_store_n(&n->stage->cancel, true, __ATOMIC_RELEASE);
	vv_live_stage_set(n, s);
	if (named)
		vv_live_record_stage(n);
	n->ssize = size;
	n->stage_gen++;
	n->stage_err = 0;
	n->publishing = false;
	free(n->stage_envpath);
	n->stage_envpath = n->parent && vv_live_is_env_bin(n->parent) ?
			   vv_env_path(n->env) : NULL;
	if (n->kind == VV_SYN_FILE)
		return 0;
	if (n->kind == VV_SCRIPT) {
		n->kind = VV_REG; /* its content now names this env's interpreter */
		n->script_oid = true;
	}
	/* a pyc keeps its kind: its stage is its content, and a write that fails gives
	 * it back its stored form */
	return 0;
}

int vv_node_open_write(struct vv_node *n, bool trunc)
{
	int wr = vv_live_env_writable(n->env);
	if (wr < 0)
		return wr;
	if (vv_live_is_dir(n))
		return -EISDIR;
	if (!vv_kind_file(n->kind) && n->kind != VV_SYN_FILE)
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
	int wr = vv_live_env_writable(n->env);
	if (wr < 0)
		return wr;
	if (n->kind == VV_SYN_LINK)
		return -EPERM;
	if (vv_live_is_dir(n))
		return -EISDIR;
	if (vv_kind_special(n->kind)) /* a FIFO or socket has no content to cut */
		return -EINVAL;
	int r = stage_for_write(n, size == 0); /* size 0: the stage is empty already */
	if (r < 0)
		return r;
	if (size != 0 && ftruncate(n->stage->fd, (off_t)size) < 0)
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
		int r = vv_live_synth_content(n);
		if (r < 0)
			return r;
		out->prefix = malloc(n->synthlen ? n->synthlen : 1);
		if (!out->prefix)
			return -ENOMEM;
		memcpy((char *)out->prefix, n->synth, n->synthlen);
		out->prefixlen = n->synthlen;
		return 0;
	}
	if (!vv_kind_file(n->kind))
		return -EINVAL;
	if (n->stage) {
		vv_fdref_get(n->stage);
		out->fd = n->stage;
		return 0;
	}
	if (n->kind == VV_PYC || n->kind == VV_RECORD) {
		char *buf;
		size_t len;
		int r = render_tpl(n, &buf, &len);
		out->prefix = buf;
		out->prefixlen = len;
		return r;
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
		int r = vv_live_script_prefix(n, fd, &sb, &sl, &skip);
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
	n->publish_failed = false;
	if (end_off > n->ssize)
		n->ssize = end_off;
	n->stage_gen++;
	n->mtime_ns = n->ctime_ns = vv_now_ns();
}

int vv_node_publish_begin(struct vv_node *n, struct vv_publish *p, bool *need)
{
	memset(p, 0, sizeof(*p));
	*need = false;
	if (!n->stage || n->publishing || n->unlinked || vv_live_is_synth(n))
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
	else if (n->parent && vv_live_is_env_bin(n->parent))
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
		r = vv_odb_put_buf(&st->odb, out, p->size, &p->oid);
		free(out);
		if (r == 0)
			r = 1;
	}
	free(buf);
	return r;
}

static bool publish_stop(void *arg)
{
	struct vv_publish *p = arg;
	return __atomic_load_n(&p->fd->cancel, __ATOMIC_ACQUIRE) ||
	       (p->stop && p->stop(p->stop_arg));
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
	if (p->link && p->fd->stage[0]) {
		int r = vv_odb_seal(&st->odb, p->fd->fd, &p->oid, &p->size, publish_stop, p);
		p->err = r < 0 ? r : 0;
		p->sealed = r == 0;
	}
	else if (p->link)
		p->err = vv_odb_publish_tmpfile(&st->odb, p->fd->fd, &p->oid, &p->size);
	else
		p->err = vv_odb_put_fd(&st->odb, p->fd->fd, &p->oid, &p->size);
}

int vv_node_publish_end(struct vv_publish *p)
{
	struct vv_node *n = p->node;
	int r = p->err;
	/* Only while the published stage is still the node's content: a write that began
	 * meanwhile (an O_TRUNC open makes a new stage) may even have been published first,
	 * and this older result must not replace it. */
	bool current = n->stage == p->fd && n->stage_gen == p->gen;
	if (r == 0 && current && p->sealed) {
		/* the commit links it; until then reads keep using the stage */
		struct vv_fdref *s = n->stage;
		s->sealed = true;
		s->seal_oid = p->oid;
		s->seal_size = p->size;
		s->seal_gen = n->stage_gen;
		s->seal_ns = vv_now_ns();
		if (!n->unlinked && n->parent) {
			vv_live_dir_touch(n->parent, false);
			vv_live_record_sealed(n); /* what replay checks after a power loss */
		}
	} else if (r == 0 && current) {
		n->oid = p->oid;
		n->size = p->size;
		n->kind = p->script ? VV_SCRIPT : VV_REG;
		n->script_oid = false;
		n->pyc = (struct vv_pycent){ 0 };
		n->rec = (struct vv_recent){ 0 };
		if (p->link || (p->script && !n->writers))
			vv_live_stage_clear(n); /* the stage is now the object itself */
		if (!n->unlinked && n->parent) {
			/* a content change does not change the parent's mtime */
			if (vv_live_dir_touch(n->parent, false) == 0)
				vv_live_record_put(n);
		}
	}
	if (current) {
		n->publishing = false;
		n->publish_failed = r < 0 && r != -ECANCELED;
	}
	free(p->envpath);
	vv_fdref_put(p->fd);
	n->pins--;
	n->env->active--;
	if (n->unlinked && n->nlookup == 0 && n->pins == 0)
		vv_live_node_free(n);
	return r;
}

int vv_node_put(struct vv_node *dir, const char *name, const struct vv_tree_ent *e)
{
	int wr = vv_live_env_writable(dir->env);
	if (wr < 0)
		return wr;
	if (!vv_kind_file(e->kind))
		return -EINVAL;
	struct vv_node *n;
	int r = vv_node_lookup(dir, name, &n);
	if (r == -ENOENT) {
		if ((r = vv_live_check_new_name(dir, name)) < 0)
			return r;
		if (!(n = vv_live_node_new(dir->env, name, strlen(name), e->kind)))
			return -ENOMEM;
		if ((r = vv_live_add_new(dir, n)) < 0) {
			vv_live_node_free(n);
			return r;
		}
	} else if (r < 0) {
		return r;
	} else if (vv_live_is_dir(n) || vv_live_is_synth(n) || n->kind == VV_LNK ||
		   vv_kind_special(n->kind)) {
		return -EEXIST;
	} else if ((r = vv_live_dir_touch(dir, false)) < 0) {
		return r;
	}
	if (n->stage && !n->publishing)
		vv_live_stage_clear(n);
	n->kind = e->kind;
	n->script_oid = false;
	n->mode = e->mode & 07777;
	n->size = e->size;
	n->oid = e->oid;
	n->pyc = e->kind == VV_PYC ? e->pyc : (struct vv_pycent){ 0 };
	n->rec = e->kind == VV_RECORD ? e->rec : (struct vv_recent){ 0 };
	n->mtime_ns = n->atime_ns = e->mtime_ns;
	n->ctime_ns = vv_now_ns();
	vv_live_record_put(n);
	return 0;
}

void vv_node_close_write(struct vv_node *n)
{
	if (n->writers) {
		n->writers--;
		n->env->active--;
	}
	/* an edit of a synthesized file lives only while it is open (see vv_node_flush) */
	if (!n->writers && n->kind == VV_SYN_FILE && n->stage)
		vv_live_stage_clear(n);
	/* a write failed and was not retried: half a file is never kept, the file has its
	 * earlier content again (journaled, so a replay drops the stage too) */
	if (!n->writers && n->stage && n->stage_err && !n->publishing && !n->unlinked) {
		if (n->script_oid) /* the earlier content is a console script */
			n->kind = VV_SCRIPT;
		n->script_oid = false;
		/* the record of the earlier content replaces the stage's in the journal, so
		 * its name (and space: the disk may be full) goes at once */
		if (n->parent && vv_live_dir_touch(n->parent, false) == 0)
			vv_live_record_put(n);
		vv_live_stage_discard(n);
		n->stage_err = 0;
	}
	vv_live_drop_dead_stage(n);
}

struct vv_node *vv_env_unpublished(struct vv_env *env)
{
	if (env->set->readonly)
		return NULL;
	for (struct vv_node *n = env->staged; n; n = n->st_next)
		if (!n->writers && !n->publishing && !n->publish_failed && !n->stage_err &&
		    !n->unlinked && !vv_live_sealed(n))
			return n;
	return NULL;
}

bool vv_env_needs_sync(struct vv_env *env)
{
	int64_t synced = vv_odb_synced_at(&env->set->st->odb);
	for (struct vv_node *n = env->staged; n; n = n->st_next)
		if (vv_live_sealed(n) && n->stage->seal_ns >= synced)
			return true;
	return false;
}
