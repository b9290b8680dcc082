/*
 * stats.c - venvctl stats, fsck and du: read-only reports on what is committed in the store.
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

#include "bar.h"
#include "cli.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/vec.h"
#include "ops/fsck.h"
#include "ops/manifest.h"
#include "ops/repair.h"
#include "ops/stats.h"

/* ---- stats ----------------------------------------------------------------------- */

static void stats_json(const struct vv_stats *s, const char *store)
{
	FILE *f = stdout;
	fputs("{\n  \"store\": ", f);
	vc_json_str(f, store);
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
		vc_json_str(f, e->name);
		fprintf(f, ", \"files\": %llu, \"logical_bytes\": %llu, \"unique_bytes\": %llu, "
			   "\"unique_files\": %llu",
			(unsigned long long)e->files, (unsigned long long)e->logical,
			(unsigned long long)e->unique, (unsigned long long)e->unique_files);
		if (e->error) {
			fputs(", \"error\": ", f);
			vc_json_str(f, e->error);
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
	vc_human_size(s->stored_bytes, a, sizeof(a));
	printf("stored bytes:   %llu (%s)\n", (unsigned long long)s->stored_bytes, a);
	vc_human_size(s->disk_bytes, a, sizeof(a));
	printf("disk usage:     %llu (%s)\n", (unsigned long long)s->disk_bytes, a);
	vc_human_size(s->file_bytes, a, sizeof(a));
	printf("reachable:      %llu trees, %llu file objects of %llu bytes (%s)\n",
	       (unsigned long long)s->trees, (unsigned long long)s->file_objects,
	       (unsigned long long)s->file_bytes, a);
	vc_human_size(s->unreachable_bytes, a, sizeof(a));
	printf("unreachable:    %llu objects of %llu bytes (%s)\n",
	       (unsigned long long)s->unreachable, (unsigned long long)s->unreachable_bytes, a);
	vc_human_size(s->logical, a, sizeof(a));
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
		names[i] = vc_display_name(e->name, &widths[i]);
		if (widths[i] > nw)
			nw = widths[i];
		size_t l = (size_t)snprintf(a, sizeof(a), "%llu", (unsigned long long)e->files);
		if (l > fw)
			fw = l;
		vc_size_field(e->logical, exact, a, sizeof(a));
		if (strlen(a) > lw)
			lw = strlen(a);
		vc_size_field(e->unique, exact, a, sizeof(a));
		if (strlen(a) > uw)
			uw = strlen(a);
	}
	fputc('\n', f);
	fprintf(f, "%-*s  %*s  %*s  %*s\n", (int)nw, "ENV", (int)fw, "FILES", (int)lw, "LOGICAL",
		(int)uw, "UNIQUE");
	for (size_t i = 0; i < s->nenvs; i++) {
		const struct vv_stats_env *e = &s->envs[i];
		fputs(names[i] ? names[i] : "?", f);
		vc_pad(f, nw - (names[i] ? widths[i] : 1));
		vc_size_field(e->logical, exact, a, sizeof(a));
		vc_size_field(e->unique, exact, b, sizeof(b));
		fprintf(f, "  %*llu  %*s  %*s%s\n", (int)fw, (unsigned long long)e->files, (int)lw,
			a, (int)uw, b, e->error ? "  (incomplete)" : "");
		free(names[i]);
	}
	free(names);
	free(widths);
}

static int cmd_stats(struct vc_ctx *c, int argc, char **argv)
{
	bool json = false, exact = false, help = false;
	const struct vc_flag flags[] = {
		{"--json", NULL, &json},
		{"--bytes", "-b", &exact},
	};
	int rc = vc_parse_flags(c, argc, argv, flags, sizeof(flags) / sizeof(flags[0]), &help);
	if (rc || help) {
		if (help)
			vc_print_command_help(stdout, c->self);
		return rc;
	}
	if ((rc = vc_open_store(c)))
		return rc;
	struct vv_stats s;
	struct vc_bar bar;
	vc_bar_init(&bar, "stats");
	vv_err_clear();
	int r = vv_stats_collect_ex(c->st, &s, &bar.cb);
	vc_bar_done(&bar);
	if (r < 0) {
		vc_msg(c, "%s", vv_errmsg());
		return VC_EXIT_USAGE;
	}
	if (json)
		stats_json(&s, c->st->path);
	else
		stats_human(&s, c->st->path, exact);
	for (size_t i = 0; i < s.nenvs; i++)
		if (s.envs[i].error)
			vc_msg(c, "env '%s' incomplete: %s", s.envs[i].name, s.envs[i].error);
	rc = s.env_errors ? VC_EXIT_PROBLEMS : 0;
	vv_stats_release(&s);
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		rc = VC_EXIT_USAGE;
	}
	return rc;
}

