/*
 * txn.c - the env transaction (see txn.h): the only code that writes the envs/
 * directory.
 *
 * envs/NAME is written whole into a temp file in tmp/ (never in envs/, where it would
 * look like an env to a concurrent lister), fsynced, and renamed into place: replacing
 * an env is envfile_replace, called from one place, vv_txn_commit. Creation and
 * renames never clobber (RENAME_NOREPLACE, or link+unlink where the filesystem lacks
 * it).
 */
#include "env/txn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env/envlock.h"
#include "env/history.h"
#include "env/journal.h"
#include "store/store.h"
#include "util/error.h"
#include "util/fsutil.h"

/* ---- the env file ------------------------------------------------------------- */

/* Write the env file as a fresh, fsynced temp file in tmp/; *tmpname gets its name. */
static int write_temp(struct vv_store *st, const char *name, const struct vv_envcfg *cfg,
		      char *tmpname, size_t tmpsize)
{
	static atomic_uint counter;
	char *text;
	size_t len;
	int r = vv_envcfg_format(cfg, &text, &len);
	if (r < 0)
		return vv_err_prefix(r, "saving env '%s'", name);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tmpname, tmpsize, "env.%ld.%u.%lx", (long)getpid(),
		 atomic_fetch_add(&counter, 1), (unsigned long)ts.tv_nsec);
	int fd = openat(st->tmpfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(text);
		return vv_err_sys(-errno, "saving env '%s': cannot create tmp/%s", name, tmpname);
	}
	r = vv_write_all(fd, text, len);
	free(text);
	if (r == 0 && fsync(fd) < 0)
		r = vv_err_sys(-errno, "saving env '%s': fsync", name);
	if (close(fd) < 0 && r == 0)
		r = vv_err_sys(-errno, "saving env '%s': close", name);
	if (r < 0) {
		unlinkat(st->tmpfd, tmpname, 0);
		return r;
	}
	return 0;
}

/* rename without replacing; link+unlink where RENAME_NOREPLACE is not supported. */
static int rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	if (linkat(fromfd, from, tofd, to, 0) < 0)
		return -errno;
	if (unlinkat(fromfd, from, 0) < 0)
		return -errno;
	return 0;
}

/* The commit point: tmp/TMP becomes envs/NAME. */
static int envfile_replace(struct vv_store *st, const char *name, const char *tmp)
{
	if (renameat(st->tmpfd, tmp, st->envfd, name) < 0) {
		int r = vv_err_sys(-errno, "saving env '%s': rename into envs/", name);
		unlinkat(st->tmpfd, tmp, 0);
		return r;
	}
	int r = vv_fsync_dir_at(st->envfd, ".");
	return r < 0 ? vv_err_prefix(r, "saving env '%s'", name) : 0;
}

/* ---- transactions ------------------------------------------------------------- */

static int set_name(struct vv_txn *t, const char *name)
{
	int r = vv_env_name_ok(name, strlen(name));
	if (r == 0)
		snprintf(t->name, sizeof(t->name), "%s", name);
	return r;
}

int vv_txn_begin(struct vv_store *st, const char *name, unsigned flags, struct vv_txn *t)
{
	memset(t, 0, sizeof(*t));
	t->st = st;
	t->lockfd = -1;
	int r = set_name(t, name);
	/* one writer at a time: a mount with uncommitted changes holds the lock too */
	if (r < 0 || (r = vv_envlock_take_env(st, name, &t->lockfd)) < 0)
		return r;
	t->own = true;
	t->flags = flags;
	if ((r = vv_env_load(st, name, &t->cfg)) == 0 && !(flags & VV_TXN_LOCKED_OK))
		r = vv_envcfg_check_unlocked(&t->cfg, name);
	if (r == 0 && !(flags & VV_TXN_DISCARD))
		r = vv_env_check_committed(st, name, &t->cfg.root);
	if (r < 0) {
		vv_txn_end(t);
		return r;
	}
	t->base = t->cfg.root;
	return 0;
}

