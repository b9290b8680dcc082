/* test_pyprobe.c - what may be run as an env's interpreter: vv_python_check_exe judges a
 * file without running it (real interpreters pass; dash, scripts, text files,
 * directories and wrongly named files are refused with the path and the reason), a
 * copied ELF of another program named python3 passes it and then fails the probe's
 * output check cleanly, vv_python_load runs nothing that fails the check, and a root
 * process probes as the env's owner (a binary only root may run then fails with
 * EACCES, a world-runnable interpreter still works). A copy of this program named
 * python3.12 plays an interpreter that prints given facts and tells who ran it: the
 * probe runs as the owner without groups, and facts such a probe could have been
 * made to print (another executable, a pip wheel elsewhere, a version its name
 * contradicts, marker values other than CPython's on this kernel) are refused. */
#include "testutil.h"

#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/error.h"
#include "python/python.h"
#include "store/store.h"

/* The system interpreter, as the tests name it: a real ELF, readable by everybody. */
#define SYS_PY "/usr/bin/python3.11"

static void copy_file(const char *from, const char *to, mode_t mode)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	struct stat sb;
	assert_int_equal(fstat(in, &sb), 0);
	char *buf = malloc((size_t)sb.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(in, buf, (size_t)sb.st_size), sb.st_size);
	close(in);
	vt_write_file(to, buf, (size_t)sb.st_size);
	free(buf);
	assert_int_equal(chmod(to, mode), 0);
}

/* vv_python_check_exe(path) must give code with a message holding path and what. */
static void expect_refused(const char *path, int code, const char *what)
{
	vv_err_clear();
	int r = vv_python_check_exe(path);
	if (r != code || !strstr(vv_errmsg(), path) || !strstr(vv_errmsg(), what))
		fail_msg("%s: got %d '%s', want %d with '%s'", path, r, vv_errmsg(), code, what);
}

static void expect_ok(const char *path)
{
	if (vv_python_check_exe(path) != 0)
		fail_msg("%s refused: %s", path, vv_errmsg());
}

static void test_real_files(void **state)
{
	(void)state;
	if (access(SYS_PY, X_OK) == 0) {
		expect_ok(SYS_PY);
		if (access("/usr/bin/python3", X_OK) == 0)
			expect_ok("/usr/bin/python3"); /* a symlink to it */
	}
	/* pyenv's builds, where they are installed */
	const char *root = getenv("PYENV_ROOT"), *home = getenv("HOME");
	char pat[PATH_MAX];
	if (root)
		snprintf(pat, sizeof(pat), "%s/versions/*/bin/python3.[0-9]*", root);
	else
		snprintf(pat, sizeof(pat), "%s/.pyenv/versions/*/bin/python3.[0-9]*",
			 home ? home : "/root");
	glob_t g;
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			const char *p = g.gl_pathv[i], *dot = strrchr(p, '.');
			/* python3.12, not python3.12-config or python3.12-gdb.py */
			if (dot && strspn(dot + 1, "0123456789") == strlen(dot + 1) &&
			    vt_is_elf(p))
				expect_ok(p);
		}
		globfree(&g);
	}
	/* a real ELF, and executable, but not named like an interpreter */
	if (access("/bin/dash", X_OK) == 0)
		expect_refused("/bin/dash", -ENOEXEC, "its name is not python");
	expect_refused("/bin/true", -ENOEXEC, "its name is not python");
	expect_refused("/nonexistent/python3", -ENOENT, "No such file");
}

