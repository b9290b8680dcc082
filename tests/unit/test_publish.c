/*
 * test_publish.c - `venvctl publish` (ops/publish.h) from a temp store with two envs
 * into a temp directory, read back the way a client reads it: HEAD's text names the
 * manifest, the manifest is an object that parses and names the envs (and their
 * interpreter), every object the envs reach is there under its own hash (hard links
 * on the store's filesystem, copies on another) and nothing else is. Publishing again
 * adds nothing and gives the same manifest; publishing some envs gives a manifest of
 * only them. What must never reach a server is refused and leaves HEAD as it was: an
 * env with changes not committed (a journal record), a damaged object or tree in the
 * store, an env that does not exist.
 */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/env.h"
#include "env/journal.h"
#include "env/txn.h"
#include "ops/manifest.h"
#include "ops/publish.h"
#include "python/python.h"
#include "store/odb.h"
#include "store/remote.h"
#include "store/store.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof(*(a)))
/* room for a publish directory's path (paths below it get PATH_MAX) */
#define DIRMAX 1024

/* Two envs as testutil.h's vt_twoenvs_build lays them out, naming the real python3
 * on PATH (publish records its version in the manifest). */
struct fx {
	struct vv_store *st;
	char python[PATH_MAX];
	vv_oid x, y, z, u, v, common, root_a, root_b, garbage;
	char *dir; /* a temp dir to publish into (dir/pub) */
	char pub[DIRMAX];
};

static void mkenv(struct fx *f, const char *name, vv_oid root)
{
	struct vv_envcfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.python = f->python;
	cfg.root = root;
	if (vv_txn_create(f->st, name, &cfg) < 0)
		fail_msg("vv_txn_create: %s", vv_errmsg());
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct vv_store *st = f->st = vt_store_new();
	struct vv_python py;
	if (vv_python_resolve(st, "python3", &py) < 0)
		fail_msg("no python3 to name in the envs: %s", vv_errmsg());
	snprintf(f->python, sizeof(f->python), "%s", py.exe);
	vv_python_release(&py);
	f->x = vt_put(st, "xxxxxxxxxx");
	f->y = vt_put(st, "yyyyyyyyyyyyyyyyyyyy");
	f->z = vt_put(st, "zzzzz");
	f->u = vt_put(st, "uuuuuuu");
	f->v = vt_put(st, "vvv");
	f->garbage = vt_put(st, "nobody references this");
	struct vv_tree_ent c[] = { vt_file_ent("x", f->x, 10), vt_file_ent("y", f->y, 20) };
	f->common = vt_tree(st, c, 2);
	struct vv_tree_ent ra[] = {
		vt_dir_ent("common", f->common), vt_file_ent("z", f->z, 5),
		vt_file_ent("u", f->u, 7), vt_link_ent("lib64", "lib"),
	};
	f->root_a = vt_tree(st, ra, 4);
	struct vv_tree_ent rb[] = {
		vt_dir_ent("common", f->common), vt_dir_ent("again", f->common),
		vt_file_ent("z2", f->z, 5), vt_file_ent("v", f->v, 3),
	};
	f->root_b = vt_tree(st, rb, 4);
	mkenv(f, "a", f->root_a);
	mkenv(f, "b", f->root_b);
	f->dir = vt_tempdir();
	snprintf(f->pub, sizeof(f->pub), "%s/pub", f->dir); /* made by publish */
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	vt_store_free(f->st);
	vt_rmtree(f->dir);
	free(f);
	return 0;
}

