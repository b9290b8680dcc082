/* test_pykeys.c - pyvenv.cfg lines kept for the tools that wrote them: their bounds and
 * form (vv_pykeys_check), their round trip through envs/NAME's [pyvenv.cfg] section
 * (escapes, continuation lines, order), the errors a bad section gives, which keys
 * venvfs owns, and the pyvenv.cfg generated with kept lines. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "env/pykeys.h"
#include "python/python.h"
#include "python/synth.h"
#include "util/error.h"

#define HEX1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEAD "[env]\npython = /usr/bin/python3\nroot = " HEX1 "\n"

static void expect_bad(const char *text, const char *why)
{
	assert_int_equal(vv_pykeys_check(text, strlen(text), "pyvenv.cfg"), -EINVAL);
	if (!strstr(vv_errmsg(), why) || !strstr(vv_errmsg(), "pyvenv.cfg"))
		fail_msg("message '%s' lacks '%s'", vv_errmsg(), why);
}

static void test_check(void **state)
{
	(void)state;
	const char *ok = "virtualenv = 20.17.1\nx:y = a ; b\nempty = \ntab = a\tb\n";
	assert_int_equal(vv_pykeys_check(ok, strlen(ok), "pyvenv.cfg"), 0);
	assert_int_equal(vv_pykeys_check("", 0, "pyvenv.cfg"), 0);
	expect_bad("k = v", "no newline");
	expect_bad("k=v\n", "not 'KEY = VALUE'");
	expect_bad(" = v\n", "not 'KEY = VALUE'");
	expect_bad("k = v \n", "blanks at its ends");
	expect_bad("k = a\rb\n", "control character");
	expect_bad("k = a\x01" "b\n", "control character");
	assert_int_equal(vv_pykeys_check("k = a\0b\n", 8, "pyvenv.cfg"), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "NUL"));

	/* the bounds: key length, line length, number of lines, total size */
	char buf[8192];
	snprintf(buf, sizeof(buf), "%0*d = v\n", VV_PYKEYS_MAX_KEY + 1, 0);
	expect_bad(buf, "longer than 48 bytes");
	snprintf(buf, sizeof(buf), "k = %0*d\n", VV_PYKEYS_MAX_LINE - 3, 0);
	expect_bad(buf, "at most 1024");
	snprintf(buf, sizeof(buf), "k = %0*d\n", VV_PYKEYS_MAX_LINE - 4, 0);
	assert_int_equal(vv_pykeys_check(buf, strlen(buf), "pyvenv.cfg"), 0);
	size_t o = 0;
	for (int i = 0; i <= VV_PYKEYS_MAX_LINES; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "k%d = %d\n", i, i);
	expect_bad(buf, "more than 64 kept lines");
	o = 0;
	for (int i = 0; i < 5; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "k%d = %0900d\n", i, i);
	expect_bad(buf, "at most 4096");
}

/* format, parse back: the same kept lines and flag */
static void round_trip(const char *keys, bool no_command)
{
	struct vv_envcfg c = { 0 }, back;
	c.python = strdup("/usr/bin/python3");
	assert_int_equal(vv_oid_from_hex(&c.root, HEX1, 64), 0);
	c.pykeys = keys ? strdup(keys) : NULL;
	c.no_command = no_command;
	char *text;
	size_t len;
	assert_int_equal(vv_envcfg_format(&c, &text, &len), 0);
	/* every line fits the INI reader's line (197 bytes) */
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl - p <= 197);
		p = nl + 1;
	}
	if (vv_envcfg_parse(text, len, "e", &back) != 0)
		fail_msg("%s\nin:\n%s", vv_errmsg(), text);
	if (keys && *keys)
		assert_string_equal(back.pykeys, keys);
	else
		assert_null(back.pykeys);
	assert_int_equal(back.no_command, no_command);
	free(text);
	vv_envcfg_release(&c);
	vv_envcfg_release(&back);
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip(NULL, false);
	round_trip("", true);
	round_trip("virtualenv = 20.17.1\nimplementation = CPython\nversion_info = 3.11.2.final.0\n"
		   "base-prefix = /usr\nbase-exec-prefix = /usr\nbase-executable = /usr/bin/python3.11\n",
		   true);
	/* what the INI reader would misread: ':' '=' ';' '#' '%' '[' in keys and values,
	 * blanks, tabs, non-ASCII, repeated keys, empty values */
	round_trip("a:b = x ; y\n;k = #v %41\n[s] = ]\nk = 1\nk = 2\ne = \nt = a\tb\n"
		   "caf\xc3\xa9 = th\xc3\xa9\nsp ace = a  b\n+ = plus\n", false);
	/* long values go over continuation lines; blanks at a split survive */
	char buf[VV_PYKEYS_MAX_SIZE + 1];
	for (size_t n = 140; n < 160; n++) {
		char v[1100];
		for (size_t i = 0; i < 1000; i++)
			v[i] = (i % n == n - 1 || i % 7 == 3) ? ' ' : (char)('a' + i % 26);
		v[0] = 'x';
		v[999] = 'z';
		v[1000] = 0;
		snprintf(buf, sizeof(buf), "command = %s\nafter = ;%%;\n", v);
		round_trip(buf, false);
	}
	/* the longest key, every byte escaped (3 bytes each), before a long value: the
	 * first line's budget counts the key (a fuzzer found a 198-byte line) */
	{
		char k[VV_PYKEYS_MAX_KEY + 1], v[901];
		memset(k, 0xff, VV_PYKEYS_MAX_KEY);
		k[VV_PYKEYS_MAX_KEY] = 0;
		for (size_t i = 0; i < 900; i++)
			v[i] = i % 5 == 4 ? ' ' : (char)0xfe;
		v[0] = 'x';
		v[899] = 'z';
		v[900] = 0;
		snprintf(buf, sizeof(buf), "%s = %s\n", k, v);
		round_trip(buf, false);
	}
	/* the bounds themselves */
	size_t o = 0;
	for (int i = 0; i < VV_PYKEYS_MAX_LINES; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "key-%02d = %054d\n", i, i);
	assert_int_equal(o, VV_PYKEYS_MAX_SIZE);
	round_trip(buf, false);
}

