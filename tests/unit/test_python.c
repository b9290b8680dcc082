/* test_python.c - interpreter discovery against the real python3 on PATH (and a pyenv
 * shim when pyenv is installed), plus fakes that prove cached facts start no process:
 * a file that looks like an ELF binary but cannot be executed. */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "python.h"
#include "store.h"

static char *saved_path;

static void set_path(const char *p)
{
	if (p)
		setenv("PATH", p, 1);
	else
		unsetenv("PATH");
}

static int setup(void **state)
{
	(void)state;
	const char *p = getenv("PATH");
	saved_path = p ? strdup(p) : NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	set_path(saved_path);
	free(saved_path);
	return 0;
}

static void check_real_facts(const struct vv_python *py)
{
	assert_non_null(py->exe);
	assert_true(py->exe[0] == '/');
	assert_true(vt_is_elf(py->exe));
	char rp[PATH_MAX];
	assert_non_null(realpath(py->exe, rp));
	assert_string_equal(rp, py->exe);
	assert_true(py->home[0] == '/');
	assert_true(py->base_exe[0] == '/');
	assert_int_equal(py->major, 3);
	int ma, mi, pa;
	char tail;
	assert_int_equal(sscanf(py->version, "%d.%d.%d%c", &ma, &mi, &pa, &tail), 3);
	assert_int_equal(ma, py->major);
	assert_int_equal(mi, py->minor);
	char name[32], want[32];
	vv_python_name(py, name);
	snprintf(want, sizeof(want), "python3.%d", py->minor);
	assert_string_equal(name, want);
	if (py->pip_wheel) {
		struct stat sb;
		assert_int_equal(stat(py->pip_wheel, &sb), 0);
		assert_non_null(strstr(py->pip_wheel, "pip-"));
	}
}

static void test_real_python(void **state)
{
	(void)state;
	char *p3 = vt_find_in_path("python3");
	if (!p3)
		skip();
	struct vv_store *st = vt_store_new();
	struct vv_python py, again, loaded;
	if (vv_python_resolve(st, NULL, &py) < 0)
		fail_msg("resolve: %s", vv_errmsg());
	check_real_facts(&py);

	char cachedir[PATH_MAX];
	snprintf(cachedir, sizeof(cachedir), "%s/pythons", st->path);
	assert_int_equal(vt_count_files(cachedir), 1);

	/* Skeleton ids survive a save and later resolves and loads. */
	memset(py.skel_pip.b, 0xab, sizeof(py.skel_pip.b));
	memset(py.skel_nopip.b, 0xcd, sizeof(py.skel_nopip.b));
	assert_int_equal(vv_python_save(st, &py), 0);
	assert_int_equal(vv_python_resolve(st, p3, &again), 0);
	assert_string_equal(again.exe, py.exe);
	assert_string_equal(again.version, py.version);
	assert_true(vv_oid_eq(&again.skel_pip, &py.skel_pip));
	assert_true(vv_oid_eq(&again.skel_nopip, &py.skel_nopip));
	vv_python_release(&again);

	/* The ELF itself, by path: cached. */
	assert_int_equal(vv_python_resolve(st, py.exe, &again), 0);
	assert_true(vv_oid_eq(&again.skel_pip, &py.skel_pip));
	vv_python_release(&again);
	assert_int_equal(vv_python_load(st, py.exe, &loaded), 0);
	assert_string_equal(loaded.home, py.home);
	assert_true(vv_oid_eq(&loaded.skel_nopip, &py.skel_nopip));
	vv_python_release(&loaded);

	/* A fresh store learns it by running the ELF directly. */
	struct vv_store *st2 = vt_store_new();
	assert_int_equal(vv_python_load(st2, py.exe, &loaded), 0);
	check_real_facts(&loaded);
	assert_string_equal(loaded.exe, py.exe);
	assert_string_equal(loaded.version, py.version);
	assert_true(vv_oid_is_zero(&loaded.skel_pip));
	vv_python_release(&loaded);
	vt_store_free(st2);

	vv_python_release(&py);
	free(p3);
	vt_store_free(st);
}

static void test_pyenv_shim(void **state)
{
	(void)state;
	char *pyenv = vt_find_in_path("pyenv");
	if (!pyenv)
		skip();
	char cmd[PATH_MAX + 16], root[PATH_MAX] = "";
	snprintf(cmd, sizeof(cmd), "'%s' root", pyenv);
	free(pyenv);
	FILE *f = popen(cmd, "r");
	if (!f || !fgets(root, sizeof(root), f)) {
		if (f)
			pclose(f);
		skip();
	}
	pclose(f);
	root[strcspn(root, "\n")] = 0;
	char shim[PATH_MAX + 32];
	snprintf(shim, sizeof(shim), "%s/shims/python3", root);
	if (access(shim, X_OK) != 0 || vt_is_elf(shim))
		skip();
	struct vv_store *st = vt_store_new();
	struct vv_python py;
	if (vv_python_resolve(st, shim, &py) < 0)
		fail_msg("resolve %s: %s", shim, vv_errmsg());
	check_real_facts(&py);
	assert_string_not_equal(py.exe, shim);
	vv_python_release(&py);
	vt_store_free(st);
}

