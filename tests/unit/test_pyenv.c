/* test_pyenv.c - what a pyenv shim would run, read from pyenv's files (pyenv.c). A fake
 * PYENV_ROOT in a temp dir holds shims in the exact form pyenv writes, versions whose
 * bin/python3 are fake ELF binaries (they cannot run, so any answer that needed a run
 * would fail), a "system" python3 on PATH, and a pyenv program that leaves a mark when
 * a shim runs it. Each source of the version is covered (PYENV_VERSION, a
 * .python-version from the working directory up, PYENV_DIR, $PYENV_ROOT/version,
 * "system"), and so is each fallback to running the shim: a version pyenv would
 * resolve as a prefix or does not have, a target that is a script, hooks, bash
 * startup variables, a shim reached elsewhere or edited. Resolving and discovering
 * through the shims then starts no process. Where pyenv is installed, its own program
 * runs the same shims on a second fake root, and its answer must be the one read. */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "python/python.h"
#include "python/python_int.h"
#include "store/store.h"

/* The shim pyenv-rehash writes (pyenv 2.x), for ROOT and the pyenv program. */
#define SHIM_TEXT                                               \
	"#!/usr/bin/env bash\n"                                 \
	"set -e\n"                                              \
	"[ -n \"$PYENV_DEBUG\" ] && set -x\n"                   \
	"\n"                                                    \
	"program=\"${0##*/}\"\n"                                \
	"\n"                                                    \
	"export PYENV_ROOT=\"%s\"\n"                            \
	"SHIM_PATH=${0%%/*}\n"                                  \
	"if [[ $SHIM_PATH != \"%s/shims\" ]]; then\n"           \
	"  export _PYENV_SHIM_PATH=\"$SHIM_PATH\"\n"            \
	"fi\n"                                                  \
	"exec \"%s\" exec \"$program\" \"$@\"\n"

/* Variables the tests set, and ones a caller's environment could hold that change the
 * answer: saved, cleared for each test, put back. */
static const char *const vars[] = { "PATH", "PWD", "HOME", "PYENV_ROOT", "PYENV_VERSION",
				    "PYENV_DIR", "PYENV_HOOK_PATH", "_PYENV_SHIM_PATH",
				    "BASH_ENV" };
#define NVARS (sizeof(vars) / sizeof(*vars))

struct fx {
	char *saved[NVARS];
	char cwd[PATH_MAX];
	char *top;              /* the temp dir */
	char root[PATH_MAX];    /* top/root: the fake PYENV_ROOT */
	char shim[PATH_MAX];    /* root/shims/python3 */
	char sys[PATH_MAX];     /* top/sys: "system", on PATH after the shims */
	char work[PATH_MAX];    /* top/work/a/b: the working directory */
	char ran[PATH_MAX];     /* the mark the fake pyenv program leaves */
};

static void path_of(char *buf, const char *a, const char *b)
{
	assert_true(snprintf(buf, PATH_MAX, "%s/%s", a, b) < PATH_MAX);
}

static void put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[PATH_MAX];
	path_of(p, dir, name);
	vt_write_file(p, text, strlen(text));
	assert_int_equal(chmod(p, mode), 0);
}

static void fake_elf(const char *dir, const char *name)
{
	put(dir, name, "\x7f" "ELF not a real program", 0755);
}

static void write_shim(const char *root, const char *name, const char *pyenv)
{
	char text[3 * PATH_MAX + 512], dir[PATH_MAX];
	assert_true(snprintf(text, sizeof(text), SHIM_TEXT, root, root, pyenv) < (int)sizeof(text));
	path_of(dir, root, "shims");
	put(dir, name, text, 0755);
}