void vv_txn_live(struct vv_store *st, const char *name, int lockfd,
		 const struct vv_envcfg *cfg, struct vv_txn *t)
{
	memset(t, 0, sizeof(*t));
	t->st = st;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->lockfd = lockfd;
	t->live = true;
	t->cfg = *cfg; /* borrowed: vv_txn_end does not free it */
	t->base = cfg->root;
}

void vv_txn_end(struct vv_txn *t)
{
	if (t->own) {
		vv_envcfg_release(&t->cfg);
		vv_envlock_release(t->lockfd);
	}
	t->own = false;
	t->lockfd = -1;
}

/* Tools: the env still holds the root the change started from, and no journal names
 * it with changes; a journal left there holds nothing (or, with VV_TXN_DISCARD, what
 * the caller throws away): remove it, so it can never be replayed over a later root
 * that happens to equal the one it names. */
static int recheck(struct vv_txn *t, const struct vv_envcfg *now)
{
	int r = 0;
	if (!vv_oid_eq(&now->root, &t->base) ||
	    (!(t->flags & VV_TXN_DISCARD) &&
	     (r = vv_journal_pending(t->st, t->name, &t->base)) > 0))
		r = vv_err(-EBUSY, "env '%s' was changed meanwhile; try again", t->name);
	return r;
}

int vv_txn_commit(struct vv_txn *t, const struct vv_envcfg *newcfg, const char *source,
		  unsigned hflags)
{
	struct vv_store *st = t->st;
	const char *name = t->name;
	struct vv_envcfg old, cfg = *newcfg;
	int r = vv_env_load(st, name, &old);
	bool have_old = r == 0;
	if (!t->live) {
		if (r < 0)
			return r;
		if ((r = recheck(t, &old)) == 0)
			r = vv_rm_rf_at(st->journalfd, name);
		if (r < 0) {
			vv_envcfg_release(&old);
			return r;
		}
	}
	/* A config that does not say who owns the env (a tool that built it afresh, e.g.
	 * create --clear) keeps the owner and mode of the env it replaces. */
	if (have_old && !cfg.owned) {
		cfg.owned = true;
		cfg.uid = old.uid;
		cfg.gid = old.gid;
	}
	if (have_old && !cfg.has_mode) {
		cfg.has_mode = old.has_mode;
		cfg.mode = old.mode;
	}
	char tmp[64];
	if ((r = write_temp(st, name, &cfg, tmp, sizeof(tmp))) < 0) {
		if (have_old)
			vv_envcfg_release(&old);
		return r;
	}
	/* The history entry goes first (see history.h: gc reads envs/ before history/). A
	 * history that cannot be written (damaged: -EUCLEAN, or a write error) never stops
	 * the commit: the change is not recorded and a message says so; a damaged file is
	 * left alone, and gc and fsck report it until it is repaired or removed. */
	char *undo = NULL;
	size_t undolen = 0;
	bool recorded = false;
	if (have_old) {
		r = vv_history_record(st, name, &old.root, &cfg.root, source, hflags, 0, &undo,
				      &undolen);
		recorded = r == 0 && !vv_oid_eq(&old.root, &cfg.root);
		vv_envcfg_release(&old);
		if (r < 0)
			fprintf(stderr, "venvfs: %s (change of env '%s' not recorded in its "
				"history)\n", vv_errmsg(), name);
	}
	vv_err_clear();
	if ((r = envfile_replace(st, name, tmp)) < 0) {
		if (recorded)
			vv_history_restore(st, name, undo, undolen);
		free(undo);
		return r;
	}
	free(undo);
	t->base = cfg.root;
	t->committed = true;
	return 0;
}

/* ---- create, rename, remove ------------------------------------------------------- */