/* ---- fsck ------------------------------------------------------------------------ */

/* Exit status of `fsck --repair` when it fixed everything it found. */
#define FSCK_EXIT_REPAIRED 3

struct fsck_out {
	bool quiet;
	struct vc_bar *bar;
	const char *prefix; /* "" or "still damaged: " */
	char **envs;        /* --repair: envs with damage left, each once */
	size_t nenvs, capenvs;
};

static int fsck_print(const struct vv_fsck_problem *p, void *arg)
{
	const struct fsck_out *o = arg;
	if (!o->quiet) {
		vc_bar_done(o->bar);
		printf("%s%s\n", o->prefix, p->msg);
		fflush(stdout);
	}
	return 0;
}

static int fsck_print_remaining(const struct vv_fsck_problem *p, void *arg)
{
	struct fsck_out *out = arg;
	if (p->env) {
		size_t i = 0;
		while (i < out->nenvs && strcmp(out->envs[i], p->env))
			i++;
		if (i == out->nenvs && VV_GROW(out->envs, out->nenvs, out->capenvs, 1) == 0 &&
		    (out->envs[out->nenvs] = strdup(p->env)))
			out->nenvs++;
	}
	struct fsck_out o = *out;
	o.prefix = "still damaged: ";
	return fsck_print(p, &o);
}

static void fsck_action(void *arg, const char *line)
{
	const struct fsck_out *o = arg;
	if (!o->quiet) {
		vc_bar_done(o->bar);
		printf("%s\n", line);
		fflush(stdout);
	}
}

static int cmd_fsck(struct vc_ctx *c, int argc, char **argv)
{
	bool quiet = false, repair = false, no_bundled = false;
	const char **sources = calloc((size_t)argc, sizeof(*sources));
	size_t nsources = 0;
	int rc = 0;
	if (!sources) {
		vc_msg(c, "out of memory");
		return VC_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int m;
		if (vc_is_help(a)) {
			vc_print_command_help(stdout, c->self);
			goto out;
		} else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
			quiet = true;
		} else if (!strcmp(a, "--repair")) {
			repair = true;
		} else if (!strcmp(a, "--no-bundled")) {
			no_bundled = true;
		} else if ((m = vc_opt_match(argc, argv, &i, "--source", NULL, &v))) {
			if (m < 0 || !*v) {
				rc = vc_usage_error(c, "option '--source' needs a path");
				goto out;
			}
			sources[nsources++] = v;
		} else if ((rc = vc_global_opt(c, argc, argv, &i))) {
			goto out;
		}
	}
	if ((nsources || no_bundled) && !repair) {
		rc = vc_usage_error(c, "'--source' and '--no-bundled' need '--repair'");
		goto out;
	}
	if ((rc = vc_open_store(c)))
		goto out;
	struct vc_bar bar;
	vc_bar_init(&bar, "fsck");
	struct fsck_out fo = {.quiet = quiet, .bar = &bar, .prefix = ""};
	struct vv_fsck_summary sum;
	vv_err_clear();
	if (!repair) {
		int r = vv_fsck_ex(c->st, fsck_print, &fo, &sum, &bar.cb);
		vc_bar_done(&bar);
		fflush(stdout);
		if (r < 0) {
			vc_msg(c, "%s", vv_errmsg());
			rc = VC_EXIT_USAGE;
			goto out;
		}
		rc = r > 0 ? VC_EXIT_PROBLEMS : 0;
	} else {
		struct vv_repair_opts o = {
			.sources = sources, .nsources = nsources, .no_bundled = no_bundled,
			.found = fsck_print, .remaining = fsck_print_remaining,
			.action = fsck_action, .arg = &fo, .progress = &bar.cb,
		};
		struct vv_repair_result res;
		int r = vv_repair(c->st, &o, &res);
		vc_bar_done(&bar);
		fflush(stdout);
		if (r < 0) {
			vc_msg(c, "%s", vv_errmsg());
			rc = VC_EXIT_USAGE;
			goto out;
		}
		sum = res.sum;
		if (!quiet && res.found)
			printf("repair: %llu problem%s found, %llu quarantined, %llu restored, "
			       "%llu object%s left damaged (listed in %s/damaged)\n",
			       (unsigned long long)res.found, res.found == 1 ? "" : "s",
			       (unsigned long long)res.quarantined,
			       (unsigned long long)res.restored, (unsigned long long)res.damaged,
			       res.damaged == 1 ? "" : "s", c->st->path);
		if (!quiet && fo.nenvs) {
			printf("damaged envs:");
			for (size_t i = 0; i < fo.nenvs; i++) {
				size_t w;
				char *dn = vc_display_name(fo.envs[i], &w);
				printf(" %s", dn ? dn : "?");
				free(dn);
			}
			printf("\n");
		}
		for (size_t i = 0; i < fo.nenvs; i++)
			free(fo.envs[i]);
		free(fo.envs);
		rc = !res.found ? 0 : res.remaining ? VC_EXIT_PROBLEMS : FSCK_EXIT_REPAIRED;
	}
	if (!quiet)
		printf("checked %llu objects, %llu envs, %llu trees: %llu problem%s\n",
		       (unsigned long long)sum.objects, (unsigned long long)sum.envs,
		       (unsigned long long)sum.trees, (unsigned long long)sum.problems,
		       sum.problems == 1 ? "" : "s");
	char *url = NULL;
	if (!quiet && vv_manifest_cache_url(c->st, &url) == 0 && url)
		printf("a cache of %s: %llu object%s its envs name not fetched yet\n", url,
		       (unsigned long long)sum.unfetched, sum.unfetched == 1 ? "" : "s");
	free(url);
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		rc = VC_EXIT_USAGE;
	}
