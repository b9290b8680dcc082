/* test_txn.c - the env transaction: what begin refuses (missing, locked, another
 * writer, a journal with changes) and leaves held, what commit rechecks, writes and
 * records, the mount's live commit, and create/rename/remove around it. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/env.h"
#include "env/envlock.h"
#include "env/history.h"
#include "env/txn.h"
#include "store/store.h"
#include "util/error.h"

static vv_oid oid_of(char c)
{
	vv_oid o;
	memset(&o, 0, sizeof(o));
	memset(o.b, c, sizeof(o.b));
	return o;
}

static struct vv_store *store_with(const char *name, vv_oid root, bool locked)
{
	struct vv_store *st = vt_store_new();
	struct vv_envcfg c = {.python = (char *)"/usr/bin/python3", .root = root,
			      .locked = locked};
	assert_int_equal(vv_txn_create(st, name, &c), 0);
	return st;
}

/* a journal naming root with one record after its header: a mount's pending changes */
static void write_journal(struct vv_store *st, const char *name, const vv_oid *root,
			  bool records)
{
	char hex[VV_OID_HEX + 1], buf[160];
	vv_oid_hex(root, hex);
	int n = snprintf(buf, sizeof(buf), "venvfs-journal 1 %s\n%s", hex,
			 records ? "record\n" : "");
	int fd = openat(st->journalfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, (size_t)n), n);
	close(fd);
}

static bool root_is(struct vv_store *st, const char *name, const vv_oid *want)
{
	vv_oid r = vt_env_root(st, name);
	return vv_oid_eq(&r, want);
}

static bool exists_at(int dirfd, const char *name)
{
	struct stat sb;
	return fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_begin_refuses(void **state)
{
	(void)state;
	struct vv_store *st = store_with("web", oid_of(1), false);
	struct vv_txn t;

	vv_err_clear();
	assert_int_equal(vv_txn_begin(st, "nosuch", 0, &t), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "no env named 'nosuch'"));
	assert_false(exists_at(st->lockfd, "nosuch")); /* no lock file left behind */
	assert_int_equal(vv_txn_begin(st, "a/b", 0, &t), -EINVAL);

	/* another writer holds the env */
	int other;
	assert_int_equal(vv_envlock_take(st, "web", &other), 0);
	vv_err_clear();
	assert_int_equal(vv_txn_begin(st, "web", 0, &t), -EBUSY);
	assert_non_null(strstr(vv_errmsg(), "env 'web' is being changed by"));
	vv_envlock_release(other);

	/* a journal with changes: one message, whoever asks */
	vv_oid r1 = oid_of(1);
	write_journal(st, "web", &r1, true);
	vv_err_clear();
	assert_int_equal(vv_txn_begin(st, "web", 0, &t), -EBUSY);
	assert_non_null(strstr(vv_errmsg(), "env 'web' has changes not committed yet "
				"(journal/web): commit them first"));
	assert_int_equal(vv_envlock_held(st, "web"), 0); /* refused: nothing held */
	/* a journal naming another root, or holding only its header, is not pending */
	vv_oid r9 = oid_of(9);
	write_journal(st, "web", &r9, true);
	assert_int_equal(vv_txn_begin(st, "web", 0, &t), 0);
	assert_int_equal(vv_envlock_held(st, "web"), 1);
	vv_txn_end(&t);
	assert_int_equal(vv_envlock_held(st, "web"), 0);
	write_journal(st, "web", &r1, false);
	assert_int_equal(vv_txn_begin(st, "web", 0, &t), 0);
	vv_txn_end(&t);
	vt_store_free(st);

	/* a locked env: only lock/unlock may change it */
	st = store_with("ro", oid_of(2), true);
	vv_err_clear();
	assert_int_equal(vv_txn_begin(st, "ro", 0, &t), -EROFS);
	assert_non_null(strstr(vv_errmsg(), "env 'ro' is locked"));
	assert_int_equal(vv_envlock_held(st, "ro"), 0);
	assert_int_equal(vv_txn_begin(st, "ro", VV_TXN_LOCKED_OK, &t), 0);
	assert_true(t.cfg.locked);
	vv_txn_end(&t);
	vt_store_free(st);
}

static void test_commit(void **state)
{
	(void)state;
	vv_oid r1 = oid_of(1), r2 = oid_of(2), r3 = oid_of(3);
	struct vv_store *st = store_with("web", r1, false);
	struct vv_txn t;
	/* a header-only journal is dropped by the commit: it could be replayed over a
	 * later root equal to the one it names */
	write_journal(st, "web", &r1, false);
	assert_int_equal(vv_txn_begin(st, "web", 0, &t), 0);
	assert_true(vv_oid_eq(&t.base, &r1));
	t.cfg.root = r2;
	assert_int_equal(vv_txn_commit(&t, &t.cfg, "add", 0), 0);
	assert_true(root_is(st, "web", &r2));
	assert_false(exists_at(st->journalfd, "web"));
	assert_true(vv_oid_eq(&t.base, &r2));
	/* still held: a second commit continues from the first */
	assert_int_equal(vv_envlock_held(st, "web"), 1);
	t.cfg.root = r3;
	assert_int_equal(vv_txn_commit(&t, &t.cfg, "add", 0), 0);
	vv_txn_end(&t);
	assert_int_equal(vv_envlock_held(st, "web"), 0);

	struct vv_history h;
	assert_int_equal(vv_history_load(st, "web", &h), 0);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.ents[0].source, "add");
	assert_true(vv_oid_eq(&h.ents[0].old_root, &r1));
	assert_true(vv_oid_eq(&h.ents[1].new_root, &r3));
	vv_history_release(&h);

	/* the owner and mode stay when the new config does not say */
	struct vv_envcfg fresh = {.python = (char *)"/usr/bin/python3", .root = r1};
	assert_int_equal(vv_txn_begin(st, "web", 0, &t), 0);
	uid_t uid = t.cfg.uid;
	assert_int_equal(vv_txn_commit(&t, &fresh, "create", 0), 0);
	vv_txn_end(&t);
	struct vv_envcfg back;
	assert_int_equal(vv_env_load(st, "web", &back), 0);
	assert_true(back.owned);
	assert_int_equal(back.uid, uid);
	vv_envcfg_release(&back);
	vt_store_free(st);
}

