/*
 * test_gc.c - garbage collection on small hand-built stores: unreachable old objects
 * go; objects reachable from env roots, named by journals (current or stale), held by
 * interpreter skeletons or younger than the grace period stay; a damaged root stops gc
 * before anything is deleted; --dry-run and the lock. Stages (stage/): one no journal
 * names, nobody holds open and nobody changed within the grace period goes; the others
 * stay. Also the per-env numbers du shows (stats' distinct and unique tree bytes).
 *
 * Ages: gc measures them from opts.now_s, set two hours ahead, so every object just
 * written is "old" for a one-hour grace period; a "young" one gets an mtime in that
 * future with utimensat.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env/txn.h"
#include "env/env.h"
#include "env/journal.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "ops/gc.h"
#include "util/hash.h"
#include "ops/fsck.h"
#include "ops/stats.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"






static void write_at(int dirfd, const char *name, const char *text)
{
	assert_int_equal(vv_write_file_atomic(dirfd, name, text, strlen(text), 0644), 0);
}

static bool has(struct vv_store *st, const vv_oid *oid)
{
	int r = vv_odb_has(&st->odb, oid);
	assert_true(r >= 0);
	return r == 1;
}

/* Give an object an mtime in the future (as if just published, seen from now_s). */
static void make_young(struct vv_store *st, const vv_oid *oid, time_t when)
{
	char rel[8 + VV_OID_HEX + 2];
	vv_odb_obj_path(oid, rel);
	struct timespec ts[2] = {{when, 0}, {when, 0}};
	assert_int_equal(utimensat(st->dirfd, rel, ts, AT_SYMLINK_NOFOLLOW), 0);
}

struct fixture {
	struct vv_store *st;
	vv_oid x, y, sub, root;         /* env "a": root {x, sub/{y}} */
	vv_oid jobj;                    /* named only by a record of journal/a */
	vv_oid s, stale_root;           /* root of a stale journal (journal/b, no env) */
	vv_oid k, skel;                 /* pythons/ skeleton tree {k} */
	vv_oid old1, old2, oldtree;     /* garbage */
	vv_oid young;                   /* garbage, but within the grace period */
	time_t now;
};

static void build(struct fixture *f)
{
	struct vv_store *st = f->st = vt_store_new();
	f->now = time(NULL) + 7200;
	f->x = vt_put(st, "xxxxxxxxxx");
	f->y = vt_put(st, "yyyyyyyyyyyyyyyyyyyy");
	struct vv_tree_ent se[] = {vt_file_ent("y", f->y, 20)};
	f->sub = vt_tree(st, se, 1);
	struct vv_tree_ent re[] = {vt_file_ent("x", f->x, 10), vt_dir_ent("sub", f->sub)};
	f->root = vt_tree(st, re, 2);
	vt_mkenv(st, "a", f->root);

	f->jobj = vt_put(st, "journalled content");
	char hex[VV_OID_HEX + 1], hex2[VV_OID_HEX + 1], buf[512];
	vv_oid_hex(&f->root, hex);
	vv_oid_hex(&f->jobj, hex2);
	snprintf(buf, sizeof(buf),
		 "venvfs-journal 1 %s\nd 755 0 3:lib\nc f 644 18 1700000000000000000 %s "
		 "8:lib/j.py\nu 5:lib/z\nc f 6", hex, hex2);
	write_at(st->journalfd, "a", buf); /* ends with a torn record */

	f->s = vt_put(st, "stale journal file");
	struct vv_tree_ent ste[] = {vt_file_ent("s", f->s, 18)};
	f->stale_root = vt_tree(st, ste, 1);
	vv_oid_hex(&f->stale_root, hex);
	snprintf(buf, sizeof(buf), "venvfs-journal 1 %s\n", hex);
	write_at(st->journalfd, "b", buf);

	f->k = vt_put(st, "skeleton file");
	struct vv_tree_ent ke[] = {vt_file_ent("k", f->k, 13)};
	f->skel = vt_tree(st, ke, 1);
	vv_oid_hex(&f->skel, hex);
	snprintf(buf, sizeof(buf),
		 "[python]\nexe = /usr/bin/python3.11\nversion = 3.11.2\nskel-pip = %s\n"
		 "[stat]\ndev = 1\nino = 2\nsize = 3\nmtime-ns = 4\n", hex);
	write_at(st->pythonfd, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		 buf);

	f->old1 = vt_put(st, "removed env's file");
	f->old2 = vt_put(st, "uninstalled package");
	struct vv_tree_ent oe[] = {vt_file_ent("o", f->old1, 18)};
	f->oldtree = vt_tree(st, oe, 1);
	f->young = vt_put(st, "just published, not yet journalled");
	make_young(st, &f->young, f->now - 10);
}