out:
	free(sources);
	return rc;
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
	vc_json_str(f, store);
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
		vc_json_str(f, e->name);
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
		char *dn = vc_display_name(e->name, &w);
		free(dn);
		if (w > nw)
			nw = w;
		uint64_t v[4] = {e->logical, e->distinct, du_shared(e), du_frees(e)};
		for (int k = 0; k < 4; k++) {
			vc_size_field(v[k], exact, buf[k], sizeof(buf[k]));
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
		char *dn = vc_display_name(e->name, &w);
		fputs(dn ? dn : "?", stdout);
		vc_pad(stdout, nw - (dn ? w : 1));
		free(dn);
		uint64_t v[4] = {e->logical, e->distinct, du_shared(e), du_frees(e)};
		for (int k = 0; k < 4; k++) {
			vc_size_field(v[k], exact, buf[k], sizeof(buf[k]));
			printf("  %*s", (int)col[k], buf[k]);
		}
		fputs(e->error ? "  (incomplete)\n" : "\n", stdout);
	}
	vc_size_field(s->logical, exact, buf[0], sizeof(buf[0]));
	vc_size_field(s->stored_bytes, exact, buf[1], sizeof(buf[1]));
	vc_size_field(s->unreachable_bytes, exact, buf[2], sizeof(buf[2]));
	printf("\nstore: %s logical in %zu env%s, %s stored (%s unreachable), dedup ratio "
	       "%.2f\n", buf[0], s->nenvs, s->nenvs == 1 ? "" : "s", buf[1], buf[2],
	       vv_stats_dedup_ratio(s));
}

static int cmd_du(struct vc_ctx *c, int argc, char **argv)
{
	bool json = false, exact = false;
	const char **names = calloc((size_t)argc, sizeof(*names));
	size_t nnames = 0;
	int rc = 0;
	bool *pick = NULL;
	struct vv_stats s = {0};
	if (!names) {
		vc_msg(c, "out of memory");
		return VC_EXIT_USAGE;
	}
	bool opts_done = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts_done || a[0] != '-' || !a[1]) {
			names[nnames++] = a;
		} else if (!strcmp(a, "--")) {
			opts_done = true;
		} else if (vc_is_help(a)) {
			vc_print_command_help(stdout, c->self);
			goto out;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--bytes") || !strcmp(a, "-b")) {
			exact = true;
		} else if ((rc = vc_global_opt(c, argc, argv, &i))) {
			goto out;
		}
	}
	if ((rc = vc_open_store(c)))
		goto out;
	struct vc_bar bar;
	vc_bar_init(&bar, "du");
	vv_err_clear();
	int cr = vv_stats_collect_ex(c->st, &s, &bar.cb);
	vc_bar_done(&bar);
	if (cr < 0) {
		vc_msg(c, "%s", vv_errmsg());
		rc = VC_EXIT_USAGE;
		goto out;
	}
	pick = calloc(s.nenvs ? s.nenvs : 1, sizeof(*pick));
	if (!pick) {
		vc_msg(c, "out of memory");
		rc = VC_EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < s.nenvs; i++)
		pick[i] = nnames == 0;
	for (size_t k = 0; k < nnames; k++) {
		size_t i = 0;
		while (i < s.nenvs && strcmp(s.envs[i].name, names[k]))
			i++;
		if (i == s.nenvs) {
			vc_msg(c, "no env '%s'", names[k]);
			rc = VC_EXIT_PROBLEMS;
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
			vc_msg(c, "env '%s' incomplete: %s", s.envs[i].name, s.envs[i].error);
			rc = VC_EXIT_PROBLEMS;
		}
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		rc = VC_EXIT_USAGE;
	}
