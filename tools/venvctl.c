/*
 * venvctl.c - the command-line tool for a venvfs store: inspect and check it without
 * mounting it. Commands live in one table (name, handler, usage, summary, help) so that
 * adding one (create, clone, gc, du, ...) is a function and a table row; the usage
 * text and the dispatcher are generated from that table.
 *
 * Exit status: 0 success, 1 the command found problems, 2 usage or other error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "hash.h"
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

/* --store, else the config file's `store`, else the default path. */
static int open_store(struct ctx *c)
{
	struct vv_config cfg = {0};
	char *path = NULL;
	int rc = 0;
	if (c->config_opt) {
		vv_err_clear();
		if (vv_config_load(&cfg, c->config_opt, 1) < 0) {
			msg(NULL, "%s", vv_errmsg());
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (c->store_opt) {
		path = strdup(c->store_opt);
	} else {
		if (!c->config_opt) {
			char *cpath = vv_default_config_path();
			vv_err_clear();
			int r = cpath ? vv_config_load(&cfg, cpath, 0) : 0;
			free(cpath);
			if (r < 0) {
				msg(NULL, "%s", vv_errmsg());
				rc = EXIT_USAGE;
				goto out;
			}
		}
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
	int r = vv_store_open(&c->st, path, 0);
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
	vv_config_release(&cfg);
	return rc;
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
	      "    venvctl - inspect and check a venvfs store\n"
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
	      "    stats and fsck read what is committed in the store: the objects and the root\n"
	      "    tree recorded in each envs/NAME. A mounted env commits its changes there a\n"
	      "    few seconds after the last one (and on fsync of the env directory, e.g.\n"
	      "    `sync MOUNT/NAME`, and at unmount); until then they live in journal/NAME and\n"
	      "    are not counted or checked. Both commands only read the store and may run\n"
	      "    while it is mounted.\n"
	      "\n"
	      "EXIT STATUS\n"
	      "    0  success\n"
	      "    1  the command found problems (fsck: damage; stats: an unreadable env)\n"
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
	return rc;
}
