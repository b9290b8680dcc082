/* test_python.c - interpreter discovery against the real python3 on PATH (and a pyenv
 * shim when pyenv is installed), plus fakes that prove cached facts start no process:
 * a file that looks like an ELF binary but cannot be executed. Discovery of several
 * interpreters and selection by version run against whatever this machine has (at
 * least the python3 on PATH) and against fakes on a private PATH. The skeleton ids gc
 * reads from the cache come from saved and hand-written cache files. The marker values
 * (struct vv_pyplatform) are learned, cached, checked, and learned once more, keeping
 * the skeletons, for a cache file from before they were. */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/config.h"
#include "util/error.h"
#include "util/hash.h"
#include "python/python.h"
#include "store/store.h"

static char *saved_path, *saved_home, *saved_pyenv;

/* The marker lines a fake interpreter of version V prints (in a printf format). */
#define PLAT_LINES(v)                                                                   \
	"python_full_version=" v "\\nimplementation_name=cpython\\n"                     \
	"implementation_version=" v "\\nplatform_python_implementation=CPython\\n"      \
	"sys_platform=linux\\nos_name=posix\\nplatform_system=Linux\\n"                 \
	"platform_machine=x86_64\\n"

/* The marker values of a fake interpreter of the given version. */
static void fake_plat(struct vv_pyplatform *p, const char *version)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->python_full_version, sizeof(p->python_full_version), "%s", version);
	snprintf(p->implementation_version, sizeof(p->implementation_version), "%s", version);
	strcpy(p->implementation_name, "cpython");
	strcpy(p->platform_python_implementation, "CPython");
	strcpy(p->sys_platform, "linux");
	strcpy(p->os_name, "posix");
	strcpy(p->platform_system, "Linux");
	strcpy(p->platform_machine, "x86_64");
}

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
	p = getenv("HOME");
	saved_home = p ? strdup(p) : NULL;
	p = getenv("PYENV_ROOT");
	saved_pyenv = p ? strdup(p) : NULL;
	return 0;
}

