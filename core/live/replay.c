/*
 * replay.c - applying the env's journal (journal.h) to its freshly loaded root.
 *
 * The journal only knows its records; here each one is turned back into the change it
 * describes, made through the same calls the mount uses (with env->replaying set, so
 * nothing is journaled again and a locked env does not refuse it). A record that cannot
 * be applied is skipped with a message: the rest of the journal still counts.
 */
#include "live/live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/journal.h"
#include "store/odb.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/vec.h"

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
		r = vv_live_walk(env, slash ? p : "", dir);
	}
	free(p);
	return r;
}

/* What the journal says of one stage (its `w`, `s` and `f` records), gathered before
 * the replay: after a power loss it decides whether the stage may become a file's
 * content (journal.h). */
struct stage_info {
	char stage[VV_ODB_STAGE_SIZE];
	bool this_boot; /* its `w` record was written during this boot of the machine */
	bool sealed, synced;
	uint64_t size;
	char oidhex[VV_OID_HEX + 1];
};

struct stages {
	struct stage_info *v;
	size_t n, cap;
	bool this_boot; /* the `b` record last read names this boot (or there was none) */
	size_t next;    /* replay: index of the next `w` record's entry */
};

static struct stage_info *stage_find(struct stages *ss, const char *stage)
{
	for (size_t i = ss->n; i-- > 0;)
		if (!strcmp(ss->v[i].stage, stage))
			return &ss->v[i];
	return NULL;
}

static int gather(void *ctx, const struct vv_jrec *j)
{
	struct stages *ss = ctx;
	struct stage_info *si;
	switch (j->op) {
	case 'b':
		ss->this_boot = !*vv_boot_id() || !strcmp(j->boot, vv_boot_id());
		break;
	case 'w':
		if (VV_GROW(ss->v, ss->n, ss->cap, 64) < 0)
			return -ENOMEM;
		si = &ss->v[ss->n++];
		memset(si, 0, sizeof(*si));
		memcpy(si->stage, j->stage, sizeof(si->stage));
		si->this_boot = ss->this_boot;
		break;
	case 's':
		if ((si = stage_find(ss, j->stage))) {
			si->sealed = true;
			si->size = j->size;
			memcpy(si->oidhex, j->oidhex, sizeof(si->oidhex));
		}
		break;
	case 'f':
		if ((si = stage_find(ss, j->stage)))
			si->synced = true;
		break;
	}
	return 0;
}

/* May the bytes of stage fd (-1: missing) become a file's content? Yes if written in
 * this boot (a daemon that died lost nothing of the page cache) or fsynced; from an
 * earlier boot only if it still hashes to what it was sealed as. */
static bool stage_trusted(const struct stage_info *si, int fd)
{
	if (!si || si->this_boot || si->synced)
		return true;
	vv_oid want, got;
	uint64_t size;
	return fd >= 0 && si->sealed && vv_oid_from_hex(&want, si->oidhex, VV_OID_HEX) == 0 &&
	       vv_hash_fd(fd, &got, &size) == 0 && size == si->size &&
	       !memcmp(&got, &want, sizeof(got));
}

/* `w`: the file's content is the stage the record names (made empty if missing). A
 * stage that may not be trusted (stage_trusted) changes nothing: -ESTALE. */
static int attach_stage(struct vv_node *dir, const char *name, const struct vv_jrec *j,
			const struct stage_info *si)
{
	struct vv_env *env = dir->env;
	struct vv_node *n;
	int r = vv_node_lookup(dir, name, &n);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0 && !vv_kind_file(n->kind))
		return -EEXIST;
	bool writable;
	int fd = vv_odb_stage_open(&env->set->st->odb, j->stage, &writable);
	if (!stage_trusted(si, fd)) {
		if (fd >= 0)
			close(fd);
		return -ESTALE;
	}
	if (r == -ENOENT) {
		struct vv_tree_ent e = { .kind = VV_REG, .mode = (uint16_t)j->mode,
					 .oid = env->set->empty_oid, .mtime_ns = vv_now_ns() };
		if ((r = vv_node_put(dir, name, &e)) < 0 ||
		    (r = vv_node_lookup(dir, name, &n)) < 0) {
			if (fd >= 0)
				close(fd);
			return r;
		}
	} else if ((r = vv_live_dir_touch(dir, false)) < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (fd < 0)
		return fd == -ENOENT ? -ENODATA : fd;
	struct stat sb;
	struct vv_fdref *s = fstat(fd, &sb) == 0 ? vv_fdref_new(fd) : NULL;
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	memcpy(s->stage, j->stage, sizeof(s->stage));
	s->rdonly = !writable;
	vv_live_stage_set(n, s);
	if (n->kind == VV_SCRIPT)
		n->script_oid = true; /* as a copy-up does (content.c) */
	n->kind = VV_REG;
	n->pyc = (struct vv_pycent){ 0 };
	n->rec = (struct vv_recent){ 0 };
	n->mode = (uint16_t)j->mode;
	n->ssize = (uint64_t)sb.st_size;
	n->stage_gen++;
	n->stage_err = 0;
	n->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	n->ctime_ns = vv_now_ns();
	return 0;
}

