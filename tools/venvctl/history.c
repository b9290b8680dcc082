/*
 * history.c - venvctl history, rollback and snapshot: show an env's recorded changes,
 * put back an earlier state, keep named states (core/history.h does the work).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "env/env.h"
#include "util/error.h"
#include "util/strv.h"
#include "ops/envstate.h"
#include "env/history.h"

static void fmt_time(int64_t ns, char *buf, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, cap, "%lld", (long long)t);
}

/* "+requests 2.31.0, -six 1.16.0, flask 2.0 -> 3.0" (or JSON objects). */
static void print_changes(FILE *f, const struct vv_hist_change *c, size_t n, bool json)
{
	for (size_t i = 0; i < n; i++) {
		if (json) {
			fprintf(f, "%s{\"change\": \"%s\", \"name\": ", i ? ", " : "",
				c[i].kind == '+' ? "added" : c[i].kind == '-' ? "removed" : "changed");
			vc_json_str(f, c[i].name);
			if (c[i].old_version) {
				fputs(", \"old_version\": ", f);
				vc_json_str(f, c[i].old_version);
			}
			if (c[i].new_version) {
				fputs(", \"new_version\": ", f);
				vc_json_str(f, c[i].new_version);
			}
			fputc('}', f);
		} else if (c[i].kind == '~') {
			fprintf(f, "%s%s %s -> %s", i ? ", " : "", c[i].name, c[i].old_version,
				c[i].new_version);
		} else {
			fprintf(f, "%s%c%s %s", i ? ", " : "", c[i].kind, c[i].name,
				c[i].kind == '+' ? c[i].new_version : c[i].old_version);
		}
	}
}

static int show_history(struct vc_ctx *c, const char *name, bool json)
{
	struct vv_envcfg cfg;
	vv_err_clear();
	int r = vv_env_load(c->st, name, &cfg);
	if (r < 0) {
		vc_msg(c, "%s", vv_errmsg());
		return VC_EXIT_PROBLEMS;
	}
	struct vv_history h;
	if ((r = vv_history_load(c->st, name, &h)) < 0) {
		vv_envcfg_release(&cfg);
		vc_msg(c, "%s", vv_errmsg());
		return VC_EXIT_PROBLEMS;
	}
	int rc = 0;
	if (json) {
		printf("{\"env\": ");
		vc_json_str(stdout, name);
		char hx[VV_OID_HEX + 1];
		vv_oid_hex(&cfg.root, hx);
		printf(", \"root\": \"%s\", \"entries\": [", hx);
	} else if (!h.n) {
		printf("env '%s': no history\n", name);
	}
	for (size_t k = h.n; k-- > 0;) {
		const struct vv_hist_entry *e = &h.ents[k];
		struct vv_hist_change *ch = NULL;
		size_t nch = 0;
		vv_err_clear();
		int dr = vv_history_diff(c->st, &e->old_root, &e->new_root, &ch, &nch);
		char when[64], o[VV_OID_HEX + 1], w[VV_OID_HEX + 1];
		fmt_time(e->end_ns, when, sizeof(when));
		vv_oid_hex(&e->old_root, o);
		vv_oid_hex(&e->new_root, w);
		if (json) {
			printf("%s{\"id\": %" PRIu64 ", \"time\": %.3f, \"start_time\": %.3f, "
			       "\"source\": ", k + 1 < h.n ? ", " : "", e->id, (double)e->end_ns / 1e9,
			       (double)e->start_ns / 1e9);
			vc_json_str(stdout, e->source);
			printf(", \"old_root\": \"%s\", \"new_root\": \"%s\", \"current\": %s, "
			       "\"changes\": [", o, w, vv_oid_eq(&e->new_root, &cfg.root) ? "true"
											  : "false");
			if (dr == 0)
				print_changes(stdout, ch, nch, true);
			printf("]");
			if (dr < 0) {
				printf(", \"error\": ");
				vc_json_str(stdout, vv_errmsg());
			}
			printf("}");
		} else {
			printf("%4" PRIu64 "  %s  %-8s  ", e->id, when, e->source);
			if (dr < 0)
				printf("(cannot compare: %s)", vv_errmsg());
			else if (!nch)
				printf("(files changed, no package changes)");
			else
				print_changes(stdout, ch, nch, false);
			printf("\n");
		}
		if (dr < 0)
			rc = VC_EXIT_PROBLEMS;
		vv_history_diff_free(ch, nch);
	}
	if (json) {
		printf("], \"snapshots\": [");
		for (size_t i = 0; i < h.nsnaps; i++) {
			char hx[VV_OID_HEX + 1];
			vv_oid_hex(&h.snaps[i].root, hx);
			printf("%s{\"tag\": ", i ? ", " : "");
			vc_json_str(stdout, h.snaps[i].tag);
			printf(", \"time\": %.3f, \"root\": \"%s\"}", (double)h.snaps[i].time_ns / 1e9,
			       hx);
		}
		printf("]}\n");
	} else {
		for (size_t i = 0; i < h.nsnaps; i++) {
			char when[64];
			fmt_time(h.snaps[i].time_ns, when, sizeof(when));
			printf("snapshot  %s  %s%s\n", when, h.snaps[i].tag,
			       vv_oid_eq(&h.snaps[i].root, &cfg.root) ? "  (current state)" : "");
		}
	}
	vv_history_release(&h);
	vv_envcfg_release(&cfg);
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		return VC_EXIT_USAGE;
	}
	return rc;
}

