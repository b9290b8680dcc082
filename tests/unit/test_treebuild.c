/*
 * test_treebuild.c - the tree builder: implicit parents, explicit directories, grafts,
 * opening a graft, lookups, duplicate and non-directory errors, FIFOs and sockets, and
 * the trees it writes.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/hash.h"
#include "store/store.h"
#include "store/tree.h"
#include "store/treebuild.h"

static struct vv_tree_ent file_ent(const char *content, uint16_t mode, int64_t mtime)
{
	struct vv_tree_ent e;
	memset(&e, 0, sizeof(e));
	e.name = "ignored";
	e.kind = VV_REG;
	e.mode = mode;
	e.size = strlen(content);
	e.mtime_ns = mtime;
	vv_hash_buf(content, strlen(content), &e.oid);
	return e;
}

static struct vv_tree_ent dir_ent(uint16_t mode, int64_t mtime)
{
	struct vv_tree_ent e;
	memset(&e, 0, sizeof(e));
	e.kind = VV_DIR;
	e.mode = mode;
	e.mtime_ns = mtime;
	return e;
}

static struct vv_tree *get(struct vv_store *st, const vv_oid *oid)
{
	struct vv_tree *t = NULL;
	if (vv_tree_get(st, oid, &t) < 0)
		fail_msg("vv_tree_get: %s", vv_errmsg());
	return t;
}

static const struct vv_tree_ent *find(const struct vv_tree *t, const char *name)
{
	const struct vv_tree_ent *e = vv_tree_find(t, name, strlen(name));
	if (!e)
		fail_msg("no entry '%s'", name);
	return e;
}

static void test_build_nested(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_tb *tb = vv_tb_new(42);
	assert_non_null(tb);
	struct vv_tree_ent f = file_ent("print(1)\n", 0644, 100);
	assert_int_equal(vv_tb_add(tb, "lib/python3.12/site-packages/pkg/__init__.py", &f), 0);
	struct vv_tree_ent g = file_ent("x", 0600, 101);
	assert_int_equal(vv_tb_add(tb, "lib/python3.12/site-packages/pkg/a.py", &g), 0);
	struct vv_tree_ent s = file_ent("#!python\n", 0755, 102);
	s.kind = VV_SCRIPT;
	assert_int_equal(vv_tb_add(tb, "bin/tool", &s), 0);
	struct vv_tree_ent l;
	memset(&l, 0, sizeof(l));
	l.kind = VV_LNK;
	l.mode = 0777;
	l.mtime_ns = 103;
	char target[] = "lib";
	l.target = target;
	assert_int_equal(vv_tb_add(tb, "lib64", &l), 0);
	target[0] = 'X'; /* the builder copied it */
	/* Explicit directory after its implicit creation: sets mode and mtime. */
	struct vv_tree_ent d = dir_ent(0700, 7);
	assert_int_equal(vv_tb_add(tb, "bin", &d), 0);
	/* An explicit empty directory. */
	assert_int_equal(vv_tb_add(tb, "include", &d), 0);

	assert_int_equal(vv_tb_exists(tb, "bin"), 1);
	assert_int_equal(vv_tb_exists(tb, "bin/tool"), 1);
	assert_int_equal(vv_tb_exists(tb, "lib/python3.12"), 1);
	assert_int_equal(vv_tb_exists(tb, "lib/python3.11"), 0);
	assert_int_equal(vv_tb_exists(tb, "bin/tool/x"), 0);
	assert_int_equal(vv_tb_exists(tb, "nothing"), 0);

	vv_oid root;
	assert_int_equal(vv_tb_write(tb, st, &root), 0);

	struct vv_tree *r = get(st, &root);
	assert_int_equal(r->n, 4);
	assert_string_equal(r->ents[0].name, "bin");
	assert_string_equal(r->ents[1].name, "include");
	assert_string_equal(r->ents[2].name, "lib");
	assert_string_equal(r->ents[3].name, "lib64");
	const struct vv_tree_ent *bin = find(r, "bin");
	assert_int_equal(bin->kind, VV_DIR);
	assert_int_equal(bin->mode, 0700);
	assert_true(bin->mtime_ns == 7);
	const struct vv_tree_ent *lib = find(r, "lib");
	assert_int_equal(lib->mode, 0755);
	assert_true(lib->mtime_ns == 42);
	const struct vv_tree_ent *l64 = find(r, "lib64");
	assert_int_equal(l64->kind, VV_LNK);
	assert_string_equal(l64->target, "lib");
	assert_int_equal(l64->size, 3);

	struct vv_tree *inc = get(st, &find(r, "include")->oid);
	assert_int_equal(inc->n, 0);
	vv_tree_unref(inc);

	struct vv_tree *b = get(st, &bin->oid);
	assert_int_equal(b->n, 1);
	assert_int_equal(b->ents[0].kind, VV_SCRIPT);
	assert_string_equal(b->ents[0].name, "tool");
	vv_tree_unref(b);

	struct vv_tree *t = get(st, &lib->oid);
	const char *path[] = { "python3.12", "site-packages", "pkg" };
	for (int i = 0; i < 3; i++) {
		struct vv_tree *next = get(st, &find(t, path[i])->oid);
		vv_tree_unref(t);
		t = next;
	}
	assert_int_equal(t->n, 2);
	assert_string_equal(t->ents[0].name, "__init__.py");
	assert_true(vv_oid_eq(&t->ents[0].oid, &f.oid));
	assert_int_equal(t->ents[0].size, f.size);
	assert_int_equal(t->ents[1].mode, 0600);
	vv_tree_unref(t);
	vv_tree_unref(r);

	/* Writing again (and after more adds) works; the builder stays usable. */
	vv_oid again;
	assert_int_equal(vv_tb_write(tb, st, &again), 0);
	assert_true(vv_oid_eq(&root, &again));
	struct vv_tree_ent h = file_ent("y", 0644, 1);
	assert_int_equal(vv_tb_add(tb, "lib/python3.12/new.py", &h), 0);
	assert_int_equal(vv_tb_write(tb, st, &again), 0);
	assert_false(vv_oid_eq(&root, &again));
	vv_tb_free(tb);
	vt_store_free(st);
}