/* The working directory dir, as a shell that went there says it. */
static void go(const char *dir)
{
	assert_int_equal(chdir(dir), 0);
	setenv("PWD", dir, 1);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	for (size_t i = 0; i < NVARS; i++) {
		const char *v = getenv(vars[i]);
		f->saved[i] = v ? strdup(v) : NULL;
		unsetenv(vars[i]);
	}
	assert_non_null(getcwd(f->cwd, sizeof(f->cwd)));
	char *t = vt_tempdir(), real[PATH_MAX];
	assert_non_null(realpath(t, real));
	free(t);
	f->top = strdup(real);
	path_of(f->root, f->top, "root");
	path_of(f->sys, f->top, "sys");
	path_of(f->work, f->top, "work/a/b");
	path_of(f->ran, f->top, "ran");
	path_of(f->shim, f->root, "shims/python3");

	/* The pyenv program a shim execs: here it only leaves a mark and fails. */
	char libexec[PATH_MAX], prog[PATH_MAX], text[PATH_MAX + 64];
	path_of(libexec, f->root, "libexec");
	path_of(prog, libexec, "pyenv");
	snprintf(text, sizeof(text), "#!/bin/sh\necho \"$*\" >> '%s'\nexit 3\n", f->ran);
	put(libexec, "pyenv", text, 0755);
	write_shim(f->root, "python3", prog);
	write_shim(f->root, "python3.12", prog);

	char v[PATH_MAX];
	path_of(v, f->root, "versions/3.11.7/bin");
	fake_elf(v, "python3");
	path_of(v, f->root, "versions/3.12.1/bin");
	fake_elf(v, "python3");
	fake_elf(v, "python3.12");
	path_of(v, f->root, "versions/2.7.18/bin"); /* no python3 */
	fake_elf(v, "python2");
	path_of(v, f->root, "versions/3.10.0/bin"); /* a script, not a binary */
	put(v, "python3", "#!/bin/sh\nexit 1\n", 0755);
	put(f->root, "version", "3.11.7\n", 0644);
	fake_elf(f->sys, "python3");
	assert_int_equal(vv_mkdir_p_at(AT_FDCWD, f->work, 0755), 0);

	/* PATH: the shims, "system", and bash alone (the shims run under env bash). */
	char path[3 * PATH_MAX + 16], tools[PATH_MAX], bash[PATH_MAX];
	path_of(tools, f->top, "tools");
	path_of(bash, tools, "bash");
	assert_int_equal(vv_mkdir_p_at(AT_FDCWD, tools, 0755), 0);
	assert_int_equal(symlink(access("/bin/bash", X_OK) ? "/usr/bin/bash" : "/bin/bash", bash),
			 0);
	snprintf(path, sizeof(path), "%s/shims:%s:%s", f->root, f->sys, tools);
	setenv("PATH", path, 1);
	setenv("HOME", f->top, 1);
	go(f->work);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	assert_int_equal(chdir(f->cwd), 0);
	for (size_t i = 0; i < NVARS; i++) {
		if (f->saved[i])
			setenv(vars[i], f->saved[i], 1);
		else
			unsetenv(vars[i]);
		free(f->saved[i]);
	}
	vt_rmtree(f->top);
	free(f);
	return 0;
}

/* The shim resolves to dir/rel, without running anything. */
static void expect_found(const char *shim, const char *dir, const char *rel)
{
	char want[PATH_MAX], *got = NULL;
	path_of(want, dir, rel);
	int r = python_pyenv_target(shim, &got);
	if (r != PYTHON_PYENV_FOUND || strcmp(got, want)) {
		fprintf(stderr, "%s: got %d '%s', want '%s'\n", shim, r, got ? got : "", want);
		fail();
	}
	free(got);
}

static void expect(const char *shim, int want)
{
	char *got = NULL;
	int r = python_pyenv_target(shim, &got);
	if (r != want) {
		fprintf(stderr, "%s: got %d '%s', want %d\n", shim, r, got ? got : "", want);
		fail();
	}
	assert_true((got != NULL) == (want == PYTHON_PYENV_FOUND));
	free(got);
}

