/*
 * test_fsck.c - fsck on small hand-built stores: a clean store, and every kind of
 * damage it must report (corrupt, missing, unparseable tree, size mismatch, bad env
 * file, stray files), including a damaged tree shared by two envs, and a callback
 * that stops the check. Journals of changes not committed yet: content they name that
 * is gone (a stage, an object) is reported while its path still holds it. In a remote
 * mount's cache an absent object is not damage.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/env.h"
#include "env/journal.h"
#include "ops/fsck.h"
#include "ops/stats.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"
#include "util/error.h"
#include "util/hash.h"

static const struct vv_stats_env *env_of(const struct vv_stats *s, const char *name)
{
	for (size_t i = 0; i < s->nenvs; i++)
		if (!strcmp(s->envs[i].name, name))
			return &s->envs[i];
	fail_msg("no env %s in stats", name);
	return NULL;
}

struct collected {
	char lines[32][512];
	enum vv_fsck_kind kinds[32];
	int n;
};

static int collect(const struct vv_fsck_problem *p, void *arg)
{
	struct collected *c = arg;
	if (c->n < 32) {
		snprintf(c->lines[c->n], sizeof(c->lines[0]), "%s", p->msg);
		c->kinds[c->n] = p->kind;
		c->n++;
	}
	return 0;
}

static int has_line(const struct collected *c, const char *want)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->lines[i], want))
			return 1;
	return 0;
}

static void dump(const struct collected *c)
{
	for (int i = 0; i < c->n; i++)
		print_message("  fsck: %s\n", c->lines[i]);
}

static void test_fsck_clean(void **state)
{
	(void)state;
	struct vt_twoenvs f;
	vt_twoenvs_build(&f);
	struct collected c = {0};
	struct vv_fsck_summary sum;
	assert_int_equal(vv_fsck(f.st, collect, &c, &sum), 0);
	dump(&c);
	assert_int_equal(c.n, 0);
	assert_int_equal(sum.objects, 9);
	assert_int_equal(sum.envs, 2);
	assert_int_equal(sum.trees, 3);
	vt_store_free(f.st);
}

static void test_fsck_damage(void **state)
{
	(void)state;
	struct vt_twoenvs f;
	vt_twoenvs_build(&f);
	char hx[VV_OID_HEX + 1], hy[VV_OID_HEX + 1], hu[VV_OID_HEX + 1], hg[VV_OID_HEX + 1];
	vv_oid_hex(&f.x, hx);
	vv_oid_hex(&f.y, hy);
	vv_oid_hex(&f.u, hu);
	vv_oid_hex(&f.garbage, hg);
	vt_obj_clobber(f.st, &f.x, "not x");        /* referenced from the shared tree */
	vt_obj_drop(f.st, &f.y);                    /* missing, also in the shared tree */
	vt_obj_clobber(f.st, &f.garbage, "changed"); /* corrupt but unreferenced */

	struct collected c = {0};
	int r = vv_fsck(f.st, collect, &c, NULL);
	dump(&c);
	char want[512];
	snprintf(want, sizeof(want), "corrupt object %s", hx);
	assert_true(has_line(&c, want));
	snprintf(want, sizeof(want), "corrupt object %s", hg);
	assert_true(has_line(&c, want));
	snprintf(want, sizeof(want), "corrupt object %s (env a, path /common/x)", hx);
	assert_true(has_line(&c, want));
	snprintf(want, sizeof(want), "missing object %s (env a, path /common/y)", hy);
	assert_true(has_line(&c, want));
	/* the shared tree is reported again for b, at both of its paths */
	snprintf(want, sizeof(want), "missing object %s (env b, path /common/y)", hy);
	assert_true(has_line(&c, want));
	snprintf(want, sizeof(want), "missing object %s (env b, path /again/y)", hy);
	assert_true(has_line(&c, want));
	assert_int_equal(r, c.n);
	assert_int_equal(c.n, 2 + 2 * 3); /* 2 scan lines, (x, y) at 3 places */

	/* size mismatch: a tree records the wrong size for an intact object */
	struct vv_tree_ent bad[] = {vt_file_ent("u", f.u, 8)};
	vt_mkenv(f.st, "c", vt_tree(f.st, bad, 1));
	memset(&c, 0, sizeof(c));
	vv_fsck(f.st, collect, &c, NULL);
	snprintf(want, sizeof(want),
		 "size mismatch %s (env c, path /u): tree says 8 bytes, object has 7", hu);
	assert_true(has_line(&c, want));

	/* a stored pyc ('c') whose intact object is not a template that agrees with it */
	struct vv_tree_ent pyc[] = {vt_file_ent("m.pyc", f.u, 7)};
	pyc[0].kind = VV_PYC;
	pyc[0].pyc = (struct vv_pycent){ 1, 0, 0 };
	vt_mkenv(f.st, "d", vt_tree(f.st, pyc, 1));
	memset(&c, 0, sizeof(c));
	vv_fsck(f.st, collect, &c, NULL);
	dump(&c);
	snprintf(want, sizeof(want), "bad pyc %s (env d, path /m.pyc): ", hu);
	int bad_pyc = 0;
	for (int i = 0; i < c.n; i++)
		if (c.kinds[i] == VV_FSCK_BAD_TPL) {
			bad_pyc++;
			assert_memory_equal(c.lines[i], want, strlen(want));
		}
	assert_int_equal(bad_pyc, 1);
	vt_store_free(f.st);
}