static void test_order_independent(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	const char *paths[] = { "b/z", "a", "b/a", "c/d/e", "B", "b/\xc3\xa9" };
	vv_oid r1, r2;
	struct vv_tb *tb = vv_tb_new(0);
	for (int i = 0; i < 6; i++) {
		struct vv_tree_ent f = file_ent(paths[i], 0644, i);
		assert_int_equal(vv_tb_add(tb, paths[i], &f), 0);
	}
	assert_int_equal(vv_tb_write(tb, st, &r1), 0);
	vv_tb_free(tb);
	tb = vv_tb_new(0);
	for (int i = 5; i >= 0; i--) {
		struct vv_tree_ent f = file_ent(paths[i], 0644, i);
		assert_int_equal(vv_tb_add(tb, paths[i], &f), 0);
	}
	assert_int_equal(vv_tb_write(tb, st, &r2), 0);
	vv_tb_free(tb);
	assert_true(vv_oid_eq(&r1, &r2));
	vt_store_free(st);
}

static void test_graft(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_tb *tb = vv_tb_new(0);
	struct vv_tree_ent f = file_ent("1", 0644, 0);
	assert_int_equal(vv_tb_add(tb, "x/one", &f), 0);
	vv_oid sub;
	assert_int_equal(vv_tb_write(tb, st, &sub), 0);
	vv_tb_free(tb);

	tb = vv_tb_new(0);
	struct vv_tree_ent g = dir_ent(0755, 5);
	g.oid = sub;
	assert_int_equal(vv_tb_add(tb, "deep/graft", &g), 0);
	/* Nothing can be added beneath a grafted tree, nor can it be re-added. */
	assert_int_equal(vv_tb_add(tb, "deep/graft/x/two", &f), -EEXIST);
	assert_int_equal(vv_tb_add(tb, "deep/graft", &g), -EEXIST);
	vv_oid root;
	assert_int_equal(vv_tb_write(tb, st, &root), 0);
	struct vv_tree *r = get(st, &root);
	struct vv_tree *deep = get(st, &find(r, "deep")->oid);
	assert_true(vv_oid_eq(&find(deep, "graft")->oid, &sub));
	vv_tree_unref(deep);
	vv_tree_unref(r);
	vv_tb_free(tb);
	vt_store_free(st);
}