/* Each place the version comes from. */
static void test_sources(void **state)
{
	struct fx *f = *state;
	char dir[PATH_MAX];
	expect_found(f->shim, f->root, "versions/3.11.7/bin/python3"); /* ROOT/version */

	setenv("PYENV_VERSION", "3.12.1", 1);
	expect_found(f->shim, f->root, "versions/3.12.1/bin/python3");
	setenv("PYENV_VERSION", "python-3.12.1", 1);
	expect_found(f->shim, f->root, "versions/3.12.1/bin/python3");
	/* The first version that has the program; then "system". */
	setenv("PYENV_VERSION", "2.7.18:3.12.1", 1);
	expect_found(f->shim, f->root, "versions/3.12.1/bin/python3");
	setenv("PYENV_VERSION", "2.7.18", 1);
	expect_found(f->shim, f->sys, "python3");
	setenv("PYENV_VERSION", "system", 1);
	expect_found(f->shim, f->sys, "python3");
	unsetenv("PYENV_VERSION");

	/* .python-version two levels up: comments, blank lines, extra words, CRLF. */
	path_of(dir, f->top, "work");
	put(dir, ".python-version", "# pinned\n\n  3.12.1 extra\r\n3.11.7\n", 0644);
	expect_found(f->shim, f->root, "versions/3.12.1/bin/python3");
	put(dir, ".python-version", "system\n", 0644);
	expect_found(f->shim, f->sys, "python3");
	put(dir, ".python-version", "", 0644); /* empty: "system" */
	expect_found(f->shim, f->sys, "python3");
	/* PYENV_DIR is searched first, then the working directory. */
	char other[PATH_MAX];
	path_of(other, f->top, "other");
	put(other, ".python-version", "3.12.1\n", 0644);
	setenv("PYENV_DIR", other, 1);
	expect_found(f->shim, f->root, "versions/3.12.1/bin/python3");
	unsetenv("PYENV_DIR");
	char p[PATH_MAX];
	path_of(p, dir, ".python-version");
	assert_int_equal(unlink(p), 0);

	/* A stale PWD is not the working directory: getcwd() is. */
	setenv("PWD", other, 1);
	assert_int_equal(chdir(f->work), 0);
	expect_found(f->shim, f->root, "versions/3.11.7/bin/python3");
	go(other);
	expect_found(f->shim, f->root, "versions/3.12.1/bin/python3");
	go(f->work);

	/* No global version file: "system". */
	path_of(p, f->root, "version");
	assert_int_equal(unlink(p), 0);
	expect_found(f->shim, f->sys, "python3");

	/* A shim of another name: its own program in the version. */
	char shim12[PATH_MAX];
	path_of(shim12, f->root, "shims/python3.12");
	path_of(p, f->root, "libexec/pyenv");
	write_shim(f->root, "python3.12", p);
	setenv("PYENV_VERSION", "3.11.7:3.12.1", 1);
	expect_found(shim12, f->root, "versions/3.12.1/bin/python3.12");
}