static void run_gc(struct fixture *f, bool dry, struct vv_gc_result *res, int want)
{
	struct vv_gc_opts o = {.grace_s = 3600, .dry_run = dry, .now_s = f->now};
	vv_err_clear();
	int r = vv_gc(f->st, &o, res);
	if (r != want)
		fail_msg("vv_gc returned %d, want %d: %s", r, want, vv_errmsg());
}

static void assert_kept(struct fixture *f)
{
	const vv_oid *keep[] = {&f->x, &f->y, &f->sub, &f->root, &f->jobj, &f->s,
				&f->stale_root, &f->k, &f->skel, &f->young};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (!has(f->st, keep[i]))
			fail_msg("object %zu was deleted", i);
}

static void test_gc_sweeps(void **state)
{
	(void)state;
	struct fixture f;
	build(&f);
	char *bytes = NULL;
	size_t treelen = 0;
	assert_int_equal(vv_odb_read_obj(&f.st->odb, &f.oldtree, 4096, &bytes, &treelen), 0);
	free(bytes);
	struct vv_gc_result res;
	run_gc(&f, false, &res, 0);
	assert_kept(&f);
	assert_false(has(f.st, &f.old1));
	assert_false(has(f.st, &f.old2));
	assert_false(has(f.st, &f.oldtree));
	assert_int_equal(res.freed, 3);
	assert_int_equal(res.freed_bytes, 18 + 19 + treelen);
	assert_int_equal(res.young, 1);
	assert_int_equal(res.young_bytes, strlen("just published, not yet journalled"));
	assert_int_equal(res.envs, 1);
	assert_int_equal(res.journals, 2);
	assert_int_equal(res.pythons, 1);
	assert_int_equal(res.objects, 13);
	assert_int_equal(vv_fsck(f.st, NULL, NULL, NULL), 0);
	/* a second run frees nothing, and nothing is left in tmp/ */
	run_gc(&f, false, &res, 0);
	assert_int_equal(res.freed, 0);
	assert_int_equal(res.objects, 10);
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s/tmp", f.st->path);
	assert_int_equal(vt_count_files(tmp), 0);
	vt_store_free(f.st);
}

static void test_gc_grace_zero_real_clock(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid g = vt_put(st, "garbage");
	/* Measured from the real clock, a fresh object is young for any grace > 0 ... */
	struct vv_gc_opts o = {.grace_s = 3600};
	struct vv_gc_result res;
	assert_int_equal(vv_gc(st, &o, &res), 0);
	assert_true(has(st, &g));
	assert_int_equal(res.young, 1);
	/* ... and fair game with 0 once it was stored before gc started. */
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
	o.grace_s = 0;
	assert_int_equal(vv_gc(st, &o, &res), 0);
	assert_false(has(st, &g));
	assert_int_equal(res.freed, 1);
	vt_store_free(st);
}

static void test_gc_dry_run(void **state)
{
	(void)state;
	struct fixture f;
	build(&f);
	struct vv_gc_result res;
	run_gc(&f, true, &res, 0);
	assert_kept(&f);
	assert_true(has(f.st, &f.old1));
	assert_true(has(f.st, &f.old2));
	assert_true(has(f.st, &f.oldtree));
	assert_int_equal(res.freed, 3);
	assert_int_equal(res.young, 1);
	vt_store_free(f.st);
}

static void assert_nothing_deleted(struct fixture *f)
{
	assert_kept(f);
	assert_true(has(f->st, &f->old1));
	assert_true(has(f->st, &f->old2));
	assert_true(has(f->st, &f->oldtree));
}

static void test_gc_corrupt_env(void **state)
{
	(void)state;
	struct fixture f;
	build(&f);
	write_at(f.st->envfd, "broken", "[env]\nthis is not an env file\n");
	struct vv_gc_result res;
	run_gc(&f, false, &res, -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "nothing deleted"));
	assert_non_null(strstr(vv_errmsg(), "broken"));
	assert_nothing_deleted(&f);
	vt_store_free(f.st);
}

static void test_gc_missing_tree(void **state)
{
	(void)state;
	struct fixture f;
	build(&f);
	/* env b's root names a tree that is not in the store */
	vv_oid ghost;
	vv_hash_buf("no such tree", 12, &ghost);
	vt_mkenv(f.st, "b", ghost);
	struct vv_gc_result res;
	run_gc(&f, false, &res, -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "env 'b'"));
	assert_nothing_deleted(&f);

	/* a subtree that does not parse */
	assert_int_equal(vv_txn_remove(f.st, "b"), 0);
	vv_oid bad = vt_put(f.st, "venvfs-tree 1\nthis is no entry\n");
	struct vv_tree_ent be[] = {vt_dir_ent("lib", bad)};
	vt_mkenv(f.st, "c", vt_tree(f.st, be, 1));
	run_gc(&f, false, &res, -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "/lib"));
	assert_nothing_deleted(&f);
	vt_store_free(f.st);
}

