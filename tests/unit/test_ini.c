/*
 * test_ini.c - the strict INI reader (util/ini.h): what it hands to callbacks, what it
 * rejects that inih alone would get wrong (NUL bytes, over-long lines, continuation
 * lines), the one-section table layer's messages, values that can be written and read
 * back, and booleans.
 */
#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/ini.h"

/* ---- the reader ---- */

struct ini_rec {
	char log[1024];
};

static int rec_section(void *user, const char *section, int lineno)
{
	struct ini_rec *r = user;
	size_t n = strlen(r->log);
	snprintf(r->log + n, sizeof(r->log) - n, "%d[%s]", lineno, section);
	return 0;
}

static int rec_key(void *user, const char *section, const char *key, const char *value,
		   int lineno)
{
	struct ini_rec *r = user;
	size_t n = strlen(r->log);
	snprintf(r->log + n, sizeof(r->log) - n, "%d%s.%s=%s;", lineno, section, key, value);
	if (!strcmp(key, "fail"))
		return vv_err(-ERANGE, "told to fail");
	return 0;
}

/* Parse len bytes of text with the recorder; returns the code, log in rec. */
static int rec_parse(const char *text, size_t len, struct ini_rec *rec)
{
	struct vv_ini_cb cb = { rec_section, rec_key, rec };
	rec->log[0] = 0;
	vv_err_clear();
	return vv_ini_parse(text, len, "t", &cb);
}

static void expect_reject(const char *text, size_t len, int code, const char *msg)
{
	struct ini_rec rec;
	int r = rec_parse(text, len, &rec);
	if (r != code)
		fail_msg("'%s': got %d (%s), want %d", text, r, vv_errmsg(), code);
	if (!strstr(vv_errmsg(), msg))
		fail_msg("'%s': message '%s' lacks '%s'", text, vv_errmsg(), msg);
}

static void test_ini_parse(void **state)
{
	(void)state;
	struct ini_rec rec;
	/* A BOM, inline comments, blank lines, an empty section, ':' as separator, an
	 * empty value: every header is reported, with its line. */
	const char *text = "\xEF\xBB\xBF[a]\nx = 1 ; c\n\n[empty]\n[b]\n y : 2;3\nz=\n";
	assert_int_equal(rec_parse(text, strlen(text), &rec), 0);
	assert_string_equal(rec.log, "1[a]2a.x=1;4[empty]5[b]6b.y=2;3;7b.z=;");

	/* CRLF line ends and no final newline. */
	text = "[a]\r\nx = 1\r\ny = 2";
	assert_int_equal(rec_parse(text, strlen(text), &rec), 0);
	assert_string_equal(rec.log, "1[a]2a.x=1;3a.y=2;");

	/* A callback's error stops the parse and gets the file and line. */
	text = "[a]\nx = 1\nfail = 1\n";
	assert_int_equal(rec_parse(text, strlen(text), &rec), -ERANGE);
	assert_string_equal(vv_errmsg(), "t:3: told to fail");

	/* Empty input is an empty file. */
	assert_int_equal(rec_parse("", 0, &rec), 0);
	assert_string_equal(rec.log, "");
}

