/*
 * venvctl.c - the command-line tool for a venvfs store: create envs the way
 * `python -m venv` does (several interpreters, venv's flags), install wheels into them
 * as pip would, list the interpreters it can use, inspect and check the store, all
 * without mounting it. Commands live in one
 * table (name, handler, usage, summary, help) so that adding one (clone, gc, du, ...) is
 * a function and a table row; the usage text and the dispatcher are generated from that
 * table.
 *
 * Exit status: 0 success, 1 the command found problems or failed for some env, 2 usage
 * or other error.
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

#include "config.h"
#include "env.h"
#include "envops.h"
#include "error.h"
#include "fsutil.h"
#include "gc.h"
#include "hash.h"
#include "install.h"
#include "python.h"
#include "stats.h"
#include "store.h"

#ifndef VV_VERSION
#define VV_VERSION "0.1.0"
#endif

#define EXIT_PROBLEMS 1
#define EXIT_USAGE 2

struct ctx {
	const char *store_opt;  /* --store */
	const char *config_opt; /* --config */
	struct vv_store *st;    /* opened for commands that need it */
	struct vv_config cfg;   /* the config file, loaded by open_store() */
	const char *cmd;        /* command name, for messages */
	const struct command *self; /* the running command's table entry */
};

struct command {
	const char *name;
	int (*fn)(struct ctx *c, int argc, char **argv);
	const char *args;    /* usage after the name */
	const char *summary; /* one line for the command list */
	const char *help;    /* long description and options for "help NAME", or NULL */
};

static const struct command *find_command(const char *name);
static void print_usage(FILE *f);
static void print_command_help(FILE *f, const struct command *cmd);

/* ---- messages -------------------------------------------------------------------- */

static void msg(const struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg(const struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	if (c && c->cmd)
		fprintf(stderr, "venvctl %s: ", c->cmd);
	else
		fputs("venvctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_error(const struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int usage_error(const struct ctx *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c && c->cmd)
		msg(c, "%s (see 'venvctl %s --help')", buf, c->cmd);
	else
		msg(c, "%s (see 'venvctl --help')", buf);
	return EXIT_USAGE;
}

/* ---- command-line helpers -------------------------------------------------------- */

/* Match "--name" (flag) or "--name VALUE" / "--name=VALUE" (value != NULL). Returns 1 if
 * arg is this option (advancing *i past a separate value), 0 if not, -1 if its value is
 * missing. */
static int opt_match(int argc, char **argv, int *i, const char *lng, const char *shrt,
		     const char **value)
{
	const char *a = argv[*i];
	size_t n = strlen(lng);
	if (!value)
		return !strcmp(a, lng) || (shrt && !strcmp(a, shrt));
	if (!strncmp(a, lng, n) && a[n] == '=') {
		*value = a + n + 1;
		return 1;
	}
	if (strcmp(a, lng) && (!shrt || strcmp(a, shrt)))
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

static bool is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* Parse a command's own flags: each entry of flags is a long option (e.g. "--json")
 * with an optional short form; the matching bool is set. Everything else is an error. */
struct flag {
	const char *lng, *shrt;
	bool *set;
};

static int parse_flags(struct ctx *c, int argc, char **argv, const struct flag *flags,
		       size_t nflags, bool *help)
{
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			*help = true;
			return 0;
		}
		bool ok = false;
		for (size_t f = 0; f < nflags && !ok; f++) {
			if (opt_match(argc, argv, &i, flags[f].lng, flags[f].shrt, NULL)) {
				*flags[f].set = true;
				ok = true;
			}
		}
		if (ok)
			continue;
		if (argv[i][0] == '-' && argv[i][1])
			return usage_error(c, "unknown option '%s'", argv[i]);
		return usage_error(c, "unexpected argument '%s'", argv[i]);
	}
	return 0;
}

/* ---- output helpers -------------------------------------------------------------- */

static void human_size(uint64_t n, char *buf, size_t cap)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (n < 1024) {
		snprintf(buf, cap, "%llu B", (unsigned long long)n);
		return;
	}
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, "%.1f %s", v, units[u]);
}

static void size_field(uint64_t n, bool exact, char *buf, size_t cap)
{
	if (exact)
		snprintf(buf, cap, "%llu", (unsigned long long)n);
	else
		human_size(n, buf, cap);
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if the bytes are not one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string. Bytes that are not UTF-8 become U+FFFD so the output stays valid. */
static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', f);
	while (*p) {
		unsigned char c = *p;
		size_t n = utf8_len(p);
		if (n == 0) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		if (n > 1) {
			fwrite(p, 1, n, f);
			p += n;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
		p++;
	}
	fputc('"', f);
}

/* A name for the human table: control bytes and backslashes as \xNN, so one env is
 * one line. Returns a malloc'd string; *width gets its display width (UTF-8 aware). */
static char *display_name(const char *s, size_t *width)
{
	size_t cap = strlen(s) * 4 + 1, len = 0, w = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\') {
			len += (size_t)snprintf(out + len, cap - len, "\\x%02x", *p);
			w += 4;
		} else {
			out[len++] = (char)*p;
			if ((*p & 0xc0) != 0x80)
				w++;
		}
	}
	out[len] = 0;
	*width = w;
	return out;
}

