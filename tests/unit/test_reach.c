/*
 * test_reach.c - the reachability module on its own: marking from roots (trees walked
 * once, file objects marked, a missing or unparseable tree fails the walk and names
 * its path), the node table (find-or-add, stable pointers while it grows, visiting in
 * insertion order), the scan of objects/ (flags, sizes, the callback, progress),
 * on-demand lookups, tree loading and the path helpers.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops/reach.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/progress.h"

/* root: file a, dir sub (file b, dir deeper (file c)), dir again (= sub), link l */
struct fixture {
	struct vv_store *st;
	vv_oid a, b, c, deeper, sub, root, garbage;
};

static void build(struct fixture *f)
{
	struct vv_store *st = f->st = vt_store_new();
	f->a = vt_put(st, "aaaa");
	f->b = vt_put(st, "bb");
	f->c = vt_put(st, "c");
	f->garbage = vt_put(st, "unreferenced");
	struct vv_tree_ent d[] = {vt_file_ent("c", f->c, 1)};
	f->deeper = vt_tree(st, d, 1);
	struct vv_tree_ent s[] = {vt_file_ent("b", f->b, 2), vt_dir_ent("deeper", f->deeper)};
	f->sub = vt_tree(st, s, 2);
	struct vv_tree_ent r[] = {vt_file_ent("a", f->a, 4), vt_dir_ent("sub", f->sub),
				  vt_dir_ent("again", f->sub), vt_link_ent("l", "a")};
	f->root = vt_tree(st, r, 4);
}

static void test_mark(void **state)
{
	(void)state;
	struct fixture f;
	build(&f);
	struct vv_reach *r = NULL;
	assert_int_equal(vv_reach_new(f.st, &r), 0);
	assert_false(vv_reach_has(r, &f.root));
	assert_int_equal(vv_reach_tree(r, &f.root), 0);
	vv_oid reached[] = {f.root, f.sub, f.deeper, f.a, f.b, f.c};
	for (size_t i = 0; i < 6; i++)
		assert_true(vv_reach_has(r, &reached[i]));
	assert_false(vv_reach_has(r, &f.garbage));
	uint64_t trees = 0, files = 0;
	vv_reach_counts(r, &trees, &files);
	assert_int_equal(trees, 3); /* sub is walked once though reached twice */
	assert_int_equal(files, 3);
	/* marking again changes nothing; a single object adds one file */
	assert_int_equal(vv_reach_tree(r, &f.root), 0);
	assert_int_equal(vv_reach_object(r, &f.garbage), 0);
	assert_int_equal(vv_reach_object(r, &f.garbage), 0);
	assert_true(vv_reach_has(r, &f.garbage));
	vv_reach_counts(r, &trees, &files);
	assert_int_equal(trees, 3);
	assert_int_equal(files, 4);
	vv_reach_free(r);
	vt_store_free(f.st);
}

static void test_mark_fails(void **state)
{
	(void)state;
	struct fixture f;
	build(&f);
	/* deeper goes missing: the walk fails naming where */
	char rel[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(&f.deeper, rel);
	assert_int_equal(unlinkat(f.st->dirfd, rel, 0), 0);
	struct vv_reach *r = NULL;
	assert_int_equal(vv_reach_new(f.st, &r), 0);
	vv_err_clear();
	assert_int_equal(vv_reach_tree(r, &f.root), -ENOENT);
	/* entries are sorted: sub is first reached as "again" */
	assert_non_null(strstr(vv_errmsg(), "at /again/deeper"));
	/* a missing file object does not fail it: it is only marked */
	vv_oid nowhere;
	vv_hash_buf("no such file", 12, &nowhere);
	assert_int_equal(vv_reach_object(r, &nowhere), 0);
	vv_reach_free(r);

	/* a tree that hashes right but does not parse */
	vv_oid junk = vt_put(f.st, "venvfs-tree 1\nnot an entry\n");
	struct vv_tree_ent e[] = {vt_dir_ent("junk", junk)};
	vv_oid top = vt_tree(f.st, e, 1);
	assert_int_equal(vv_reach_new(f.st, &r), 0);
	assert_int_equal(vv_reach_tree(r, &top), -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "at /junk"));
	vv_reach_free(r);
	vt_store_free(f.st);
}