static void test_reader_rejects(void **state)
{
	(void)state;
	/* A NUL byte is an error on its line, not the end of the file. */
	static const char nul[] = "[a]\nx = 1\0\ny = 2\n";
	expect_reject(nul, sizeof(nul) - 1, -EINVAL, "t:2: NUL byte in line");
	static const char nul_late[] = "[a]\nx = 1\n\0";
	expect_reject(nul_late, sizeof(nul_late) - 1, -EINVAL, "t:3: NUL byte");

	/* 197 bytes of content is inih's limit: one more is reported, not split in two. */
	char text[1024], fill[400];
	memset(fill, 'v', sizeof(fill));
	int n = 197 - (int)strlen("k = ");
	snprintf(text, sizeof(text), "[a]\nk = %.*s\n", n, fill);
	struct ini_rec rec;
	assert_int_equal(rec_parse(text, strlen(text), &rec), 0);
	snprintf(text, sizeof(text), "[a]\n\nk = %.*s\n", n + 1, fill);
	expect_reject(text, strlen(text), -EINVAL, "t:3: line too long (198 bytes, at most 197)");
	snprintf(text, sizeof(text), "[a]\n; %.*s", 300, fill); /* a comment, no newline */
	expect_reject(text, strlen(text), -EINVAL, "t:2: line too long");

	/* An indented line after a key would be a continuation of its value. */
	const char *cont = "[a]\nx = 1\n   more\n";
	expect_reject(cont, strlen(cont), -EINVAL, "t:3: indented line");
	cont = "[a]\nx = 1\n\ty = 2\n";
	expect_reject(cont, strlen(cont), -EINVAL, "t:3: indented line");
	/* ... but indentation before the first key of a section is harmless. */
	cont = "  [a]\n  x = 1\n[b]\n\ty = 2\n";
	assert_int_equal(rec_parse(cont, strlen(cont), &rec), 0);
	assert_string_equal(rec.log, "1[a]2a.x=1;3[b]4b.y=2;");

	/* A BOM counts only at the very start. */
	const char *bom = "\xEF\xBB\xBF\n[a]\nx = 1\n";
	assert_int_equal(rec_parse(bom, strlen(bom), &rec), 0);
	assert_string_equal(rec.log, "2[a]3a.x=1;");

	/* inih's own syntax errors, explained. */
	const char *bad = "[a]\njust words\n";
	expect_reject(bad, strlen(bad), -EINVAL, "t:2: syntax error (expected key = value)");
	bad = "[a\nx = 1\n";
	expect_reject(bad, strlen(bad), -EINVAL, "t:1: bad section header");
	/* The first error wins, whichever kind it is. */
	bad = "[a]\nfail = 1\njust words\n";
	expect_reject(bad, strlen(bad), -ERANGE, "t:2: told to fail");
	bad = "[a]\njust words\nfail = 1\n";
	expect_reject(bad, strlen(bad), -EINVAL, "t:2: syntax error");
}

/* ---- the table layer ---- */

static const char *const keys[] = { "a", "b", "c" };

struct tab_rec {
	char log[256];
	int fail_on; /* key index whose value callback fails, -1: none */
};

static int tab_value(void *user, int key, const char *value, int lineno)
{
	struct tab_rec *r = user;
	size_t n = strlen(r->log);
	snprintf(r->log + n, sizeof(r->log) - n, "%d:%d=%s;", lineno, key, value);
	if (key == r->fail_on)
		return vv_err(-EDOM, "'%s' is no good", value);
	return 0;
}

/* Parse with the table [s] a, b, c; lines gets each key's line. */
static int tab_parse(const char *text, struct tab_rec *rec, int lines[3])
{
	struct vv_ini_table t = { .section = "s", .keys = keys, .nkeys = 3,
				  .value = tab_value, .user = rec };
	rec->log[0] = 0;
	vv_err_clear();
	return vv_ini_parse_table(text, strlen(text), "f", &t, lines);
}

static void expect_table_error(const char *text, int code, const char *msg)
{
	struct tab_rec rec = { .fail_on = 1 };
	int lines[3];
	int r = tab_parse(text, &rec, lines);
	if (r != code)
		fail_msg("'%s': got %d (%s), want %d", text, r, vv_errmsg(), code);
	if (strcmp(vv_errmsg(), msg))
		fail_msg("'%s': message '%s', want '%s'", text, vv_errmsg(), msg);
}

