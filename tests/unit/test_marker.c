/*
 * test_marker.c - PEP 508 environment markers (pkg/marker.h) against a fixed
 * interpreter and machine: every variable and operator true and false, versions
 * compared as versions, precedence and parentheses, both quotes, where a marker ends
 * before a line's options, malformed markers with the reason, the length and depth
 * bounds; the env of a real interpreter on this host; and requirement files with
 * markers (vv_pkg_reqs_check): skipped lines, a poetry-export-style file with hashes,
 * malformed markers reported with their line numbers.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "pkg/marker.h"
#include "pkg/pkg.h"
#include "python/python.h"
#include "util/error.h"
#include "../marker_env.h"

static int eval(const char *m)
{
	vv_err_clear();
	return vv_marker_eval(m, &vt_marker_env, NULL);
}

static void test_values(void **state)
{
	(void)state;
	static const struct {
		const char *m;
		int want;
	} cases[] = {
		/* python_version: versions, not strings ("3.11" > "3.9") */
		{"python_version == \"3.11\"", 1},
		{"python_version == \"3.12\"", 0},
		{"python_version >= \"3.8\"", 1},
		{"python_version < \"3.8\"", 0},
		{"python_version > \"3.9\"", 1},
		{"python_version <= \"3.10\"", 0},
		{"python_version <= \"3.11\"", 1},
		{"python_version != \"3.11\"", 0},
		{"python_version != \"2.7\"", 1},
		{"python_version == \"3.11.0\"", 1},
		{"python_version == \"3.*\"", 1},
		{"python_version == \"3.1.*\"", 0},
		{"python_version != \"3.11.*\"", 0},
		{"python_version ~= \"3.8\"", 1},
		{"python_version ~= \"3.12\"", 0},
		{"\"3.10\" < python_version", 1},
		{"\"3.12\" <= python_version", 0},
		/* python_full_version, implementation_version */
		{"python_full_version >= \"3.11.7\"", 1},
		{"python_full_version < \"3.11.10\"", 1},
		{"python_full_version == \"3.11\"", 0},
		{"python_full_version ~= \"3.11.2\"", 1},
		{"python_full_version ~= \"3.10.0\"", 0},
		{"python_full_version === \"3.11.7\"", 1},
		{"python_full_version === \"3.11.07\"", 0},
		{"implementation_version == \"3.11.7\"", 1},
		{"implementation_version > \"3.12\"", 0},
		/* strings */
		{"implementation_name == \"cpython\"", 1},
		{"implementation_name != \"cpython\"", 0},
		{"implementation_name === \"CPython\"", 1},
		{"platform_python_implementation == \"CPython\"", 1},
		{"platform_python_implementation == \"PyPy\"", 0},
		{"python_implementation == 'CPython'", 1},
		{"platform.python_implementation != 'CPython'", 0},
		{"sys_platform == \"linux\"", 1},
		{"sys_platform == \"win32\"", 0},
		{"sys.platform == 'linux'", 1},
		{"os_name == \"posix\"", 1},
		{"os_name == \"nt\"", 0},
		{"os.name != \"nt\"", 1},
		{"os_name < \"zzz\"", 1},
		{"os_name > \"posix\"", 0},
		{"os_name >= \"posix\"", 1},
		{"platform_system == \"Linux\"", 1},
		{"platform_system == \"Windows\"", 0},
		{"platform_system != \"Darwin\"", 1},
		{"platform_machine == \"x86_64\"", 1},
		{"platform.machine == \"aarch64\"", 0},
		{"platform_release >= \"5.0\"", 1},  /* not a version: as strings */
		{"platform_release < \"5.0\"", 0},
		{"platform_release == \"6.1.0-18-amd64\"", 1},
		{"platform_version == \"x\"", 0},
		{"platform.version != \"x\"", 1},
		/* in, not in: substrings */
		{"platform_machine in \"x86_64 aarch64\"", 1},
		{"platform_machine in \"aarch64 ppc64le\"", 0},
		{"\"arm\" in platform_machine", 0},
		{"\"86\" in platform_machine", 1},
		{"\"SMP\" in platform_version", 1},
		{"\"Debian\" not in platform_version", 0},
		{"sys_platform not in \"win32 cygwin\"", 1},
		{"sys_platform not\tin \"linux darwin\"", 0},
		/* extra: "" (no extras at the top level) */
		{"extra == \"dev\"", 0},
		{"extra != \"dev\"", 1},
		{"extra == ''", 1},
		{"\"dev\" in extra", 0},
		/* both quotes, either side, no blanks, two literals, two variables */
		{"python_version >= '3.8'", 1},
		{"'3.8' <= python_version", 1},
		{"'a\"b' == 'a\"b'", 1},
		{"\"it's\" != \"its\"", 1},
		{"python_version>=\"3.8\"and os_name==\"posix\"", 1},
		{"\"a\" == \"a\"", 1},
		{"\"a\" < \"b\"", 1},
		{"os_name == os_name", 1},
		{"\t python_version == \"3.11\" \t", 1},
		/* and binds tighter than or; parentheses */
		{"sys_platform == \"linux\" or os_name == \"posix\" and python_version < \"3\"", 1},
		{"os_name == \"nt\" and python_version < \"3\" or sys_platform == \"linux\"", 1},
		{"os_name == \"nt\" or os_name == \"posix\" and python_version < \"3\"", 0},
		{"(sys_platform == \"linux\" or os_name == \"posix\") and "
		 "python_version < \"3\"", 0},
		{"((python_version >= \"3.8\"))", 1},
		{"(os_name == \"nt\" or (python_version >= \"3.8\" and (platform_machine == "
		 "\"x86_64\")))", 1},
		{"(os_name==\"nt\")or(os_name==\"posix\")", 1},
		{"python_version >= \"3.8\" and python_version < \"4.0\"", 1},
		{"python_version >= \"3.8\" and python_version < \"3.11\"", 0},
		{"python_version < \"3.8\" or python_version >= \"3.12\"", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int r = eval(cases[i].m);
		if (r != cases[i].want)
			fail_msg("'%s': got %d (%s), want %d", cases[i].m, r, vv_errmsg(),
				 cases[i].want);
		/* checking without an env accepts it too */
		if (vv_marker_eval(cases[i].m, NULL, NULL) != 0)
			fail_msg("'%s': check failed: %s", cases[i].m, vv_errmsg());
	}
}