/* The cache store of a remote mount (it has a `remote` file): an absent object is one
 * not fetched yet, counted once however many envs name it; corrupt is still damage. */
static void test_fsck_cache(void **state)
{
	(void)state;
	struct vt_twoenvs f;
	vt_twoenvs_build(&f);
	static const char rem[] = "[remote]\nurl = http://127.0.0.1:1\n";
	int fd = openat(f.st->dirfd, "remote", O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, rem, sizeof(rem) - 1), (ssize_t)sizeof(rem) - 1);
	close(fd);
	vt_obj_drop(f.st, &f.y); /* in the tree both envs share */
	struct collected c = {0};
	struct vv_fsck_summary sum;
	assert_int_equal(vv_fsck(f.st, collect, &c, &sum), 0);
	dump(&c);
	assert_int_equal(c.n, 0);
	assert_int_equal(sum.unfetched, 1);
	vt_obj_clobber(f.st, &f.x, "not x");
	memset(&c, 0, sizeof(c));
	assert_int_equal(vv_fsck(f.st, collect, &c, &sum), 1 + 3); /* the scan, 3 places */
	char want[512], hx[VV_OID_HEX + 1];
	vv_oid_hex(&f.x, hx);
	snprintf(want, sizeof(want), "corrupt object %s (env a, path /common/x)", hx);
	assert_true(has_line(&c, want));
	assert_int_equal(sum.unfetched, 1);
	vt_store_free(f.st);
}

static void test_fsck_trees_envs_strays(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	/* a tree object whose bytes hash right but do not parse */
	vv_oid junk = vt_put(st, "venvfs-tree 1\nthis is not an entry\n");
	struct vv_tree_ent r[] = {vt_dir_ent("sub", junk)};
	vv_oid root = vt_tree(st, r, 1);
	vt_mkenv(st, "t", root);
	/* a missing root */
	vv_oid nowhere;
	vv_hash_buf("no such tree", 12, &nowhere);
	vt_mkenv(st, "gone", nowhere);
	/* an env file that does not parse */
	char p[4096];
	snprintf(p, sizeof(p), "%s/envs/broken", st->path);
	vt_write_file(p, "[env]\nroot = nope\n", 18);
	/* strays */
	snprintf(p, sizeof(p), "%s/objects/zz", st->path);
	vt_write_file(p, "x", 1);
	snprintf(p, sizeof(p), "%s/objects/ab/not-an-object", st->path);
	vt_write_file(p, "x", 1);

	struct collected c = {0};
	int n = vv_fsck(st, collect, &c, NULL);
	dump(&c);
	assert_int_equal(n, 5);
	char hj[VV_OID_HEX + 1], hn[VV_OID_HEX + 1], want[512];
	vv_oid_hex(&junk, hj);
	vv_oid_hex(&nowhere, hn);
	snprintf(want, sizeof(want), "missing object %s (env gone, path /)", hn);
	assert_true(has_line(&c, want));
	int bad_tree = 0, bad_env = 0, strays = 0;
	for (int i = 0; i < c.n; i++) {
		if (c.kinds[i] == VV_FSCK_BAD_TREE) {
			bad_tree++;
			snprintf(want, sizeof(want), "bad tree %s (env t, path /sub): ", hj);
			assert_memory_equal(c.lines[i], want, strlen(want));
		}
		if (c.kinds[i] == VV_FSCK_BAD_ENV) {
			bad_env++;
			assert_memory_equal(c.lines[i], "bad env broken: ", 16);
		}
		strays += c.kinds[i] == VV_FSCK_STRAY;
	}
	assert_int_equal(bad_tree, 1);
	assert_int_equal(bad_env, 1);
	assert_int_equal(strays, 2);

	/* stats survives all of it and flags the damaged envs */
	struct vv_stats s;
	assert_int_equal(vv_stats_collect(st, &s), 0);
	assert_int_equal(s.env_errors, 3);
	assert_non_null(env_of(&s, "broken")->error);
	assert_non_null(env_of(&s, "gone")->error);
	assert_non_null(env_of(&s, "t")->error);
	vv_stats_release(&s);
	vt_store_free(st);
}