static void test_gc_bad_journal_and_python(void **state)
{
	(void)state;
	struct fixture f;
	build(&f);
	struct vv_gc_result res;
	char hex[VV_OID_HEX + 1], buf[512];
	vv_oid_hex(&f.root, hex);
	snprintf(buf, sizeof(buf), "venvfs-journal 1 %s\nq what\nc f 644 1 0 %s 1:x\n", hex,
		 hex);
	write_at(f.st->journalfd, "a", buf);
	run_gc(&f, false, &res, -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "journal/a"));
	assert_nothing_deleted(&f);

	write_at(f.st->journalfd, "a", "not a journal\n");
	run_gc(&f, false, &res, -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "header"));
	assert_nothing_deleted(&f);
	assert_int_equal(unlinkat(f.st->journalfd, "a", 0), 0);

	write_at(f.st->pythonfd, "feed", "[python]\nskel-pip = nothex\n");
	run_gc(&f, false, &res, -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "pythons/feed"));
	assert_true(has(f.st, &f.jobj));
	assert_nothing_deleted(&f);
	vt_store_free(f.st);
}

static void test_gc_lock(void **state)
{
	(void)state;
	struct fixture f;
	build(&f);
	int fd = openat(f.st->dirfd, "gc.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	struct vv_gc_result res;
	run_gc(&f, false, &res, -EBUSY);
	assert_non_null(strstr(vv_errmsg(), "another gc"));
	assert_nothing_deleted(&f);
	run_gc(&f, true, &res, 0); /* a dry run needs no lock */
	close(fd);
	run_gc(&f, false, &res, 0);
	assert_false(has(f.st, &f.old1));
	vt_store_free(f.st);
}

/* du's numbers: env a {common/{x,y}, u}, env b {common/{x,y}, v}. */
static void test_du_numbers(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid x = vt_put(st, "xxxxxxxxxx"), y = vt_put(st, "yyyyyyyyyyyyyyyyyyyy");
	vv_oid u = vt_put(st, "uuuuuuu"), v = vt_put(st, "vvv");
	struct vv_tree_ent ce[] = {vt_file_ent("x", x, 10), vt_file_ent("y", y, 20),
				   vt_file_ent("x2", x, 10)};
	vv_oid common = vt_tree(st, ce, 3);
	struct vv_tree_ent ae[] = {vt_dir_ent("common", common), vt_file_ent("u", u, 7)};
	struct vv_tree_ent be[] = {vt_dir_ent("common", common), vt_file_ent("v", v, 3)};
	vv_oid ra = vt_tree(st, ae, 2), rb = vt_tree(st, be, 2);
	vt_mkenv(st, "a", ra);
	vt_mkenv(st, "b", rb);
	struct vv_stats s;
	assert_int_equal(vv_stats_collect(st, &s), 0);
	assert_int_equal(s.nenvs, 2);
	const struct vv_stats_env *a = &s.envs[0];
	assert_string_equal(a->name, "a");
	assert_int_equal(a->logical, 47);
	assert_int_equal(a->distinct, 37);
	assert_int_equal(a->distinct_files, 3);
	assert_int_equal(a->unique, 7);
	char *bytes = NULL;
	size_t len = 0;
	assert_int_equal(vv_odb_read_obj(&st->odb, &ra, 4096, &bytes, &len), 0);
	free(bytes);
	assert_int_equal(a->unique_tree_bytes, len);
	assert_int_equal(s.envs[1].distinct, 33);
	assert_int_equal(s.envs[1].unique, 3);
	vv_stats_release(&s);
	vt_store_free(st);
}

/* A closed stage holding text; name gets its name. */
static void make_stage(struct vv_store *st, const char *text, char name[VV_ODB_STAGE_SIZE])
{
	int fd = vv_odb_stage_new(&st->odb, name);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

static bool stage_there(struct vv_store *st, const char *name)
{
	int r = vv_odb_stage_has(&st->odb, name);
	assert_true(r >= 0);
	return r == 1;
}

static void run_gc_at(struct vv_store *st, int64_t now, bool dry, struct vv_gc_result *res)
{
	struct vv_gc_opts o = {.grace_s = 3600, .dry_run = dry, .now_s = now};
	vv_err_clear();
	int r = vv_gc(st, &o, res);
	if (r != 0)
		fail_msg("vv_gc returned %d: %s", r, vv_errmsg());
}

static void test_gc_stages(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid x = vt_put(st, "xxxxxxxxxx");
	struct vv_tree_ent re[] = {vt_file_ent("x", x, 10)};
	vv_oid root = vt_tree(st, re, 1);
	vt_mkenv(st, "a", root);

	char orphan[VV_ODB_STAGE_SIZE], named[VV_ODB_STAGE_SIZE], held[VV_ODB_STAGE_SIZE];
	make_stage(st, "left by a writer that died before naming it", orphan);
	make_stage(st, "named by the journal of env a", named);
	int hfd = vv_odb_stage_new(&st->odb, held);
	assert_true(hfd >= 0);
	assert_int_equal(vv_write_all(hfd, "being written", 13), 0);
	/* an old mtime alone makes no stage old: its ctime is now (and cannot be set) */
	struct timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
	assert_int_equal(utimensat(st->stagefd, orphan, past, AT_SYMLINK_NOFOLLOW), 0);
	/* not a stage's name: not ours to remove */
	assert_int_equal(vv_write_file_atomic(st->stagefd, "README", "x", 1, 0644), 0);

	int jfd = -1;
	assert_int_equal(vv_journal_open(st, "a", &root, &jfd), 0);
	assert_int_equal(vv_journal_stage(jfd, "lib/new.py", 0644, named), 0);
	vv_journal_close(&jfd);

	struct stat ob;
	assert_int_equal(fstatat(st->stagefd, orphan, &ob, AT_SYMLINK_NOFOLLOW), 0);
	time_t now = time(NULL);
	struct vv_gc_result res;
	/* measured from now, everything is within the grace period */
	run_gc_at(st, 0, false, &res);
	assert_int_equal(res.stages_freed, 0);
	assert_true(stage_there(st, orphan));

	/* two hours on: a dry run counts the orphan only, and keeps it */
	run_gc_at(st, now + 7200, true, &res);
	assert_int_equal(res.stages_freed, 1);
	assert_int_equal(res.freed, 0);
	assert_int_equal(res.freed_bytes, (uint64_t)ob.st_blocks * 512);
	assert_true(stage_there(st, orphan));

	run_gc_at(st, now + 7200, false, &res);
	assert_int_equal(res.stages_freed, 1);
	assert_int_equal(res.freed_bytes, (uint64_t)ob.st_blocks * 512);
	assert_false(stage_there(st, orphan));
	assert_true(stage_there(st, named));
	assert_true(stage_there(st, held));
	assert_int_equal(faccessat(st->stagefd, "README", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(has(st, &x));

	/* once its writer closes it, the unnamed stage is left over too */
	close(hfd);
	run_gc_at(st, now + 7200, false, &res);
	assert_int_equal(res.stages_freed, 1);
	assert_false(stage_there(st, held));
	assert_true(stage_there(st, named));

	/* and the named one goes once its journal is gone (committed) */
	assert_int_equal(unlinkat(st->journalfd, "a", 0), 0);
	run_gc_at(st, now + 7200, false, &res);
	assert_int_equal(res.stages_freed, 1);
	assert_false(stage_there(st, named));
	assert_int_equal(faccessat(st->stagefd, "README", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	vt_store_free(st);
}

/* A stage named only by a journal for another root than its env's (stale: written
 * before the last commit, or by an env replaced since) is still named: gc keeps it. */
static void test_gc_stage_stale_journal(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid x = vt_put(st, "xxxxxxxxxx"), y = vt_put(st, "yyyy");
	struct vv_tree_ent re[] = {vt_file_ent("x", x, 10)}, oe[] = {vt_file_ent("y", y, 4)};
	vv_oid root = vt_tree(st, re, 1), old = vt_tree(st, oe, 1);
	vt_mkenv(st, "a", root);
	char name[VV_ODB_STAGE_SIZE];
	make_stage(st, "in a stale journal", name);
	int jfd = -1;
	assert_int_equal(vv_journal_open(st, "a", &old, &jfd), 0);
	assert_int_equal(vv_journal_stage(jfd, "f", 0600, name), 0);
	vv_journal_close(&jfd);
	struct vv_gc_result res;
	run_gc_at(st, time(NULL) + 7200, false, &res);
	assert_int_equal(res.stages_freed, 0);
	assert_true(stage_there(st, name));
	assert_true(has(st, &y)); /* the stale journal's root is kept as well */
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gc_sweeps),
		cmocka_unit_test(test_gc_grace_zero_real_clock),
		cmocka_unit_test(test_gc_dry_run),
		cmocka_unit_test(test_gc_corrupt_env),
		cmocka_unit_test(test_gc_missing_tree),
		cmocka_unit_test(test_gc_bad_journal_and_python),
		cmocka_unit_test(test_gc_lock),
		cmocka_unit_test(test_du_numbers),
		cmocka_unit_test(test_gc_stages),
		cmocka_unit_test(test_gc_stage_stale_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