static void obj_file(const char *dir, const vv_oid *oid, char *buf, size_t cap)
{
	char rel[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(oid, rel);
	snprintf(buf, cap, "%s/%s", dir, rel);
}

/* Is oid in the published dir, under its name, with bytes that hash to it? */
static bool published(const char *dir, const vv_oid *oid)
{
	char p[PATH_MAX];
	obj_file(dir, oid, p, sizeof(p));
	char *buf;
	size_t len;
	if (vv_read_file_at(AT_FDCWD, p, 1 << 20, &buf, &len) < 0) {
		vv_err_clear();
		return false;
	}
	vv_oid got;
	vv_hash_buf(buf, len, &got);
	free(buf);
	assert_true(vv_oid_eq(&got, oid));
	return true;
}

/* HEAD's text as it is (NULL when there is none), malloc'd. */
static char *head_text(const char *dir)
{
	char p[PATH_MAX], *buf;
	size_t len;
	snprintf(p, sizeof(p), "%s/HEAD", dir);
	if (vv_read_file_at(AT_FDCWD, p, 4096, &buf, &len) < 0) {
		vv_err_clear();
		return NULL;
	}
	return buf;
}

/* HEAD names id, in exactly the text remote.h describes. */
static void expect_head(const char *dir, const vv_oid *id)
{
	char *t = head_text(dir);
	assert_non_null(t);
	char want[VV_REMOTE_HEAD_SIZE + 1];
	vv_remote_head_format(id, want);
	assert_string_equal(t, want);
	vv_oid got;
	assert_int_equal(vv_remote_head_parse(t, strlen(t), &got), 0);
	assert_true(vv_oid_eq(&got, id));
	free(t);
}

/* The manifest id names, read from the dir and parsed. */
static void read_manifest(const char *dir, const vv_oid *id, struct vv_manifest *m)
{
	assert_true(published(dir, id));
	char p[PATH_MAX], *buf;
	size_t len;
	obj_file(dir, id, p, sizeof(p));
	assert_int_equal(vv_read_file_at(AT_FDCWD, p, 1 << 20, &buf, &len), 0);
	if (vv_manifest_parse(buf, len, m) < 0)
		fail_msg("manifest: %s", vv_errmsg());
	free(buf);
}

static size_t count_objects(const char *dir)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/objects", dir);
	return vt_count_files(p);
}

static uint64_t size_in_store(struct vv_store *st, const vv_oid *oid)
{
	char p[PATH_MAX];
	vt_obj_path(st, oid, p, sizeof(p));
	struct stat sb;
	assert_int_equal(stat(p, &sb), 0);
	return (uint64_t)sb.st_size;
}

/* Everything: both envs, every object they reach, HEAD last; again: nothing new. */
static void test_publish_all(void **state)
{
	struct fx *f = *state;
	struct vv_publish_result res;
	if (vv_publish(f->st, NULL, 0, f->pub, &res) < 0)
		fail_msg("publish: %s", vv_errmsg());
	const vv_oid reached[] = { f->x, f->y, f->z, f->u, f->v, f->common, f->root_a,
				   f->root_b };
	uint64_t bytes = 0;
	for (size_t i = 0; i < ARRAY_LEN(reached); i++)
		bytes += size_in_store(f->st, &reached[i]);
	assert_int_equal(res.envs, 2);
	assert_int_equal(res.objects, ARRAY_LEN(reached));
	assert_int_equal(res.added, ARRAY_LEN(reached));
	assert_int_equal(res.added_bytes, bytes);
	expect_head(f->pub, &res.manifest);

	struct vv_manifest m;
	read_manifest(f->pub, &res.manifest, &m);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.envs[0].name, "a");
	assert_string_equal(m.envs[1].name, "b");
	assert_true(vv_oid_eq(&m.envs[0].cfg.root, &f->root_a));
	assert_true(vv_oid_eq(&m.envs[1].cfg.root, &f->root_b));
	assert_string_equal(m.envs[0].cfg.python, f->python);
	assert_int_equal(m.npy, 1);
	assert_string_equal(m.pys[0].exe, f->python);
	assert_true(m.pys[0].version[0] == '3' && m.pys[0].version[1] == '.');
	vv_manifest_release(&m);

	/* every object reached, under its hash, 0444, the store's own inode (same
	 * filesystem: a hard link); nothing else */
	for (size_t i = 0; i < ARRAY_LEN(reached); i++) {
		assert_true(published(f->pub, &reached[i]));
		char p[PATH_MAX], q[PATH_MAX];
		struct stat a, b;
		obj_file(f->pub, &reached[i], p, sizeof(p));
		vt_obj_path(f->st, &reached[i], q, sizeof(q));
		assert_int_equal(stat(p, &a), 0);
		assert_int_equal(stat(q, &b), 0);
		assert_int_equal(a.st_mode & 07777, 0444);
		assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	}
	assert_false(published(f->pub, &f->garbage));
	assert_int_equal(count_objects(f->pub), ARRAY_LEN(reached) + 1); /* + manifest */
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/.venvfs-tmp", f->pub);
	assert_int_equal(vt_count_files(tmp), 0); /* no temp file left behind */

	/* again: nothing to add, the same manifest */
	struct vv_publish_result again;
	assert_int_equal(vv_publish(f->st, NULL, 0, f->pub, &again), 0);
	assert_int_equal(again.envs, 2);
	assert_int_equal(again.objects, ARRAY_LEN(reached));
	assert_int_equal(again.added, 0);
	assert_int_equal(again.added_bytes, 0);
	assert_true(vv_oid_eq(&again.manifest, &res.manifest));
	expect_head(f->pub, &res.manifest);
	assert_int_equal(count_objects(f->pub), ARRAY_LEN(reached) + 1);
}