int vv_txn_create(struct vv_store *st, const char *name, const struct vv_envcfg *cfg)
{
	int r = vv_env_name_ok(name, strlen(name));
	if (r < 0)
		return r;
	/* whoever creates an env owns it unless told otherwise */
	struct vv_envcfg own = *cfg;
	if (!cfg->owned) {
		own.owned = true;
		own.uid = getuid();
		own.gid = getgid();
		cfg = &own;
	}
	char tmp[64];
	if ((r = write_temp(st, name, cfg, tmp, sizeof(tmp))) < 0)
		return r;
	r = rename_noreplace(st->tmpfd, tmp, st->envfd, name);
	if (r < 0) {
		unlinkat(st->tmpfd, tmp, 0);
		if (r == -EEXIST)
			return vv_err(-EEXIST, "env '%s' already exists", name);
		return vv_err_sys(r, "creating env '%s'", name);
	}
	/* A history of that name is a leftover of an earlier env (a crash in a rename). */
	if (unlinkat(st->historyfd, name, 0) == 0)
		vv_fsync_dir_at(st->historyfd, ".");
	r = vv_fsync_dir_at(st->envfd, ".");
	return r < 0 ? vv_err_prefix(r, "creating env '%s'", name) : 0;
}

int vv_txn_rename(struct vv_store *st, const char *from, const char *to)
{
	int r = vv_env_name_ok(from, strlen(from));
	if (r == 0)
		r = vv_env_name_ok(to, strlen(to));
	if (r < 0)
		return r;
	if (!strcmp(from, to)) {
		struct stat sb;
		if (fstatat(st->envfd, from, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			return vv_err(-ENOENT, "no env named '%s'", from);
		return vv_err(-EEXIST, "env '%s' already exists", to);
	}
	r = rename_noreplace(st->envfd, from, st->envfd, to);
	if (r == -ENOENT)
		return vv_err(-ENOENT, "no env named '%s'", from);
	if (r == -EEXIST)
		return vv_err(-EEXIST, "env '%s' already exists", to);
	if (r < 0)
		return vv_err_sys(r, "renaming env '%s' to '%s'", from, to);
	/* envs/to did not exist, so any journal/to is a leftover: replace or remove it. */
	if (renameat(st->journalfd, from, st->journalfd, to) < 0) {
		if (errno != ENOENT)
			return vv_err_sys(-errno, "renaming env '%s' to '%s': moving its journal",
					  from, to);
		if ((r = vv_rm_rf_at(st->journalfd, to)) < 0)
			return vv_err_prefix(r, "renaming env '%s' to '%s'", from, to);
	}
	if ((r = vv_history_rename(st, from, to)) < 0)
		return vv_err_prefix(r, "renaming env '%s' to '%s'", from, to);
	if ((r = vv_fsync_dir_at(st->envfd, ".")) < 0 ||
	    (r = vv_fsync_dir_at(st->journalfd, ".")) < 0)
		return vv_err_prefix(r, "renaming env '%s' to '%s'", from, to);
	return 0;
}

int vv_txn_remove(struct vv_store *st, const char *name)
{
	int r = vv_env_name_ok(name, strlen(name));
	if (r < 0)
		return r;
	/* The journal first: a crash in between leaves an env without changes, never a
	 * journal that a later env of the same name would pick up. */
	if ((r = vv_rm_rf_at(st->journalfd, name)) < 0)
		return vv_err_prefix(r, "removing env '%s'", name);
	struct stat sb;
	if (fstatat(st->envfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return vv_err(-ENOENT, "no env named '%s'", name);
	if ((r = vv_history_remove(st, name)) < 0)
		return vv_err_prefix(r, "removing env '%s'", name);
	if (unlinkat(st->envfd, name, 0) < 0) {
		if (errno == ENOENT)
			return vv_err(-ENOENT, "no env named '%s'", name);
		return vv_err_sys(-errno, "removing env '%s'", name);
	}
	if ((r = vv_fsync_dir_at(st->envfd, ".")) < 0 ||
	    (r = vv_fsync_dir_at(st->journalfd, ".")) < 0)
		return vv_err_prefix(r, "removing env '%s'", name);
	return 0;
}