static void test_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *m;
		const char *want; /* the message */
	} cases[] = {
		{"", "bad environment marker: expected a marker variable or a quoted string at "
		     "the end"},
		{"python_version", "bad environment marker: expected an operator (==, !=, <, <=, "
				   ">, >=, ~=, ===, in, not in) at the end"},
		{"python_version >= ", "expected a marker variable or a quoted string at the end"},
		{"python_version >= 3.8", "expected a marker variable or a quoted string (a "
					  "version needs quotes) at '3.8'"},
		{"python_version <> \"3\"",
		 "bad environment marker: unknown operator at '<> \"3\"'"},
		{"python_version => \"3\"", "unknown operator at '=> \"3\"'"},
		{"python_version = \"3\"", "unknown operator at '= \"3\"'"},
		{"python_version ==== \"3\"", "unknown operator"},
		{"pyhton_version == \"3\"", "bad environment marker: unknown variable "
					   "'pyhton_version'"},
		{"python_version == \"3\" and platform == \"x\"", "unknown variable 'platform'"},
		{"extras == \"x\"", "environment marker variable 'extras' is not supported"},
		{"\"x\" in dependency_groups", "variable 'dependency_groups' is not supported"},
		{"python_version == \"3.8", "unclosed double quote at '\"3.8'"},
		{"python_version == '3.8\"", "unclosed single quote"},
		{"(python_version == \"3.8\"", "expected ')', 'and' or 'or' at the end"},
		{"(python_version == \"3.8\" os_name", "expected ')', 'and' or 'or' at 'os_name'"},
		{"python_version == \"3.8\")", "unmatched ')' at ')'"},
		{"python_version == \"3.8\" and", "expected a marker variable or a quoted string "
						 "at the end"},
		{"python_version == \"3.8\" and or os_name == \"x\"", "expected a marker variable "
			"or a quoted string at 'or os_name"},
		{"python_version == \"3.8\" xor os_name == \"posix\"", "expected 'and', 'or' or "
			"the end of the marker at 'xor os_name == \"posix\"'"},
		{"not python_version == \"3\"", "expected a marker variable or a quoted string at "
						"'not python_version"},
		{"python_version not \"3\"", "expected 'in' after 'not' at '\"3\"'"},
		{"python_version notin \"3\"", "expected an operator"},
		{"()", "expected a marker variable or a quoted string at ')'"},
		{"python_version == \"3\"-x", "expected 'and', 'or' or the end of the marker at "
					      "'-x'"},
		{"os_name == \"posix\" \x01", "expected 'and', 'or' or the end of the marker at "
					   "byte 0x01"},
		{"os_name \x7f== \"posix\"", "expected an operator (==, !=, <, <=, >, >=, ~=, ===, "
					   "in, not in) at byte 0x7f"},
		{"os_name == \"posix\" and platform_version == \"a\nb\" or \xc3\xa9",
		 "expected a marker variable or a quoted string at '\xc3\xa9'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int r = eval(cases[i].m);
		if (r != -EINVAL || !strstr(vv_errmsg(), cases[i].want))
			fail_msg("'%s': got %d '%s', want '%s'", cases[i].m, r, vv_errmsg(),
				 cases[i].want);
		if (vv_marker_eval(cases[i].m, NULL, NULL) != -EINVAL)
			fail_msg("'%s': the check accepted it", cases[i].m);
	}
	/* ~= is defined for versions only: an error when evaluated (the check cannot
	 * know the values) */
	static const char *const compat[] = {
		"platform_machine ~= \"x86\"", "python_version ~= \"3\"", "\"a.b\" ~= \"1.0\"",
	};
	for (size_t i = 0; i < sizeof(compat) / sizeof(*compat); i++) {
		assert_int_equal(vv_marker_eval(compat[i], NULL, NULL), 0);
		if (eval(compat[i]) != -EINVAL ||
		    !strstr(vv_errmsg(), "bad environment marker: '~=' compares versions"))
			fail_msg("'%s': %s", compat[i], vv_errmsg());
	}
	/* an error anywhere counts, even where or/and would not need it */
	assert_int_equal(eval("os_name == \"posix\" or platform_machine ~= \"x86\""), -EINVAL);
}