static void restore_env(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

static int teardown(void **state)
{
	(void)state;
	set_path(saved_path);
	restore_env("HOME", saved_home);
	restore_env("PYENV_ROOT", saved_pyenv);
	free(saved_path);
	free(saved_home);
	free(saved_pyenv);
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
	/* what CPython on this machine says for markers */
	const struct vv_pyplatform *p = &py->plat;
	struct utsname u;
	assert_int_equal(uname(&u), 0);
	assert_int_equal(strncmp(p->python_full_version, py->version, strlen(py->version)), 0);
	assert_string_equal(p->implementation_name, "cpython");
	assert_string_equal(p->implementation_version, p->python_full_version);
	assert_string_equal(p->platform_python_implementation, "CPython");
	assert_string_equal(p->sys_platform, "linux");
	assert_string_equal(p->os_name, "posix");
	assert_string_equal(p->platform_system, u.sysname);
	assert_string_equal(p->platform_machine, u.machine);
}

/* The cache file of exe in st, its text into buf (size bytes). */
static void cache_text(struct vv_store *st, const char *exe, char *buf, size_t size)
{
	vv_oid key;
	char hex[VV_OID_HEX + 1], path[PATH_MAX];
	vv_hash_buf(exe, strlen(exe), &key);
	vv_oid_hex(&key, hex);
	snprintf(path, sizeof(path), "%s/pythons/%s", st->path, hex);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* A cache file from before the marker values were learned (no [markers]): loading or
 * resolving the interpreter runs it once more, keeps its skeletons and saves the
 * values; a partial [markers] or a bad value makes the file stale as a whole. */
static void test_markers_relearned(void **state)
{
	(void)state;
	char *p3 = vt_find_in_path("python3");
	if (!p3)
		skip();
	struct vv_store *st = vt_store_new();
	struct vv_python py, again;
	if (vv_python_resolve(st, p3, &py) < 0)
		fail_msg("resolve: %s", vv_errmsg());
	char text[8192];
	cache_text(st, py.exe, text, sizeof(text));
	assert_non_null(strstr(text, "\n[markers]\npython_full_version = "));
	assert_non_null(strstr(text, "\nimplementation_name = cpython\n"));

	struct vv_python old = py;
	memset(&old.plat, 0, sizeof(old.plat));
	memset(old.skel_pip.b, 0x5a, sizeof(old.skel_pip.b));
	for (int via_load = 0; via_load < 2; via_load++) {
		assert_int_equal(vv_python_save(st, &old), 0); /* no [markers] */
		cache_text(st, py.exe, text, sizeof(text));
		assert_null(strstr(text, "[markers]"));
		if (via_load)
			assert_int_equal(vv_python_load(st, py.exe, NULL, &again), 0);
		else
			assert_int_equal(vv_python_resolve(st, py.exe, &again), 0);
		check_real_facts(&again);
		assert_memory_equal(&again.plat, &py.plat, sizeof(py.plat));
		assert_true(vv_oid_eq(&again.skel_pip, &old.skel_pip));
		vv_python_release(&again);
		cache_text(st, py.exe, text, sizeof(text));
		assert_non_null(strstr(text, "[markers]"));
	}

	/* [markers] without one of its keys, or with a bad value: stale, learned anew
	 * (the skeletons go: the file is not trusted) */
	static const char *const bad[] = {"platform_machine = ", "os_name = "};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(vv_python_save(st, &old), 0);
		cache_text(st, py.exe, text, sizeof(text));
		char *t = NULL;
		assert_true(asprintf(&t, "%s[markers]\npython_full_version = %s\n"
				     "implementation_name = cpython\n%s%s\n", text,
				     py.plat.python_full_version, bad[i], i ? "po six" : "") > 0);
		vv_oid key;
		char hex[VV_OID_HEX + 1], path[PATH_MAX];
		vv_hash_buf(py.exe, strlen(py.exe), &key);
		vv_oid_hex(&key, hex);
		snprintf(path, sizeof(path), "%s/pythons/%s", st->path, hex);
		vt_write_file(path, t, strlen(t));
		free(t);
		assert_int_equal(vv_python_load(st, py.exe, NULL, &again), 0);
		assert_memory_equal(&again.plat, &py.plat, sizeof(py.plat));
		assert_true(vv_oid_is_zero(&again.skel_pip));
		vv_python_release(&again);
	}
	vv_python_release(&py);
	free(p3);
	vt_store_free(st);
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
	assert_int_equal(vv_python_load(st, py.exe, NULL, &loaded), 0);
	assert_string_equal(loaded.home, py.home);
	assert_true(vv_oid_eq(&loaded.skel_nopip, &py.skel_nopip));
	vv_python_release(&loaded);

	/* A fresh store learns it by running the ELF directly. */
	struct vv_store *st2 = vt_store_new();
	assert_int_equal(vv_python_load(st2, py.exe, NULL, &loaded), 0);
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
	fake_plat(&py.plat, "3.12.1");
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
	assert_int_equal(vv_python_load(st, fake, NULL, &py), 0);
	assert_string_equal(py.version, "3.12.1");
	vv_python_release(&py);

	/* Facts from before the marker values were learned: it is run to learn them, and
	 * when that fails (it cannot run) the facts are used as they are; a read-only
	 * store, which could not keep them, does not try. */
	struct vv_python nomarks = {
		.exe = fake, .home = (char *)"/h", .base_exe = fake, .version = (char *)"3.12.1",
		.major = 3, .minor = 12,
	};
	memset(nomarks.skel_pip.b, 0x33, sizeof(nomarks.skel_pip.b));
	assert_int_equal(vv_python_save(st, &nomarks), 0);
	for (int load = 0; load < 2; load++) {
		vv_err_clear();
		int r = load ? vv_python_load(st, fake, NULL, &py)
			     : vv_python_resolve(st, fake, &py);
		if (r < 0)
			fail_msg("facts without marker values: %s", vv_errmsg());
		assert_string_equal(py.version, "3.12.1");
		assert_int_equal(py.skel_pip.b[0], 0x33);
		assert_string_equal(py.plat.implementation_name, "");
		vv_python_release(&py);
	}
	struct vv_store *ro;
	assert_int_equal(vv_store_open(&ro, st->path, VV_STORE_READONLY), 0);
	assert_int_equal(vv_python_load(ro, fake, NULL, &py), 0);
	assert_int_equal(py.skel_pip.b[0], 0x33);
	vv_python_release(&py);
	vv_store_close(ro);
	save_fake_facts(st, fake, dir);

	/* The binary changes (size and mtime): the cache is stale, so it is run again. */
	int fd = open(fake, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_true(vv_python_resolve(st, fake, &py) < 0);
	assert_true(vv_python_load(st, fake, NULL, &py) < 0);
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
		 "executable=%s\\nbase_executable=%s\\nrealpath=%s\\npip_wheel=%s\\n"
		 PLAT_LINES("3.12.1") "end=1\\n'\n",
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
	assert_int_equal(vv_python_load(st, fake, NULL, &py), 0);
	assert_int_equal(py.skel_nopip.b[0], 0x22);
	vv_python_release(&py);

	/* The pip wheel disappears: the facts are stale (and the fake cannot be run). */
	assert_int_equal(unlink(whl), 0);
	assert_true(vv_python_load(st, fake, NULL, &py) < 0);

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
#define FACTS_311(exe, plat)                                                            \
	"printf 'venvfs-facts=1\\nversion=3.11.7\\nmajor=3\\nminor=11\\n"                \
	"executable=" exe "\\nbase_executable=2f\\nrealpath=2f\\npip_wheel=\\n" plat     \
	"end=1\\n'\n"
	expect_learn_error("printf 'venvfs-facts=1\\nversion=3.11.7\\nmajor=3\\nminor=10\\n"
			   "executable=2f\\nbase_executable=2f\\nrealpath=2f\\npip_wheel=\\n"
			   PLAT_LINES("3.11.7") "end=1\\n'\n", -EINVAL, "inconsistent");
	expect_learn_error("printf 'venvfs-facts=1\\nversion=2.7.18\\nmajor=2\\nminor=7\\n"
			   "executable=2f\\nbase_executable=2f\\nrealpath=2f\\npip_wheel=\\n"
			   PLAT_LINES("2.7.18") "end=1\\n'\n", -ENOTSUP, "3.6 or later");
	expect_learn_error(FACTS_311("2f6e6f0a", PLAT_LINES("3.11.7")), -ENOENT,
			   "does not exist");
	expect_learn_error(FACTS_311("2f00", PLAT_LINES("3.11.7")), -EINVAL, "malformed");
	expect_learn_error(FACTS_311("7878", PLAT_LINES("3.11.7")), -EINVAL, "absolute");
	/* the marker values: all there, of their few characters, consistent */
	expect_learn_error(FACTS_311("2f", ""), -EINVAL,
			   "incomplete output (no python_full_version)");
	expect_learn_error(FACTS_311("2f", PLAT_LINES("3.11.7") "os_name=posix\\n"), -EINVAL,
			   "unexpected output 'os_name'");
	expect_learn_error(FACTS_311("2f", PLAT_LINES("3.11.8")), -EINVAL,
			   "python_full_version '3.11.8' for version 3.11.7");
	expect_learn_error(FACTS_311("2f", PLAT_LINES("3.11.71")), -EINVAL,
			   "python_full_version '3.11.71'");
#define PLAT_311(name, machine)                                                         \
	"python_full_version=3.11.7\\nimplementation_name=" name "\\n"                     \
	"implementation_version=3.11.7\\nplatform_python_implementation=CPython\\n"        \
	"sys_platform=linux\\nos_name=posix\\nplatform_system=Linux\\n"                   \
	"platform_machine=" machine "\\n"
	expect_learn_error(FACTS_311("2f", PLAT_311("", "x")), -EINVAL, "no implementation_name");
	expect_learn_error(FACTS_311("2f", PLAT_311("a", "x 86")), -EINVAL,
			   "bad platform_machine 'x 86'");
	expect_learn_error(FACTS_311("2f", PLAT_311("a", "0123456789012345678901234567890123")),
			   -EINVAL, "bad platform_machine '01234");
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
	assert_true(vv_python_load(st, "/nonexistent/python3", NULL, &py) < 0);
	assert_true(vv_python_load(st, "relative/python3", NULL, &py) < 0);
	vt_store_free(st);
}

/* ---- several interpreters ---- */

static void check_sorted_unique(const struct vv_python *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(list[i].major, 3);
		assert_true(list[i].minor >= 6);
		if (i)
			assert_true(vv_version_cmp(list[i - 1].version, list[i].version) >= 0);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(list[k].exe, list[i].exe);
	}
}

static void test_discover_real(void **state)
{
	(void)state;
	char *p3 = vt_find_in_path("python3");
	if (!p3)
		skip();
	free(p3);
	struct vv_store *st = vt_store_new();
	struct vv_python def;
	if (vv_python_resolve(st, NULL, &def) < 0)
		fail_msg("resolve: %s", vv_errmsg());
	struct vv_pydisc d;
	if (vv_python_discover_all(st, NULL, &d) < 0)
		fail_msg("discover: %s", vv_errmsg());
	assert_true(d.n >= 1);
	check_sorted_unique(d.list, d.n);
	for (size_t i = 0; i < d.n; i++)
		check_real_facts(&d.list[i]);
	/* The first python3 on PATH is found and is the default. */
	assert_true(d.dflt >= 0 && (size_t)d.dflt < d.n);
	assert_string_equal(d.list[d.dflt].exe, def.exe);
	for (size_t i = 0; i < d.nskipped; i++) {
		assert_null(strstr(d.skipped[i], "-config"));
		assert_null(strstr(d.skipped[i], "gdb"));
	}

	/* An X.Y selects its newest patch release, however it is spelled: the newest,
	 * the oldest and one in the middle (each selection is a discovery). */
	for (size_t i = 0; i < d.n; i++) {
		if (i && d.list[i - 1].minor == d.list[i].minor)
			continue;
		if (i != 0 && i != d.n / 2 && d.list[i].minor != d.list[d.n - 1].minor)
			continue;
		char spec[3][48];
		snprintf(spec[0], sizeof(spec[0]), "%d.%d", d.list[i].major, d.list[i].minor);
		snprintf(spec[1], sizeof(spec[1]), "python%d.%d", d.list[i].major,
			 d.list[i].minor);
		snprintf(spec[2], sizeof(spec[2]), "%s", d.list[i].version);
		for (int k = 0; k < 3; k++) {
			struct vv_python py;
			if (vv_python_select(st, NULL, spec[k], &py) < 0)
				fail_msg("select %s: %s", spec[k], vv_errmsg());
			assert_string_equal(py.exe, d.list[i].exe);
			vv_python_release(&py);
		}
	}
	struct vv_python py;
	assert_int_equal(vv_python_select(st, NULL, "3", &py), 0);
	assert_string_equal(py.exe, d.list[0].exe);
	vv_python_release(&py);
	/* A path and a command name go through resolve. */
	assert_int_equal(vv_python_select(st, NULL, d.list[d.n - 1].exe, &py), 0);
	assert_string_equal(py.exe, d.list[d.n - 1].exe);
	vv_python_release(&py);
	assert_int_equal(vv_python_select(st, NULL, "python3", &py), 0);
	assert_string_equal(py.exe, def.exe);
	vv_python_release(&py);

	/* Nothing matches: -ENOENT naming the spec and what there is. */
	const char *bogus[] = { "3.99", "python3.99.1", "2.7", "no-such-python-here" };
	for (size_t k = 0; k < 4; k++) {
		vv_err_clear();
		assert_int_equal(vv_python_select(st, NULL, bogus[k], &py), -ENOENT);
		assert_non_null(strstr(vv_errmsg(), bogus[k]));
		assert_non_null(strstr(vv_errmsg(), "found"));
		assert_non_null(strstr(vv_errmsg(), d.list[0].version));
	}
	assert_int_equal(vv_python_select(st, NULL, "", &py), -EINVAL);
	assert_int_equal(vv_python_select(st, NULL, "/nonexistent/python3", &py), -ENOENT);

	/* The list-only form agrees. */
	struct vv_python *list;
	size_t n;
	assert_int_equal(vv_python_discover(st, NULL, &list, &n), 0);
	assert_int_equal(n, d.n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(list[i].exe, d.list[i].exe);
	vv_python_list_free(list, n);
	vv_pydisc_release(&d);
	vv_python_release(&def);
	vt_store_free(st);
}

static void save_fake_version(struct vv_store *st, const char *exe, const char *dir,
			      const char *version, int minor)
{
	char home[PATH_MAX];
	snprintf(home, sizeof(home), "%s/bin", dir);
	struct vv_python py = {
		.exe = (char *)exe, .home = home, .base_exe = (char *)exe,
		.version = (char *)version, .major = 3, .minor = minor,
	};
	fake_plat(&py.plat, version);
	assert_int_equal(vv_python_save(st, &py), 0);
}

static size_t count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = 0;
	int ch;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static const struct vv_python *find_exe(const struct vv_pydisc *d, const char *exe)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->list[i].exe, exe))
			return &d->list[i];
	return NULL;
}