/* A root whose 'd' entry miscounts the entries below it, and one whose times section
 * does not decode against its entries, are bad trees; a good section is clean. */
static vv_oid raw_tree(struct vv_store *st, struct vv_tree_ent *e, size_t n, const char *times,
		       size_t tlen)
{
	char *buf;
	size_t len;
	vv_oid oid;
	assert_int_equal(vv_tree_serialize(e, n, times, tlen, &buf, &len), 0);
	assert_int_equal(vv_odb_put_buf(&st->odb, buf, len, &oid), 0);
	free(buf);
	return oid;
}

static void test_fsck_counts_and_times(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid a = vt_put(st, "a"), b = vt_put(st, "bb");
	struct vv_tree_ent files[] = {vt_file_ent("a", a, 1), vt_file_ent("b", b, 2)};
	vv_oid sub = vt_tree(st, files, 2);
	struct vv_tree_ent e = vt_dir_ent("sub", sub);
	e.size = 5;
	vt_mkenv(st, "cnt", raw_tree(st, &e, 1, NULL, 0));
	e.size = 2;
	/* one run of 5 entries, where the root has 3 */
	vt_mkenv(st, "tm", raw_tree(st, &e, 1, "\x01\x00\x05\x02\x02\x02\x02\x02\x00", 9));
	/* entry 2 (sub/b) at mtime 7 */
	vt_mkenv(st, "ok", raw_tree(st, &e, 1, "\x01\x02\x01\x0e\x00", 5));

	struct collected c = {0};
	int n = vv_fsck(st, collect, &c, NULL);
	dump(&c);
	assert_int_equal(n, 2);
	assert_int_equal(c.kinds[0], VV_FSCK_BAD_TREE);
	assert_int_equal(c.kinds[1], VV_FSCK_BAD_TREE);
	int counts = 0, times = 0;
	for (int i = 0; i < c.n; i++) {
		counts += strstr(c.lines[i], "(env cnt, path /sub)") &&
			  strstr(c.lines[i], "the entry says 5 entries below it, its tree has 2");
		times += strstr(c.lines[i], "(env tm, path /)") &&
			 strstr(c.lines[i], "bad times section: a run outside the tree's entries");
	}
	assert_int_equal(counts, 1);
	assert_int_equal(times, 1);
	struct vv_tree_ent got;
	vv_oid root = vt_env_root(st, "ok");
	assert_int_equal(vt_lookup(st, &root, "sub/b", &got), 1);
	assert_true(got.mtime_ns == 7);
	vt_store_free(st);
}

/* A callback returning non-zero stops the check. */
static int stop_first(const struct vv_fsck_problem *p, void *arg)
{
	(void)p;
	(*(int *)arg)++;
	return 1;
}

static void test_fsck_stop(void **state)
{
	(void)state;
	struct vt_twoenvs f;
	vt_twoenvs_build(&f);
	vt_obj_drop(f.st, &f.x);
	vt_obj_drop(f.st, &f.y);
	int calls = 0;
	assert_int_equal(vv_fsck(f.st, stop_first, &calls, NULL), 1);
	assert_int_equal(calls, 1);
	vt_store_free(f.st);
}

/* Problems with the env and path they name. */
struct jproblems {
	int n;
	enum vv_fsck_kind kind[8];
	char env[8][64], path[8][256], msg[8][512];
};

static int collect_where(const struct vv_fsck_problem *p, void *arg)
{
	struct jproblems *c = arg;
	if (c->n < 8) {
		c->kind[c->n] = p->kind;
		snprintf(c->env[c->n], sizeof(c->env[0]), "%s", p->env ? p->env : "(null)");
		snprintf(c->path[c->n], sizeof(c->path[0]), "%s", p->path ? p->path : "(null)");
		snprintf(c->msg[c->n], sizeof(c->msg[0]), "%s", p->msg);
		print_message("  fsck: %s\n", p->msg);
	}
	c->n++;
	return 0;
}

static int fsck_where(struct vv_store *st, struct jproblems *c)
{
	memset(c, 0, sizeof(*c));
	int r = vv_fsck(st, collect_where, c, NULL);
	assert_int_equal(r, c->n);
	return r;
}

