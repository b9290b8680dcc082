/*
 * record.c - the live model's side of the journal: each change, once applied in
 * memory, becomes one record of the env's journal. The paths are computed here;
 * journal.h only knows the format. The record of a file's content is written once it
 * is published (content.c), so the journal only ever names stored objects.
 */
#include "live/live.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "env/journal.h"
#include "util/error.h"

/* Changes are journaled while the env is not being replayed (replay rebuilds what the
 * journal already says) and still belongs to the store. */
static bool recording(const struct vv_env *env)
{
	return !env->replaying && !env->removed;
}

/* Open the env's journal for appending (a new one if it is missing or stale). */
static int jopen(struct vv_env *env)
{
	if (env->jfd < 0)
		env->jname_synced = env->jboot = false;
	int r = vv_journal_open(env->set->st, env->name, &env->cfg.root, &env->jfd);
	/* what this mount appends is written in this boot of the machine (journal.h) */
	if (r == 0 && !env->jboot && (r = vv_journal_boot(env->jfd)) == 0)
		env->jboot = true;
	return r;
}

/* A record that could not be written is reported; the change stays in memory and
 * reaches the store with the next commit. */
static int recorded(struct vv_env *env, int r)
{
	if (r < 0)
		fprintf(stderr, "venvfs: env '%s': journal: %s\n", env->name, vv_errmsg());
	env->junsynced = true;
	return r;
}

/* What a record of node n says. */
enum what { PUT, STAGE, SEAL, SYNCED, MKDIR, MKNOD, SYMLINK, REMOVE, ATTR };

/* Append the record of change `what` to n at its current path. */
static int record(struct vv_node *n, enum what what)
{
	struct vv_env *env = n->env;
	if (!recording(env))
		return 0;
	bool about_stage = what == STAGE || what == SEAL || what == SYNCED;
	if (about_stage && (n->unlinked || !n->stage || !n->stage->stage[0]))
		return 0; /* no path, or a private temp file (never journaled) */
	char *rel = vv_node_relpath(n);
	if (!rel)
		return -ENOMEM;
	int r = jopen(env), fd = env->jfd;
	if (r == 0) {
		switch (what) {
		case PUT:
			r = vv_journal_put(fd, rel, (char)n->kind, n->mode, n->size, n->mtime_ns,
					   &n->oid, &n->pyc, &n->rec);
			break;
		case STAGE: /* with what replay must know of it after a power loss */
			r = vv_journal_stage(fd, rel, n->mode, n->stage->stage);
			if (r == 0 && vv_live_sealed(n))
				r = vv_journal_sealed(fd, n->stage->stage, n->stage->seal_size,
						      &n->stage->seal_oid);
			if (r == 0 && n->stage->fsynced)
				r = vv_journal_synced(fd, n->stage->stage);
			break;
		case SEAL:
			r = vv_journal_sealed(fd, n->stage->stage, n->stage->seal_size,
					      &n->stage->seal_oid);
			break;
		case SYNCED:
			r = vv_journal_synced(fd, n->stage->stage);
			break;
		case MKDIR:
			r = vv_journal_mkdir(fd, rel, n->mode, n->mtime_ns);
			break;
		case MKNOD:
			r = vv_journal_mknod(fd, rel, (char)n->kind, n->mode, n->mtime_ns);
			break;
		case SYMLINK:
			r = vv_journal_symlink(fd, rel, n->target, n->mtime_ns);
			break;
		case REMOVE:
			r = vv_journal_remove(fd, rel);
			break;
		case ATTR:
			r = vv_journal_attr(fd, rel, n->mode, n->mtime_ns);
			break;
		}
	}
	free(rel);
	return recorded(env, r);
}

/* File n has new published content (n->oid). */
int vv_live_record_put(struct vv_node *n)
{
	return record(n, PUT);
}

/* File n's content is its (named) stage from now on. */
int vv_live_record_stage(struct vv_node *n)
{
	return record(n, STAGE);
}

/* n's stage was sealed (closed and hashed; stage->seal_*). */
int vv_live_record_sealed(struct vv_node *n)
{
	return record(n, SEAL);
}

/* n's stage was fsynced through the mount for the first time (stage->fsynced). */
int vv_live_record_synced(struct vv_node *n)
{
	return record(n, SYNCED);
}

int vv_live_record_mkdir(struct vv_node *n)
{
	return record(n, MKDIR);
}

/* A FIFO or socket node (no content). */
int vv_live_record_mknod(struct vv_node *n)
{
	return record(n, MKNOD);
}

int vv_live_record_symlink(struct vv_node *n)
{
	return record(n, SYMLINK);
}

/* n is about to be unlinked or removed (it still has its path). */
int vv_live_record_remove(struct vv_node *n)
{
	return record(n, REMOVE);
}

int vv_live_record_attr(struct vv_node *n)
{
	return record(n, ATTR);
}

/* from and to: the paths before and after the rename. */
int vv_live_record_rename(struct vv_env *env, const char *from, const char *to,
			  unsigned flags)
{
	if (!recording(env))
		return 0;
	int r = jopen(env);
	if (r == 0)
		r = vv_journal_rename(env->jfd, from, to, flags);
	return recorded(env, r);
}

int vv_node_synced(struct vv_node *n, struct vv_fdref *stage)
{
	if (stage && n->stage == stage && !stage->fsynced && !n->unlinked) {
		stage->fsynced = true;
		vv_live_record_synced(n);
	}
	return vv_journal_sync(n->env);
}

int vv_journal_sync(struct vv_env *env)
{
	/* an fsync loop on one file (a database) appends nothing: nothing to sync here */
	if (!env->junsynced && env->jname_synced)
		return 0;
	int r = vv_journal_datasync(env->set->st, env->jfd, env->name, !env->jname_synced);
	if (r == 0 && env->jfd >= 0) {
		env->jname_synced = true;
		env->junsynced = false;
	}
	return r;
}