/* Some envs by name: a manifest of only them; repeated names count once; a name that
 * is no env is -ENOENT and changes nothing. */
static void test_publish_names(void **state)
{
	struct fx *f = *state;
	struct vv_publish_result res;
	char *b[] = { (char *)"b" };
	assert_int_equal(vv_publish(f->st, b, 1, f->pub, &res), 0);
	assert_int_equal(res.envs, 1);
	assert_int_equal(res.objects, 6); /* x y z v common root_b */
	assert_int_equal(res.added, 6);
	expect_head(f->pub, &res.manifest);
	struct vv_manifest m;
	read_manifest(f->pub, &res.manifest, &m);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.envs[0].name, "b");
	assert_true(vv_oid_eq(&m.envs[0].cfg.root, &f->root_b));
	vv_manifest_release(&m);
	assert_false(published(f->pub, &f->u));
	assert_false(published(f->pub, &f->root_a));
	vv_oid only_b = res.manifest;

	/* missing names: refused, HEAD and objects as they were */
	char *nope[] = { (char *)"nope" }, *a_nope[] = { (char *)"a", (char *)"nope" };
	vv_err_clear();
	assert_int_equal(vv_publish(f->st, nope, 1, f->pub, &res), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "nope"));
	assert_int_equal(vv_publish(f->st, a_nope, 2, f->pub, &res), -ENOENT);
	expect_head(f->pub, &only_b);
	assert_false(published(f->pub, &f->u));
	assert_int_equal(count_objects(f->pub), 7);

	/* both, named out of order and twice: the manifest of publishing everything */
	char *bab[] = { (char *)"b", (char *)"a", (char *)"b" };
	assert_int_equal(vv_publish(f->st, bab, 3, f->pub, &res), 0);
	assert_int_equal(res.envs, 2);
	assert_int_equal(res.added, 2); /* u, root_a */
	vv_oid both = res.manifest;
	assert_int_equal(vv_publish(f->st, NULL, 0, f->pub, &res), 0);
	assert_true(vv_oid_eq(&res.manifest, &both));
	assert_false(vv_oid_eq(&both, &only_b));
	/* the old manifest is still there for a client that read the old HEAD */
	assert_true(published(f->pub, &only_b));

	/* a store without envs has nothing to publish */
	struct vv_store *empty = vt_store_new();
	char *dir = vt_tempdir();
	vv_err_clear();
	assert_int_equal(vv_publish(empty, NULL, 0, dir, &res), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "no env"));
	char *t = head_text(dir);
	assert_null(t);
	vt_rmtree(dir);
	vt_store_free(empty);
}

/* A journal with changes for an env's committed root: its tree is not what the mount
 * shows, so it is refused (-EBUSY) and HEAD stays. A journal of another root (stale)
 * does not count. */
static void test_publish_uncommitted(void **state)
{
	struct fx *f = *state;
	struct vv_publish_result res;
	assert_int_equal(vv_publish(f->st, NULL, 0, f->pub, &res), 0);
	vv_oid before = res.manifest;

	int jfd = -1;
	assert_int_equal(vv_journal_open(f->st, "a", &f->root_a, &jfd), 0);
	assert_int_equal(vv_journal_put(jfd, "new.py", 'f', 0644, 5, 0, &f->z, NULL, NULL), 0);
	vv_journal_close(&jfd);
	vv_err_clear();
	assert_int_equal(vv_publish(f->st, NULL, 0, f->pub, &res), -EBUSY);
	assert_non_null(strstr(vv_errmsg(), "env 'a' has changes not committed"));
	expect_head(f->pub, &before);
	char *a[] = { (char *)"a" }, *b[] = { (char *)"b" };
	assert_int_equal(vv_publish(f->st, a, 1, f->pub, &res), -EBUSY);
	expect_head(f->pub, &before);
	/* the other env alone is fine */
	assert_int_equal(vv_publish(f->st, b, 1, f->pub, &res), 0);
	assert_int_equal(res.envs, 1);
	expect_head(f->pub, &res.manifest);

	/* a journal left for another root is stale: not a change of this one */
	assert_int_equal(vv_journal_open(f->st, "a", &f->root_b, &jfd), 0);
	assert_int_equal(vv_journal_put(jfd, "new.py", 'f', 0644, 5, 0, &f->z, NULL, NULL), 0);
	vv_journal_close(&jfd);
	assert_int_equal(vv_publish(f->st, NULL, 0, f->pub, &res), 0);
	assert_true(vv_oid_eq(&res.manifest, &before));
	expect_head(f->pub, &before);
}