static void test_fakes(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	char p[PATH_MAX], link[PATH_MAX];

	/* a shell script named python3 */
	snprintf(p, sizeof(p), "%s/python3", dir);
	vt_write_file(p, "#!/bin/sh\necho hi\n", 18);
	assert_int_equal(chmod(p, 0755), 0);
	expect_refused(p, -ENOEXEC, "not an ELF binary");
	/* a text file: not executable, then executable */
	snprintf(p, sizeof(p), "%s/python3.11", dir);
	vt_write_file(p, "just text\n", 10);
	expect_refused(p, -EACCES, "not executable");
	assert_int_equal(chmod(p, 0644 | 0111), 0);
	expect_refused(p, -ENOEXEC, "not an ELF binary");
	/* an empty file */
	snprintf(p, sizeof(p), "%s/python", dir);
	vt_write_file(p, "", 0);
	assert_int_equal(chmod(p, 0755), 0);
	expect_refused(p, -ENOEXEC, "not an ELF binary");
	/* a directory */
	snprintf(p, sizeof(p), "%s/python3.12", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	expect_refused(p, -ENOEXEC, "not a regular file");
	/* a link named python3 to a program that is not: the message names both */
	snprintf(link, sizeof(link), "%s/py-link/python3", dir);
	snprintf(p, sizeof(p), "%s/py-link", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(symlink("/bin/true", link), 0);
	char rt[PATH_MAX];
	assert_non_null(realpath("/bin/true", rt));
	expect_refused(link, -ENOEXEC, "its name is not python");
	assert_non_null(strstr(vv_errmsg(), rt));

	/* A copied ELF named python3 passes the check: it cannot tell it from CPython
	 * without running it. The probe then refuses it by what it printed. */
	snprintf(p, sizeof(p), "%s/bin", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/bin/python3", dir);
	copy_file("/bin/true", p, 0755);
	expect_ok(p);
	struct vv_store *st = vt_store_new();
	struct vv_python py;
	vv_err_clear();
	int r = vv_python_load(st, p, NULL, &py);
	if (r != -EINVAL || !strstr(vv_errmsg(), "printed nothing") || !strstr(vv_errmsg(), p))
		fail_msg("copied true: got %d '%s'", r, vv_errmsg());
	vt_store_free(st);
	vt_rmtree(dir);
}

/* vv_python_stdlib_xy: the X.Y of an interpreter from the standard library beside it
 * (PREFIX/lib/pythonX.Y/os.py, or lib64), through a symlink to its real directory. */
static void test_stdlib_xy(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	char p[PATH_MAX], got[32] = "";
	snprintf(p, sizeof(p), "%s/bin", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/bin/python3", dir);
	vt_write_file(p, "", 0);
	/* nothing beside it: no judgment */
	assert_int_equal(vv_python_stdlib_xy(p, "3.11", got, sizeof(got)), -ENOENT);
	char lib[PATH_MAX];
	snprintf(lib, sizeof(lib), "%s/lib", dir);
	assert_int_equal(mkdir(lib, 0755), 0);
	snprintf(lib, sizeof(lib), "%s/lib/python3.12", dir);
	assert_int_equal(mkdir(lib, 0755), 0);
	/* a directory without os.py is not a standard library */
	assert_int_equal(vv_python_stdlib_xy(p, "3.11", got, sizeof(got)), -ENOENT);
	snprintf(lib, sizeof(lib), "%s/lib/python3.12/os.py", dir);
	vt_write_file(lib, "", 0);
	assert_int_equal(vv_python_stdlib_xy(p, "3.11", got, sizeof(got)), 0);
	assert_string_equal(got, "3.12");
	assert_int_equal(vv_python_stdlib_xy(p, "3.12", got, sizeof(got)), 1);
	/* lib64, reached through a link to the binary */
	snprintf(lib, sizeof(lib), "%s/lib64", dir);
	assert_int_equal(mkdir(lib, 0755), 0);
	snprintf(lib, sizeof(lib), "%s/lib64/python3.11", dir);
	assert_int_equal(mkdir(lib, 0755), 0);
	snprintf(lib, sizeof(lib), "%s/lib64/python3.11/os.py", dir);
	vt_write_file(lib, "", 0);
	char link[PATH_MAX];
	snprintf(link, sizeof(link), "%s/py", dir);
	assert_int_equal(symlink(p, link), 0);
	assert_int_equal(vv_python_stdlib_xy(link, "3.11", got, sizeof(got)), 1);
	/* the system interpreter is what it says */
	assert_int_equal(vv_python_stdlib_xy(SYS_PY, "3.11", got, sizeof(got)), 1);
	vt_rmtree(dir);
}

/* Which names count: the file is a fake ELF, so only the name decides. */
static void test_names(void **state)
{
	(void)state;
	static const char *const good[] = {
		"python", "python3", "python3.11", "python3.13t", "python3.11d", "python3.7m",
		"python3.13td", "python3.100", "python10",
	};
	static const char *const bad[] = {
		"python3.11-config", "python3.12-gdb.py", "python3.", "python.3", "python3.11.7",
		"pythonw", "pythont", "python3.13tt", "python3.11x", "ipython3", "python3-dbg",
		"dash", "sh", "Python3", "python3.11dmt",
	};
	char *dir = vt_tempdir();
	char p[PATH_MAX];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, good[i]);
		vt_write_file(p, "\x7f" "ELF rest", 8);
		assert_int_equal(chmod(p, 0755), 0);
		expect_ok(p);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, bad[i]);
		vt_write_file(p, "\x7f" "ELF rest", 8);
		assert_int_equal(chmod(p, 0755), 0);
		expect_refused(p, -ENOEXEC, "its name is not python");
	}
	vt_rmtree(dir);
}

/* vv_python_load runs nothing the check refuses: a script that would leave a mark. */
static void test_load_runs_nothing(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	char p[PATH_MAX], mark[PATH_MAX], body[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/python3", dir);
	snprintf(mark, sizeof(mark), "%s/ran", dir);
	int n = snprintf(body, sizeof(body), "#!/bin/sh\ntouch '%s'\n", mark);
	vt_write_file(p, body, (size_t)n);
	assert_int_equal(chmod(p, 0755), 0);
	struct vv_store *st = vt_store_new();
	struct vv_python py;
	vv_err_clear();
	int r = vv_python_load(st, p, NULL, &py);
	if (r != -ENOEXEC || !strstr(vv_errmsg(), "not an ELF binary"))
		fail_msg("script: got %d '%s'", r, vv_errmsg());
	assert_int_equal(access(mark, F_OK), -1);
	vt_store_free(st);
	vt_rmtree(dir);
}

/* As root, the probe runs as the owner given: a binary only root may run cannot be
 * run by it, one everybody may run works, and owner root (or none) changes nothing. */
static void test_probe_as_owner(void **state)
{
	(void)state;
	if (geteuid() != 0 || access(SYS_PY, X_OK) != 0)
		skip();
	const struct vv_pyowner nobody = { 65534, 65534 }, root = { 0, 0 };
	char *dir = vt_tempdir();
	assert_int_equal(chmod(dir, 0755), 0);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/python3", dir);
	copy_file("/bin/true", p, 0700);
	struct vv_store *st = vt_store_new();
	struct vv_python py;
	vv_err_clear();
	int r = vv_python_load(st, p, &nobody, &py);
	if (r != -EACCES || !strstr(vv_errmsg(), "as uid 65534 gid 65534") ||
	    !strstr(vv_errmsg(), "Permission denied"))
		fail_msg("0700 binary as nobody: got %d '%s'", r, vv_errmsg());
	/* as root (the owner root, or no owner) it runs, and fails by its output */
	assert_int_equal(vv_python_load(st, p, &root, &py), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "printed nothing"));
	assert_int_equal(vv_python_load(st, p, NULL, &py), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "printed nothing"));

	/* the system interpreter, learned as nobody in a fresh store */
	if (vv_python_load(st, SYS_PY, &nobody, &py) < 0)
		fail_msg("%s as nobody: %s", SYS_PY, vv_errmsg());
	assert_string_equal(py.exe, SYS_PY);
	assert_int_equal(py.major, 3);
	vv_python_release(&py);
	vt_store_free(st);
	vt_rmtree(dir);
}