static int cmd_history(struct vc_ctx *c, int argc, char **argv)
{
	bool json = false;
	const char *name = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (vc_is_help(a)) {
			vc_print_command_help(stdout, c->self);
			return 0;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (a[0] == '-' && a[1]) {
			if (vc_global_opt(c, argc, argv, &i))
				return VC_EXIT_USAGE;
		} else if (name) {
			return vc_usage_error(c, "unexpected argument '%s' (one env at a time)", a);
		} else {
			name = a;
		}
	}
	if (!name)
		return vc_usage_error(c, "no env name given");
	int rc = vc_open_store(c);
	return rc ? rc : show_history(c, name, json);
}

static int cmd_rollback(struct vc_ctx *c, int argc, char **argv)
{
	const char *args[2] = {NULL, NULL};
	int nargs = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (vc_is_help(a)) {
			vc_print_command_help(stdout, c->self);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			if (vc_global_opt(c, argc, argv, &i))
				return VC_EXIT_USAGE;
		} else if (nargs == 2) {
			return vc_usage_error(c, "unexpected argument '%s'", a);
		} else {
			args[nargs++] = a;
		}
	}
	if (!nargs)
		return vc_usage_error(c, "no env name given");
	int rc = vc_open_store(c);
	if (rc)
		return rc;
	vv_oid to;
	vv_err_clear();
	if (vc_commit_mounts(c, args[0]) < 0)
		return VC_EXIT_PROBLEMS;
	int r = vv_envstate_rollback(c->st, args[0], args[1], &to);
	if (r < 0) {
		vc_msg(c, "%s", vv_errmsg());
		return VC_EXIT_PROBLEMS;
	}
	if (r == 0)
		vc_sync_mounts(c);
	char hx[VV_OID_HEX + 1], what[128];
	vv_oid_hex(&to, hx);
	if (!args[1])
		snprintf(what, sizeof(what), "the state before its last entry");
	else if (strspn(args[1], "0123456789") == strlen(args[1]))
		snprintf(what, sizeof(what), "the state before entry %s", args[1]);
	else
		snprintf(what, sizeof(what), "snapshot '%s'", args[1]);
	if (r == 1)
		printf("env '%s': already in %s (root %.12s); nothing changed\n", args[0], what,
		       hx);
	else
		printf("env '%s': rolled back to %s (root %.12s)\n", args[0], what, hx);
	return fflush(stdout) ? VC_EXIT_USAGE : 0;
}