/* Between begin and commit another writer that did not take the lock (a store edited
 * by hand, an old tool) changed the env: the commit refuses and writes nothing. */
static void test_commit_rechecks(void **state)
{
	(void)state;
	vv_oid r1 = oid_of(1), r2 = oid_of(2), r5 = oid_of(5);
	struct vv_store *st = store_with("web", r1, false);
	struct vv_txn t;
	assert_int_equal(vv_txn_begin(st, "web", 0, &t), 0);
	struct vv_envcfg other = {.python = (char *)"/usr/bin/python3", .root = r5};
	assert_int_equal(vt_env_save(st, "web", &other, "test", 0), 0);
	t.cfg.root = r2;
	vv_err_clear();
	assert_int_equal(vv_txn_commit(&t, &t.cfg, "add", 0), -EBUSY);
	assert_non_null(strstr(vv_errmsg(), "env 'web' was changed meanwhile"));
	assert_true(root_is(st, "web", &r5));
	vv_txn_end(&t);

	/* a journal with changes appearing meanwhile is refused too */
	assert_int_equal(vv_txn_begin(st, "web", 0, &t), 0);
	write_journal(st, "web", &r5, true);
	t.cfg.root = r2;
	assert_int_equal(vv_txn_commit(&t, &t.cfg, "add", 0), -EBUSY);
	assert_true(exists_at(st->journalfd, "web"));
	vv_txn_end(&t);

	/* ... unless the transaction throws the journal's changes away (--clear) */
	assert_int_equal(vv_txn_begin(st, "web", VV_TXN_DISCARD, &t), 0);
	t.cfg.root = r2;
	assert_int_equal(vv_txn_commit(&t, &t.cfg, "create", 0), 0);
	assert_false(exists_at(st->journalfd, "web"));
	assert_true(root_is(st, "web", &r2));
	vv_txn_end(&t);
	vt_store_free(st);
}

/* The mount: its own lock and config, its own journal (never touched), no recheck. */
static void test_live(void **state)
{
	(void)state;
	vv_oid r1 = oid_of(1), r2 = oid_of(2);
	struct vv_store *st = store_with("web", r1, false);
	int lk;
	assert_int_equal(vv_envlock_take(st, "web", &lk), 0);
	struct vv_envcfg cfg;
	assert_int_equal(vv_env_load(st, "web", &cfg), 0);
	write_journal(st, "web", &r1, true);
	struct vv_txn t;
	vv_txn_live(st, "web", lk, &cfg, &t);
	struct vv_envcfg next = cfg;
	next.root = r2;
	assert_int_equal(vv_txn_commit(&t, &next, "mount", VV_HIST_COALESCE | VV_HIST_OPEN), 0);
	vv_txn_end(&t);
	assert_true(root_is(st, "web", &r2));
	assert_true(exists_at(st->journalfd, "web")); /* the mount resets it itself */
	assert_int_equal(vv_envlock_held(st, "web"), 1); /* still the mount's */
	struct vv_history h;
	assert_int_equal(vv_history_load(st, "web", &h), 0);
	assert_int_equal(h.n, 1);
	assert_true(h.ents[0].open);
	assert_string_equal(h.ents[0].source, "mount");
	vv_history_release(&h);
	/* an env file gone meanwhile is written again (the mount's changes are kept) */
	assert_int_equal(unlinkat(st->envfd, "web", 0), 0);
	vv_txn_live(st, "web", lk, &cfg, &t);
	assert_int_equal(vv_txn_commit(&t, &next, "mount", 0), 0);
	vv_txn_end(&t);
	assert_true(root_is(st, "web", &r2));
	vv_envlock_release(lk);
	vv_envcfg_release(&cfg);
	vt_store_free(st);
}

static void test_create_rename_remove(void **state)
{
	(void)state;
	vv_oid r1 = oid_of(1);
	struct vv_store *st = store_with("a", r1, false);
	struct vv_envcfg c = {.python = (char *)"/usr/bin/python3", .root = r1};
	vv_err_clear();
	assert_int_equal(vv_txn_create(st, "a", &c), -EEXIST);
	assert_non_null(strstr(vv_errmsg(), "env 'a' already exists"));
	write_journal(st, "a", &r1, true);
	assert_int_equal(vv_txn_rename(st, "a", "b"), 0);
	assert_false(exists_at(st->envfd, "a"));
	assert_true(exists_at(st->journalfd, "b")); /* the journal moves along */
	assert_int_equal(vv_txn_create(st, "a", &c), 0);
	assert_int_equal(vv_txn_rename(st, "a", "b"), -EEXIST);
	assert_int_equal(vv_txn_remove(st, "b"), 0);
	assert_false(exists_at(st->envfd, "b"));
	assert_false(exists_at(st->journalfd, "b"));
	assert_int_equal(vv_txn_remove(st, "b"), -ENOENT);
	/* nothing is left in tmp/ by any of them */
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s/tmp", st->path);
	assert_int_equal(vt_count_files(tmp), 0);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_begin_refuses),
		cmocka_unit_test(test_commit),
		cmocka_unit_test(test_commit_rechecks),
		cmocka_unit_test(test_live),
		cmocka_unit_test(test_create_rename_remove),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