/* ---- a fake interpreter: this program, copied ---- */

/* Run as the fake (argv: -I -c SCRIPT): write "uid euid gid egid ngroups" to
 * $VT_FAKE_WHO, print $VT_FAKE_FACTS. */
static int fake_interpreter(void)
{
	const char *who = getenv("VT_FAKE_WHO"), *facts = getenv("VT_FAKE_FACTS");
	FILE *f = who ? fopen(who, "w") : NULL;
	if (f) {
		fprintf(f, "%u %u %u %u %d\n", (unsigned)getuid(), (unsigned)geteuid(),
			(unsigned)getgid(), (unsigned)getegid(), getgroups(0, NULL));
		fclose(f);
	}
	if (facts)
		fputs(facts, stdout);
	return 0;
}

static void hexs(const char *s, char *out)
{
	for (; *s; s++, out += 2)
		sprintf(out, "%02x", (unsigned char)*s);
	*out = 0;
}

/* Set what the fake prints: version and paths as given, the marker values of CPython
 * on this kernel with sys.platform as given. */
static void fake_facts_on(const char *version, const char *exe, const char *base,
			  const char *whl, const char *sys_platform)
{
	char he[2 * PATH_MAX + 1], hb[2 * PATH_MAX + 1], hw[2 * PATH_MAX + 1], *text;
	int ma, mi;
	struct utsname u;
	assert_int_equal(uname(&u), 0);
	assert_int_equal(sscanf(version, "%d.%d", &ma, &mi), 2);
	hexs(exe, he);
	hexs(base, hb);
	hexs(whl, hw);
	assert_true(asprintf(&text, "venvfs-facts=1\nversion=%s\nmajor=%d\nminor=%d\n"
			     "executable=%s\nbase_executable=%s\nrealpath=%s\npip_wheel=%s\n"
			     "python_full_version=%s\nimplementation_name=cpython\n"
			     "implementation_version=%s\nplatform_python_implementation=CPython\n"
			     "sys_platform=%s\nos_name=posix\nplatform_system=%s\n"
			     "platform_machine=%s\nend=1\n", version, ma, mi, he, hb, he, hw,
			     version, version, sys_platform, u.sysname, u.machine) > 0);
	assert_int_equal(setenv("VT_FAKE_FACTS", text, 1), 0);
	free(text);
}