static int apply(struct vv_env *env, const struct vv_jrec *j, const struct stage_info *si)
{
	struct vv_node *dir, *dir2, *n;
	char name[256], name2[256];
	int r;
	if (j->op == 'b' || j->op == 's' || j->op == 'f')
		return 0; /* read before the replay (gather) */
	const char *pa = j->op == 'l' ? j->b : j->a;
	size_t pl = j->op == 'l' ? j->blen : j->alen;
	if ((r = walk_parent(env, pa, pl, &dir, name)) < 0)
		return r;
	switch (j->op) {
	case 'w':
		return attach_stage(dir, name, j, si);
	case 'c': {
		struct vv_tree_ent e = {
			.kind = (uint8_t)j->kind,
			.mode = (uint16_t)j->mode,
			.size = j->size,
			.mtime_ns = j->mtime_ns,
			.pyc = j->pyc,
			.rec = j->rec,
		};
		if ((r = vv_oid_from_hex(&e.oid, j->oidhex, VV_OID_HEX)) < 0)
			return r;
		if ((r = vv_odb_has(&env->set->st->odb, &e.oid)) <= 0)
			return r < 0 ? r : -ENODATA;
		return vv_node_put(dir, name, &e);
	}
	case 'd':
		if ((r = vv_node_mkdir(dir, name, (uint16_t)j->mode, &n)) < 0)
			return r;
		n->mtime_ns = n->ctime_ns = n->atime_ns = j->mtime_ns;
		return 0;
	case 'n':
		if ((r = vv_node_mknod(dir, name, (uint8_t)j->kind, (uint16_t)j->mode, &n)) < 0)
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

struct replay {
	struct vv_env *env;
	int applied;
	struct stages ss;
	struct vv_jlost lost;   /* content the store does not have */
	struct vv_jlost unsure; /* content not trusted after a power loss */
};

static int replay_record(void *ctx, const struct vv_jrec *j)
{
	struct replay *rp = ctx;
	const struct stage_info *si = NULL;
	if (j->op == 'w') {
		struct stages *ss = &rp->ss;
		si = ss->next < ss->n && !strcmp(ss->v[ss->next].stage, j->stage) ?
			     &ss->v[ss->next] : stage_find(ss, j->stage);
		ss->next++;
	}
	/* a file not made (its content was not trusted) cannot be renamed or changed */
	bool quiet = j->a && vv_jlost_holds(&rp->unsure, j->a, j->alen);
	int r = apply(rp->env, j, si);
	if (vv_jlost_step(&rp->lost, j, r == -ENODATA) < 0 ||
	    vv_jlost_step(&rp->unsure, j, r == -ESTALE) < 0)
		return -ENOMEM;
	if (r == -ENODATA || r == -ESTALE || (r == -ENOENT && quiet))
		return 0; /* reported at the end if the path still holds it */
	if (r < 0)
		fprintf(stderr, "venvfs: env '%s': journal record %d (%c) skipped: %s\n",
			rp->env->name, rp->applied + 1, j->op, strerror(-r));
	else if (j->op != 'b' && j->op != 's' && j->op != 'f')
		rp->applied++;
	return 0; /* the next record may still apply */
}

int vv_live_replay(struct vv_env *env)
{
	struct replay rp = { .env = env, .ss = { .this_boot = true } };
	int r = vv_journal_scan(env->set->st, env->name, &env->cfg.root, gather, &rp.ss);
	env->replaying = true;
	if (r >= 0)
		r = vv_journal_read(env->set->st, env->name, &env->cfg.root, replay_record, &rp);
	env->replaying = false;
	for (size_t i = 0; i < rp.lost.n; i++)
		fprintf(stderr, "venvfs: env '%s': journal/%s names content of '%s' that is not "
			"in the store any more: it keeps its earlier content\n", env->name,
			env->name, rp.lost.paths[i]);
	for (size_t i = 0; i < rp.unsure.n; i++)
		fprintf(stderr, "venvfs: env '%s': '%s' was being written when the machine "
			"stopped, and its new content was neither fsynced nor closed intact: it "
			"keeps its earlier content (a new file is not made)\n", env->name,
			rp.unsure.paths[i]);
	vv_jlost_free(&rp.lost);
	vv_jlost_free(&rp.unsure);
	free(rp.ss.v);
	if (r < 0)
		return r;
	/* stages nobody published before the writer stopped are read where they are;
	 * the mount stores them in the background (vv_env_unpublished) */
	/* keep appending to this journal: it still describes changes over the root */
	if (rp.applied)
		env->jrecords += (uint64_t)rp.applied;
	return rp.applied;
}