/* Whatever pyenv could answer otherwise: PYTHON_PYENV_RUN. */
static void test_run_the_shim(void **state)
{
	struct fx *f = *state;
	static const char *const specs[] = {
		"3.99",          /* not installed (pyenv falls back to "system" or fails) */
		"3.12",          /* a prefix pyenv-latest resolves */
		"3.10.0",        /* its python3 is a script */
		"3.11.7:3.99",   /* one name unknown */
		"3.11.7::3.12.1", "../3.11.7", "3.1*", "python-",
	};
	for (size_t i = 0; i < sizeof(specs) / sizeof(*specs); i++) {
		setenv("PYENV_VERSION", specs[i], 1);
		expect(f->shim, PYTHON_PYENV_RUN);
	}
	unsetenv("PYENV_VERSION");
	expect(f->shim, PYTHON_PYENV_FOUND);

	/* Version files pyenv could read otherwise. */
	char dir[PATH_MAX], p[PATH_MAX];
	path_of(dir, f->top, "work");
	put(dir, ".python-version", "3.11.7/../3.12.1\n", 0644);
	expect(f->shim, PYTHON_PYENV_RUN);
	char longline[1200];
	memset(longline, ' ', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	memcpy(longline + sizeof(longline) - 7, "3.11.7", 6);
	put(dir, ".python-version", longline, 0644);
	expect(f->shim, PYTHON_PYENV_RUN);
	put(dir, ".python-version", "3.11.7\r3.12.1\n", 0644);
	expect(f->shim, PYTHON_PYENV_RUN);
	path_of(p, dir, ".python-version");
	assert_int_equal(unlink(p), 0);
	expect(f->shim, PYTHON_PYENV_FOUND);

	/* Variables that change how bash starts or where pyenv looks. */
	static const char *const env[] = { "BASH_ENV", "PYENV_HOOK_PATH", "_PYENV_SHIM_PATH" };
	for (size_t i = 0; i < sizeof(env) / sizeof(*env); i++) {
		setenv(env[i], "/x", 1);
		expect(f->shim, PYTHON_PYENV_RUN);
		unsetenv(env[i]);
	}
	setenv("PYENV_DIR", "relative", 1);
	expect(f->shim, PYTHON_PYENV_RUN);
	unsetenv("PYENV_DIR");

	/* "system" behind a directory bash would read relative to the working
	 * directory, or a "system" python3 that is a script. */
	char path[2 * PATH_MAX + 16];
	setenv("PYENV_VERSION", "system", 1);
	snprintf(path, sizeof(path), "%s/shims:bin:%s", f->root, f->sys);
	setenv("PATH", path, 1);
	expect(f->shim, PYTHON_PYENV_RUN);
	snprintf(path, sizeof(path), "%s/shims:%s", f->root, f->sys);
	setenv("PATH", path, 1);
	expect(f->shim, PYTHON_PYENV_FOUND);
	put(f->sys, "python3", "#!/bin/sh\n", 0755);
	expect(f->shim, PYTHON_PYENV_RUN);
	fake_elf(f->sys, "python3");
	/* No program at all: pyenv's "command not found" comes from running it. */
	char shim12[PATH_MAX];
	path_of(shim12, f->root, "shims/python3.12");
	expect(shim12, PYTHON_PYENV_RUN);
	/* A pyenv program that is not there. */
	setenv("PYENV_VERSION", "3.12.1", 1);
	expect_found(shim12, f->root, "versions/3.12.1/bin/python3.12");
	write_shim(f->root, "python3.12", "/nonexistent/libexec/pyenv");
	expect(shim12, PYTHON_PYENV_RUN);
	unsetenv("PYENV_VERSION");

	/* The shim reached in another directory (it then exports that directory for
	 * pyenv-which to leave out). */
	char alias[PATH_MAX], shims[PATH_MAX];
	path_of(alias, f->top, "alias");
	path_of(shims, f->root, "shims");
	assert_int_equal(symlink(shims, alias), 0);
	path_of(p, alias, "python3");
	expect(p, PYTHON_PYENV_RUN);
}

/* Hooks: known ones leave the answer, anything else means running the shim. */
static void test_hooks(void **state)
{
	struct fx *f = *state;
	char d[PATH_MAX];
	/* pyenv's pip-rehash wraps pip, not python3. */
	path_of(d, f->root, "pyenv.d/exec");
	put(d, "pip-rehash.bash", "# wraps pip\n", 0644);
	put(d, "pip-rehash/pip", "#!/bin/sh\n", 0755);
	expect(f->shim, PYTHON_PYENV_FOUND);
	put(d, "pip-rehash/python3", "#!/bin/sh\n", 0755);
	expect(f->shim, PYTHON_PYENV_RUN);
	path_of(d, f->root, "pyenv.d/exec/pip-rehash/python3");
	assert_int_equal(unlink(d), 0);
	/* pyenv-virtualenv's `which` hooks act on a program not found. */
	path_of(d, f->root, "plugins/pyenv-virtualenv/etc/pyenv.d/which");
	put(d, "conda.bash", "# conda\n", 0644);
	put(d, "system-site-packages.bash", "# site\n", 0644);
	put(d, "python-config.bash", "# config\n", 0644);
	expect(f->shim, PYTHON_PYENV_FOUND);
	/* Its rehash hooks are not run by a shim. */
	path_of(d, f->root, "plugins/pyenv-virtualenv/etc/pyenv.d/rehash");
	put(d, "envs.bash", "# envs\n", 0644);
	expect(f->shim, PYTHON_PYENV_FOUND);

	static const char *const unknown[] = {
		"pyenv.d/which/mine.bash", "pyenv.d/version-name/mine.bash",
		"plugins/pyenv-virtualenv/etc/pyenv.d/exec/mine.bash",
		"plugins/other/etc/pyenv.d/which/conda.bash",
		"plugins/other/bin/python3", /* on PATH in front of "system" */
		"libexec/python3",
	};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(*unknown); i++) {
		char p[PATH_MAX];
		path_of(p, f->root, unknown[i]);
		vt_write_file(p, "#\n", 2);
		expect(f->shim, PYTHON_PYENV_RUN);
		assert_int_equal(unlink(p), 0);
		expect(f->shim, PYTHON_PYENV_FOUND);
	}
}

