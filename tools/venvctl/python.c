/*
 * python.c - venvctl python list: the interpreters venvctl can make envs for.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "util/error.h"
#include "python/python.h"

/* ---- python ---------------------------------------------------------------------- */

/* The pip version of a python's bundled wheel into buf, or "-". */
static void pip_version_of(const struct vv_python *py, char *buf, size_t size)
{
	if (!py->pip_wheel || vv_python_wheel_version(py->pip_wheel, buf, size) < 0)
		snprintf(buf, size, "-");
}

static void python_list_json(const struct vv_pydisc *d)
{
	FILE *f = stdout;
	fputs("{\n  \"default\": ", f);
	if (d->dflt >= 0)
		vc_json_str(f, d->list[d->dflt].exe);
	else
		fputs("null", f);
	fputs(",\n  \"pythons\": [", f);
	for (size_t i = 0; i < d->n; i++) {
		const struct vv_python *py = &d->list[i];
		char pv[64];
		pip_version_of(py, pv, sizeof(pv));
		fputs(i ? ",\n    {\"version\": " : "\n    {\"version\": ", f);
		vc_json_str(f, py->version);
		fprintf(f, ", \"major\": %d, \"minor\": %d, \"executable\": ", py->major,
			py->minor);
		vc_json_str(f, py->exe);
		fputs(", \"home\": ", f);
		vc_json_str(f, py->home);
		fputs(", \"base_executable\": ", f);
		vc_json_str(f, py->base_exe);
		fputs(", \"pip_wheel\": ", f);
		if (py->pip_wheel)
			vc_json_str(f, py->pip_wheel);
		else
			fputs("null", f);
		fputs(", \"pip_version\": ", f);
		if (py->pip_wheel && strcmp(pv, "-"))
			vc_json_str(f, pv);
		else
			fputs("null", f);
		fprintf(f, ", \"default\": %s}", (long)i == d->dflt ? "true" : "false");
	}
	fputs(d->n ? "\n  ],\n  \"skipped\": [" : "],\n  \"skipped\": [", f);
	for (size_t i = 0; i < d->nskipped; i++) {
		fputs(i ? ",\n    " : "\n    ", f);
		vc_json_str(f, d->skipped[i]);
	}
	fputs(d->nskipped ? "\n  ]\n}\n" : "]\n}\n", f);
}

static void python_list_human(const struct vv_pydisc *d)
{
	size_t vw = 7, ew = 10, hw = 4;
	for (size_t i = 0; i < d->n; i++) {
		const struct vv_python *py = &d->list[i];
		if (strlen(py->version) > vw)
			vw = strlen(py->version);
		if (strlen(py->exe) > ew)
			ew = strlen(py->exe);
		if (strlen(py->home) > hw)
			hw = strlen(py->home);
	}
	printf("  %-*s  %-*s  %-*s  %s\n", (int)vw, "VERSION", (int)ew, "EXECUTABLE", (int)hw,
	       "HOME", "PIP");
	for (size_t i = 0; i < d->n; i++) {
		const struct vv_python *py = &d->list[i];
		char pv[64];
		pip_version_of(py, pv, sizeof(pv));
		printf("%c %-*s  %-*s  %-*s  %s\n", (long)i == d->dflt ? '*' : ' ', (int)vw,
		       py->version, (int)ew, py->exe, (int)hw, py->home, pv);
	}
	if (d->n)
		printf("\n* the default for new envs (config `python`, else the first python3 on "
		       "PATH)\n");
	if (d->nskipped) {
		printf("\nnot usable:\n");
		for (size_t i = 0; i < d->nskipped; i++)
			printf("  %s\n", d->skipped[i]);
	}
}

static int cmd_python(struct vc_ctx *c, int argc, char **argv)
{
	/* the global options may come before the subcommand too */
	int rc;
	while (argc >= 2 && (!strncmp(argv[1], "--store", 7) || !strncmp(argv[1], "--config", 8))) {
		int i = 1;
		if ((rc = vc_global_opt(c, argc, argv, &i)))
			return rc;
		argc -= i;
		argv += i;
	}
	if (argc < 2 || vc_is_help(argv[1])) {
		if (argc >= 2) {
			vc_print_command_help(stdout, c->self);
			return 0;
		}
		return vc_usage_error(c, "missing subcommand (list)");
	}
	if (strcmp(argv[1], "list"))
		return vc_usage_error(c, "unknown subcommand '%s' (known: list)", argv[1]);
	bool json = false, help = false;
	const struct vc_flag flags[] = {
		{"--json", NULL, &json},
	};
	rc = vc_parse_flags(c, argc - 1, argv + 1, flags, sizeof(flags) / sizeof(flags[0]), &help);
	if (rc || help) {
		if (help)
			vc_print_command_help(stdout, c->self);
		return rc;
	}
	if ((rc = vc_open_store_mode(c, 1)))
		return rc;
	struct vv_pydisc d;
	vv_err_clear();
	if (vv_python_discover_all(c->st, &c->cfg, &d) < 0) {
		vc_msg(c, "%s", vv_errmsg());
		return VC_EXIT_USAGE;
	}
	if (json)
		python_list_json(&d);
	else
		python_list_human(&d);
	rc = 0;
	if (!d.n) {
		vc_msg(c, "no usable Python 3.6+ interpreter found");
		rc = VC_EXIT_PROBLEMS;
	}
	vv_pydisc_release(&d);
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		rc = VC_EXIT_USAGE;
	}
	return rc;
}

const struct vc_command vc_command_python = {"python", cmd_python, "list [--json]",
	 "list the Python interpreters envs can be created with",
	 "Find every installed CPython 3.6 or later: python3 and python3.N on PATH,\n"
	 "$PYENV_ROOT (else ~/.pyenv) versions/*/bin/python3, /usr/bin/python3.N, and the\n"
	 "config's `python` and `pythons` (extra paths, comma or blank separated). Each is\n"
	 "resolved to its real binary (shims are run once; facts about known binaries come\n"
	 "from the store's cache without running them) and listed once, newest first:\n"
	 "version, real executable, home (pyvenv.cfg's `home`) and the version of its\n"
	 "bundled pip wheel (- if none). The default for new envs is marked with '*'.\n"
	 "Candidates that do not work are listed last, with the reason.\n"
	 "\n"
	 "    --json  one JSON object: {\"default\": EXE or null, \"pythons\": [{\"version\",\n"
	 "            \"major\", \"minor\", \"executable\", \"home\", \"base_executable\",\n"
	 "            \"pip_wheel\", \"pip_version\", \"default\"}...], \"skipped\": [TEXT...]}\n"
	 "\n"
	 "Creates the store if it does not exist (interpreter facts are cached there).\n"
	 "Exits 1 if no usable interpreter was found.\n"};