/* The marker ends at the end, or where a blank and '-' start the line's options. */
static void test_end(void **state)
{
	(void)state;
	const char *end = NULL;
	const char *m = " python_version >= \"3.8\" --hash=sha256:00";
	assert_int_equal(vv_marker_eval(m, &vt_marker_env, &end), 1);
	assert_string_equal(end, "--hash=sha256:00");
	m = "platform_version == \"a -b\"\t-x";
	assert_int_equal(vv_marker_eval(m, &vt_marker_env, &end), 0);
	assert_string_equal(end, "-x");
	m = "(os_name == \"posix\")";
	assert_int_equal(vv_marker_eval(m, NULL, &end), 0);
	assert_string_equal(end, "");
}

/* Bounded: VV_MARKER_DEPTH parentheses, VV_MARKER_MAX bytes. */
static void test_bounds(void **state)
{
	(void)state;
	char buf[VV_MARKER_MAX * 2];
	for (int d = VV_MARKER_DEPTH; d <= VV_MARKER_DEPTH + 1; d++) {
		memset(buf, '(', (size_t)d);
		strcpy(buf + d, "os_name == \"posix\"");
		memset(buf + strlen(buf), ')', (size_t)d);
		buf[d + 18 + d] = 0;
		assert_int_equal(eval(buf), d == VV_MARKER_DEPTH ? 1 : -EINVAL);
	}
	assert_non_null(strstr(vv_errmsg(), "nested deeper than 32 parentheses"));

	/* a long string, and a long chain: up to the limit fine, past it refused */
	size_t n = VV_MARKER_MAX - 20;
	memcpy(buf, "os_name != \"", 12);
	memset(buf + 12, 'a', n - 12);
	strcpy(buf + n, "\"");
	assert_int_equal(eval(buf), 1);
	memset(buf + 12, 'a', VV_MARKER_MAX + 100);
	strcpy(buf + 12 + VV_MARKER_MAX + 100, "\"");
	assert_int_equal(eval(buf), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "longer than 4096 bytes"));
	size_t l = 0;
	while (l + 40 < VV_MARKER_MAX)
		l += (size_t)sprintf(buf + l, "%sos_name == \"nt\"", l ? " or " : "");
	assert_int_equal(eval(buf), 0);
	while (l < VV_MARKER_MAX + 40)
		l += (size_t)sprintf(buf + l, " or os_name == \"nt\"");
	assert_int_equal(eval(buf), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "longer than 4096 bytes"));
	/* a long word is an unknown variable, shown cut */
	memset(buf, 'v', 5000);
	strcpy(buf + 5000, " == \"x\"");
	assert_int_equal(eval(buf), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "unknown variable 'vvvv"));
	assert_true(strlen(vv_errmsg()) < 200);
}

/* The env of an interpreter: what its probe learned, the kernel's release and version;
 * for one whose facts are not known (it is gone), CPython's on this host. */