/* What is not a pyenv shim. */
static void test_not_shims(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX], text[3 * PATH_MAX + 512];
	path_of(p, f->root, "versions/3.11.7/bin/python3");
	expect(p, PYTHON_PYENV_NOT_SHIM);
	path_of(p, f->root, "versions/3.10.0/bin/python3");
	expect(p, PYTHON_PYENV_NOT_SHIM);
	path_of(p, f->top, "missing");
	expect(p, PYTHON_PYENV_NOT_SHIM);
	/* One byte added, or a shim with a root bash would expand. */
	assert_true(snprintf(text, sizeof(text), SHIM_TEXT "\n", f->root, f->root,
			     "/x/libexec/pyenv") < (int)sizeof(text));
	put(f->top, "edited", text, 0755);
	path_of(p, f->top, "edited");
	expect(p, PYTHON_PYENV_NOT_SHIM);
	assert_true(snprintf(text, sizeof(text), SHIM_TEXT, "$HOME/.pyenv", "$HOME/.pyenv",
			     "/x/libexec/pyenv") < (int)sizeof(text));
	put(f->top, "expands", text, 0755);
	path_of(p, f->top, "expands");
	expect(p, PYTHON_PYENV_NOT_SHIM);
	char root[PATH_MAX];
	assert_true(python_pyenv_shim(f->shim, root));
	assert_string_equal(root, f->root);
	assert_false(python_pyenv_shim(p, root));
}

static void save_facts(struct vv_store *st, const char *exe, const char *version, int minor)
{
	char real[PATH_MAX], home[PATH_MAX];
	assert_non_null(realpath(exe, real));
	snprintf(home, sizeof(home), "%s", real);
	*strrchr(home, '/') = 0;
	struct vv_python py = { .exe = real, .home = home, .base_exe = (char *)exe,
				.version = (char *)version, .major = 3, .minor = minor };
	assert_int_equal(vv_python_save(st, &py), 0);
}

/* Resolving and discovering through the shims: the cache answers and no shim runs (the
 * fakes cannot run, and the fake pyenv program leaves a mark). */
static void test_resolve_runs_nothing(void **state)
{
	struct fx *f = *state;
	struct vv_store *st = vt_store_new();
	char v311[PATH_MAX], v312[PATH_MAX], sys[PATH_MAX];
	path_of(v311, f->root, "versions/3.11.7/bin/python3");
	path_of(v312, f->root, "versions/3.12.1/bin/python3");
	path_of(sys, f->sys, "python3");
	save_facts(st, v311, "3.11.7", 11);
	save_facts(st, v312, "3.12.1", 12);
	save_facts(st, sys, "3.9.2", 9);

	struct vv_python py;
	if (vv_python_resolve(st, NULL, &py) < 0)
		fail_msg("resolve through the shim: %s", vv_errmsg());
	assert_string_equal(py.exe, v311);
	vv_python_release(&py);
	assert_int_equal(vv_python_resolve(st, f->shim, &py), 0);
	assert_string_equal(py.version, "3.11.7");
	vv_python_release(&py);
	assert_int_equal(access(f->ran, F_OK), -1);

	/* --python X.Y: the shims are left out of the scan, the versions of their root
	 * searched (PYENV_ROOT unset and no ~/.pyenv: only the shims name the root). The
	 * script in 3.10.0 goes first: as a version's python3 it would be run. */
	char p[PATH_MAX];
	path_of(p, f->root, "versions/3.10.0/bin/python3");
	assert_int_equal(unlink(p), 0);
	struct vv_pydisc d;
	if (vv_python_discover_all(st, NULL, &d) < 0)
		fail_msg("discover: %s", vv_errmsg());
	size_t seen = 0;
	for (size_t i = 0; i < d.n; i++)
		seen += !strcmp(d.list[i].exe, v311) || !strcmp(d.list[i].exe, v312) ||
			!strcmp(d.list[i].exe, sys);
	assert_int_equal(seen, 3);
	for (size_t i = 0; i < d.nskipped; i++)
		assert_null(strstr(d.skipped[i], f->top));
	assert_true(d.dflt >= 0);
	assert_string_equal(d.list[d.dflt].exe, v311);
	vv_pydisc_release(&d);
	assert_int_equal(vv_python_select(st, NULL, "3.12", &py), 0);
	assert_string_equal(py.exe, v312);
	vv_python_release(&py);
	assert_int_equal(access(f->ran, F_OK), -1);

	/* When the files cannot tell, the shim runs, as before: here the fake pyenv
	 * fails, and so does the resolve. */
	setenv("PYENV_VERSION", "3.12", 1);
	assert_true(vv_python_resolve(st, NULL, &py) < 0);
	assert_int_equal(access(f->ran, F_OK), 0);
	vt_store_free(st);
}