/* Damage in the store is never published: a file object or a tree whose bytes do not
 * hash to its name fails the publish with -EUCLEAN and HEAD stays. */
static void test_publish_damaged(void **state)
{
	struct fx *f = *state;
	struct vv_publish_result res;
	char *b[] = { (char *)"b" };
	assert_int_equal(vv_publish(f->st, b, 1, f->pub, &res), 0);
	vv_oid only_b = res.manifest;
	char *head0 = head_text(f->pub);
	assert_non_null(head0);

	/* u is reached by a only: not in the directory yet */
	vt_obj_clobber(f->st, &f->u, "UUUUUUU");
	vv_err_clear();
	assert_int_equal(vv_publish(f->st, NULL, 0, f->pub, &res), -EUCLEAN);
	char rel[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(&f->u, rel);
	assert_non_null(strstr(vv_errmsg(), rel));
	assert_non_null(strstr(vv_errmsg(), "damaged"));
	expect_head(f->pub, &only_b);
	char *head1 = head_text(f->pub);
	assert_string_equal(head0, head1);
	free(head1);
	assert_false(published(f->pub, &f->u));

	/* into a new directory: no HEAD at all */
	char fresh[DIRMAX];
	snprintf(fresh, sizeof(fresh), "%s/fresh", f->dir);
	assert_int_equal(vv_publish(f->st, NULL, 0, fresh, &res), -EUCLEAN);
	assert_null(head_text(fresh));
	assert_false(published(fresh, &f->u));

	/* a damaged tree: the walk of the envs fails before anything is written */
	vt_obj_clobber(f->st, &f->common, "venvfs-tree 2\n");
	vt_forget_trees(f->st);
	char other[DIRMAX];
	snprintf(other, sizeof(other), "%s/other", f->dir);
	vv_err_clear();
	int r = vv_publish(f->st, b, 1, other, &res);
	if (r != -EUCLEAN)
		fail_msg("publishing a damaged tree gave %d (%s)", r, vv_errmsg());
	assert_non_null(strstr(vv_errmsg(), "env 'b'"));
	assert_non_null(strstr(vv_errmsg(), "corrupt"));
	assert_null(head_text(other));
	assert_false(published(other, &f->common));
	assert_int_equal(vv_publish(f->st, b, 1, f->pub, &res), r);
	expect_head(f->pub, &only_b);
	free(head0);
}

/* Onto another filesystem (/dev/shm when the temp dir is elsewhere): copies, each
 * under its hash. */
static void test_publish_copy(void **state)
{
	struct fx *f = *state;
	struct stat a, b;
	if (stat("/dev/shm", &b) < 0 || stat(f->st->path, &a) < 0 || a.st_dev == b.st_dev ||
	    access("/dev/shm", W_OK) < 0)
		skip();
	char dir[] = "/dev/shm/vvpub.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char pub[DIRMAX];
	snprintf(pub, sizeof(pub), "%s/deep/er", dir);
	struct vv_publish_result res;
	if (vv_publish(f->st, NULL, 0, pub, &res) < 0)
		fail_msg("publish: %s", vv_errmsg());
	assert_int_equal(res.added, 8);
	expect_head(pub, &res.manifest);
	const vv_oid reached[] = { f->x, f->y, f->z, f->u, f->v, f->common, f->root_a,
				   f->root_b };
	for (size_t i = 0; i < ARRAY_LEN(reached); i++) {
		assert_true(published(pub, &reached[i]));
		char p[PATH_MAX];
		obj_file(pub, &reached[i], p, sizeof(p));
		assert_int_equal(stat(p, &a), 0);
		assert_int_equal(a.st_nlink, 1);
		assert_int_equal(a.st_mode & 07777, 0444);
	}
	assert_int_equal(count_objects(pub), 9);
	assert_int_equal(vv_publish(f->st, NULL, 0, pub, &res), 0);
	assert_int_equal(res.added, 0);
	vt_rmtree(strdup(dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_all, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_publish_names, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_publish_uncommitted, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_publish_damaged, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_publish_copy, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