static void test_env_init(void **state)
{
	(void)state;
	struct vv_python py = {.version = (char *)"3.13.0", .major = 3, .minor = 13};
	struct vv_pyplatform *p = &py.plat;
	strcpy(p->python_full_version, "3.13.0rc2");
	strcpy(p->implementation_name, "cpython");
	strcpy(p->implementation_version, "3.13.0rc2");
	strcpy(p->platform_python_implementation, "CPython");
	strcpy(p->sys_platform, "linux");
	strcpy(p->os_name, "posix");
	strcpy(p->platform_system, "Linux");
	strcpy(p->platform_machine, "riscv64");
	struct vv_marker_env e;
	struct utsname u;
	assert_int_equal(uname(&u), 0);
	assert_int_equal(vv_marker_env_init(&e, &py), 0);
	assert_string_equal(e.python_version, "3.13");
	assert_string_equal(e.python_full_version, "3.13.0rc2");
	assert_string_equal(e.implementation_name, "cpython");
	assert_string_equal(e.implementation_version, "3.13.0rc2");
	assert_string_equal(e.platform_python_implementation, "CPython");
	assert_string_equal(e.os_name, "posix");
	assert_string_equal(e.sys_platform, "linux");
	assert_string_equal(e.platform_system, "Linux");
	assert_string_equal(e.platform_machine, "riscv64"); /* the probe's, not uname's */
	assert_string_equal(e.platform_release, u.release);
	assert_string_equal(e.platform_version, u.version);
	/* a pre-release is older than its release, newer than the one before, and not
	 * "< 3.13" (PEP 440: "<V" admits no pre-release of V itself) */
	assert_int_equal(vv_marker_eval("python_full_version >= \"3.12\" and "
					"python_full_version < \"3.13.0rc3\" and "
					"implementation_version > \"3.13.0rc1\"", &e, NULL), 1);
	assert_int_equal(vv_marker_eval("python_full_version >= \"3.13\"", &e, NULL), 0);
	assert_int_equal(vv_marker_eval("python_full_version < \"3.13\"", &e, NULL), 0);
	assert_int_equal(vv_marker_eval("python_full_version < \"3.13.0\"", &e, NULL), 0);
	assert_int_equal(vv_marker_eval("python_full_version < \"3.14\"", &e, NULL), 1);
	assert_int_equal(vv_marker_eval("python_version < \"3.14\"", &e, NULL), 1);
	assert_int_equal(vv_marker_eval("platform_machine == \"riscv64\"", &e, NULL), 1);

	/* the interpreter is gone: its X.Y, CPython on this host */
	struct vv_python gone = {.major = 3, .minor = 9};
	assert_int_equal(vv_marker_env_init(&e, &gone), 0);
	assert_string_equal(e.python_version, "3.9");
	assert_string_equal(e.python_full_version, "3.9");
	assert_string_equal(e.implementation_version, "3.9");
	assert_string_equal(e.implementation_name, "cpython");
	assert_string_equal(e.platform_python_implementation, "CPython");
	assert_string_equal(e.os_name, "posix");
	assert_string_equal(e.sys_platform, "linux");
	assert_string_equal(e.platform_system, u.sysname);
	assert_string_equal(e.platform_machine, u.machine);
	assert_string_equal(e.platform_release, u.release);
	gone.version = (char *)"3.9.18";
	assert_int_equal(vv_marker_env_init(&e, &gone), 0);
	assert_string_equal(e.python_full_version, "3.9.18");
}

/* A local version ("+local", a Python built from a checkout) compares by its public
 * part against a version without one; a right side with one compares as a string. */