/* Env paths are relative to its root; fsck may show them with a leading '/'. */
static void assert_journal_problem(const struct jproblems *c, int i, const char *env,
				   const char *path)
{
	assert_int_equal(c->kind[i], VV_FSCK_JOURNAL);
	assert_string_equal(c->env[i], env);
	const char *p = c->path[i][0] == '/' ? c->path[i] + 1 : c->path[i];
	assert_string_equal(p, path);
	assert_non_null(strstr(c->msg[i], "journal/"));
}

static void test_fsck_journal(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid x = vt_put(st, "xxxxxxxxxx");
	struct vv_tree_ent re[] = {vt_file_ent("x", x, 10)};
	vv_oid root = vt_tree(st, re, 1);
	vt_mkenv(st, "a", root);
	struct jproblems c;
	assert_int_equal(fsck_where(st, &c), 0);

	/* a stage that is there is fine */
	char here[VV_ODB_STAGE_SIZE];
	int sfd = vv_odb_stage_new(&st->odb, here);
	assert_true(sfd >= 0);
	close(sfd);
	int jfd = -1;
	assert_int_equal(vv_journal_open(st, "a", &root, &jfd), 0);
	assert_int_equal(vv_journal_stage(jfd, "kept.py", 0644, here), 0);
	assert_int_equal(fsck_where(st, &c), 0);

	/* a `w` naming a stage that is gone */
	assert_int_equal(vv_journal_stage(jfd, "lib/x.py", 0644, "0123456789abcdef"), 0);
	assert_int_equal(fsck_where(st, &c), 1);
	assert_journal_problem(&c, 0, "a", "lib/x.py");
	/* the file was removed afterwards: nothing is lost */
	assert_int_equal(vv_journal_remove(jfd, "lib/x.py"), 0);
	assert_int_equal(fsck_where(st, &c), 0);

	/* a `c` naming an object that is gone, then moved */
	vv_oid ghost;
	vv_hash_buf("not in the store", 16, &ghost);
	assert_int_equal(vv_journal_put(jfd, "lib/y.py", 'f', 0644, 16, 0, &ghost, NULL, NULL), 0);
	assert_int_equal(fsck_where(st, &c), 1);
	assert_journal_problem(&c, 0, "a", "lib/y.py");
	assert_int_equal(vv_journal_rename(jfd, "lib", "lib2", 0), 0);
	assert_int_equal(fsck_where(st, &c), 1);
	assert_journal_problem(&c, 0, "a", "lib2/y.py");
	/* new content for the path (an object that is there) */
	assert_int_equal(vv_journal_put(jfd, "lib2/y.py", 'f', 0644, 10, 0, &x, NULL, NULL), 0);
	assert_int_equal(fsck_where(st, &c), 0);
	vv_journal_close(&jfd);

	/* a stale journal (for another root than the env's) is not looked at */
	vv_oid old;
	vv_hash_buf("an older root", 13, &old);
	assert_int_equal(vv_journal_open(st, "a", &old, &jfd), 0);
	assert_int_equal(vv_journal_stage(jfd, "gone.py", 0644, "fedcba9876543210"), 0);
	assert_int_equal(vv_journal_put(jfd, "gone2.py", 'f', 0644, 16, 0, &ghost, NULL, NULL), 0);
	vv_journal_close(&jfd);
	assert_int_equal(fsck_where(st, &c), 0);
	/* nor is the journal of a name with no env */
	assert_int_equal(vv_journal_open(st, "noenv", &root, &jfd), 0);
	assert_int_equal(vv_journal_stage(jfd, "gone.py", 0644, "fedcba9876543210"), 0);
	vv_journal_close(&jfd);
	assert_int_equal(fsck_where(st, &c), 0);

	/* two envs, one problem each, each named */
	vt_mkenv(st, "b", root);
	assert_int_equal(vv_journal_open(st, "a", &root, &jfd), 0); /* starts it over */
	assert_int_equal(vv_journal_stage(jfd, "p", 0600, "1111111111111111"), 0);
	vv_journal_close(&jfd);
	assert_int_equal(vv_journal_open(st, "b", &root, &jfd), 0);
	assert_int_equal(vv_journal_stage(jfd, "q/r", 0600, "2222222222222222"), 0);
	vv_journal_close(&jfd);
	assert_int_equal(fsck_where(st, &c), 2);
	int ia = !strcmp(c.env[0], "a") ? 0 : 1;
	assert_journal_problem(&c, ia, "a", "p");
	assert_journal_problem(&c, 1 - ia, "b", "q/r");
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsck_clean),
		cmocka_unit_test(test_fsck_damage),
		cmocka_unit_test(test_fsck_cache),
		cmocka_unit_test(test_fsck_trees_envs_strays),
		cmocka_unit_test(test_fsck_stop),
		cmocka_unit_test(test_fsck_counts_and_times),
		cmocka_unit_test(test_fsck_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