static void pad(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

/* ---- store access ---------------------------------------------------------------- */

/* --store, else the config file's `store`, else the default path. The config stays in
 * c->cfg. create: make the store's layout if it is missing (as the daemon does). */
static int open_store_mode(struct ctx *c, int create)
{
	struct vv_config cfg = {0};
	char *path = NULL;
	int rc = 0;
	/* --config, else the default file (missing is fine), also with --store: create
	 * and python take the interpreters and without-pip from it. */
	char *cpath = c->config_opt ? NULL : vv_default_config_path();
	vv_err_clear();
	int cr = c->config_opt ? vv_config_load(&cfg, c->config_opt, 1)
			       : cpath ? vv_config_load(&cfg, cpath, 0) : 0;
	free(cpath);
	if (cr < 0) {
		msg(NULL, "%s", vv_errmsg());
		rc = EXIT_USAGE;
		goto out;
	}
	if (c->store_opt) {
		path = strdup(c->store_opt);
	} else {
		path = cfg.store ? strdup(cfg.store) : vv_default_store_path();
		if (!path && !cfg.store) {
			msg(NULL, "no store given: use --store DIR, set `store` in the config "
				  "file, or set $HOME");
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (!path) {
		msg(NULL, "out of memory");
		rc = EXIT_USAGE;
		goto out;
	}
	vv_err_clear();
	int r = vv_store_open(&c->st, path, create);
	if (r < 0) {
		/* The store's messages name the path already, mostly. */
		if (strstr(vv_errmsg(), path))
			msg(NULL, "%s", vv_errmsg());
		else
			msg(NULL, "cannot open store '%s': %s", path, vv_errmsg());
		c->st = NULL;
		rc = EXIT_USAGE;
	}
out:
	free(path);
	if (rc == 0)
		c->cfg = cfg;
	else
		vv_config_release(&cfg);
	return rc;
}

static int open_store(struct ctx *c)
{
	return open_store_mode(c, 0);
}

/* ---- stats ----------------------------------------------------------------------- */

static void stats_json(const struct vv_stats *s, const char *store)
{
	FILE *f = stdout;
	fputs("{\n  \"store\": ", f);
	json_str(f, store);
	fprintf(f, ",\n  \"objects\": %llu", (unsigned long long)s->objects);
	fprintf(f, ",\n  \"stored_bytes\": %llu", (unsigned long long)s->stored_bytes);
	fprintf(f, ",\n  \"disk_bytes\": %llu", (unsigned long long)s->disk_bytes);
	fprintf(f, ",\n  \"trees\": %llu", (unsigned long long)s->trees);
	fprintf(f, ",\n  \"file_objects\": %llu", (unsigned long long)s->file_objects);
	fprintf(f, ",\n  \"file_object_bytes\": %llu", (unsigned long long)s->file_bytes);
	fprintf(f, ",\n  \"unreachable_objects\": %llu", (unsigned long long)s->unreachable);
	fprintf(f, ",\n  \"unreachable_bytes\": %llu", (unsigned long long)s->unreachable_bytes);
	fprintf(f, ",\n  \"logical_bytes\": %llu", (unsigned long long)s->logical);
	fprintf(f, ",\n  \"dedup_ratio\": %.4f", vv_stats_dedup_ratio(s));
	fputs(",\n  \"envs\": [", f);
	for (size_t i = 0; i < s->nenvs; i++) {
		const struct vv_stats_env *e = &s->envs[i];
		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
		json_str(f, e->name);
		fprintf(f, ", \"files\": %llu, \"logical_bytes\": %llu, \"unique_bytes\": %llu, "
			   "\"unique_files\": %llu",
			(unsigned long long)e->files, (unsigned long long)e->logical,
			(unsigned long long)e->unique, (unsigned long long)e->unique_files);
		if (e->error) {
			fputs(", \"error\": ", f);
			json_str(f, e->error);
		}
		fputc('}', f);
	}
	fputs(s->nenvs ? "\n  ]\n}\n" : "]\n}\n", f);
}

static void stats_human(const struct vv_stats *s, const char *store, bool exact)
{
	char a[64], b[64];
	FILE *f = stdout;
	printf("store:          %s\n", store);
	printf("objects:        %llu (trees included)\n", (unsigned long long)s->objects);
	human_size(s->stored_bytes, a, sizeof(a));
	printf("stored bytes:   %llu (%s)\n", (unsigned long long)s->stored_bytes, a);
	human_size(s->disk_bytes, a, sizeof(a));
	printf("disk usage:     %llu (%s)\n", (unsigned long long)s->disk_bytes, a);
	human_size(s->file_bytes, a, sizeof(a));
	printf("reachable:      %llu trees, %llu file objects of %llu bytes (%s)\n",
	       (unsigned long long)s->trees, (unsigned long long)s->file_objects,
	       (unsigned long long)s->file_bytes, a);
	human_size(s->unreachable_bytes, a, sizeof(a));
	printf("unreachable:    %llu objects of %llu bytes (%s)\n",
	       (unsigned long long)s->unreachable, (unsigned long long)s->unreachable_bytes, a);
	human_size(s->logical, a, sizeof(a));
	printf("logical bytes:  %llu (%s) in %zu env%s\n", (unsigned long long)s->logical, a,
	       s->nenvs, s->nenvs == 1 ? "" : "s");
	printf("dedup ratio:    %.2f\n", vv_stats_dedup_ratio(s));
	if (!s->nenvs)
		return;

	/* Table: ENV left-aligned, numbers right-aligned, widths from the data. */
	size_t nw = 3, fw = 5, lw = 7, uw = 6;
	char **names = calloc(s->nenvs, sizeof(*names));
	size_t *widths = calloc(s->nenvs, sizeof(*widths));
	if (!names || !widths) {
		free(names);
		free(widths);
		return;
	}
	for (size_t i = 0; i < s->nenvs; i++) {
		const struct vv_stats_env *e = &s->envs[i];
		names[i] = display_name(e->name, &widths[i]);
		if (widths[i] > nw)
			nw = widths[i];
		size_t l = (size_t)snprintf(a, sizeof(a), "%llu", (unsigned long long)e->files);
		if (l > fw)
			fw = l;
		size_field(e->logical, exact, a, sizeof(a));
		if (strlen(a) > lw)
			lw = strlen(a);
		size_field(e->unique, exact, a, sizeof(a));
		if (strlen(a) > uw)
			uw = strlen(a);
	}
	fputc('\n', f);
	fprintf(f, "%-*s  %*s  %*s  %*s\n", (int)nw, "ENV", (int)fw, "FILES", (int)lw, "LOGICAL",
		(int)uw, "UNIQUE");
	for (size_t i = 0; i < s->nenvs; i++) {
		const struct vv_stats_env *e = &s->envs[i];
		fputs(names[i] ? names[i] : "?", f);
		pad(f, nw - (names[i] ? widths[i] : 1));
		size_field(e->logical, exact, a, sizeof(a));
		size_field(e->unique, exact, b, sizeof(b));
		fprintf(f, "  %*llu  %*s  %*s%s\n", (int)fw, (unsigned long long)e->files, (int)lw,
			a, (int)uw, b, e->error ? "  (incomplete)" : "");
		free(names[i]);
	}
	free(names);
	free(widths);
}

static int cmd_stats(struct ctx *c, int argc, char **argv)
{
	bool json = false, exact = false, help = false;
	const struct flag flags[] = {
		{"--json", NULL, &json},
		{"--bytes", "-b", &exact},
	};
	int rc = parse_flags(c, argc, argv, flags, sizeof(flags) / sizeof(flags[0]), &help);
	if (rc || help) {
		if (help)
			print_command_help(stdout, c->self);
		return rc;
	}
	if ((rc = open_store(c)))
		return rc;
	struct vv_stats s;
	vv_err_clear();
	int r = vv_stats_collect(c->st, &s);
	if (r < 0) {
		msg(c, "%s", vv_errmsg());
		return EXIT_USAGE;
	}
	if (json)
		stats_json(&s, c->st->path);
	else
		stats_human(&s, c->st->path, exact);
	for (size_t i = 0; i < s.nenvs; i++)
		if (s.envs[i].error)
			msg(c, "env '%s' incomplete: %s", s.envs[i].name, s.envs[i].error);
	rc = s.env_errors ? EXIT_PROBLEMS : 0;
	vv_stats_release(&s);
	if (fflush(stdout) != 0) {
		msg(c, "cannot write output: %s", strerror(errno));
		rc = EXIT_USAGE;
	}
	return rc;
}

/* ---- fsck ------------------------------------------------------------------------ */

static int fsck_print(const struct vv_fsck_problem *p, void *arg)
{
	const bool *quiet = arg;
	if (!*quiet)
		printf("%s\n", p->msg);
	return 0;
}

static int cmd_fsck(struct ctx *c, int argc, char **argv)
{
	bool quiet = false, help = false;
	const struct flag flags[] = {
		{"--quiet", "-q", &quiet},
	};
	int rc = parse_flags(c, argc, argv, flags, sizeof(flags) / sizeof(flags[0]), &help);
	if (rc || help) {
		if (help)
			print_command_help(stdout, c->self);
		return rc;
	}
	if ((rc = open_store(c)))
		return rc;
	struct vv_fsck_summary sum;
	vv_err_clear();
	int r = vv_fsck(c->st, fsck_print, &quiet, &sum);
	fflush(stdout);
	if (r < 0) {
		msg(c, "%s", vv_errmsg());
		return EXIT_USAGE;
	}
	if (!quiet)
		printf("checked %llu objects, %llu envs, %llu trees: %llu problem%s\n",
		       (unsigned long long)sum.objects, (unsigned long long)sum.envs,
		       (unsigned long long)sum.trees, (unsigned long long)sum.problems,
		       sum.problems == 1 ? "" : "s");
	if (fflush(stdout) != 0) {
		msg(c, "cannot write output: %s", strerror(errno));
		return EXIT_USAGE;
	}
	return r > 0 ? EXIT_PROBLEMS : 0;
}

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
		json_str(f, d->list[d->dflt].exe);
	else
		fputs("null", f);
	fputs(",\n  \"pythons\": [", f);
	for (size_t i = 0; i < d->n; i++) {
		const struct vv_python *py = &d->list[i];
		char pv[64];
		pip_version_of(py, pv, sizeof(pv));
		fputs(i ? ",\n    {\"version\": " : "\n    {\"version\": ", f);
		json_str(f, py->version);
		fprintf(f, ", \"major\": %d, \"minor\": %d, \"executable\": ", py->major,
			py->minor);
		json_str(f, py->exe);
		fputs(", \"home\": ", f);
		json_str(f, py->home);
		fputs(", \"base_executable\": ", f);
		json_str(f, py->base_exe);
		fputs(", \"pip_wheel\": ", f);
		if (py->pip_wheel)
			json_str(f, py->pip_wheel);
		else
			fputs("null", f);
		fputs(", \"pip_version\": ", f);
		if (py->pip_wheel && strcmp(pv, "-"))
			json_str(f, pv);
		else
			fputs("null", f);
		fprintf(f, ", \"default\": %s}", (long)i == d->dflt ? "true" : "false");
	}
	fputs(d->n ? "\n  ],\n  \"skipped\": [" : "],\n  \"skipped\": [", f);
	for (size_t i = 0; i < d->nskipped; i++) {
		fputs(i ? ",\n    " : "\n    ", f);
		json_str(f, d->skipped[i]);
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

static int cmd_python(struct ctx *c, int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		if (argc >= 2) {
			print_command_help(stdout, c->self);
			return 0;
		}
		return usage_error(c, "missing subcommand (list)");
	}
	if (strcmp(argv[1], "list"))
		return usage_error(c, "unknown subcommand '%s' (known: list)", argv[1]);
	bool json = false, help = false;
	const struct flag flags[] = {
		{"--json", NULL, &json},
	};
	int rc = parse_flags(c, argc - 1, argv + 1, flags, sizeof(flags) / sizeof(flags[0]),
			     &help);
	if (rc || help) {
		if (help)
			print_command_help(stdout, c->self);
		return rc;
	}
	if ((rc = open_store_mode(c, 1)))
		return rc;
	struct vv_pydisc d;
	vv_err_clear();
	if (vv_python_discover_all(c->st, &c->cfg, &d) < 0) {
		msg(c, "%s", vv_errmsg());
		return EXIT_USAGE;
	}
	if (json)
		python_list_json(&d);
	else
		python_list_human(&d);
	rc = 0;
	if (!d.n) {
		msg(c, "no usable Python 3.6+ interpreter found");
		rc = EXIT_PROBLEMS;
	}
	vv_pydisc_release(&d);
	if (fflush(stdout) != 0) {
		msg(c, "cannot write output: %s", strerror(errno));
		rc = EXIT_USAGE;
	}
	return rc;
}

/* ---- create ---------------------------------------------------------------------- */

static int cmd_create(struct ctx *c, int argc, char **argv)
{
	struct vv_create_opts cr = { 0 };
	char *prompt_buf = NULL;
	struct vv_creator *creator = NULL;
	const char **names = calloc((size_t)argc, sizeof(*names));
	size_t nnames = 0;
	int rc = 0;
	if (!names) {
		msg(c, "out of memory");
		return EXIT_USAGE;
	}
	bool opts_done = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int m;
		if (opts_done || a[0] != '-' || !a[1]) {
			names[nnames++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			opts_done = true;
		} else if (is_help(a)) {
			print_command_help(stdout, c->self);
			goto out;
		} else if ((m = opt_match(argc, argv, &i, "--python", NULL, &v))) {
			if (m < 0 || !*v) {
				rc = usage_error(c, "option '--python' needs an interpreter (a "
						 "version such as 3.12, a path or a command)");
				goto out;
			}
			cr.python = v;
		} else if ((m = opt_match(argc, argv, &i, "--prompt", NULL, &v))) {
			if (m < 0 || !*v) {
				rc = usage_error(c, "option '--prompt' needs a non-empty prompt");
				goto out;
			}
			cr.prompt = v;
		} else if (!strcmp(a, "--system-site-packages")) {
			cr.system_site = true;
		} else if (!strcmp(a, "--without-pip")) {
			cr.without_pip = true;
		} else if (!strcmp(a, "--clear")) {
			cr.clear = true;
		} else if (!strcmp(a, "--upgrade")) {
			cr.upgrade = true;
		} else if (!strcmp(a, "--upgrade-deps")) {
			cr.upgrade_deps = true;
		} else {
			rc = usage_error(c, "unknown option '%s'", a);
			goto out;
		}
	}
	if (!nnames) {
		rc = usage_error(c, "no env name given");
		goto out;
	}
	if (cr.clear && cr.upgrade) {
		rc = usage_error(c, "--clear and --upgrade cannot be combined");
		goto out;
	}
	if (cr.without_pip && cr.upgrade_deps) {
		rc = usage_error(c, "--without-pip and --upgrade-deps cannot be combined");
		goto out;
	}
	for (size_t i = 0; i < nnames; i++) {
		vv_err_clear();
		if (vv_env_name_check(names[i], strlen(names[i])) < 0) {
			rc = usage_error(c, "%s", vv_errmsg());
			goto out;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(names[k], names[i])) {
				rc = usage_error(c, "env '%s' given twice", names[i]);
				goto out;
			}
	}
	if (cr.prompt && !strcmp(cr.prompt, ".")) {
		/* venv's rule: "." is the name of the current directory. */
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd))) {
			msg(c, "--prompt .: cannot get the current directory: %s",
			    strerror(errno));
			rc = EXIT_USAGE;
			goto out;
		}
		const char *base = strrchr(cwd, '/');
		base = base && base[1] ? base + 1 : cwd;
		if (!(prompt_buf = strdup(base))) {
			msg(c, "out of memory");
			rc = EXIT_USAGE;
			goto out;
		}
		cr.prompt = prompt_buf;
	}
	if (cr.prompt) {
		vv_err_clear();
		if (vv_ini_value_check("prompt", cr.prompt, "prompt") < 0) {
			rc = usage_error(c, "%s", vv_errmsg());
			goto out;
		}
	}
	if ((rc = open_store_mode(c, 1)))
		goto out;
	if (vv_creator_new(c->st, &c->cfg, &cr, &creator) < 0) {
		msg(c, "%s", vv_errmsg());
		rc = EXIT_USAGE;
		goto out;
	}
	/* one failing env does not stop the others */
	for (size_t i = 0; i < nnames; i++) {
		if (vv_creator_run(creator, names[i]) < 0) {
			msg(c, "%s", vv_errmsg());
			rc = EXIT_PROBLEMS;
		}
	}
	if (fflush(stdout) != 0) {
		msg(c, "cannot write output: %s", strerror(errno));
		rc = EXIT_USAGE;
	}
out:
	free(names);
	free(prompt_buf);
	vv_creator_free(creator);
	return rc;
}

