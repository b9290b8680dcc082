/* test_config.c - venvfs.ini parsing, its error messages, and the XDG default paths. The
 * INI reader itself is tested in test_ini.c. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"
#include "util/error.h"

static void expect_error(const char *text, int code, const char *where, const char *why)
{
	struct vv_config cfg = { 0 };
	int r = vv_config_parse(&cfg, text, "file");
	if (r != code)
		fail_msg("parsing %s: got %d (%s), want %d", text, r, vv_errmsg(), code);
	if (!strstr(vv_errmsg(), where) || (why && !strstr(vv_errmsg(), why)))
		fail_msg("message '%s' lacks '%s' / '%s'", vv_errmsg(), where, why ? why : "");
	assert_null(cfg.store);
	assert_null(cfg.python);
	vv_config_release(&cfg);
}

static void test_good(void **state)
{
	(void)state;
	setenv("HOME", "/home/alice", 1);
	struct vv_config cfg = { 0 };
	const char *text = "; venvfs configuration\n"
			   "# another comment\n"
			   "\n"
			   "[venvfs]\n"
			   "  store = ~/venvs-store   ; inline comment\n"
			   "python = /usr/bin/python3.11\n"
			   "without-pip = Yes\n";
	assert_int_equal(vv_config_parse(&cfg, text, "file"), 0);
	assert_string_equal(cfg.store, "/home/alice/venvs-store");
	assert_string_equal(cfg.python, "/usr/bin/python3.11");
	assert_true(cfg.without_pip);

	/* A later file overrides only what it sets. */
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\r\npython = python3.12\r\n", "f2"), 0);
	assert_string_equal(cfg.store, "/home/alice/venvs-store");
	assert_string_equal(cfg.python, "python3.12");
	assert_true(cfg.without_pip);
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\nwithout-pip = off\nstore = ~\n", "f3"),
			 0);
	assert_false(cfg.without_pip);
	assert_string_equal(cfg.store, "/home/alice");

	/* A file with an error changes nothing. */
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\nstore = /x\nbogus = 1\n", "f4"),
			 -EINVAL);
	assert_string_equal(cfg.store, "/home/alice");
	vv_config_release(&cfg);
	assert_null(cfg.store);

	/* Empty files and files with only comments are fine. */
	assert_int_equal(vv_config_parse(&cfg, "", "f5"), 0);
	assert_int_equal(vv_config_parse(&cfg, "# nothing\n[venvfs]\n", "f6"), 0);
	assert_null(cfg.store);
}

static void test_bad_lines(void **state)
{
	(void)state;
	setenv("HOME", "/home/alice", 1);
	expect_error("[venvfs]\n[other]\n", -EINVAL, "file:2:", "unknown section");
	expect_error("[venvfs]\n\n[other]\nstore = /x\n", -EINVAL, "file:3:", "unknown section");
	expect_error("[venvfs]\nstore = /x\ncolour = blue\n", -EINVAL, "file:3:", "unknown key");
	expect_error("store = /x\n", -EINVAL, "file:1:", "outside");
	expect_error("[venvfs]\nwithout-pip = maybe\n", -EINVAL, "file:2:", "bad boolean");
	expect_error("[venvfs]\nstore =\n", -EINVAL, "file:2:", "empty path");
	expect_error("[venvfs]\n\n\nstore = relative/dir\n", -EINVAL, "file:4:", "relative");
	expect_error("[venvfs]\npython = bin/python3\n", -EINVAL, "file:2:", "relative");
	expect_error("[venvfs]\npython = ~user/python3\n", -EINVAL, "file:2:", "relative");
	expect_error("[venvfs]\nstore = /a\nstore = /b\n", -EINVAL, "file:3:", "duplicate");
	expect_error("[venvfs]\njust some words\n", -EINVAL, "file:2:", "syntax");
	expect_error("[venvfs\nstore = /x\n", -EINVAL, "file:1:", "section");
	expect_error("[venvfs]\nstore = /x\n   /continued\n", -EINVAL, "file:3:", "indented");
	/* The first error wins, whatever kind it is. */
	expect_error("[venvfs]\nnonsense\ncolour = blue\n", -EINVAL, "file:2:", "syntax");
	expect_error("[venvfs]\ncolour = blue\nnonsense\n", -EINVAL, "file:2:", "unknown key");

	unsetenv("HOME");
	expect_error("[venvfs]\nstore = ~/x\n", -EINVAL, "file:2:", "HOME");
	setenv("HOME", "/home/alice", 1);
}