static bool skipped_has(const struct vv_pydisc *d, const char *what)
{
	for (size_t i = 0; i < d->nskipped; i++)
		if (strstr(d->skipped[i], what))
			return true;
	return false;
}

static void test_discover_fakes(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char *dir = vt_tempdir(), *other = vt_tempdir();
	/* Fake ELFs that cannot run: with cached facts they are found, without they are
	 * skipped (and nothing else breaks). */
	char *f312 = make_fake_elf(dir, "python3.12");
	char *f313 = make_fake_elf(dir, "python3.13");
	char *f36 = make_fake_elf(other, "python3.6");
	char *fcfg = make_fake_elf(dir, "python3.12-config");
	char *fgdb = make_fake_elf(dir, "python3.12-gdb.py");
	char *fm = make_fake_elf(dir, "python3.12m");
	save_fake_version(st, f312, dir, "3.12.1", 12);
	save_fake_version(st, f36, other, "3.6.15", 6);
	save_fake_version(st, fcfg, dir, "3.12.1", 12);
	char link[PATH_MAX], shim[PATH_MAX], shim2[PATH_MAX], old[PATH_MAX], counter[PATH_MAX];
	snprintf(link, sizeof(link), "%s/bin/python3", dir);
	assert_int_equal(symlink(f312, link), 0);

	/* A shim that counts its runs and reports the 3.12 fake; reachable under two names. */
	char hexe[2 * PATH_MAX + 1], *body;
	snprintf(counter, sizeof(counter), "%s/runs", dir);
	hexs(f312, hexe);
	assert_true(asprintf(&body,
		 "echo run >> '%s'\n"
		 "printf 'venvfs-facts=1\\nversion=3.12.1\\nmajor=3\\nminor=12\\n"
		 "executable=%s\\nbase_executable=%s\\nrealpath=%s\\npip_wheel=\\n"
		 PLAT_LINES("3.12.1") "end=1\\n'\n",
		 counter, hexe, hexe, hexe) > 0);
	snprintf(shim, sizeof(shim), "%s/shims/python3.11", dir);
	write_shim(shim, body);
	free(body);
	snprintf(shim2, sizeof(shim2), "%s/shims/python3.10", dir);
	assert_int_equal(symlink(shim, shim2), 0);
	/* A shim for a Python that is too old, and a broken one. */
	snprintf(old, sizeof(old), "%s/shims/python3.5", dir);
	write_shim(old, "printf 'venvfs-facts=1\\nversion=3.5.10\\nmajor=3\\nminor=5\\n"
			"executable=2f\\nbase_executable=2f\\nrealpath=2f\\npip_wheel=\\n"
			PLAT_LINES("3.5.10") "end=1\\n'\n");
	char broken[PATH_MAX];
	snprintf(broken, sizeof(broken), "%s/shims/python3.9", dir);
	write_shim(broken, "echo 'python3.9: command not found' >&2; exit 127\n");

	char path[2 * PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/bin:%s/shims:relative/dir", dir, dir);
	set_path(path);
	setenv("HOME", dir, 1); /* no ~/.pyenv there */
	unsetenv("PYENV_ROOT");
	char missing[PATH_MAX];
	snprintf(missing, sizeof(missing), "%s/nope/python3", other);
	struct vv_config cfg = { 0 };
	char *extra[] = { f36, missing };
	cfg.pythons = extra;
	cfg.npythons = 2;

	struct vv_pydisc d;
	if (vv_python_discover_all(st, &cfg, &d) < 0)
		fail_msg("discover: %s", vv_errmsg());
	check_sorted_unique(d.list, d.n);
	const struct vv_python *p312 = find_exe(&d, f312);
	assert_non_null(p312);
	assert_string_equal(p312->version, "3.12.1");
	assert_non_null(find_exe(&d, f36));
	assert_string_equal(d.list[d.n - 1].exe, f36); /* oldest last */
	assert_null(find_exe(&d, f313));
	assert_null(find_exe(&d, fcfg));
	assert_true(d.dflt >= 0);
	assert_string_equal(d.list[d.dflt].exe, f312); /* python3 on PATH */
	assert_true(skipped_has(&d, f313));
	assert_true(skipped_has(&d, "3.6 or later"));
	assert_true(skipped_has(&d, "command not found"));
	assert_true(skipped_has(&d, missing));
	assert_false(skipped_has(&d, "-config"));
	assert_false(skipped_has(&d, "gdb"));
	assert_false(skipped_has(&d, fm));
	assert_int_equal(count_lines(counter), 1); /* the shim ran once for two names */
	vv_pydisc_release(&d);

	/* The configured python is the default, and selection picks by version prefix. */
	cfg.python = f36;
	assert_int_equal(vv_python_discover_all(st, &cfg, &d), 0);
	assert_true(d.dflt >= 0);
	assert_string_equal(d.list[d.dflt].exe, f36);
	vv_pydisc_release(&d);
	cfg.python = NULL;
	struct vv_python py;
	assert_int_equal(vv_python_select(st, &cfg, "3.6", &py), 0);
	assert_string_equal(py.exe, f36);
	vv_python_release(&py);
	assert_int_equal(vv_python_select(st, &cfg, "python3.12.1", &py), 0);
	assert_string_equal(py.exe, f312);
	vv_python_release(&py);
	vv_err_clear();
	assert_int_equal(vv_python_select(st, &cfg, "3.1", &py), -ENOENT); /* not 3.12 */
	assert_non_null(strstr(vv_errmsg(), "'3.1'"));
	assert_non_null(strstr(vv_errmsg(), "3.12.1"));
	assert_int_equal(vv_python_select(st, &cfg, "3.12.2", &py), -ENOENT);

	free(f312);
	free(f313);
	free(f36);
	free(fcfg);
	free(fgdb);
	free(fm);
	vt_rmtree(dir);
	vt_rmtree(other);
	vt_store_free(st);
}

static void test_versions(void **state)
{
	(void)state;
	assert_true(vv_version_cmp("23.10", "23.9") > 0);
	assert_true(vv_version_cmp("23.2.1", "23.2") > 0);
	assert_int_equal(vv_version_cmp("3.11", "3.11.0"), 0);
	assert_true(vv_version_cmp("24.0b1", "24.0") < 0);
	assert_true(vv_version_cmp("24.0b1", "24.0b2") < 0);
	assert_true(vv_version_cmp("9", "10") < 0);
	assert_int_equal(vv_version_cmp("", ""), 0);

	struct vv_python py = { .version = (char *)"3.7.16", .major = 3, .minor = 7 };
	assert_int_equal(vv_python_requires_ok(&py, NULL), 1);
	assert_int_equal(vv_python_requires_ok(&py, ""), 1);
	assert_int_equal(vv_python_requires_ok(&py, ">=3.7"), 1);
	assert_int_equal(vv_python_requires_ok(&py, ">=3.8"), 0);
	assert_int_equal(vv_python_requires_ok(&py, " >= 3.6 , <4"), 1);
	assert_int_equal(vv_python_requires_ok(&py,
			 ">=2.7,!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*"), 1);
	assert_int_equal(vv_python_requires_ok(&py, "!=3.7.*"), 0);
	assert_int_equal(vv_python_requires_ok(&py, "==3.7.*"), 1);
	assert_int_equal(vv_python_requires_ok(&py, "==3.7.16"), 1);
	assert_int_equal(vv_python_requires_ok(&py, "~=3.6"), 1);
	assert_int_equal(vv_python_requires_ok(&py, "~=3.7.17"), 0);
	assert_int_equal(vv_python_requires_ok(&py, ">3.7.16"), 0);
	assert_int_equal(vv_python_requires_ok(&py, "<=3.7"), 0);
	assert_int_equal(vv_python_requires_ok(&py, "funny stuff"), 1);
	/* "<V" admits no pre-release of V itself */
	struct vv_python rc = { .version = (char *)"3.13.0rc1", .major = 3, .minor = 13 };
	assert_int_equal(vv_python_requires_ok(&rc, "<3.13"), 0);
	assert_int_equal(vv_python_requires_ok(&rc, "<3.13.0"), 0);
	assert_int_equal(vv_python_requires_ok(&rc, "<3.13.0rc2"), 1);
	assert_int_equal(vv_python_requires_ok(&rc, "<3.14"), 1);
	assert_int_equal(vv_python_requires_ok(&rc, ">=3.12,<3.13.1"), 1);
	assert_int_equal(vv_python_requires_ok(&py, "<3.8"), 1);

	char buf[32];
	assert_int_equal(vv_python_wheel_version("/x/pip-23.2.1-py3-none-any.whl", buf,
						 sizeof(buf)), 0);
	assert_string_equal(buf, "23.2.1");
	assert_int_equal(vv_python_wheel_version("pip-18.1-py2.py3-none-any.whl", buf,
						 sizeof(buf)), 0);
	assert_string_equal(buf, "18.1");
	assert_int_equal(vv_python_wheel_version("/x/pip.whl", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(vv_python_wheel_version("/x/pip-1.0", buf, 3), -EINVAL);

	struct vv_python a = { .exe = (char *)"/a", .home = (char *)"/h", .base_exe = (char *)"/b",
			       .version = (char *)"3.12.1", .major = 3, .minor = 12 }, b;
	memset(a.skel_pip.b, 7, sizeof(a.skel_pip.b));
	assert_int_equal(vv_python_copy(&a, &b), 0);
	assert_string_equal(b.exe, "/a");
	assert_null(b.pip_wheel);
	assert_true(vv_oid_eq(&a.skel_pip, &b.skel_pip));
	vv_python_release(&b);
}

/* What gc keeps of a cache file: the skeleton ids, read from a saved file or from an
 * incomplete one; a bad id fails naming the file. */
static void test_cache_trees(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char exe[PATH_MAX], hex[VV_OID_HEX + 1];
	snprintf(exe, sizeof(exe), "%s/python3.12", st->path);
	vt_write_file(exe, "not run", 7);
	struct vv_python py = { .exe = exe, .home = (char *)"/h", .base_exe = (char *)"/h/py",
				.version = (char *)"3.12.1", .major = 3, .minor = 12 };
	memset(py.skel_pip.b, 0xab, sizeof(py.skel_pip.b));
	memset(py.skel_nopip.b, 0xcd, sizeof(py.skel_nopip.b));
	assert_int_equal(vv_python_save(st, &py), 0);
	vv_oid key;
	vv_hash_buf(exe, strlen(exe), &key);
	vv_oid_hex(&key, hex);
	struct vv_python_cache_trees t;
	assert_int_equal(vv_python_cache_trees(st, hex, &t), 0);
	assert_int_equal(t.n, 2);
	assert_true(vv_oid_eq(&t.id[0], &py.skel_pip));
	assert_string_equal(t.what[0], "skel-pip");
	assert_true(vv_oid_eq(&t.id[1], &py.skel_nopip));
	assert_string_equal(t.what[1], "skel-nopip");

	/* Only the skeleton keys matter: other sections and keys, missing facts are fine. */
	char path[PATH_MAX], text[300];
	vv_oid_hex(&py.skel_nopip, hex);
	snprintf(text, sizeof(text), "[other]\nx = 1\n[python]\nfuture = 2\nskel-nopip = %s\n",
		 hex);
	snprintf(path, sizeof(path), "%s/pythons/partial", st->path);
	vt_write_file(path, text, strlen(text));
	assert_int_equal(vv_python_cache_trees(st, "partial", &t), 0);
	assert_int_equal(t.n, 1);
	assert_true(vv_oid_eq(&t.id[0], &py.skel_nopip));
	assert_string_equal(t.what[0], "skel-nopip");
	snprintf(path, sizeof(path), "%s/pythons/none", st->path);
	snprintf(text, sizeof(text), "[python]\nversion = 3.12.1\n");
	vt_write_file(path, text, strlen(text));
	assert_int_equal(vv_python_cache_trees(st, "none", &t), 0);
	assert_int_equal(t.n, 0);

	assert_int_equal(vv_python_cache_trees(st, "gone", &t), -ENOENT);
	snprintf(path, sizeof(path), "%s/pythons/bad", st->path);
	snprintf(text, sizeof(text), "[python]\nskel-pip = nothex\n");
	vt_write_file(path, text, strlen(text));
	assert_int_equal(vv_python_cache_trees(st, "bad", &t), -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "pythons/bad"));
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_real_python, setup, teardown),
		cmocka_unit_test_setup_teardown(test_markers_relearned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pyenv_shim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_starts_no_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shim_script, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_interpreters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discover_real, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discover_fakes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
		cmocka_unit_test(test_cache_trees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
