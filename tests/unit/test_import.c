/* test_import.c - a venv folder (built here, pointing at the real python3) becomes an env:
 * what is stored and how (console scripts neutral, synthesized entries left out, links
 * made relative, FIFOs and sockets kept as such, modes and mtimes kept), the settings
 * taken from pyvenv.cfg, the source left untouched, and refused input (a device among
 * it) creating nothing. Then clone: O(1) copy, prompt rules, refusals. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "env/txn.h"
#include "env/env.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "ops/import.h"
#include "python/python.h"
#include "store/store.h"

struct fixture {
	struct vv_store *st;
	struct vv_python py;
	char *dir;          /* temp dir holding the venv */
	char venv[512];
	char site[64];      /* lib/python3.N/site-packages, relative */
};

static void put(struct fixture *f, const char *rel, const char *text)
{
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/%s", f->venv, rel);
	vt_write_file(p, text, strlen(text));
}

static int setup(void **state)
{
	char *p3 = vt_find_in_path("python3");
	*state = NULL;
	if (!p3)
		return 0; /* the tests skip */
	free(p3);
	struct fixture *f = calloc(1, sizeof(*f));
	f->st = vt_store_new();
	if (vv_python_resolve(f->st, NULL, &f->py) < 0)
		fail_msg("resolve: %s", vv_errmsg());
	f->dir = vt_tempdir();
	snprintf(f->venv, sizeof(f->venv), "%s/v", f->dir);
	snprintf(f->site, sizeof(f->site), "lib/python3.%d/site-packages", f->py.minor);
	char cfg[PATH_MAX], rel[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
	snprintf(cfg, sizeof(cfg), "home = %s\ninclude-system-site-packages = true\n"
		 "version = %s\n", f->py.home, f->py.version);
	put(f, "pyvenv.cfg", cfg);
	snprintf(rel, sizeof(rel), "%s/demo/__init__.py", f->site);
	put(f, rel, "X = 1\n");
	snprintf(rel, sizeof(rel), "%s/demo-1.0.dist-info/METADATA", f->site);
	put(f, rel, "Name: demo\nVersion: 1.0\n");
	snprintf(cfg, sizeof(cfg), "#!%s/bin/python3\nimport demo\n", f->venv);
	put(f, "bin/tool", cfg);
	put(f, "bin/other", "#!/usr/bin/env python3\n");
	put(f, "bin/activate", "VIRTUAL_ENV=/somewhere\n");
	put(f, "bin/activate.ps1", "virtualenv's\n");
	put(f, "include/.keep", "");
	snprintf(rel, sizeof(rel), "%s/bin/tool", f->venv);
	assert_int_equal(chmod(rel, 0751), 0);
	struct timespec ts[2] = {{.tv_sec = 1600000000, .tv_nsec = 123}, {.tv_sec = 1600000000,
									.tv_nsec = 123}};
	assert_int_equal(utimensat(AT_FDCWD, rel, ts, AT_SYMLINK_NOFOLLOW), 0);
	snprintf(link, sizeof(link), "%s/bin/python", f->venv);
	assert_int_equal(symlink(f->py.exe, link), 0);
	snprintf(link, sizeof(link), "%s/lib64", f->venv);
	assert_int_equal(symlink("lib", link), 0);
	/* an absolute link into the venv itself, and one out of it */
	snprintf(link, sizeof(link), "%s/%s/abs", f->venv, f->site);
	snprintf(target, sizeof(target), "%s/bin/tool", f->venv);
	assert_int_equal(symlink(target, link), 0);
	snprintf(link, sizeof(link), "%s/%s/out", f->venv, f->site);
	assert_int_equal(symlink("/etc/hostname", link), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	vv_python_release(&f->py);
	vt_store_free(f->st);
	vt_rmtree(f->dir);
	free(f);
	return 0;
}

static void do_import(struct fixture *f, const char *path, const char *name,
		      struct vv_import_result *res)
{
	struct vv_import_opts o = {0};
	vv_err_clear();
	if (vv_import_venv(f->st, path, name, &o, res) < 0)
		fail_msg("import: %s", vv_errmsg());
}

static void test_import(void **state)
{
	struct fixture *f = *state;
	if (!f)
		skip();
	struct vv_import_result res;
	char rel[PATH_MAX * 2], want[PATH_MAX * 2];
	struct vv_tree_ent e;
	do_import(f, f->venv, "e", &res);
	assert_string_equal(res.python, f->py.exe);
	assert_string_equal(res.version, f->py.version);
	assert_int_equal(res.files, 5); /* __init__, METADATA, tool, other, .keep */
	assert_int_equal(res.scripts, 1);
	assert_int_equal(res.symlinks, 2);
	assert_int_equal(res.skipped, 5); /* pyvenv.cfg, lib64, python, activate, .ps1 */
	vv_import_result_release(&res);

	struct vv_envcfg cfg;
	assert_int_equal(vv_env_load(f->st, "e", &cfg), 0);
	assert_string_equal(cfg.python, f->py.exe);
	assert_true(cfg.system_site);
	assert_true(cfg.without_pip); /* no pip-*.dist-info */
	assert_null(cfg.prompt);
	/* the console script: neutral first line, kind 's', mode and mtime kept */
	assert_true(vt_lookup(f->st, &cfg.root, "bin/tool", &e));
	assert_int_equal(e.kind, VV_SCRIPT);
	assert_int_equal(e.mode, 0751);
	assert_int_equal(e.mtime_ns, 1600000000000000123LL);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(vv_odb_read_obj(&f->st->odb, &e.oid, 1 << 20, &buf, &len), 0);
	assert_string_equal(buf, "#!python3\nimport demo\n");
	free(buf);
	assert_true(vt_lookup(f->st, &cfg.root, "bin/other", &e));
	assert_int_equal(e.kind, VV_REG);
	/* left out: what venvfs synthesizes */
	assert_false(vt_lookup(f->st, &cfg.root, "pyvenv.cfg", &e));
	assert_false(vt_lookup(f->st, &cfg.root, "lib64", &e));
	assert_false(vt_lookup(f->st, &cfg.root, "bin/python", &e));
	assert_false(vt_lookup(f->st, &cfg.root, "bin/activate", &e));
	assert_false(vt_lookup(f->st, &cfg.root, "bin/activate.ps1", &e));
	assert_true(vt_lookup(f->st, &cfg.root, "include/.keep", &e));
	/* links: into the venv made relative, others kept */
	struct vv_tree *t;
	snprintf(rel, sizeof(rel), "%s", f->site);
	assert_true(vt_lookup(f->st, &cfg.root, rel, &e));
	assert_int_equal(vv_tree_get(f->st, &e.oid, &t), 0);
	const struct vv_tree_ent *l = vv_tree_find(t, "abs", 3);
	assert_non_null(l);
	assert_int_equal(l->kind, VV_LNK);
	assert_string_equal(l->target, "../../../bin/tool");
	l = vv_tree_find(t, "out", 3);
	assert_non_null(l);
	assert_string_equal(l->target, "/etc/hostname");
	vv_tree_unref(t);
	assert_int_equal(vv_env_py_minor(f->st, &cfg.root), f->py.minor);
	vv_envcfg_release(&cfg);

	/* the source is unchanged (a sample), and a relative path gives the same tree */
	snprintf(rel, sizeof(rel), "%s/bin/tool", f->venv);
	assert_int_equal(vv_read_file_at(AT_FDCWD, rel, 1 << 20, &buf, &len), 0);
	snprintf(want, sizeof(want), "#!%s/bin/python3\nimport demo\n", f->venv);
	assert_string_equal(buf, want);
	free(buf);
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	do_import(f, "./v/", "e2", &res);
	vv_import_result_release(&res);
	assert_int_equal(chdir(cwd), 0);
	struct vv_envcfg c1, c2;
	assert_int_equal(vv_env_load(f->st, "e", &c1), 0);
	assert_int_equal(vv_env_load(f->st, "e2", &c2), 0);
	assert_true(vv_oid_eq(&c1.root, &c2.root));
	vv_envcfg_release(&c1);
	vv_envcfg_release(&c2);
}

/* A FIFO and a UNIX socket in the venv become 'p' and 'k' entries (never opened: a
 * FIFO without a writer would block an open), with their modes and mtimes. */
static void test_import_fifo_socket(void **state)
{
	struct fixture *f = *state;
	if (!f)
		skip();
	char p[PATH_MAX * 2], cwd[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s/pipe", f->venv, f->site);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(chmod(p, 0640), 0);
	struct timespec ts[2] = {{.tv_sec = 1600000001, .tv_nsec = 7},
				 {.tv_sec = 1600000001, .tv_nsec = 7}};
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	/* bind a socket by a short relative name (sun_path is small) */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(p, sizeof(p), "%s/include", f->venv);
	assert_int_equal(chdir(p), 0);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "s.sock");
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(chdir(cwd), 0);

	struct vv_import_result res;
	do_import(f, f->venv, "sp", &res);
	close(s);
	assert_int_equal(res.specials, 2);
	assert_int_equal(res.files, 5);
	vv_import_result_release(&res);
	vv_oid root = vt_env_root(f->st, "sp");
	struct vv_tree_ent e;
	snprintf(p, sizeof(p), "%s/pipe", f->site);
	assert_true(vt_lookup(f->st, &root, p, &e));
	assert_int_equal(e.kind, VV_FIFO);
	assert_int_equal(e.mode, 0640);
	assert_int_equal(e.size, 0);
	assert_true(e.mtime_ns == 1600000001000000007LL);
	assert_true(vv_oid_is_zero(&e.oid));
	assert_true(vt_lookup(f->st, &root, "include/s.sock", &e));
	assert_int_equal(e.kind, VV_SOCK);
	assert_int_equal(e.size, 0);
	/* the source still has them */
	struct stat sb;
	snprintf(p, sizeof(p), "%s/include/s.sock", f->venv);
	assert_int_equal(lstat(p, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
}

static void expect_refused(struct fixture *f, const char *path, const char *name,
			   const char *python, int code, const char *msg)
{
	struct vv_import_opts o = {.python = python};
	struct vv_import_result res;
	struct stat sb;
	vv_err_clear();
	assert_int_equal(vv_import_venv(f->st, path, name, &o, &res), code);
	if (!strstr(vv_errmsg(), msg))
		fail_msg("message '%s' lacks '%s'", vv_errmsg(), msg);
	if (code != -EEXIST)
		assert_int_equal(fstatat(f->st->envfd, name, &sb, 0), -1);
}

static void test_refused(void **state)
{
	struct fixture *f = *state;
	if (!f)
		skip();
	char p[PATH_MAX * 2], msg[PATH_MAX * 3];
	snprintf(msg, sizeof(msg), "'%s': not a venv (no pyvenv.cfg)", f->dir);
	expect_refused(f, f->dir, "x", NULL, -EINVAL, msg);
	snprintf(p, sizeof(p), "%s/v/pyvenv.cfg", f->dir);
	snprintf(msg, sizeof(msg), "'%s': not a directory", p);
	expect_refused(f, p, "x", NULL, -EINVAL, msg);
	expect_refused(f, f->venv, "bad/name", NULL, -EINVAL, "bad/name");
	struct vv_import_result res;
	do_import(f, f->venv, "taken", &res);
	vv_import_result_release(&res);
	expect_refused(f, f->venv, "taken", NULL, -EEXIST, "env 'taken' exists");
	/* a device inside (making one needs privileges: skipped without them) */
	snprintf(p, sizeof(p), "%s/%s/null", f->venv, f->site);
	if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0) {
		snprintf(msg, sizeof(msg), "'%s/%s/null': a character device cannot be stored "
			 "in an env", f->venv, f->site);
		expect_refused(f, f->venv, "x", NULL, -EINVAL, msg);
		unlink(p);
	}
	/* a second lib/python3.N */
	snprintf(p, sizeof(p), "%s/lib/python3.99", f->venv);
	assert_int_equal(mkdir(p, 0755), 0);
	expect_refused(f, f->venv, "x", NULL, -EINVAL, "more than one lib/python3.N directory");
	rmdir(p);
	/* only a lib/python3.N of a Python that is not installed */
	snprintf(p, sizeof(p), "%s/lib/python3.%d", f->venv, f->py.minor);
	snprintf(msg, sizeof(msg), "%s/lib/python3.99", f->venv);
	assert_int_equal(rename(p, msg), 0);
	snprintf(msg, sizeof(msg), "'%s': no installed Python 3.99 interpreter found", f->venv);
	expect_refused(f, f->venv, "x", NULL, -ENOENT, msg);
	/* --python of another X.Y than the venv's */
	expect_refused(f, f->venv, "x", f->py.exe, -EINVAL, "has lib/python3.99, but --python");
	snprintf(msg, sizeof(msg), "%s/lib/python3.99", f->venv);
	assert_int_equal(rename(msg, p), 0);
}

static void test_clone(void **state)
{
	struct fixture *f = *state;
	if (!f)
		skip();
	struct vv_store *st = f->st;
	vv_oid root = vt_tree(st, NULL, 0);
	struct vv_envcfg cfg = {.python = (char *)"/usr/bin/python3", .root = root,
				.system_site = true};
	assert_int_equal(vv_txn_create(st, "a", &cfg), 0);
	cfg.prompt = (char *)"my prompt";
	assert_int_equal(vv_txn_create(st, "p", &cfg), 0);

	assert_int_equal(vv_env_clone(st, "a", "b"), 0);
	struct vv_envcfg got;
	assert_int_equal(vv_env_load(st, "b", &got), 0);
	assert_true(vv_oid_eq(&got.root, &root));
	assert_true(got.system_site);
	assert_null(got.prompt); /* the default stays the default: b's own name */
	vv_envcfg_release(&got);
	assert_int_equal(vv_env_clone(st, "p", "p2"), 0);
	assert_int_equal(vv_env_load(st, "p2", &got), 0);
	assert_string_equal(got.prompt, "my prompt");
	vv_envcfg_release(&got);

	vv_err_clear();
	assert_int_equal(vv_env_clone(st, "a", "b"), -EEXIST);
	assert_non_null(strstr(vv_errmsg(), "env 'b' exists"));
	vv_err_clear();
	assert_int_equal(vv_env_clone(st, "nosuch", "c"), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "no env named 'nosuch'"));
	assert_int_equal(vv_env_clone(st, "a", ".."), -EINVAL);

	/* a journal with a record on a's root: refused, nothing created */
	char hex[VV_OID_HEX + 1], j[200], jp[PATH_MAX];
	vv_oid_hex(&root, hex);
	snprintf(j, sizeof(j), "venvfs-journal 1 %s\nu 5:a.txt\n", hex);
	snprintf(jp, sizeof(jp), "%s/journal/a", st->path);
	vt_write_file(jp, j, strlen(j));
	vv_err_clear();
	assert_int_equal(vv_env_clone(st, "a", "c"), -EBUSY);
	assert_non_null(strstr(vv_errmsg(), "commit them first (`sync MOUNT/a`"));
	struct stat sb;
	assert_int_equal(fstatat(st->envfd, "c", &sb, 0), -1);
	/* only the header: nothing pending */
	vt_write_file(jp, j, (size_t)(strchr(j, '\n') + 1 - j));
	assert_int_equal(vv_env_clone(st, "a", "c"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_fifo_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