static void expect_parse_bad(const char *text, const char *why)
{
	struct vv_envcfg c;
	assert_int_equal(vv_envcfg_parse(text, strlen(text), "e1", &c), -EINVAL);
	if (!strstr(vv_errmsg(), why) || !strstr(vv_errmsg(), "envs/e1"))
		fail_msg("message '%s' lacks '%s'", vv_errmsg(), why);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_parse_bad(HEAD "[pyvenv.cfg]\n+ = x\n", "envs/e1:5: '+' line without");
	expect_parse_bad(HEAD "[pyvenv.cfg]\nk = %4\n", "envs/e1:5: bad %-escape");
	expect_parse_bad(HEAD "[pyvenv.cfg]\nk = %zz\n", "bad %-escape");
	expect_parse_bad(HEAD "[pyvenv.cfg]\n%3D = x\n", "has '='");
	expect_parse_bad(HEAD "[pyvenv.cfg]\nk = %01\n", "envs/e1: [pyvenv.cfg]: value of 'k' "
			 "has a control character");
	expect_parse_bad(HEAD "[pyvenv.cfg]\nk = %0A\n", "not 'KEY = VALUE'");
	expect_parse_bad(HEAD "[other]\nk = v\n", "unknown section [other]");
	expect_parse_bad(HEAD "no-command = maybe\n", "bad boolean");
	char big[6000] = HEAD "[pyvenv.cfg]\n";
	for (int i = 0; i < 40; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "k%d = %0120d\n", i, i);
	expect_parse_bad(big, "more than 4096 bytes");
	/* [pyvenv.cfg] may come first, twice, or be empty */
	struct vv_envcfg c;
	const char *ok = "[pyvenv.cfg]\na = 1\n" HEAD "[pyvenv.cfg]\nb = 2\n[pyvenv.cfg]\n";
	assert_int_equal(vv_envcfg_parse(ok, strlen(ok), "e1", &c), 0);
	assert_string_equal(c.pykeys, "a = 1\nb = 2\n");
	vv_envcfg_release(&c);
	/* format refuses what it could not read back */
	struct vv_envcfg bad = { .python = (char *)"/usr/bin/python3",
				 .pykeys = (char *)"k = a\nb\n" };
	char *text = NULL;
	assert_int_equal(vv_envcfg_format(&bad, &text, NULL), -EINVAL);
	assert_null(text);
}

static struct vv_python py311 = {
	.exe = (char *)"/usr/bin/python3.11",
	.home = (char *)"/usr/bin",
	.base_exe = (char *)"/usr/bin/python3",
	.version = (char *)"3.11.2",
	.major = 3,
	.minor = 11,
};

static void check_cfg(const struct vv_synth_env *e, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(vv_synth_pyvenv_cfg(e, &out, &len), 0);
	assert_string_equal(out, want);
	free(out);
}

static void test_synth(void **state)
{
	(void)state;
	assert_true(vv_pycfg_owned("home", 4));
	assert_true(vv_pycfg_owned("Executable", 10));
	assert_true(vv_pycfg_owned("VERSION", 7));
	assert_true(vv_pycfg_owned("include-system-site-packages", 28));
	assert_true(vv_pycfg_owned("prompt", 6));
	assert_false(vv_pycfg_owned("command", 7));
	assert_false(vv_pycfg_owned("version_info", 12));
	assert_false(vv_pycfg_owned("hom", 3));

	const char *base = "home = /usr/bin\ninclude-system-site-packages = false\n"
			   "version = 3.11.2\nexecutable = /usr/bin/python3.11\n";
	char want[512];
	/* kept lines after the generated ones, the generated command stays */
	struct vv_synth_env e = { .path = "/m/e", .name = "e", .py = &py311,
				  .pykeys = "x-tool = 1\n" };
	snprintf(want, sizeof(want), "%scommand = /usr/bin/python3 -m venv /m/e\nx-tool = 1\n",
		 base);
	check_cfg(&e, want);
	/* virtualenv's keys, no command */
	e.pykeys = "implementation = CPython\nvirtualenv = 20.17.1\n";
	e.no_command = true;
	snprintf(want, sizeof(want), "%simplementation = CPython\nvirtualenv = 20.17.1\n", base);
	check_cfg(&e, want);
	/* a tool's command replaces the generated one, in its place; an owned key in the
	 * kept lines (a hand-edited store) is not shown twice */
	e.no_command = false;
	e.pykeys = "a = 1\nCommand = my-tool make /m/e\nhome = /elsewhere\nb = 2\n";
	snprintf(want, sizeof(want), "%sa = 1\nCommand = my-tool make /m/e\nb = 2\n", base);
	check_cfg(&e, want);
	char *cmd = NULL;
	assert_int_equal(vv_synth_pyvenv_command(&e, &cmd), 0);
	assert_string_equal(cmd, "/usr/bin/python3 -m venv /m/e");
	free(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_synth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
