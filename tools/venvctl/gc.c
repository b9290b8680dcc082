/*
 * gc.c - venvctl gc: remove objects nothing refers to, safely while the store is mounted.
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
#include "ops/gc.h"

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

static int cmd_gc(struct vc_ctx *c, int argc, char **argv)
{
	struct vv_gc_opts o = {.grace_s = VV_GC_GRACE_DEFAULT};
	bool json = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int m;
		if (vc_is_help(a)) {
			vc_print_command_help(stdout, c->self);
			return 0;
		} else if (!strcmp(a, "--dry-run") || !strcmp(a, "-n")) {
			o.dry_run = true;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--drop-packages")) {
			o.drop_packages = true;
		} else if ((m = vc_opt_match(argc, argv, &i, "--grace", NULL, &v))) {
			if (m < 0 || parse_seconds(v, &o.grace_s) < 0)
				return vc_usage_error(c, "option '--grace' needs a whole number of "
						 "seconds (0 or more)");
		} else if (vc_global_opt(c, argc, argv, &i)) {
			return VC_EXIT_USAGE;
		}
	}
	int rc = vc_open_store(c);
	if (rc)
		return rc;
	struct vv_gc_result res;
	struct vc_bar bar;
	vc_bar_init(&bar, "gc");
	o.progress = &bar.cb;
	vv_err_clear();
	int r = vv_gc(c->st, &o, &res);
	vc_bar_done(&bar);
	if (r < 0) {
		vc_msg(c, "%s", vv_errmsg());
		return r == -EBUSY || r == -ENOMEM ? VC_EXIT_USAGE : VC_EXIT_PROBLEMS;
	}
	if (json) {
		printf("{\"store\": ");
		vc_json_str(stdout, c->st->path);
		printf(", \"dry_run\": %s, \"grace_seconds\": %lld, \"envs\": %llu, "
		       "\"journals\": %llu, \"pythons\": %llu, \"packages\": %llu, "
		       "\"packages_dropped\": %llu, \"histories\": %llu, \"reachable_trees\": %llu, "
		       "\"reachable_files\": %llu, \"objects\": %llu, \"stored_bytes\": %llu, "
		       "\"freed_objects\": %llu, \"freed_stages\": %llu, \"freed_bytes\": %llu, "
		       "\"young_objects\": %llu, "
		       "\"young_bytes\": %llu, \"seconds\": %.3f}\n",
		       o.dry_run ? "true" : "false", (long long)o.grace_s,
		       (unsigned long long)res.envs, (unsigned long long)res.journals,
		       (unsigned long long)res.pythons, (unsigned long long)res.packages,
		       (unsigned long long)res.packages_dropped, (unsigned long long)res.histories,
		       (unsigned long long)res.trees,
		       (unsigned long long)res.files, (unsigned long long)res.objects,
		       (unsigned long long)res.bytes, (unsigned long long)res.freed,
		       (unsigned long long)res.stages_freed,
		       (unsigned long long)res.freed_bytes, (unsigned long long)res.young,
		       (unsigned long long)res.young_bytes, res.seconds);
	} else {
		char a[64];
		printf("roots:     %llu envs, %llu journals, %llu interpreter caches, %llu "
		       "packages, %llu histories\n", (unsigned long long)res.envs,
		       (unsigned long long)res.journals, (unsigned long long)res.pythons,
		       (unsigned long long)res.packages, (unsigned long long)res.histories);
		if (o.drop_packages)
			printf("%s %llu package records no env uses\n",
			       o.dry_run ? "would drop:" : "dropped:   ",
			       (unsigned long long)res.packages_dropped);
		vc_human_size(res.bytes, a, sizeof(a));
		printf("objects:   %llu of %llu bytes (%s); reachable: %llu trees, %llu files\n",
		       (unsigned long long)res.objects, (unsigned long long)res.bytes, a,
		       (unsigned long long)res.trees, (unsigned long long)res.files);
		vc_human_size(res.freed_bytes, a, sizeof(a));
		char stages[64] = "";
		if (res.stages_freed)
			snprintf(stages, sizeof(stages), " and %llu stages no journal names",
				 (unsigned long long)res.stages_freed);
		printf("%s %llu objects%s, %llu bytes (%s)\n",
		       o.dry_run ? "would free:" : "freed:    ", (unsigned long long)res.freed,
		       stages, (unsigned long long)res.freed_bytes, a);
		vc_human_size(res.young_bytes, a, sizeof(a));
		printf("kept:      %llu unreachable objects of %llu bytes (%s) changed within the "
		       "grace period (%lld s)\n",
		       (unsigned long long)res.young, (unsigned long long)res.young_bytes, a,
		       (long long)o.grace_s);
		printf("time:      %.2f s\n", res.seconds);
	}
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		return VC_EXIT_USAGE;
	}
	return 0;
}

const struct vc_command vc_command_gc = {"gc", cmd_gc,
	 "[--dry-run] [--grace SECONDS] [--drop-packages] [--json]",
	 "delete objects no env, journal, history or interpreter skeleton uses",
	 "Delete the objects (file contents and trees) under objects/ that nothing can\n"
	 "reach, e.g. those of removed envs and uninstalled packages. Kept, with everything\n"
	 "they reference: the committed root of every env (envs/NAME); the root named by\n"
	 "every journal (journal/NAME) and every object its records name, also when the\n"
	 "journal is stale; the skeleton trees of every interpreter cached in pythons/;\n"
	 "the trees of every package record in packages/ (wheels ingested by `add` or\n"
	 "`create -r`, kept so that the next env gets them without unpacking).\n"
	 "every state an env's history still holds (history/NAME: the states before and\n"
	 "after each kept entry, and every snapshot; see `venvctl history --help`).\n"
	 "\n"
	 "gc refuses to delete anything when one of these cannot be read or parsed (a\n"
	 "damaged env, journal, history or pythons/ file, a missing or corrupt tree): what it\n"
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
	 "    --drop-packages    first remove the package records no env or journal\n"
	 "                       uses (and older than the grace period); their objects\n"
	 "                       are then freed like any other\n"
	 "    --json             print one JSON object instead of the report\n"
	 "    -h, --help         show this text\n"
	 "\n"
	 "Report: roots read; objects found and how many trees and files are reachable;\n"
	 "objects and bytes freed (or that would be); unreachable objects kept because of\n"
	 "the grace period; time taken.\n"
	 "\n"
	 "Exits 0 on success, 1 if gc stopped because a root could not be read (nothing\n"
	 "was deleted) or a deletion failed, 2 on a usage error, when the store could not\n"
	 "be opened or another gc holds the lock.\n"};