/* A grafted directory opened (vv_tb_expand) takes adds beneath it; lookups tell what
 * is where. */
static void test_expand_lookup(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_tb *tb = vv_tb_new(0);
	struct vv_tree_ent f = file_ent("1", 0644, 0);
	assert_int_equal(vv_tb_add(tb, "x/one", &f), 0);
	vv_oid sub;
	assert_int_equal(vv_tb_write(tb, st, &sub), 0);
	vv_tb_free(tb);

	tb = vv_tb_new(0);
	struct vv_tree_ent g = dir_ent(0700, 5), e;
	g.oid = sub;
	bool open = true;
	assert_int_equal(vv_tb_add(tb, "ns", &g), 0);
	assert_int_equal(vv_tb_lookup(tb, "ns", &e, &open), 0);
	assert_false(open);
	assert_true(vv_oid_eq(&e.oid, &sub));
	assert_int_equal(vv_tb_lookup(tb, "ns/x", &e, &open), -ENOENT); /* inside a graft */
	assert_int_equal(vv_tb_lookup(tb, "nope", &e, &open), -ENOENT);
	assert_int_equal(vv_tb_expand(tb, st, "nope"), -ENOENT);
	assert_int_equal(vv_tb_expand(tb, st, "ns"), 0);
	assert_int_equal(vv_tb_expand(tb, st, "ns"), 0); /* already open: no change */
	assert_int_equal(vv_tb_lookup(tb, "ns", &e, &open), 0);
	assert_true(open);
	assert_int_equal(e.mode, 0700);
	assert_int_equal(e.mtime_ns, 5);
	assert_int_equal(vv_tb_lookup(tb, "ns/x", &e, &open), 0);
	assert_false(open); /* its subdirectories stay grafted */
	assert_int_equal(vv_tb_expand(tb, st, "ns/x"), 0);
	struct vv_tree_ent f2 = file_ent("2", 0644, 0);
	assert_int_equal(vv_tb_add(tb, "ns/x/two", &f2), 0);
	assert_int_equal(vv_tb_lookup(tb, "ns/x/one", &e, &open), 0);
	assert_int_equal(e.kind, VV_REG);
	assert_int_equal(vv_tb_expand(tb, st, "ns/x/one"), -ENOTDIR);
	vv_oid root;
	assert_int_equal(vv_tb_write(tb, st, &root), 0);
	struct vv_tree *r = get(st, &root);
	struct vv_tree *ns = get(st, &find(r, "ns")->oid);
	struct vv_tree *x = get(st, &find(ns, "x")->oid);
	assert_non_null(find(x, "one"));
	assert_non_null(find(x, "two"));
	assert_int_equal(find(r, "ns")->mode, 0700);
	vv_tree_unref(x);
	vv_tree_unref(ns);
	vv_tree_unref(r);
	vv_tb_free(tb);
	vt_store_free(st);
}

static bool skip_named(const struct vv_tree_ent *e, void *arg)
{
	return !strcmp(e->name, (const char *)arg);
}