static void test_table(void **state)
{
	(void)state;
	struct tab_rec rec = { .fail_on = -1 };
	int lines[3] = { -1, -1, -1 };
	/* Each known key once, in any order; lines says where, 0 for absent keys. */
	assert_int_equal(tab_parse("; comment\n[s]\nc = 3\n\na = x y\n", &rec, lines), 0);
	assert_string_equal(rec.log, "3:2=3;5:0=x y;");
	assert_int_equal(lines[0], 5);
	assert_int_equal(lines[1], 0);
	assert_int_equal(lines[2], 3);

	/* Empty files, comment-only files and a lone header are fine. */
	lines[0] = lines[1] = lines[2] = -1;
	assert_int_equal(tab_parse("", &rec, lines), 0);
	assert_int_equal(lines[0] | lines[1] | lines[2], 0);
	assert_int_equal(tab_parse("# nothing\n", &rec, NULL), 0);
	assert_int_equal(tab_parse("[s]\n", &rec, NULL), 0);
	assert_string_equal(rec.log, "");

	/* The four messages of the layer. */
	expect_table_error("[s]\na = 1\n[t]\n", -EINVAL,
			   "f:3: unknown section [t] (expected [s])");
	expect_table_error("[t]\na = 1\n", -EINVAL, "f:1: unknown section [t] (expected [s])");
	expect_table_error("\na = 1\n[s]\n", -EINVAL,
			   "f:2: key 'a' outside a section (start with [s])");
	expect_table_error("[s]\na = 1\nzz = 2\n", -EINVAL,
			   "f:3: unknown key 'zz' in [s] (known: a, b, c)");
	expect_table_error("[s]\na = 1\nc = 2\n\na = 3\n", -EINVAL,
			   "f:5: duplicate key 'a' (first set on line 2)");
	/* Keys are case-sensitive. */
	expect_table_error("[s]\nA = 1\n", -EINVAL,
			   "f:2: unknown key 'A' in [s] (known: a, b, c)");
	/* A value callback's error, with the line added; the code is kept. */
	expect_table_error("[s]\na = 1\nb = nope\n", -EDOM, "f:3: 'nope' is no good");
	/* The reader's own errors come through the table unchanged. */
	expect_table_error("[s]\na = 1\n  more\n", -EINVAL,
			   "f:3: indented line (continuation lines are not supported)");

	/* A value callback is not called for a key seen before. */
	rec.fail_on = -1;
	assert_int_equal(tab_parse("[s]\nb = 1\nb = 2\n", &rec, lines), -EINVAL);
	assert_string_equal(rec.log, "2:1=1;");

	/* More keys than the layer can track is the caller's bug, not a crash. */
	static const char *const many[VV_INI_MAX_KEYS + 1] = { "k" };
	struct vv_ini_table t = { .section = "s", .keys = many, .nkeys = VV_INI_MAX_KEYS + 1,
				  .value = tab_value, .user = &rec };
	int many_lines[VV_INI_MAX_KEYS + 1];
	many_lines[VV_INI_MAX_KEYS] = -1;
	assert_int_equal(vv_ini_parse_table("", 0, "f", &t, many_lines), -EINVAL);
	assert_int_equal(many_lines[VV_INI_MAX_KEYS], 0);
}

/* ---- values ---- */

static void test_value_check(void **state)
{
	(void)state;
	/* Values the formatters check can be read back exactly. */
	assert_int_equal(vv_ini_value_check("k", "a;b = c", "v"), 0);
	assert_int_equal(vv_ini_value_check("k", "", "v"), 0);
	assert_int_equal(vv_ini_value_check("k", "a ;b", "v"), -EINVAL);
	assert_int_equal(vv_ini_value_check("k", ";b", "v"), -EINVAL);
	assert_int_equal(vv_ini_value_check("k", " b", "v"), -EINVAL);
	assert_int_equal(vv_ini_value_check("k", "b\t", "v"), -EINVAL);
	assert_int_equal(vv_ini_value_check("k", "a\nb", "v"), -EINVAL);
	char big[300];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(vv_ini_value_check("k", big, "v"), -ENAMETOOLONG);
	big[197 - 4] = 0;
	assert_int_equal(vv_ini_value_check("k", big, "v"), 0);
	big[197 - 4] = 'x';
	big[197 - 3] = 0;
	assert_int_equal(vv_ini_value_check("k", big, "v"), -ENAMETOOLONG);
}

static void test_bool(void **state)
{
	(void)state;
	bool b = false;
	const char *t[] = { "true", "TRUE", "yes", "on", "1" };
	const char *f[] = { "false", "No", "off", "0" };
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(vv_parse_bool(t[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(vv_parse_bool(f[i], &b), 0);
		assert_false(b);
	}
	assert_int_equal(vv_parse_bool("", &b), -EINVAL);
	assert_int_equal(vv_parse_bool("2", &b), -EINVAL);
	assert_int_equal(vv_parse_bool("truthy", &b), -EINVAL);
	assert_string_equal(vv_errmsg(), "bad boolean 'truthy' (use true or false)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ini_parse),
		cmocka_unit_test(test_reader_rejects),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_value_check),
		cmocka_unit_test(test_bool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