/* ---- against pyenv itself ---- */

/* What the shim runs, by running it (sys.executable of the interpreter it execs). */
static char *run_shim(const char *shim)
{
	char cmd[PATH_MAX + 64], buf[PATH_MAX] = "";
	snprintf(cmd, sizeof(cmd), "'%s' -c 'import sys; print(sys.executable)' 2>&1", shim);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(buf, sizeof(buf), p))
		buf[0] = 0;
	pclose(p);
	buf[strcspn(buf, "\n")] = 0;
	return strdup(buf);
}

/* The answer read must be what running the shim gives; a shim that must run still
 * runs the interpreter pyenv picks. */
static void same_as_pyenv(const char *shim, int want)
{
	char *got = NULL, *ran = run_shim(shim);
	int r = python_pyenv_target(shim, &got);
	if (r != want || (got && strcmp(got, ran)) || ran[0] != '/')
		fail_msg("%s: read %d '%s', pyenv ran '%s'", shim, r, got ? got : "", ran);
	free(got);
	free(ran);
}

static void test_real_pyenv(void **state)
{
	struct fx *f = *state;
	/* pyenv's program, and a real interpreter for the versions to link to. */
	char *pyenv = vt_find_in_path("pyenv"), prog[PATH_MAX], py[PATH_MAX];
	if (!pyenv) {
		const char *h = f->saved[2];
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/.pyenv/bin/pyenv", h ? h : "/root");
		if (access(p, X_OK) == 0)
			pyenv = strdup(p);
	}
	if (!pyenv)
		skip();
	assert_non_null(realpath(pyenv, prog));
	free(pyenv);
	if (!realpath("/usr/bin/python3", py) || !vt_is_elf(py))
		skip();

	char root[PATH_MAX], p[PATH_MAX], shim[PATH_MAX];
	path_of(root, f->top, "real");
	path_of(shim, root, "shims/python3");
	write_shim(root, "python3", prog);
	static const char *const vers[] = { "3.11.7", "3.12.1" };
	for (size_t i = 0; i < 2; i++) {
		char bin[PATH_MAX];
		assert_true(snprintf(bin, sizeof(bin), "%s/versions/%s/bin", root, vers[i]) <
			    (int)sizeof(bin));
		assert_int_equal(vv_mkdir_p_at(AT_FDCWD, bin, 0755), 0);
		path_of(p, bin, "python3");
		assert_int_equal(symlink(py, p), 0);
	}
	path_of(p, root, "versions/2.7.18/bin");
	assert_int_equal(vv_mkdir_p_at(AT_FDCWD, p, 0755), 0);
	put(root, "version", "3.11.7\n", 0644);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/shims:/usr/bin:/bin", root);
	setenv("PATH", path, 1);

	same_as_pyenv(shim, PYTHON_PYENV_FOUND);              /* ROOT/version */
	setenv("PYENV_VERSION", "3.12.1", 1);
	same_as_pyenv(shim, PYTHON_PYENV_FOUND);
	setenv("PYENV_VERSION", "2.7.18:3.12.1", 1);
	same_as_pyenv(shim, PYTHON_PYENV_FOUND);
	setenv("PYENV_VERSION", "system", 1);
	same_as_pyenv(shim, PYTHON_PYENV_FOUND);
	setenv("PYENV_VERSION", "3.99", 1);                   /* not installed */
	same_as_pyenv(shim, PYTHON_PYENV_RUN);
	setenv("PYENV_VERSION", "3.12", 1);                   /* a prefix */
	same_as_pyenv(shim, PYTHON_PYENV_RUN);
	unsetenv("PYENV_VERSION");
	char dir[PATH_MAX];
	path_of(dir, f->top, "work");
	put(dir, ".python-version", "# pinned\n3.12.1\n", 0644);
	same_as_pyenv(shim, PYTHON_PYENV_FOUND);
	put(dir, ".python-version", "system\n", 0644);
	same_as_pyenv(shim, PYTHON_PYENV_FOUND);
	put(dir, ".python-version", "3.99.1\n", 0644);
	same_as_pyenv(shim, PYTHON_PYENV_RUN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_the_shim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_shims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_runs_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_pyenv, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