static void test_add_tree(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_tb *tb = vv_tb_new(7);
	struct vv_tree_ent f = file_ent("a", 0644, 1), d = dir_ent(0700, 3);
	assert_int_equal(vv_tb_add(tb, "keep/sub/x", &f), 0);
	assert_int_equal(vv_tb_add(tb, "edit/old", &f), 0);
	assert_int_equal(vv_tb_add(tb, "edit/same", &f), 0);
	assert_int_equal(vv_tb_add(tb, "top", &f), 0);
	vv_oid root;
	assert_int_equal(vv_tb_write(tb, st, &root), 0);
	vv_tb_free(tb);

	/* Copy it with "edit" rebuilt: "old" out, "new" in; everything else grafted. */
	struct vv_tree *t = get(st, &root), *et = get(st, &find(t, "edit")->oid);
	tb = vv_tb_new(7);
	assert_int_equal(vv_tb_add_tree(tb, "", t, skip_named, (void *)"edit"), 0);
	assert_int_equal(vv_tb_add(tb, "edit", &d), 0);
	assert_int_equal(vv_tb_add_tree(tb, "edit", et, skip_named, (void *)"old"), 0);
	assert_int_equal(vv_tb_add(tb, "edit/new", &f), 0);
	/* A grafted directory is closed. */
	assert_int_equal(vv_tb_add(tb, "keep/y", &f), -EEXIST);
	/* Into a path that does not exist yet, without a filter. */
	assert_int_equal(vv_tb_add_tree(tb, "copy/of/edit", et, NULL, NULL), 0);
	vv_oid root2;
	assert_int_equal(vv_tb_write(tb, st, &root2), 0);
	vv_tb_free(tb);

	struct vv_tree *t2 = get(st, &root2);
	assert_true(vv_oid_eq(&find(t2, "keep")->oid, &find(t, "keep")->oid));
	assert_true(vv_oid_eq(&find(t2, "top")->oid, &find(t, "top")->oid));
	const struct vv_tree_ent *e2 = find(t2, "edit");
	assert_int_equal(e2->mode, 0700);
	struct vv_tree *et2 = get(st, &e2->oid);
	assert_int_equal(et2->n, 2);
	find(et2, "new");
	find(et2, "same");
	assert_null(vv_tree_find(et2, "old", 3));
	struct vv_tree *c = get(st, &find(t2, "copy")->oid);
	struct vv_tree *c2 = get(st, &find(c, "of")->oid);
	assert_true(vv_oid_eq(&find(c2, "edit")->oid, &et->oid));
	vv_tree_unref(c2);
	vv_tree_unref(c);
	vv_tree_unref(et2);
	vv_tree_unref(t2);
	vv_tree_unref(et);
	vv_tree_unref(t);
	vt_store_free(st);
}

/* FIFOs and sockets are added like files but keep no size or id, stay in a copy made
 * with vv_tb_add_tree (an env edited by `venvctl add`), and nothing goes beneath them. */
static void test_fifo_socket(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_tb *tb = vv_tb_new(7);
	struct vv_tree_ent p = file_ent("not content", 0620, 5), k = p, f = file_ent("a", 0644, 1);
	p.kind = VV_FIFO;
	k.kind = VV_SOCK;
	k.mode = 0755;
	assert_int_equal(vv_tb_add(tb, "run/ctl", &p), 0);
	assert_int_equal(vv_tb_add(tb, "run/sock", &k), 0);
	assert_int_equal(vv_tb_add(tb, "run/x", &f), 0);
	assert_int_equal(vv_tb_add(tb, "run/ctl/under", &f), -ENOTDIR);
	struct vv_tree_ent got;
	bool open;
	assert_int_equal(vv_tb_lookup(tb, "run/ctl", &got, &open), 0);
	assert_int_equal(got.kind, VV_FIFO);
	assert_int_equal(got.size, 0);
	assert_true(vv_oid_is_zero(&got.oid));
	vv_oid root;
	assert_int_equal(vv_tb_write(tb, st, &root), 0);
	vv_tb_free(tb);

	struct vv_tree *t = get(st, &root), *run = get(st, &find(t, "run")->oid);
	const struct vv_tree_ent *e = find(run, "ctl");
	assert_int_equal(e->kind, VV_FIFO);
	assert_int_equal(e->mode, 0620);
	assert_int_equal(e->size, 0);
	assert_true(e->mtime_ns == 5);
	e = find(run, "sock");
	assert_int_equal(e->kind, VV_SOCK);
	assert_int_equal(e->mode, 0755);
	/* a copy with the directory rebuilt gives the same tree */
	tb = vv_tb_new(7);
	struct vv_tree_ent d = find(t, "run")[0];
	memset(&d.oid, 0, sizeof(d.oid));
	assert_int_equal(vv_tb_add(tb, "run", &d), 0);
	assert_int_equal(vv_tb_add_tree(tb, "run", run, NULL, NULL), 0);
	vv_oid root2;
	assert_int_equal(vv_tb_write(tb, st, &root2), 0);
	assert_true(vv_oid_eq(&root, &root2));
	vv_tb_free(tb);
	vv_tree_unref(run);
	vv_tree_unref(t);
	vt_store_free(st);
}