static int list_snapshots(struct vc_ctx *c, const char *only)
{
	char **names = NULL;
	size_t n = 0;
	int r = 0, rc = 0;
	if (only) {
		struct vv_envcfg cfg;
		vv_err_clear();
		if (vv_env_load(c->st, only, &cfg) < 0) {
			vc_msg(c, "%s", vv_errmsg());
			return VC_EXIT_PROBLEMS;
		}
		vv_envcfg_release(&cfg);
		names = calloc(1, sizeof(*names));
		if (!names || !(names[0] = strdup(only))) {
			free(names);
			vc_msg(c, "out of memory");
			return VC_EXIT_USAGE;
		}
		n = 1;
	} else if ((r = vv_env_list(c->st, &names, &n)) < 0) {
		vc_msg(c, "%s", vv_errmsg());
		return VC_EXIT_PROBLEMS;
	}
	for (size_t i = 0; i < n; i++) {
		struct vv_history h;
		vv_err_clear();
		if (vv_history_load(c->st, names[i], &h) < 0) {
			vc_msg(c, "%s", vv_errmsg());
			rc = VC_EXIT_PROBLEMS;
			continue;
		}
		for (size_t k = 0; k < h.nsnaps; k++) {
			char when[64], hx[VV_OID_HEX + 1];
			fmt_time(h.snaps[k].time_ns, when, sizeof(when));
			vv_oid_hex(&h.snaps[k].root, hx);
			printf("%s\t%s\t%s\t%.12s\n", names[i], h.snaps[k].tag, when, hx);
		}
		vv_history_release(&h);
	}
	vv_strv_free(names, n);
	return fflush(stdout) ? VC_EXIT_USAGE : rc;
}

static int cmd_snapshot(struct vc_ctx *c, int argc, char **argv)
{
	bool del = false, list = false;
	const char *args[2] = {NULL, NULL};
	int nargs = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (vc_is_help(a)) {
			vc_print_command_help(stdout, c->self);
			return 0;
		} else if (!strcmp(a, "--delete") || !strcmp(a, "-d")) {
			del = true;
		} else if (!strcmp(a, "--list") || !strcmp(a, "-l")) {
			list = true;
		} else if (a[0] == '-' && a[1]) {
			if (vc_global_opt(c, argc, argv, &i))
				return VC_EXIT_USAGE;
		} else if (nargs == 2) {
			return vc_usage_error(c, "unexpected argument '%s'", a);
		} else {
			args[nargs++] = a;
		}
	}
	if (del && list)
		return vc_usage_error(c, "--delete and --list exclude each other");
	if (list && nargs > 1)
		return vc_usage_error(c, "--list takes at most one env name");
	if (!list && nargs != 2)
		return vc_usage_error(c, "%s NAME and TAG", nargs ? "missing TAG: give" : "give");
	int rc = vc_open_store(c);
	if (rc)
		return rc;
	if (list)
		return list_snapshots(c, args[0]);
	vv_err_clear();
	if (!del && vc_commit_mounts(c, args[0]) < 0)
		return VC_EXIT_PROBLEMS;
	int r = del ? vv_history_snapshot_delete(c->st, args[0], args[1])
		    : vv_envstate_snapshot(c->st, args[0], args[1]);
	if (r < 0) {
		vc_msg(c, "%s", vv_errmsg());
		return r == -EINVAL ? VC_EXIT_USAGE : VC_EXIT_PROBLEMS;
	}
	printf("env '%s': snapshot '%s' %s\n", args[0], args[1], del ? "deleted" : "taken");
	return fflush(stdout) ? VC_EXIT_USAGE : 0;
}