static void test_table(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_reach *r = NULL;
	assert_int_equal(vv_reach_new(st, &r), 0);
	assert_int_equal(vv_reach_count(r), 0);
	assert_null(vv_reach_at(r, 0));
	/* more nodes than one chunk and several table sizes: pointers stay valid */
	enum { N = 10000 };
	struct vv_reach_node **seen = calloc(N, sizeof(*seen));
	assert_non_null(seen);
	for (unsigned i = 0; i < N; i++) {
		vv_oid o;
		vv_hash_buf(&i, sizeof(i), &o);
		assert_null(vv_reach_find(r, &o));
		assert_int_equal(vv_reach_node(r, &o, &seen[i]), 0);
		assert_true(vv_oid_eq(&seen[i]->oid, &o));
		assert_int_equal(seen[i]->owner, -1);
		assert_int_equal(seen[i]->flags, 0);
		seen[i]->size = i;
	}
	assert_int_equal(vv_reach_count(r), N);
	for (unsigned i = 0; i < N; i++) {
		vv_oid o;
		vv_hash_buf(&i, sizeof(i), &o);
		struct vv_reach_node *n = NULL;
		assert_int_equal(vv_reach_node(r, &o, &n), 0); /* found, not added */
		assert_ptr_equal(n, seen[i]);
		assert_ptr_equal(vv_reach_find(r, &o), seen[i]);
		assert_ptr_equal(vv_reach_at(r, i), seen[i]); /* insertion order */
		assert_int_equal(n->size, i);
	}
	assert_int_equal(vv_reach_count(r), N);
	assert_null(vv_reach_at(r, N));
	free(seen);
	vv_reach_free(r);
	vt_store_free(st);
}

struct scanned {
	int objects, strays, errors;
	int corrupt_seen;
	bool node_for_objects;
	int stop_at; /* > 0: stop at that many objects */
};

static int on_entry(const struct vv_odb_entry *e, struct vv_reach_node *n, void *arg)
{
	struct scanned *s = arg;
	switch (e->kind) {
	case VV_ODB_OBJECT:
		s->objects++;
		if (!n || !vv_oid_eq(&n->oid, &e->oid) || !(n->flags & VV_RN_SCANNED))
			s->node_for_objects = false;
		if (n && (n->flags & VV_RN_CORRUPT))
			s->corrupt_seen++;
		if (s->stop_at && s->objects == s->stop_at)
			return 1;
		break;
	case VV_ODB_STRAY:
		s->strays++;
		if (n)
			s->node_for_objects = false;
		break;
	case VV_ODB_ERROR:
		s->errors++;
		break;
	case VV_ODB_FAN:
		break;
	}
	return 0;
}

struct prog {
	int calls;
	uint64_t last_done, last_total;
	char phase[32];
};

static void on_progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	struct prog *p = arg;
	p->calls++;
	p->last_done = done;
	p->last_total = total;
	snprintf(p->phase, sizeof(p->phase), "%s", phase);
}