static void fake_facts(const char *version, const char *exe, const char *base, const char *whl)
{
	fake_facts_on(version, exe, base, whl, "linux");
}

/* The fake's facts with one marker line replaced by line ("key=value\n"). */
static void fake_marker(const char *line)
{
	char *text = strdup(getenv("VT_FAKE_FACTS")), *out;
	assert_non_null(text);
	size_t kl = strcspn(line, "=") + 1;
	char key[64];
	snprintf(key, sizeof(key), "\n%.*s", (int)kl, line);
	char *at = strstr(text, key);
	assert_non_null(at);
	at++;
	size_t old = strcspn(at, "\n") + 1;
	assert_true(asprintf(&out, "%.*s%s%s", (int)(at - text), text, line, at + old) > 0);
	assert_int_equal(setenv("VT_FAKE_FACTS", out, 1), 0);
	free(out);
	free(text);
}

/* Load path in a fresh store as owner: the code, and the message must hold what. */
static int load_fake(const char *path, const struct vv_pyowner *owner, const char *what)
{
	struct vv_store *st = vt_store_new();
	struct vv_python py;
	vv_err_clear();
	int r = vv_python_load(st, path, owner, &py);
	if (what && (r >= 0 || !strstr(vv_errmsg(), what)))
		fail_msg("%s: got %d '%s', want '%s'", path, r, vv_errmsg(), what);
	if (!what && r < 0)
		fail_msg("%s: %s", path, vv_errmsg());
	if (r == 0)
		vv_python_release(&py);
	vt_store_free(st);
	return r;
}