/* A file with the ELF magic that execve() refuses (ENOEXEC): if anything tries to run
 * it, the call fails. */
static char *make_fake_elf(const char *dir, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/bin/%s", dir, name);
	static const char junk[] = "\x7f" "ELF this is not a real program";
	vt_write_file(path, junk, sizeof(junk) - 1);
	assert_int_equal(chmod(path, 0755), 0);
	char rp[PATH_MAX];
	assert_non_null(realpath(path, rp));
	return strdup(rp);
}

static void save_fake_facts(struct vv_store *st, const char *exe, const char *dir)
{
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/bin", dir);
	struct vv_python py = {
		.exe = (char *)exe, .home = home, .base_exe = (char *)exe,
		.version = (char *)"3.12.1", .major = 3, .minor = 12,
	};
	memset(py.skel_pip.b, 0x11, sizeof(py.skel_pip.b));
	assert_int_equal(vv_python_save(st, &py), 0);
}

static void test_cache_starts_no_process(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char *dir = vt_tempdir();
	char *fake = make_fake_elf(dir, "python3");

	/* Without cached facts the fake must be run, which fails. */
	struct vv_python py;
	assert_true(vv_python_resolve(st, fake, &py) < 0);
	assert_non_null(strstr(vv_errmsg(), fake));

	save_fake_facts(st, fake, dir);
	if (vv_python_resolve(st, fake, &py) < 0)
		fail_msg("resolve of a cached ELF ran it: %s", vv_errmsg());
	assert_string_equal(py.exe, fake);
	assert_string_equal(py.version, "3.12.1");
	assert_int_equal(py.minor, 12);
	assert_int_equal(py.skel_pip.b[0], 0x11);
	assert_true(vv_oid_is_zero(&py.skel_nopip));
	vv_python_release(&py);

	/* Found on PATH, and via a symlink: still no process. */
	char bin[PATH_MAX], link[PATH_MAX];
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	set_path(bin);
	assert_int_equal(vv_python_resolve(st, NULL, &py), 0);
	assert_string_equal(py.exe, fake);
	vv_python_release(&py);
	snprintf(link, sizeof(link), "%s/bin/python", dir);
	assert_int_equal(symlink(fake, link), 0);
	assert_int_equal(vv_python_resolve(st, "python", &py), 0);
	assert_string_equal(py.exe, fake);
	vv_python_release(&py);
	assert_int_equal(vv_python_load(st, fake, &py), 0);
	assert_string_equal(py.version, "3.12.1");
	vv_python_release(&py);

	/* The binary changes (size and mtime): the cache is stale, so it is run again. */
	int fd = open(fake, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_true(vv_python_resolve(st, fake, &py) < 0);
	assert_true(vv_python_load(st, fake, &py) < 0);
	assert_non_null(strstr(vv_errmsg(), fake));

	free(fake);
	vt_rmtree(dir);
	vt_store_free(st);
}

static void hexs(const char *s, char *out)
{
	for (; *s; s++, out += 2)
		sprintf(out, "%02x", (unsigned char)*s);
	*out = 0;
}

/* A shim script that reports facts about another binary (the fake ELF). */
static void write_shim(const char *path, const char *body)
{
	size_t n = strlen(body);
	char *text = malloc(n + 16);
	assert_non_null(text);
	memcpy(text, "#!/bin/sh\n", 10);
	memcpy(text + 10, body, n);
	vt_write_file(path, text, n + 10);
	free(text);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_shim_script(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char *dir = vt_tempdir();
	char *fake = make_fake_elf(dir, "python3.12");
	char shim[PATH_MAX], base[PATH_MAX], hexe[2 * PATH_MAX + 1], hbase[2 * PATH_MAX + 1];
	char *body, whl[PATH_MAX], hwhl[2 * PATH_MAX + 1];
	snprintf(shim, sizeof(shim), "%s/shims/python3", dir);
	snprintf(base, sizeof(base), "%s/bin/python3", dir);
	snprintf(whl, sizeof(whl), "%s/pip-24.0-py3-none-any.whl", dir);
	vt_write_file(whl, "PK", 2);
	assert_int_equal(symlink(fake, base), 0);
	hexs(base, hexe);
	hexs(base, hbase);
	hexs(whl, hwhl);
	assert_true(asprintf(&body,
		 "[ \"$1\" = -I ] && [ \"$2\" = -c ] || exit 5\n"
		 "printf 'venvfs-facts=1\\nversion=3.12.1\\nmajor=3\\nminor=12\\n"
		 "executable=%s\\nbase_executable=%s\\nrealpath=%s\\npip_wheel=%s\\nend=1\\n'\n",
		 hexe, hbase, hexe, hwhl) > 0);
	write_shim(shim, body);
	free(body);

	struct vv_python py;
	if (vv_python_resolve(st, shim, &py) < 0)
		fail_msg("resolve shim: %s", vv_errmsg());
	assert_string_equal(py.exe, fake);  /* realpath of what the shim reported */
	assert_string_equal(py.base_exe, base);
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/bin", dir);
	assert_string_equal(py.home, home);
	assert_string_equal(py.pip_wheel, whl);
	assert_string_equal(py.version, "3.12.1");
	memset(py.skel_nopip.b, 0x22, sizeof(py.skel_nopip.b));
	assert_int_equal(vv_python_save(st, &py), 0);
	vv_python_release(&py);

	/* The shim may run again; the skeletons it found stay. */
	assert_int_equal(vv_python_resolve(st, shim, &py), 0);
	assert_int_equal(py.skel_nopip.b[0], 0x22);
	vv_python_release(&py);
	/* Now the ELF is known: resolving or loading it starts nothing. */
	assert_int_equal(vv_python_resolve(st, fake, &py), 0);
	assert_string_equal(py.base_exe, base);
	vv_python_release(&py);
	assert_int_equal(vv_python_load(st, fake, &py), 0);
	assert_int_equal(py.skel_nopip.b[0], 0x22);
	vv_python_release(&py);

	/* The pip wheel disappears: the facts are stale (and the fake cannot be run). */
	assert_int_equal(unlink(whl), 0);
	assert_true(vv_python_load(st, fake, &py) < 0);

	free(fake);
	vt_rmtree(dir);
	vt_store_free(st);
}

static void expect_learn_error(const char *body, int code, const char *what)
{
	struct vv_store *st = vt_store_new();
	char *dir = vt_tempdir();
	char shim[PATH_MAX];
	snprintf(shim, sizeof(shim), "%s/python3", dir);
	write_shim(shim, body);
	struct vv_python py;
	int r = vv_python_resolve(st, shim, &py);
	if (r != code || !strstr(vv_errmsg(), what))
		fail_msg("got %d '%s', want %d with '%s'", r, vv_errmsg(), code, what);
	vt_rmtree(dir);
	vt_store_free(st);
}

static void test_bad_interpreters(void **state)
{
	(void)state;
	expect_learn_error("echo 'no such thing' >&2; exit 3\n", -ENOEXEC, "no such thing");
	expect_learn_error("echo hello\n", -EINVAL, "unexpected output");
	expect_learn_error("printf 'venvfs-facts=1\\nversion=3.11.7\\n'\n", -EINVAL, "incomplete");
	expect_learn_error("printf 'venvfs-facts=1\\nversion=3.1'\n", -EINVAL, "truncated");
	expect_learn_error("printf 'venvfs-facts=1\\nversion=3.11.7\\nversion=3.11.7\\n'\n",
			   -EINVAL, "unexpected output");
	expect_learn_error("printf 'venvfs-facts=1\\nversion=3.11.7\\nmajor=3\\nminor=10\\n"
			   "executable=2f\\nbase_executable=2f\\nrealpath=2f\\npip_wheel=\\n"
			   "end=1\\n'\n", -EINVAL, "inconsistent");
	expect_learn_error("printf 'venvfs-facts=1\\nversion=2.7.18\\nmajor=2\\nminor=7\\n"
			   "executable=2f\\nbase_executable=2f\\nrealpath=2f\\npip_wheel=\\n"
			   "end=1\\n'\n", -ENOTSUP, "3.6 or later");
	expect_learn_error("printf 'venvfs-facts=1\\nversion=3.11.7\\nmajor=3\\nminor=11\\n"
			   "executable=2f6e6f0a\\nbase_executable=2f\\nrealpath=2f\\npip_wheel=\\n"
			   "end=1\\n'\n", -ENOENT, "does not exist");
	expect_learn_error("printf 'venvfs-facts=1\\nversion=3.11.7\\nmajor=3\\nminor=11\\n"
			   "executable=2f00\\nbase_executable=2f\\nrealpath=2f\\npip_wheel=\\n"
			   "end=1\\n'\n", -EINVAL, "malformed");
	expect_learn_error("printf 'venvfs-facts=1\\nversion=3.11.7\\nmajor=3\\nminor=11\\n"
			   "executable=7878\\nbase_executable=2f\\nrealpath=2f\\npip_wheel=\\n"
			   "end=1\\n'\n", -EINVAL, "absolute");
	expect_learn_error("kill -9 $$\n", -ENOEXEC, "signal 9");
}

static void test_not_found(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_python py;
	set_path("/nonexistent-dir:/also-not-there");
	assert_int_equal(vv_python_resolve(st, NULL, &py), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "no Python interpreter found"));
	assert_non_null(strstr(vv_errmsg(), "'python3'"));
	assert_non_null(strstr(vv_errmsg(), "/also-not-there"));
	assert_int_equal(vv_python_resolve(st, "python3.99-nope", &py), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "python3.99-nope"));
	assert_int_equal(vv_python_resolve(st, "/nonexistent/python3", &py), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "no Python interpreter found"));
	assert_non_null(strstr(vv_errmsg(), "/nonexistent/python3"));
	assert_true(vv_python_load(st, "/nonexistent/python3", &py) < 0);
	assert_true(vv_python_load(st, "relative/python3", &py) < 0);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_real_python, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pyenv_shim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_starts_no_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shim_script, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_interpreters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