static void test_scan(void **state)
{
	(void)state;
	struct fixture f;
	build(&f);
	/* one corrupt object, one stray */
	char rel[VV_ODB_PATH_SIZE], p[4096];
	vv_odb_obj_path(&f.b, rel);
	snprintf(p, sizeof(p), "%s/%s", f.st->path, rel);
	assert_int_equal(chmod(p, 0644), 0);
	vt_write_file(p, "BB", 2);
	snprintf(p, sizeof(p), "%s/objects/stray", f.st->path);
	vt_write_file(p, "x", 1);

	struct vv_reach *r = NULL;
	assert_int_equal(vv_reach_new(f.st, &r), 0);
	struct scanned s = {.node_for_objects = true};
	struct prog pr = {0};
	struct vv_progress pg = {.fn = on_progress, .arg = &pr};
	assert_int_equal(vv_reach_scan(r, VV_ODB_VERIFY, on_entry, &s, &pg, "hashing"), 0);
	assert_int_equal(s.objects, 7); /* a b c garbage deeper sub root */
	assert_int_equal(s.strays, 1);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.corrupt_seen, 1);
	assert_true(s.node_for_objects);
	assert_int_equal(vv_reach_count(r), 7);
	assert_string_equal(pr.phase, "hashing");
	assert_true(pr.calls >= 2);
	assert_int_equal(pr.last_done, pr.last_total); /* ends with all done */
	struct vv_reach_node *n = vv_reach_find(r, &f.a);
	assert_non_null(n);
	assert_int_equal(n->flags, VV_RN_SCANNED);
	assert_int_equal(n->size, 4);
	assert_true(n->disk > 0);
	n = vv_reach_find(r, &f.b);
	assert_int_equal(n->flags, VV_RN_SCANNED | VV_RN_CORRUPT);

	/* published after the scan: found on demand; never published: absent */
	vv_oid late = vt_put(f.st, "late"), never;
	vv_hash_buf("never", 5, &never);
	assert_null(vv_reach_find(r, &late));
	assert_int_equal(vv_reach_node(r, &late, &n), 0);
	assert_int_equal(vv_reach_probe(r, n, true), 0);
	assert_int_equal(n->flags, VV_RN_SCANNED);
	assert_int_equal(n->size, 4);
	assert_int_equal(vv_reach_node(r, &never, &n), 0);
	assert_int_equal(vv_reach_probe(r, n, true), 0);
	assert_int_equal(n->flags, VV_RN_ABSENT);
	vv_reach_free(r);

	/* without verify nothing is hashed; a callback can stop the scan */
	assert_int_equal(vv_reach_new(f.st, &r), 0);
	memset(&s, 0, sizeof(s));
	s.node_for_objects = true;
	assert_int_equal(vv_reach_scan(r, 0, on_entry, &s, NULL, "scanning"), 0);
	assert_int_equal(s.corrupt_seen, 0);
	vv_reach_free(r);
	assert_int_equal(vv_reach_new(f.st, &r), 0);
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(vv_reach_scan(r, 0, on_entry, &s, NULL, "scanning"), 0);
	assert_int_equal(s.objects, 2);
	vv_reach_free(r);
	vt_store_free(f.st);
}

static void test_load(void **state)
{
	(void)state;
	struct fixture f;
	build(&f);
	vv_oid junk = vt_put(f.st, "venvfs-tree 1\nnot an entry\n");
	struct vv_reach *r = NULL;
	assert_int_equal(vv_reach_new(f.st, &r), 0);
	struct vv_reach_node *n = NULL;
	assert_int_equal(vv_reach_node(r, &f.sub, &n), 0);
	vv_reach_load(r, n);
	assert_non_null(n->tree);
	assert_int_equal(n->tree->n, 2);
	assert_true(n->flags & VV_RN_LOADED);
	assert_true(n->flags & VV_RN_TREE);
	struct vv_tree *first = n->tree;
	vv_reach_load(r, n); /* once */
	assert_ptr_equal(n->tree, first);
	assert_int_equal(vv_reach_node(r, &junk, &n), 0);
	vv_reach_load(r, n);
	assert_null(n->tree);
	assert_int_equal(n->err, -EUCLEAN);
	assert_non_null(n->errmsg);
	vv_reach_free(r);
	vt_store_free(f.st);
}

static void test_path(void **state)
{
	(void)state;
	struct vv_reach_path p = {0};
	assert_string_equal(vv_reach_path_str(&p), "/");
	size_t s1, s2;
	assert_int_equal(vv_reach_path_push(&p, "lib", 3, &s1), 0);
	assert_int_equal(vv_reach_path_push(&p, "python3.11xyz", 10, &s2), 0);
	assert_string_equal(vv_reach_path_str(&p), "/lib/python3.11");
	vv_reach_path_pop(&p, s2);
	assert_string_equal(vv_reach_path_str(&p), "/lib");
	/* long paths grow the buffer */
	char name[300];
	memset(name, 'n', sizeof(name));
	for (int i = 0; i < 20; i++) {
		size_t s;
		assert_int_equal(vv_reach_path_push(&p, name, sizeof(name), &s), 0);
	}
	assert_int_equal(strlen(vv_reach_path_str(&p)), 4 + 20 * 301);
	vv_reach_path_pop(&p, 0);
	assert_string_equal(vv_reach_path_str(&p), "/");
	free(p.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mark),
		cmocka_unit_test(test_mark_fails),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