/* ---- add ------------------------------------------------------------------------- */

static int cmd_add(struct ctx *c, int argc, char **argv)
{
	const char **args = calloc((size_t)argc, sizeof(*args));
	size_t nargs = 0;
	bool opts_done = false;
	int rc = 0;
	if (!args) {
		msg(c, "out of memory");
		return EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts_done || a[0] != '-' || !a[1]) {
			args[nargs++] = a;
		} else if (!strcmp(a, "--")) {
			opts_done = true;
		} else if (is_help(a)) {
			print_command_help(stdout, c->self);
			goto out;
		} else {
			rc = usage_error(c, "unknown option '%s'", a);
			goto out;
		}
	}
	if (nargs < 2) {
		rc = usage_error(c, nargs ? "no wheel given" : "no env name given");
		goto out;
	}
	vv_err_clear();
	if (vv_env_name_check(args[0], strlen(args[0])) < 0) {
		rc = usage_error(c, "%s", vv_errmsg());
		goto out;
	}
	for (size_t i = 1; i < nargs; i++) {
		struct stat sb;
		if (stat(args[i], &sb) < 0 || !S_ISREG(sb.st_mode)) {
			rc = usage_error(c, "'%s' is not a wheel file", args[i]);
			goto out;
		}
	}
	if ((rc = open_store_mode(c, 0)))
		goto out;
	struct vv_installed *done = NULL;
	if (vv_install_wheels(c->st, args[0], args + 1, nargs - 1, &done) < 0) {
		msg(c, "%s", vv_errmsg());
		msg(c, "env '%s' is unchanged", args[0]);
		rc = EXIT_PROBLEMS;
		goto out;
	}
	for (size_t i = 0; i < nargs - 1; i++) {
		printf("env '%s': installed %s %s", args[0], done[i].name, done[i].version);
		if (done[i].replaced)
			printf(" (replacing %s)", done[i].replaced);
		printf("\n");
	}
	vv_installed_free(done, nargs - 1);
	if (fflush(stdout) != 0) {
		msg(c, "cannot write output: %s", strerror(errno));
		rc = EXIT_USAGE;
	}