out:
	vv_stats_release(&s);
	free(pick);
	free(names);
	return rc;
}

const struct vc_command vc_command_stats = {"stats", cmd_stats, "[--json] [--bytes]",
	 "object count, stored and logical bytes, dedup ratio, per-env sharing",
	 "Walk objects/ and every env's committed root tree and report: the number of object\n"
	 "files (trees included), their stored bytes (sum of file sizes, comparable with\n"
	 "`du -sb STORE/objects`) and disk usage (allocated blocks, comparable with `du -s`),\n"
	 "the logical bytes of all envs (each env's files counted separately), the dedup\n"
	 "ratio (logical bytes / bytes of the distinct file objects they use), and per env:\n"
	 "files, logical bytes and unique bytes (file objects no other env references).\n"
	 "The earlier states an env's history holds (entries, snapshots) count as the\n"
	 "env's: in its unique bytes, not in its files or logical bytes.\n"
	 "Objects no env reaches are listed as unreachable.\n"
	 "\n"
	 "    --json       print one JSON object instead of the table\n"
	 "    -b, --bytes  exact byte counts in the table instead of KiB/MiB/...\n"
	 "\n"
	 "Exits 1 if some env could not be read completely (see fsck).\n"};

const struct vc_command vc_command_fsck = {"fsck", cmd_fsck,
	 "[--quiet] [--repair [--source PATH]... [--no-bundled]]",
	 "verify objects, env files and trees; repair what can be restored",
	 "Check that every object file hashes to its name, every env file parses, and every\n"
	 "tree reachable from an env's root or from a state its history holds exists,\n"
	 "parses and references only existing, intact objects of the recorded size.\n"
	 "Problems are printed one per line, with the envs and paths that use the object:\n"
	 "\n"
	 "    corrupt object HEX [(env NAME, path P)]\n"
	 "    missing object HEX (env NAME, path P)\n"
	 "    bad tree HEX (env NAME, path P): WHY\n"
	 "    size mismatch HEX (env NAME, path P): WHY\n"
	 "    bad env NAME: WHY\n"
	 "    bad history: WHY                 (history/NAME does not parse)\n"
	 "    stray entry objects/...\n"
	 "\n"
	 "    -q, --quiet      print nothing; only the exit status tells\n"
	 "    --repair         move corrupt objects and stray entries to STORE/quarantine/,\n"
	 "                     restore corrupt and missing objects from intact sources, and\n"
	 "                     list the ones that cannot be restored in STORE/damaged: the\n"
	 "                     mount then fails reads of files using them with EIO instead\n"
	 "                     of returning wrong bytes. Sources, in this order: each\n"
	 "                     --source, then each env interpreter's bundled pip wheel and\n"
	 "                     a rebuild of its env skeletons (pip, its bytecode, trees).\n"
	 "                     Safe next to a running mount and when interrupted.\n"
	 "    --source PATH    a file, a wheel, or a directory searched recursively (wheels\n"
	 "                     in it are opened too; another store's objects/ works): every\n"
	 "                     file or member whose SHA-256 is a wanted id is published as\n"
	 "                     that object. Repeatable.\n"
	 "    --no-bundled     do not use the interpreters' wheels and skeletons\n"
	 "\n"
	 "With --repair, what could not be fixed is printed as \"still damaged: ...\" lines\n"
	 "and the envs concerned as \"damaged envs: NAME...\".\n"
	 "\n"
	 "The cache store of a `venvfs --remote` mount (--store CACHE) holds only what was\n"
	 "fetched: an object its envs name that is not there is counted as not fetched\n"
	 "yet, not reported as missing; a corrupt one is reported (--repair moves it\n"
	 "aside, and the mount fetches it again).\n"
	 "\n"
	 "Exit status: 0 the store is clean, 1 problems were found (with --repair: some\n"
	 "remain), 2 the check could not run (bad option, unreadable store or source),\n"
	 "3 (--repair) problems were found and all repaired.\n"
	 "Without --repair nothing is changed.\n"};

const struct vc_command vc_command_du = {"du", cmd_du, "[--json] [--bytes] [NAME...]",
	 "per env: logical, shared and unique bytes; store totals",
	 "Show, for each env (or each NAME), how much it uses and how much of that it\n"
	 "shares, from its committed root tree:\n"
	 "\n"
	 "    LOGICAL     the sizes of all its files, as `du -sb` on the mount counts them\n"
	 "                (a file stored once but present twice counts twice)\n"
	 "    REFERENCED  the sizes of the distinct file objects it uses (its history's\n"
	 "                earlier states included: they go with the env)\n"
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
	 "read.\n"};