static void test_errors(void **state)
{
	(void)state;
	struct vv_tb *tb = vv_tb_new(0);
	struct vv_tree_ent f = file_ent("1", 0644, 0);
	assert_int_equal(vv_tb_add(tb, "a/file", &f), 0);
	assert_int_equal(vv_tb_add(tb, "a/file", &f), -EEXIST);
	assert_non_null(strstr(vv_errmsg(), "a/file"));
	assert_int_equal(vv_tb_add(tb, "a/file/under", &f), -ENOTDIR);
	struct vv_tree_ent d = dir_ent(0755, 0);
	assert_int_equal(vv_tb_add(tb, "a/file", &d), -EEXIST);
	/* An explicit directory cannot be declared twice. */
	assert_int_equal(vv_tb_add(tb, "e", &d), 0);
	assert_int_equal(vv_tb_add(tb, "e", &d), -EEXIST);
	/* Implicit "a" may be declared once, then it is explicit. */
	assert_int_equal(vv_tb_add(tb, "a", &d), 0);
	assert_int_equal(vv_tb_add(tb, "a", &d), -EEXIST);
	/* A file over an implicit directory is a clash. */
	assert_int_equal(vv_tb_add(tb, "p/q", &f), 0);
	assert_int_equal(vv_tb_add(tb, "p", &f), -EEXIST);

	/* Bad paths. */
	assert_int_equal(vv_tb_add(tb, "", &f), -EINVAL);
	assert_int_equal(vv_tb_add(tb, "/abs", &f), -EINVAL);
	assert_int_equal(vv_tb_add(tb, "x//y", &f), -EINVAL);
	assert_int_equal(vv_tb_add(tb, "x/", &f), -EINVAL);
	assert_int_equal(vv_tb_add(tb, "x/../y", &f), -EINVAL);
	assert_int_equal(vv_tb_add(tb, "./y", &f), -EINVAL);
	char longname[300];
	memset(longname, 'n', 256);
	longname[256] = 0;
	assert_int_equal(vv_tb_add(tb, longname, &f), -ENAMETOOLONG);

	/* Bad entries. */
	struct vv_tree_ent bad = f;
	bad.kind = 'x';
	assert_int_equal(vv_tb_add(tb, "k", &bad), -EINVAL);
	bad = f;
	bad.mode = 010000;
	assert_int_equal(vv_tb_add(tb, "k", &bad), -EINVAL);
	bad = f;
	bad.kind = VV_LNK;
	bad.target = NULL;
	assert_int_equal(vv_tb_add(tb, "k", &bad), -EINVAL);
	assert_int_equal(vv_tb_exists(tb, "k"), 0);
	vv_tb_free(tb);
}

static void test_empty_builder(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_tb *tb = vv_tb_new(0);
	vv_oid root, empty;
	assert_int_equal(vv_tb_write(tb, st, &root), 0);
	assert_int_equal(vv_tree_empty(st, &empty), 0);
	assert_true(vv_oid_eq(&root, &empty));
	vv_tb_free(tb);
	vv_tb_free(NULL);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_nested),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_graft),
		cmocka_unit_test(test_expand_lookup),
		cmocka_unit_test(test_add_tree),
		cmocka_unit_test(test_fifo_socket),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_empty_builder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