static void test_pythons(void **state)
{
	(void)state;
	setenv("HOME", "/home/alice", 1);
	struct vv_config cfg = { 0 };
	const char *text = "[venvfs]\n"
			   "pythons = /opt/a/bin/python3.12, ~/py/python3 ,/b/python3.9\t/c/py\n";
	assert_int_equal(vv_config_parse(&cfg, text, "file"), 0);
	assert_int_equal(cfg.npythons, 4);
	assert_string_equal(cfg.pythons[0], "/opt/a/bin/python3.12");
	assert_string_equal(cfg.pythons[1], "/home/alice/py/python3");
	assert_string_equal(cfg.pythons[2], "/b/python3.9");
	assert_string_equal(cfg.pythons[3], "/c/py");

	/* A later file replaces the list; one that does not set it keeps it. */
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\nstore = /s\n", "f2"), 0);
	assert_int_equal(cfg.npythons, 4);
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\npythons = /x/python3\n", "f3"), 0);
	assert_int_equal(cfg.npythons, 1);
	assert_string_equal(cfg.pythons[0], "/x/python3");
	/* Empty: no extra interpreters. */
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\npythons = , ,\n", "f4"), 0);
	assert_int_equal(cfg.npythons, 0);
	assert_null(cfg.pythons);
	/* A bad item fails the whole file and changes nothing. */
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\npythons = /x/python3\n", "f5"), 0);
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\npythons = /a/python3, b/python3\n",
					 "f6"), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "f6:2:"));
	assert_non_null(strstr(vv_errmsg(), "'b/python3'"));
	assert_int_equal(cfg.npythons, 1);
	assert_string_equal(cfg.pythons[0], "/x/python3");
	vv_config_release(&cfg);
	assert_null(cfg.pythons);
	assert_int_equal(cfg.npythons, 0);

	expect_error("[venvfs]\npythons = /a\npythons = /b\n", -EINVAL, "file:3:", "duplicate");
	expect_error("[venvfs]\npythons = python3.12\n", -EINVAL, "file:2:", "relative");
	expect_error("[venvfs]\npythonz = /a\n", -EINVAL, "file:2:", "pythons");
}

static void test_long_line(void **state)
{
	(void)state;
	char text[1024];
	/* 197 bytes of content is inih's limit; one more must be reported, not split. */
	char path[400];
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	int n = 197 - (int)strlen("store = ");
	snprintf(text, sizeof(text), "[venvfs]\nstore = %.*s\n", n, path);
	struct vv_config cfg = { 0 };
	assert_int_equal(vv_config_parse(&cfg, text, "file"), 0);
	assert_int_equal(strlen(cfg.store), (size_t)n);
	vv_config_release(&cfg);

	snprintf(text, sizeof(text), "[venvfs]\n\nstore = %.*s\n", n + 1, path);
	expect_error(text, -EINVAL, "file:3:", "too long");
	snprintf(text, sizeof(text), "[venvfs]\n# %.*s\n", 300, path);
	expect_error(text, -EINVAL, "file:2:", "too long");
	/* Without a final newline too. */
	snprintf(text, sizeof(text), "[venvfs]\nstore = %.*s", 250, path);
	expect_error(text, -EINVAL, "file:2:", "too long");
}

static void test_files(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	char path[512];
	struct vv_config cfg = { 0 };
	snprintf(path, sizeof(path), "%s/missing.ini", dir);
	assert_int_equal(vv_config_load(&cfg, path, 0), 0);
	assert_null(cfg.store);
	assert_int_equal(vv_config_load(&cfg, path, 1), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "missing.ini"));

	snprintf(path, sizeof(path), "%s/venvfs.ini", dir);
	const char *good = "[venvfs]\nstore = /srv/venvfs\n";
	vt_write_file(path, good, strlen(good));
	assert_int_equal(vv_config_load(&cfg, path, 1), 0);
	assert_string_equal(cfg.store, "/srv/venvfs");

	const char *bad = "[venvfs]\nstore = /srv/venvfs\nfoo = bar\n";
	vt_write_file(path, bad, strlen(bad));
	assert_int_equal(vv_config_load(&cfg, path, 1), -EINVAL);
	char want[600];
	snprintf(want, sizeof(want), "%s:3: ", path);
	assert_non_null(strstr(vv_errmsg(), want));

	/* A NUL byte in a file is an error, not the end of the file. */
	static const char nul[] = "[venvfs]\nstore = /a\0\nfoo = 1\n";
	vt_write_file(path, nul, sizeof(nul) - 1);
	assert_int_equal(vv_config_load(&cfg, path, 1), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: ", path);
	assert_non_null(strstr(vv_errmsg(), want));

	/* A directory is not a config file. */
	assert_int_equal(vv_config_load(&cfg, dir, 0), -EINVAL);
	vv_config_release(&cfg);
	vt_rmtree(dir);
}

static void test_defaults(void **state)
{
	(void)state;
	setenv("HOME", "/home/bob", 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("XDG_DATA_HOME");
	char *c = vv_default_config_path(), *s = vv_default_store_path();
	assert_string_equal(c, "/home/bob/.config/venvfs/venvfs.ini");
	assert_string_equal(s, "/home/bob/.local/share/venvfs");
	free(c);
	free(s);

	setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
	setenv("XDG_DATA_HOME", "/xdg/data", 1);
	c = vv_default_config_path();
	s = vv_default_store_path();
	assert_string_equal(c, "/xdg/config/venvfs/venvfs.ini");
	assert_string_equal(s, "/xdg/data/venvfs");
	free(c);
	free(s);

	/* Relative XDG values are ignored, as the spec says. */
	setenv("XDG_DATA_HOME", "relative", 1);
	s = vv_default_store_path();
	assert_string_equal(s, "/home/bob/.local/share/venvfs");
	free(s);

	unsetenv("HOME");
	unsetenv("XDG_DATA_HOME");
	assert_null(vv_default_store_path());
	c = vv_default_config_path();
	assert_string_equal(c, "/xdg/config/venvfs/venvfs.ini");
	free(c);
	unsetenv("XDG_CONFIG_HOME");
	assert_null(vv_default_config_path());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_pythons),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