static void test_local_version(void **state)
{
	(void)state;
	struct vv_marker_env e = vt_marker_env;
	strcpy(e.python_full_version, "3.12.0+local");
	static const struct {
		const char *m;
		int want;
	} cases[] = {
		{"python_full_version >= \"3.12\"", 1},
		{"python_full_version < \"3.12.1\"", 1},
		{"python_full_version == \"3.12.0\"", 1},
		{"python_full_version == \"3.12.*\"", 1},
		{"python_full_version > \"3.9\"", 1},   /* as a string it would be false */
		{"python_full_version == \"3.12.0+local\"", 1},
		{"python_full_version == \"3.12.0+other\"", 0},
		{"python_full_version === \"3.12.0+LOCAL\"", 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		vv_err_clear();
		int r = vv_marker_eval(cases[i].m, &e, NULL);
		if (r != cases[i].want)
			fail_msg("'%s': got %d (%s), want %d", cases[i].m, r, vv_errmsg(),
				 cases[i].want);
	}
	strcpy(e.python_full_version, "3.12.0+");
	assert_int_equal(vv_marker_eval("python_full_version > \"3.9\"", &e, NULL), 0);
}

static char *check(const char *text, const struct vv_marker_env *e, size_t *pins,
		   size_t *skipped)
{
	char *report = NULL;
	if (vv_pkg_reqs_check(text, strlen(text), "r.txt", e, pins, skipped, &report) < 0)
		fail_msg("%s", vv_errmsg());
	return report;
}

/* Requirement lines with markers: the marker sits between the pin and the options. */
static void test_reqfile(void **state)
{
	(void)state;
	size_t pins, skipped;
	/* the shape `poetry export` writes: "; marker" before the "\" continuation and
	 * the --hash lines; pip-compile's "# via" comment lines in between */
	static const char poetry[] =
		"certifi==2024.2.2 ; python_version >= \"3.8\" and python_version < \"4.0\" \\\n"
		"    --hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f \\\n"
		"    --hash=sha256:dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c4ca24a754d1cdd1\n"
		"colorama==0.4.6 ; python_version >= \"3.8\" and python_version < \"4.0\" and "
		"platform_system == \"Windows\" \\\n"
		"    --hash=sha256:08695f5cb7ed6e0531a20572697297273c47b8cae5a63ffc6d6ed5c201be6e44\n"
		"    # via click\n"
		"exceptiongroup==1.2.2 ; python_full_version < '3.11' \\\n"
		"    --hash=sha256:3111b9d131c238bec2f8f516e123e14ba243563fb135d3fe885990585aa7795b\n"
		"numpy==1.24.4 ; python_version < \"3.9\"\n"
		"numpy==1.26.4 ; python_version >= \"3.9\"\n"
		"typing-extensions==4.12.2;python_version<'3.8'\n"
		"plain==1.0\n";
	char *report = check(poetry, &vt_marker_env, &pins, &skipped);
	if (report)
		fail_msg("%s", report);
	assert_int_equal(pins, 3); /* certifi, numpy 1.26.4, plain */
	assert_int_equal(skipped, 4);
	/* without an env every line is a pin (the markers are only checked) */
	report = check(poetry, NULL, &pins, &skipped);
	assert_null(report);
	assert_int_equal(pins, 7);
	assert_int_equal(skipped, 0);

	/* malformed markers: reported with their line numbers and why */
	static const char bad[] =
		"ok==1.0 ; os_name == \"posix\"\n"                          /* 1 */
		"a==1.0 ; python_version >= 3.8\n"                         /* 2 */
		"\n"                                                       /* 3 */
		"b==1.0 ; python_version >= \"3.8\" \\\n"                  /* 4 */
		"    and pyhton_version < \"4\" \\\n"                      /* 5 */
		"    --hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f\n"
		"c==1.0 ; (os_name == \"posix\"\n"                         /* 7 */
		"d==1.0 ;\n"                                               /* 8 */
		"; os_name == \"posix\"\n"                                 /* 9 */
		"e==1.0 --hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f"
		" ; os_name == \"posix\"\n"                                /* 10 */
		"f>=1.0 ; os_name == \"nt\"\n"                             /* 11 */
		"g==1.0 ; platform_machine ~= \"x86\"\n";                  /* 12 */
	report = check(bad, &vt_marker_env, &pins, &skipped);
	assert_non_null(report);
	static const char *const want[] = {
		"r.txt:2: a==1.0 ; python_version >= 3.8: bad environment marker: expected a "
		"marker variable or a quoted string (a version needs quotes) at '3.8'\n",
		"r.txt:4: b==1.0 ; python_version >= \"3.8\"     and pyhton_version < \"4\"     "
		"--hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f: "
		"bad environment marker: unknown variable 'pyhton_version'\n",
		"r.txt:7: c==1.0 ; (os_name == \"posix\": bad environment marker: expected ')', "
		"'and' or 'or' at the end\n",
		"r.txt:8: d==1.0 ;: bad environment marker: expected a marker variable or a "
		"quoted string at the end\n",
		"r.txt:9: ; os_name == \"posix\": no requirement before the environment marker\n",
		"r.txt:10: e==1.0 --hash=sha256:",
		": the environment marker ('; ...') must come before the options\n",
		"r.txt:11: f>=1.0 ; os_name == \"nt\": not pinned",
		"r.txt:12: g==1.0 ; platform_machine ~= \"x86\": bad environment marker: '~=' "
		"compares versions",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		if (!strstr(report, want[i]))
			fail_msg("report lacks '%s':\n%s", want[i], report);
	assert_null(strstr(report, "r.txt:1:"));
	assert_int_equal(pins, 1);
	assert_int_equal(skipped, 0);
	free(report);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_end),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_env_init),
		cmocka_unit_test(test_local_version),
		cmocka_unit_test(test_reqfile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