out:
	free(args);
	return rc;
}

/* ---- gc -------------------------------------------------------------------------- */

/* A non-negative whole number of seconds. */
static int parse_seconds(const char *s, int64_t *out)
{
	if (!*s || strlen(s) > 12)
		return -1;
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return 0;
}

static int cmd_gc(struct ctx *c, int argc, char **argv)
{
	struct vv_gc_opts o = {.grace_s = VV_GC_GRACE_DEFAULT};
	bool json = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int m;
		if (is_help(a)) {
			print_command_help(stdout, c->self);
			return 0;
		} else if (!strcmp(a, "--dry-run") || !strcmp(a, "-n")) {
			o.dry_run = true;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if ((m = opt_match(argc, argv, &i, "--grace", NULL, &v))) {
			if (m < 0 || parse_seconds(v, &o.grace_s) < 0)
				return usage_error(c, "option '--grace' needs a whole number of "
						 "seconds (0 or more)");
		} else if (a[0] == '-' && a[1]) {
			return usage_error(c, "unknown option '%s'", a);
		} else {
			return usage_error(c, "unexpected argument '%s'", a);
		}
	}
	int rc = open_store(c);
	if (rc)
		return rc;
	struct vv_gc_result res;
	vv_err_clear();
	int r = vv_gc(c->st, &o, &res);
	if (r < 0) {
		msg(c, "%s", vv_errmsg());
		return r == -EBUSY || r == -ENOMEM ? EXIT_USAGE : EXIT_PROBLEMS;
	}
	if (json) {
		printf("{\"store\": ");
		json_str(stdout, c->st->path);
		printf(", \"dry_run\": %s, \"grace_seconds\": %lld, \"envs\": %llu, "
		       "\"journals\": %llu, \"pythons\": %llu, \"reachable_trees\": %llu, "
		       "\"reachable_files\": %llu, \"objects\": %llu, \"stored_bytes\": %llu, "
		       "\"freed_objects\": %llu, \"freed_bytes\": %llu, \"young_objects\": %llu, "
		       "\"young_bytes\": %llu, \"seconds\": %.3f}\n",
		       o.dry_run ? "true" : "false", (long long)o.grace_s,
		       (unsigned long long)res.envs, (unsigned long long)res.journals,
		       (unsigned long long)res.pythons, (unsigned long long)res.trees,
		       (unsigned long long)res.files, (unsigned long long)res.objects,
		       (unsigned long long)res.bytes, (unsigned long long)res.freed,
		       (unsigned long long)res.freed_bytes, (unsigned long long)res.young,
		       (unsigned long long)res.young_bytes, res.seconds);
	} else {
		char a[64];
		printf("roots:     %llu envs, %llu journals, %llu interpreter caches\n",
		       (unsigned long long)res.envs, (unsigned long long)res.journals,
		       (unsigned long long)res.pythons);
		human_size(res.bytes, a, sizeof(a));
		printf("objects:   %llu of %llu bytes (%s); reachable: %llu trees, %llu files\n",
		       (unsigned long long)res.objects, (unsigned long long)res.bytes, a,
		       (unsigned long long)res.trees, (unsigned long long)res.files);
		human_size(res.freed_bytes, a, sizeof(a));
		printf("%s %llu objects, %llu bytes (%s)\n",
		       o.dry_run ? "would free:" : "freed:    ", (unsigned long long)res.freed,
		       (unsigned long long)res.freed_bytes, a);
		human_size(res.young_bytes, a, sizeof(a));
		printf("kept:      %llu unreachable objects of %llu bytes (%s) changed within the "
		       "grace period (%lld s)\n",
		       (unsigned long long)res.young, (unsigned long long)res.young_bytes, a,
		       (long long)o.grace_s);
		printf("time:      %.2f s\n", res.seconds);
	}
	if (fflush(stdout) != 0) {
		msg(c, "cannot write output: %s", strerror(errno));
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- du -------------------------------------------------------------------------- */

/* What removing the env frees: its unique file objects and trees. */
static uint64_t du_frees(const struct vv_stats_env *e)
{
	return e->unique + e->unique_tree_bytes;
}

static uint64_t du_shared(const struct vv_stats_env *e)
{
	return e->distinct > e->unique ? e->distinct - e->unique : 0;
}

static void du_json(const struct vv_stats *s, const char *store, const bool *pick)
{
	FILE *f = stdout;
	fputs("{\n  \"store\": ", f);
	json_str(f, store);
	fprintf(f, ",\n  \"stored_bytes\": %llu", (unsigned long long)s->stored_bytes);
	fprintf(f, ",\n  \"disk_bytes\": %llu", (unsigned long long)s->disk_bytes);
	fprintf(f, ",\n  \"file_object_bytes\": %llu", (unsigned long long)s->file_bytes);
	fprintf(f, ",\n  \"unreachable_bytes\": %llu", (unsigned long long)s->unreachable_bytes);
	fprintf(f, ",\n  \"logical_bytes\": %llu", (unsigned long long)s->logical);
	fprintf(f, ",\n  \"dedup_ratio\": %.4f", vv_stats_dedup_ratio(s));
	fputs(",\n  \"envs\": [", f);
	bool first = true;
	for (size_t i = 0; i < s->nenvs; i++) {
		const struct vv_stats_env *e = &s->envs[i];
		if (!pick[i])
			continue;
		fputs(first ? "\n    {\"name\": " : ",\n    {\"name\": ", f);
		first = false;
		json_str(f, e->name);
		fprintf(f, ", \"files\": %llu, \"logical_bytes\": %llu, \"referenced_bytes\": %llu"
			   ", \"shared_bytes\": %llu, \"unique_bytes\": %llu}",
			(unsigned long long)e->files, (unsigned long long)e->logical,
			(unsigned long long)e->distinct, (unsigned long long)du_shared(e),
			(unsigned long long)du_frees(e));
	}
	fputs(first ? "]\n}\n" : "\n  ]\n}\n", f);
}

static void du_human(const struct vv_stats *s, const bool *pick, bool exact)
{
	size_t nw = 3, col[4] = {7, 10, 6, 6};
	const char *head[4] = {"LOGICAL", "REFERENCED", "SHARED", "UNIQUE"};
	char buf[4][64];
	for (size_t i = 0; i < s->nenvs; i++) {
		if (!pick[i])
			continue;
		const struct vv_stats_env *e = &s->envs[i];
		size_t w;
		char *dn = display_name(e->name, &w);
		free(dn);
		if (w > nw)
			nw = w;
		uint64_t v[4] = {e->logical, e->distinct, du_shared(e), du_frees(e)};
		for (int k = 0; k < 4; k++) {
			size_field(v[k], exact, buf[k], sizeof(buf[k]));
			if (strlen(buf[k]) > col[k])
				col[k] = strlen(buf[k]);
		}
	}
	printf("%-*s", (int)nw, "ENV");
	for (int k = 0; k < 4; k++)
		printf("  %*s", (int)col[k], head[k]);
	fputc('\n', stdout);
	for (size_t i = 0; i < s->nenvs; i++) {
		if (!pick[i])
			continue;
		const struct vv_stats_env *e = &s->envs[i];
		size_t w;
		char *dn = display_name(e->name, &w);
		fputs(dn ? dn : "?", stdout);
		pad(stdout, nw - (dn ? w : 1));
		free(dn);
		uint64_t v[4] = {e->logical, e->distinct, du_shared(e), du_frees(e)};
		for (int k = 0; k < 4; k++) {
			size_field(v[k], exact, buf[k], sizeof(buf[k]));
			printf("  %*s", (int)col[k], buf[k]);
		}
		fputs(e->error ? "  (incomplete)\n" : "\n", stdout);
	}
	size_field(s->logical, exact, buf[0], sizeof(buf[0]));
	size_field(s->stored_bytes, exact, buf[1], sizeof(buf[1]));
	size_field(s->unreachable_bytes, exact, buf[2], sizeof(buf[2]));
	printf("\nstore: %s logical in %zu env%s, %s stored (%s unreachable), dedup ratio "
	       "%.2f\n", buf[0], s->nenvs, s->nenvs == 1 ? "" : "s", buf[1], buf[2],
	       vv_stats_dedup_ratio(s));
}

static int cmd_du(struct ctx *c, int argc, char **argv)
{
	bool json = false, exact = false;
	const char **names = calloc((size_t)argc, sizeof(*names));
	size_t nnames = 0;
	int rc = 0;
	bool *pick = NULL;
	struct vv_stats s = {0};
	if (!names) {
		msg(c, "out of memory");
		return EXIT_USAGE;
	}
	bool opts_done = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts_done || a[0] != '-' || !a[1]) {
			names[nnames++] = a;
		} else if (!strcmp(a, "--")) {
			opts_done = true;
		} else if (is_help(a)) {
			print_command_help(stdout, c->self);
			goto out;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--bytes") || !strcmp(a, "-b")) {
			exact = true;
		} else {
			rc = usage_error(c, "unknown option '%s'", a);
			goto out;
		}
	}
	if ((rc = open_store(c)))
		goto out;
	vv_err_clear();
	if (vv_stats_collect(c->st, &s) < 0) {
		msg(c, "%s", vv_errmsg());
		rc = EXIT_USAGE;
		goto out;
	}
	pick = calloc(s.nenvs ? s.nenvs : 1, sizeof(*pick));
	if (!pick) {
		msg(c, "out of memory");
		rc = EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < s.nenvs; i++)
		pick[i] = nnames == 0;
	for (size_t k = 0; k < nnames; k++) {
		size_t i = 0;
		while (i < s.nenvs && strcmp(s.envs[i].name, names[k]))
			i++;
		if (i == s.nenvs) {
			msg(c, "no env '%s'", names[k]);
			rc = EXIT_PROBLEMS;
		} else {
			pick[i] = true;
		}
	}
	if (json)
		du_json(&s, c->st->path, pick);
	else
		du_human(&s, pick, exact);
	for (size_t i = 0; i < s.nenvs; i++)
		if (pick[i] && s.envs[i].error) {
			msg(c, "env '%s' incomplete: %s", s.envs[i].name, s.envs[i].error);
			rc = EXIT_PROBLEMS;
		}
	if (fflush(stdout) != 0) {
		msg(c, "cannot write output: %s", strerror(errno));
		rc = EXIT_USAGE;
	}
out:
	vv_stats_release(&s);
	free(pick);
	free(names);
	return rc;
}