const struct vc_command vc_command_history = {"history", cmd_history, "[--json] NAME",
	 "show what changed in an env, newest first",
	 "Show env NAME's history: every change of its files that was committed, newest\n"
	 "first, one line each: the entry number, when, who made it and what it did to the\n"
	 "installed packages:\n"
	 "\n"
	 "      7  2026-01-05 10:12:03  mount     +requests 2.31.0, -six 1.16.0\n"
	 "      6  2026-01-05 10:10:40  add       flask 2.0.0 -> 3.0.0\n"
	 "\n"
	 "Who: `mount` (written through a mount: pip, editors, python), `add` (venvctl add),\n"
	 "`create` (venvctl create --clear/--upgrade-deps), `rollback`. Packages are compared\n"
	 "by their *.dist-info directories in site-packages (+ added, - removed, OLD -> NEW\n"
	 "another version); a change without any shows \"files changed\". Consecutive\n"
	 "commits of a mount are one entry while each follows the previous within\n"
	 "`history-coalesce` seconds (so one `pip install` is one entry) until an explicit\n"
	 "commit (`sync` of the env's directory, unmount) ends it. Named snapshots are\n"
	 "listed after the entries.\n"
	 "\n"
	 "    --json      print one JSON object: env, root, entries (id, time, start_time,\n"
	 "                source, old_root, new_root, current, changes), snapshots\n"
	 "    -h, --help  show this text\n"
	 "\n"
	 "Kept: `history-keep` entries per env (default 50; 0 records none) no older than\n"
	 "`history-max-age` days (default 0: any age), set in venvfs.ini. Everything a kept\n"
	 "entry or a snapshot references is kept by `venvctl gc`. An env's history goes\n"
	 "with the env when it is removed and follows it when it is renamed.\n"
	 "\n"
	 "Exits 0, 1 if the env or its history cannot be read (or an entry cannot be\n"
	 "compared), 2 on a usage error.\n"};

const struct vc_command vc_command_rollback = {"rollback", cmd_rollback, "NAME [ENTRY|TAG]",
	 "put an env back as it was before a history entry, or at a snapshot",
	 "Put env NAME back in the state it had before history entry ENTRY (a number from\n"
	 "`venvctl history NAME`), or in the state of snapshot TAG. Without either, undo the\n"
	 "last entry. The rollback replaces the env's root in one atomic step: nothing is\n"
	 "copied, and a running mount shows the old state at once. It is recorded as an\n"
	 "entry of its own (source `rollback`), so `venvctl rollback NAME` again undoes it.\n"
	 "\n"
	 "    -h, --help  show this text\n"
	 "\n"
	 "Refused while a mount holds changes to the env that are not committed yet (run\n"
	 "`sync MNT/NAME`, or wait a second, and try again), when the entry was pruned or\n"
	 "never existed, and when the old state is for another Python minor version than\n"
	 "the env's interpreter. The env's settings (interpreter, prompt, system site\n"
	 "packages) are not changed; only its files are.\n"
	 "\n"
	 "Exits 0 (also when the env already is in that state), 1 if it was refused or\n"
	 "failed (the reason on stderr), 2 on a usage error.\n"};

const struct vc_command vc_command_snapshot = {"snapshot", cmd_snapshot,
	 "NAME TAG | --delete NAME TAG | --list [NAME]",
	 "name an env's current state, to roll back to later",
	 "Record env NAME's committed state under TAG. A snapshot is kept until deleted,\n"
	 "whatever the history policy, and `venvctl rollback NAME TAG` puts it back. Taking\n"
	 "one costs a line in history/NAME: the files are already in the store, and gc keeps\n"
	 "them while the snapshot exists. Snapshots go with the env when it is removed.\n"
	 "\n"
	 "TAG: up to 64 letters, digits and '._+-', starting with a letter.\n"
	 "\n"
	 "    -d, --delete  delete snapshot TAG of NAME (its files become garbage unless\n"
	 "                  something else uses them)\n"
	 "    -l, --list    list the snapshots of NAME, or of every env: one line each,\n"
	 "                  env, tag, time and root, tab separated\n"
	 "    -h, --help    show this text\n"
	 "\n"
	 "Refused while a mount holds changes to the env that are not committed yet (run\n"
	 "`sync MNT/NAME` first) and when TAG exists.\n"
	 "\n"
	 "Exits 0, 1 if refused or failed, 2 on a usage error (also a bad TAG).\n"};