static void test_owner_facts(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	const struct vv_pyowner nobody = { 65534, 65534 };
	char *dir = vt_tempdir();
	assert_int_equal(chmod(dir, 0755), 0);
	char py[PATH_MAX], whl[PATH_MAX], who[PATH_MAX], out[PATH_MAX], line[128];
	snprintf(py, sizeof(py), "%s/pfx/bin/python3.12", dir);
	snprintf(whl, sizeof(whl), "%s/pfx/lib/pip-24.0-py3-none-any.whl", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(who, sizeof(who), "%s/out/who", dir);
	assert_int_equal(mkdir(out, 0777), 0);
	assert_int_equal(chmod(out, 0777), 0);
	vt_write_file(whl, "PK", 2);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = 0;
	vt_write_file(py, "", 0); /* makes pfx/bin */
	copy_file(self, py, 0755);
	assert_int_equal(setenv("VT_FAKE_WHO", who, 1), 0);

	/* honest facts: taken, and the probe ran as nobody with no groups */
	fake_facts("3.12.1", py, py, whl);
	load_fake(py, &nobody, NULL);
	FILE *f = fopen(who, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "65534 65534 65534 65534 0\n");
	fake_facts("3.12.1", py, py, "/usr/share/python-wheels/pip-24.0-py3-none-any.whl");
	load_fake(py, &nobody, NULL);
	fake_facts("3.12.1", py, py, "");
	load_fake(py, &nobody, NULL);

	/* what a probe tampered with could say */
	fake_facts("3.12.1", "/usr/bin/python3.12", py, whl);
	load_fake(py, &nobody, "not itself");
	fake_facts("3.12.1", py, "/home/x/bin/python3.12", whl);
	load_fake(py, &nobody, "not itself");
	fake_facts("3.12.1", py, py, "/home/x/pip-99-py3-none-any.whl");
	load_fake(py, &nobody, "outside its prefix");
	char up[PATH_MAX + 64];
	snprintf(up, sizeof(up), "%s/pfx/../../x/pip-99-py3-none-any.whl", dir);
	fake_facts("3.12.1", py, py, up);
	load_fake(py, &nobody, "outside its prefix");
	fake_facts("3.11.1", py, py, whl);
	load_fake(py, &nobody, "not what its name says");
	/* marker values: only CPython's on this kernel */
	static const char *const lies[] = {
		"sys_platform=win32\n", "os_name=nt\n", "platform_system=Windows\n",
		"platform_machine=riscv64x\n", "implementation_name=pypy\n",
		"platform_python_implementation=PyPy\n", "implementation_version=7.3.1\n",
	};
	for (size_t i = 0; i < sizeof(lies) / sizeof(*lies); i++) {
		fake_facts("3.12.1", py, py, whl);
		fake_marker(lies[i]);
		load_fake(py, &nobody, "not CPython on this");
	}
	fake_facts("3.12.1", py, py, whl);
	fake_marker("python_full_version=3.12.0\n");
	load_fake(py, &nobody, "python_full_version '3.12.0' for version 3.12.1");
	fake_facts_on("3.12.1", py, py, whl, "linux2"); /* starts with the system's name */
	load_fake(py, &nobody, NULL);
	fake_facts("3.12.1", py, py, whl);
	fake_marker("python_full_version=3.12.1rc1\n");
	fake_marker("implementation_version=3.12.1rc1\n");
	load_fake(py, &nobody, NULL);

	/* run as the caller (root), a probe is the caller's own: a shim may report
	 * another binary */
	if (access(SYS_PY, X_OK) == 0) {
		fake_facts("3.12.1", SYS_PY, SYS_PY, "");
		load_fake(py, NULL, NULL);
	}
	unsetenv("VT_FAKE_WHO");
	unsetenv("VT_FAKE_FACTS");
	vt_rmtree(dir);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "-I") && !strcmp(argv[2], "-c"))
		return fake_interpreter();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_files),
		cmocka_unit_test(test_fakes),
		cmocka_unit_test(test_stdlib_xy),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_load_runs_nothing),
		cmocka_unit_test(test_probe_as_owner),
		cmocka_unit_test(test_owner_facts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