/* ---- help ------------------------------------------------------------------------ */

static int cmd_help(struct ctx *c, int argc, char **argv)
{
	if (argc > 2)
		return usage_error(c, "unexpected argument '%s'", argv[2]);
	if (argc == 2 && !is_help(argv[1])) {
		const struct command *cmd = find_command(argv[1]);
		if (!cmd) {
			msg(NULL, "unknown command '%s' (see 'venvctl --help')", argv[1]);
			return EXIT_USAGE;
		}
		print_command_help(stdout, cmd);
		return 0;
	}
	print_usage(stdout);
	return 0;
}

static const struct command commands[] = {
	{"create", cmd_create,
	 "[--python VER|PATH] [--system-site-packages] [--without-pip] [--prompt P] "
	 "[--clear] [--upgrade] [--upgrade-deps] NAME...",
	 "create envs, or clear or upgrade them, like `python -m venv`",
	 "Create each NAME as a new env in the store, with `python -m venv`'s options and\n"
	 "meanings. The store need not be mounted: a new env is one small file, envs/NAME,\n"
	 "pointing at the interpreter's cached skeleton (pip unpacked once per interpreter).\n"
	 "An existing NAME is an error unless --clear, --upgrade or --upgrade-deps says\n"
	 "what to do with it (venv would silently reuse the directory).\n"
	 "\n"
	 "    --python VER|PATH       the interpreter: a version prefix (3, 3.12, 3.12.1,\n"
	 "                            python3.12: the newest installed match, see\n"
	 "                            `venvctl python list`), a path, or a command on PATH.\n"
	 "                            Default: the config's `python`, else the first\n"
	 "                            python3 on PATH; with --clear, the env's own\n"
	 "                            interpreter.\n"
	 "    --system-site-packages  give the env access to the interpreter's\n"
	 "                            site-packages (include-system-site-packages = true)\n"
	 "    --without-pip           no pip in the env (default: the config's\n"
	 "                            without-pip, else false)\n"
	 "    --prompt P              the prompt activate shows instead of the env's name;\n"
	 "                            \".\" means the name of the current directory\n"
	 "    --clear                 empty an existing env: it starts again from the\n"
	 "                            skeleton of its interpreter (or of --python), with\n"
	 "                            the options of this command line; options not given\n"
	 "                            are back to their defaults, and changes not yet\n"
	 "                            committed (journal/NAME) are dropped\n"
	 "    --upgrade               point an existing env at the newest installed patch\n"
	 "                            release of its Python X.Y (e.g. 3.11.6 -> 3.11.7;\n"
	 "                            never an older one), or at --python, which must be\n"
	 "                            the same X.Y. The env's files are unchanged.\n"
	 "    --upgrade-deps          replace the env's pip with the newest pip wheel on\n"
	 "                            offer (the installed interpreters' bundled ones and\n"
	 "                            /usr/share/python-wheels) that supports the env's\n"
	 "                            Python; other packages are kept\n"
	 "    -h, --help              show this text\n"
	 "\n"
	 "--clear cannot be combined with --upgrade, nor --without-pip with --upgrade-deps.\n"
	 "Unlike venv, --upgrade and --upgrade-deps without --clear keep the env's\n"
	 "system-site-packages and prompt settings unless given again; --upgrade-deps\n"
	 "refuses an env with uncommitted changes. One line per env is printed on success.\n"
	 "\n"
	 "Creates the store if it does not exist. Exits 0 if every NAME was done, 1 if some\n"
	 "could not be (each named in one line on stderr, the others are still done), 2 on\n"
	 "a usage error (nothing is done).\n"},
	{"add", cmd_add, "NAME WHEEL...",
	 "install wheels into an env, as pip would, without mounting",
	 "Install each WHEEL file into env NAME's committed tree the way `pip install` run in\n"
	 "that venv would, so pip lists, shows, freezes, checks, upgrades and uninstalls the\n"
	 "packages like its own (INSTALLER is \"venvctl\"; REQUESTED is written). Works\n"
	 "whether or not the store is mounted: a mount shows the change at once.\n"
	 "\n"
	 "A wheel must fit the env's Python by its file-name tags: py3-none-any (py3N with\n"
	 "N up to the env's 3.N, compressed sets such as py2.py3), cp3N-cp3N and cp3N-none\n"
	 "for the env's own 3.N, cp3M-abi3 for M up to N; platform any, linux_ARCH or\n"
	 "manylinux*_ARCH of this machine. Its Requires-Python must admit the env's\n"
	 "interpreter. A distribution of the same (PEP 503) name already installed is\n"
	 "replaced as pip upgrades: the files its RECORD lists, their bytecode, directories\n"
	 "left empty and its .dist-info are removed first. Every member is checked against\n"
	 "the wheel's RECORD (hash and size) before the env changes.\n"
	 "\n"
	 "    -h, --help  show this text\n"
	 "\n"
	 "All wheels go in at once or none does: the env file is replaced once, at the end.\n"
	 "Refused: an env whose journal holds changes a mount has not committed yet, a wheel\n"
	 "given twice, and a wheel that would write a file another installed distribution\n"
	 "owns. Dependencies are not resolved (run `bin/pip check`).\n"
	 "\n"
	 "Prints one line per wheel. Exits 0 when all were installed, 1 if the env was left\n"
	 "unchanged (the wheel, the member and the reason on stderr), 2 on a usage error.\n"},
	{"python", cmd_python, "list [--json]",
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
	 "Exits 1 if no usable interpreter was found.\n"},
	{"stats", cmd_stats, "[--json] [--bytes]",
	 "object count, stored and logical bytes, dedup ratio, per-env sharing",
	 "Walk objects/ and every env's committed root tree and report: the number of object\n"
	 "files (trees included), their stored bytes (sum of file sizes, comparable with\n"
	 "`du -sb STORE/objects`) and disk usage (allocated blocks, comparable with `du -s`),\n"
	 "the logical bytes of all envs (each env's files counted separately), the dedup\n"
	 "ratio (logical bytes / bytes of the distinct file objects they use), and per env:\n"
	 "files, logical bytes and unique bytes (file objects no other env references).\n"
	 "Objects no env reaches are listed as unreachable.\n"
	 "\n"
	 "    --json       print one JSON object instead of the table\n"
	 "    -b, --bytes  exact byte counts in the table instead of KiB/MiB/...\n"
	 "\n"
	 "Exits 1 if some env could not be read completely (see fsck).\n"},
	{"fsck", cmd_fsck, "[--quiet]", "verify objects, env files and trees",
	 "Check that every object file hashes to its name, every env file parses, and every\n"
	 "tree reachable from an env's root exists, parses and references only existing,\n"
	 "intact objects of the recorded size. Problems are printed one per line:\n"
	 "\n"
	 "    corrupt object HEX\n"
	 "    missing object HEX (env NAME, path P)\n"
	 "    bad tree HEX (env NAME, path P): WHY\n"
	 "    size mismatch HEX (env NAME, path P): WHY\n"
	 "    bad env NAME: WHY\n"
	 "    stray entry objects/...\n"
	 "\n"
	 "    -q, --quiet  print nothing; only the exit status tells\n"
	 "\n"
	 "Exits 0 if the store is clean, 1 if problems were found, 2 if it could not check.\n"
	 "Nothing is repaired or removed.\n"},
	{"du", cmd_du, "[--json] [--bytes] [NAME...]",
	 "per env: logical, shared and unique bytes; store totals",
	 "Show, for each env (or each NAME), how much it uses and how much of that it\n"
	 "shares, from its committed root tree:\n"
	 "\n"
	 "    LOGICAL     the sizes of all its files, as `du -sb` on the mount counts them\n"
	 "                (a file stored once but present twice counts twice)\n"
	 "    REFERENCED  the sizes of the distinct file objects it uses\n"
	 "    SHARED      the part of REFERENCED that other envs use too\n"
	 "    UNIQUE      file objects and trees no other env uses: what removing the env\n"
	 "                and then running `venvctl gc` frees. Objects that gc keeps for\n"
	 "                other reasons (an interpreter's skeleton, which an env that was\n"
	 "                never changed consists of; a journal; the grace period) are\n"
	 "                counted here too, so this is an upper bound.\n"
	 "\n"
	 "The last line gives the store's totals: logical bytes of all envs, stored bytes\n"
	 "(every object file, as `du -sb STORE/objects`), unreachable bytes and the dedup\n"
	 "ratio (logical bytes / bytes of the distinct file objects). Sharing is always\n"
	 "computed against every env, also when NAMEs are given.\n"
	 "\n"
	 "    --json       one JSON object: store totals and \"envs\": [{\"name\", \"files\",\n"
	 "                 \"logical_bytes\", \"referenced_bytes\", \"shared_bytes\",\n"
	 "                 \"unique_bytes\"}...]\n"
	 "    -b, --bytes  exact byte counts instead of KiB/MiB/...\n"
	 "\n"
	 "Reads only what is committed (see NOTES in `venvctl --help`). Exits 1 if a NAME is\n"
	 "not an env or an env could not be read completely, 2 if the store could not be\n"
	 "read.\n"},
	{"gc", cmd_gc, "[--dry-run] [--grace SECONDS] [--json]",
	 "delete objects no env, journal or interpreter skeleton uses",
	 "Delete the objects (file contents and trees) under objects/ that nothing can\n"
	 "reach, e.g. those of removed envs and uninstalled packages. Kept, with everything\n"
	 "they reference: the committed root of every env (envs/NAME); the root named by\n"
	 "every journal (journal/NAME) and every object its records name, also when the\n"
	 "journal is stale; the skeleton trees of every interpreter cached in pythons/.\n"
	 "\n"
	 "gc refuses to delete anything when one of these cannot be read or parsed (a\n"
	 "damaged env, journal or pythons/ file, a missing or corrupt tree): what it\n"
	 "references is then unknown. It prints the reason; `venvctl fsck` shows the\n"
	 "whole damage.\n"
	 "\n"
	 "gc may run while the store is mounted and in use. A file written through the\n"
	 "mount is stored as an object a moment before the journal or a tree names it, so\n"
	 "no object changed within the grace period before gc started is deleted (changed:\n"
	 "the later of its mtime and ctime; storing it sets the ctime). Objects are renamed\n"
	 "aside, checked again and only then removed. Only one gc runs at a time on a store\n"
	 "(STORE/gc.lock is locked while it runs).\n"
	 "\n"
	 "    -n, --dry-run      delete nothing; report what would be freed\n"
	 "    --grace SECONDS    the grace period (default 3600). 0 is safe only when no\n"
	 "                       daemon or venvctl is writing to the store\n"
	 "    --json             print one JSON object instead of the report\n"
	 "    -h, --help         show this text\n"
	 "\n"
	 "Report: roots read; objects found and how many trees and files are reachable;\n"
	 "objects and bytes freed (or that would be); unreachable objects kept because of\n"
	 "the grace period; time taken.\n"
	 "\n"
	 "Exits 0 on success, 1 if gc stopped because a root could not be read (nothing\n"
	 "was deleted) or a deletion failed, 2 on a usage error, when the store could not\n"
	 "be opened or another gc holds the lock.\n"},
	{"help", cmd_help, "[COMMAND]", "show this text, or one command's", NULL},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void print_command_help(FILE *f, const struct command *cmd)
{
	fprintf(f, "usage: venvctl [--store DIR] [--config FILE] %s %s\n\n%s\n", cmd->name,
		cmd->args, cmd->summary);
	if (cmd->help)
		fprintf(f, "\n%s", cmd->help);
}

static void print_usage(FILE *f)
{
	fputs("NAME\n"
	      "    venvctl - create envs in a venvfs store, inspect and check it\n"
	      "\n"
	      "SYNOPSIS\n"
	      "    venvctl [--store DIR] [--config FILE] COMMAND [ARGS...]\n"
	      "    venvctl help [COMMAND]\n"
	      "    venvctl --help | --version\n"
	      "\n"
	      "COMMANDS\n",
	      f);
	size_t w = 0;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		size_t l = strlen(commands[i].name) + 1 + strlen(commands[i].args);
		if (l > w)
			w = l;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		size_t l = strlen(commands[i].name) + 1 + strlen(commands[i].args);
		fprintf(f, "    %s %s", commands[i].name, commands[i].args);
		pad(f, w - l + 2);
		fprintf(f, "%s\n", commands[i].summary);
	}
	fputs("\n"
	      "OPTIONS\n"
	      "    --store DIR    the store directory (default: `store` in the config file,\n"
	      "                   else $XDG_DATA_HOME/venvfs or ~/.local/share/venvfs)\n"
	      "    --config FILE  the config file (default: $XDG_CONFIG_HOME/venvfs/venvfs.ini\n"
	      "                   or ~/.config/venvfs/venvfs.ini; a missing default is fine)\n"
	      "    -h, --help     show this text; after a command, that command's help\n"
	      "    -V, --version  show the version\n"
	      "\n"
	      "NOTES\n"
	      "    stats, du and fsck read what is committed in the store: the objects and the\n"
	      "    root tree recorded in each envs/NAME. A mounted env commits its changes\n"
	      "    there a few seconds after the last one (and on fsync of the env directory,\n"
	      "    e.g. `sync MOUNT/NAME`, and at unmount); until then they live in\n"
	      "    journal/NAME and are not counted or checked. These commands only read the\n"
	      "    store and may run while it is mounted; so may gc, which also keeps what\n"
	      "    journals name and whatever was written within its grace period.\n"
	      "\n"
	      "EXIT STATUS\n"
	      "    0  success\n"
	      "    1  the command found problems (fsck: damage; stats: an unreadable env;\n"
	      "       create: some env could not be made; python list: no interpreter;\n"
	      "       gc: a root could not be read, nothing deleted)\n"
	      "    2  usage error, or the store could not be opened or read\n",
	      f);
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct ctx c = {0};
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		int m;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (is_help(a)) {
			print_usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("venvctl (venvfs) %s\n", VV_VERSION);
			return 0;
		}
		if ((m = opt_match(argc, argv, &i, "--store", NULL, &c.store_opt))) {
			if (m < 0) {
				msg(NULL, "option '--store' needs a directory (see 'venvctl --help')");
				return EXIT_USAGE;
			}
			continue;
		}
		if ((m = opt_match(argc, argv, &i, "--config", NULL, &c.config_opt))) {
			if (m < 0) {
				msg(NULL, "option '--config' needs a file (see 'venvctl --help')");
				return EXIT_USAGE;
			}
			continue;
		}
		msg(NULL, "unknown option '%s' (see 'venvctl --help')", a);
		return EXIT_USAGE;
	}
	if (c.store_opt && !*c.store_opt) {
		msg(NULL, "option '--store' needs a directory, got an empty string");
		return EXIT_USAGE;
	}
	if (c.config_opt && !*c.config_opt) {
		msg(NULL, "option '--config' needs a file, got an empty string");
		return EXIT_USAGE;
	}
	if (i >= argc) {
		msg(NULL, "no command given (see 'venvctl --help')");
		return EXIT_USAGE;
	}
	const struct command *cmd = find_command(argv[i]);
	if (!cmd) {
		msg(NULL, "unknown command '%s' (see 'venvctl --help')", argv[i]);
		return EXIT_USAGE;
	}
	c.cmd = cmd->name;
	c.self = cmd;
	int rc = cmd->fn(&c, argc - i, argv + i);
	if (c.st)
		vv_store_close(c.st);
	vv_config_release(&c.cfg);
	return rc;
}
