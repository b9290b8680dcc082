/*
 * test_history.c - env history (core/history.c) on small hand-built stores: every root
 * change through the env transaction is one entry, an unchanged root none; mount commits that
 * continue each other closely are coalesced and an explicit commit ends the batch;
 * pruning by count and age; the history follows renames and goes with removal; a
 * damaged or unreadable history file is a clear error (never a crash, and it blocks
 * no commit);
 * rollback by default, entry and snapshot, refused with pending mount changes or
 * another Python; package diffs; gc keeps what a kept entry or snapshot references
 * and frees it once none does; config keys.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env/txn.h"
#include "ops/envstate.h"
#include "util/config.h"
#include "env/env.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "ops/gc.h"
#include "util/hash.h"
#include "env/history.h"
#include "ops/fsck.h"
#include "ops/stats.h"
#include "store/store.h"
#include "store/tree.h"

#define SEC 1000000000LL

/* A root with lib/python3.<minor>/site-packages holding NAME-VER.dist-info dirs (each
 * with a METADATA naming it) and a file whose content is `extra`. */
static vv_oid mkroot(struct vv_store *st, int minor, const char *const *dists, size_t n,
		     const char *extra)
{
	struct vv_tree_ent site[16];
	char *names[16];
	assert_true(n + 1 <= 16);
	for (size_t i = 0; i < n; i++) {
		struct vv_tree_ent md = vt_file_ent("METADATA", vt_put(st, dists[i]), strlen(dists[i]));
		char *nm = malloc(strlen(dists[i]) + 16);
		sprintf(nm, "%s.dist-info", dists[i]);
		names[i] = nm;
		site[i] = vt_dir_ent(nm, vt_tree(st, &md, 1));
	}
	site[n] = vt_file_ent("extra.py", vt_put(st, extra), strlen(extra));
	vv_oid sp = vt_tree(st, site, n + 1);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	struct vv_tree_ent e = vt_dir_ent("site-packages", sp);
	vv_oid py = vt_tree(st, &e, 1);
	char pyname[32];
	snprintf(pyname, sizeof(pyname), "python3.%d", minor);
	e = vt_dir_ent(pyname, py);
	vv_oid lib = vt_tree(st, &e, 1);
	e = vt_dir_ent("lib", lib);
	return vt_tree(st, &e, 1);
}

static void save_root(struct vv_store *st, const char *name, vv_oid root, const char *src)
{
	struct vv_envcfg cfg;
	assert_int_equal(vv_env_load(st, name, &cfg), 0);
	cfg.root = root;
	int r = vt_env_save(st, name, &cfg, src, 0);
	if (r < 0)
		fail_msg("vt_env_save: %s", vv_errmsg());
	vv_envcfg_release(&cfg);
}

static struct vv_history load(struct vv_store *st, const char *name)
{
	struct vv_history h;
	int r = vv_history_load(st, name, &h);
	if (r < 0)
		fail_msg("vv_history_load: %s", vv_errmsg());
	return h;
}

static const char *const D0[] = {"six-1.16.0"};
static const char *const D1[] = {"Flask-2.0", "requests-2.31.0", "six-1.16.0"};
static const char *const D2[] = {"Flask-3.0", "requests-2.31.0"};

static void test_record_and_diff(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid r0 = mkroot(st, 11, D0, 1, "0"), r1 = mkroot(st, 11, D1, 3, "1"),
	       r2 = mkroot(st, 11, D2, 2, "2");
	vt_mkenv(st, "e", r0);
	struct vv_history h = load(st, "e");
	assert_int_equal(h.n, 0); /* creating an env is no entry */
	vv_history_release(&h);

	save_root(st, "e", r1, "add");
	save_root(st, "e", r1, "add"); /* same root: nothing */
	save_root(st, "e", r2, "create");
	h = load(st, "e");
	assert_int_equal(h.n, 2);
	assert_int_equal(h.ents[0].id, 1);
	assert_int_equal(h.ents[1].id, 2);
	assert_string_equal(h.ents[0].source, "add");
	assert_string_equal(h.ents[1].source, "create");
	assert_true(vv_oid_eq(&h.ents[0].old_root, &r0));
	assert_true(vv_oid_eq(&h.ents[0].new_root, &r1));
	assert_true(vv_oid_eq(&h.ents[1].old_root, &r1));
	assert_true(vv_oid_eq(&h.ents[1].new_root, &r2));
	assert_false(h.ents[0].open);
	vv_history_release(&h);

	struct vv_hist_change *c;
	size_t n;
	assert_int_equal(vv_history_diff(st, &r0, &r1, &c, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].kind, '+');
	assert_string_equal(c[0].name, "Flask");
	assert_string_equal(c[0].new_version, "2.0");
	assert_null(c[0].old_version);
	assert_int_equal(c[1].kind, '+');
	assert_string_equal(c[1].name, "requests");
	vv_history_diff_free(c, n);
	assert_int_equal(vv_history_diff(st, &r1, &r2, &c, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].kind, '~');
	assert_string_equal(c[0].old_version, "2.0");
	assert_string_equal(c[0].new_version, "3.0");
	assert_int_equal(c[1].kind, '-');
	assert_string_equal(c[1].name, "six");
	assert_string_equal(c[1].old_version, "1.16.0");
	vv_history_diff_free(c, n);
	/* a root that is no env (no lib/) has no packages */
	struct vv_tree_ent x = vt_file_ent("x", vt_put(st, "x"), 1);
	vv_oid bare = vt_tree(st, &x, 1);
	assert_int_equal(vv_history_diff(st, &bare, &r0, &c, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].kind, '+');
	vv_history_diff_free(c, n);
	vt_store_free(st);
}

static void test_coalesce(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid r[8];
	for (int i = 0; i < 8; i++) {
		char ex[8];
		snprintf(ex, sizeof(ex), "%d", i);
		r[i] = mkroot(st, 11, D0, 1, ex);
	}
	vt_mkenv(st, "e", r[0]);
	const int64_t t = 1700000000 * SEC;
	unsigned timed = VV_HIST_COALESCE | VV_HIST_OPEN, expl = VV_HIST_COALESCE;
	/* a pip run: two timed commits 3 s apart and a final explicit one: one entry */
	assert_int_equal(vv_history_record(st, "e", &r[0], &r[1], "mount", timed, t, NULL, NULL), 0);
	assert_int_equal(vv_history_record(st, "e", &r[1], &r[2], "mount", timed, t + 3 * SEC,
					   NULL, NULL), 0);
	assert_int_equal(vv_history_record(st, "e", &r[2], &r[3], "mount", expl, t + 4 * SEC,
					   NULL, NULL), 0);
	struct vv_history h = load(st, "e");
	assert_int_equal(h.n, 1);
	assert_true(vv_oid_eq(&h.ents[0].old_root, &r[0]));
	assert_true(vv_oid_eq(&h.ents[0].new_root, &r[3]));
	assert_int_equal(h.ents[0].start_ns, t);
	assert_int_equal(h.ents[0].end_ns, t + 4 * SEC);
	assert_false(h.ents[0].open);
	vv_history_release(&h);
	/* closed by the explicit commit: the next timed one is a new entry */
	assert_int_equal(vv_history_record(st, "e", &r[3], &r[4], "mount", timed, t + 5 * SEC,
					   NULL, NULL), 0);
	/* too long after the previous commit (default window 10 s): new entry */
	assert_int_equal(vv_history_record(st, "e", &r[4], &r[5], "mount", timed, t + 30 * SEC,
					   NULL, NULL), 0);
	/* another source never joins a mount batch */
	assert_int_equal(vv_history_record(st, "e", &r[5], &r[6], "add", 0, t + 31 * SEC, NULL,
					   NULL), 0);
	/* a mount commit that does not continue the last entry's root: new entry */
	assert_int_equal(vv_history_record(st, "e", &r[6], &r[7], "mount", timed, t + 32 * SEC,
					   NULL, NULL), 0);
	assert_int_equal(vv_history_record(st, "e", &r[1], &r[2], "mount", timed, t + 33 * SEC,
					   NULL, NULL), 0);
	h = load(st, "e");
	assert_int_equal(h.n, 6);
	assert_true(h.ents[5].open);
	assert_string_equal(h.ents[3].source, "add");
	assert_int_equal(h.next_id, 7);
	vv_history_release(&h);
	/* a batch that comes back to where it started is no change at all */
	assert_int_equal(vv_history_record(st, "e", &r[2], &r[1], "mount", timed, t + 34 * SEC,
					   NULL, NULL), 0);
	h = load(st, "e");
	assert_int_equal(h.n, 5);
	assert_int_equal(h.next_id, 7); /* ids are never reused */
	vv_history_release(&h);
	/* the window is configurable: 80 s apart still extends the batch */
	st->hist_coalesce_s = 100;
	assert_int_equal(vv_history_record(st, "e", &r[0], &r[1], "mount", timed, t + 40 * SEC,
					   NULL, NULL), 0);
	assert_int_equal(vv_history_record(st, "e", &r[1], &r[2], "mount", timed, t + 120 * SEC,
					   NULL, NULL), 0);
	h = load(st, "e");
	assert_int_equal(h.n, 6);
	assert_true(vv_oid_eq(&h.ents[5].new_root, &r[2]));
	vv_history_release(&h);
	/* closing a batch without a change (a sync that found nothing to write): the next
	 * commit within the window is a new entry all the same */
	assert_int_equal(vv_history_close_batch(st, "e"), 0);
	assert_int_equal(vv_history_close_batch(st, "nohistory"), 0);
	h = load(st, "e");
	assert_false(h.ents[5].open);
	vv_history_release(&h);
	assert_int_equal(vv_history_record(st, "e", &r[2], &r[3], "mount", timed, t + 121 * SEC,
					   NULL, NULL), 0);
	h = load(st, "e");
	assert_int_equal(h.n, 7);
	vv_history_release(&h);
	vt_store_free(st);
}

static void test_prune(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid r[8];
	for (int i = 0; i < 8; i++) {
		char ex[8];
		snprintf(ex, sizeof(ex), "%d", i);
		r[i] = mkroot(st, 11, D0, 1, ex);
	}
	const int64_t t = 1700000000 * SEC;
	st->hist_keep = 3;
	for (int i = 0; i < 5; i++)
		assert_int_equal(vv_history_record(st, "e", &r[i], &r[i + 1], "add", 0,
						   t + i * SEC, NULL, NULL), 0);
	struct vv_history h = load(st, "e");
	assert_int_equal(h.n, 3);
	assert_int_equal(h.ents[0].id, 3);
	assert_int_equal(h.ents[2].id, 5);
	vv_history_release(&h);
	/* by age: entries last changed more than 100 s before the new one go */
	st->hist_keep = 50;
	st->hist_max_age_s = 100;
	assert_int_equal(vv_history_record(st, "e", &r[5], &r[6], "add", 0, t + 104 * SEC, NULL,
					   NULL), 0);
	h = load(st, "e");
	assert_int_equal(h.n, 2); /* 3 (t+2) and 4 (t+3) are older than 100 s, 5 (t+4) not */
	assert_int_equal(h.ents[0].id, 5);
	assert_int_equal(h.ents[1].id, 6);
	vv_history_release(&h);
	/* keep = 0: no new entries, old ones dropped at the next change; snapshots stay */
	st->hist_max_age_s = 0;
	vt_mkenv(st, "p", r[0]);
	save_root(st, "p", r[1], "add");
	save_root(st, "p", r[6], "add");
	assert_int_equal(vv_envstate_snapshot(st, "p", "tagged"), 0);
	h = load(st, "p");
	assert_int_equal(h.n, 2);
	vv_history_release(&h);
	st->hist_keep = 0;
	save_root(st, "p", r[7], "add");
	h = load(st, "p");
	assert_int_equal(h.n, 0);
	assert_int_equal(h.nsnaps, 1);
	assert_true(vv_oid_eq(&h.snaps[0].root, &r[6]));
	vv_history_release(&h);
	/* history off and no file: none is written */
	vt_mkenv(st, "quiet", r[0]);
	save_root(st, "quiet", r[1], "add");
	struct stat sb;
	assert_int_equal(fstatat(st->historyfd, "quiet", &sb, 0), -1);
	vt_store_free(st);
}

static void test_rename_remove(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid r0 = mkroot(st, 11, D0, 1, "0"), r1 = mkroot(st, 11, D1, 3, "1");
	vt_mkenv(st, "e", r0);
	save_root(st, "e", r1, "add");
	assert_int_equal(vv_envstate_snapshot(st, "e", "v1"), 0);
	assert_int_equal(vv_txn_rename(st, "e", "f"), 0);
	struct vv_history h = load(st, "f");
	assert_int_equal(h.n, 1);
	assert_int_equal(h.nsnaps, 1);
	vv_history_release(&h);
	h = load(st, "e");
	assert_int_equal(h.n + h.nsnaps, 0);
	vv_history_release(&h);
	/* a new env of the old name starts without history, even over a leftover file */
	assert_int_equal(vv_write_file_atomic(st->historyfd, "g", "junk", 4, 0644), 0);
	vt_mkenv(st, "g", r0);
	h = load(st, "g");
	assert_int_equal(h.n, 0);
	vv_history_release(&h);
	/* removal takes the history and its snapshots along */
	assert_int_equal(vv_txn_remove(st, "f"), 0);
	struct stat sb;
	assert_int_equal(fstatat(st->historyfd, "f", &sb, 0), -1);
	assert_int_equal(vv_txn_remove(st, "f"), -ENOENT);
	vt_store_free(st);
}

static void test_corrupt(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid r0 = mkroot(st, 11, D0, 1, "0"), r1 = mkroot(st, 11, D1, 3, "1"),
	       r2 = mkroot(st, 11, D2, 2, "2");
	vt_mkenv(st, "e", r0);
	save_root(st, "e", r1, "add");
	assert_int_equal(vv_envstate_snapshot(st, "e", "snap"), 0);
	char *good;
	size_t glen;
	assert_int_equal(vv_read_file_at(st->historyfd, "e", 1 << 20, &good, &glen), 0);
	/* every truncation and every single-byte change parses or fails cleanly */
	struct vv_history h;
	for (size_t cut = 0; cut < glen; cut++) {
		int r = vv_history_parse(good, cut, "e", &h);
		assert_true(r == 0 || r == -EUCLEAN);
		if (r == 0)
			vv_history_release(&h);
	}
	char *bad = malloc(glen);
	for (size_t i = 0; i < glen; i++) {
		memcpy(bad, good, glen);
		bad[i] = bad[i] == 'z' ? '\n' : 'z';
		int r = vv_history_parse(bad, glen, "e", &h);
		assert_true(r == 0 || r == -EUCLEAN);
		if (r == 0)
			vv_history_release(&h);
	}
	free(bad);
	const char *cases[] = {
		"",
		"venvfs-history 2 1\n",
		"venvfs-history 1 3\ne 1 5 5 0 abc def add\n",
		"venvfs-history 1 3\nx what\n",
		"venvfs-history 1 1\n", /* fine */
		"venvfs-history 1 2\ne 1 5 5 0 @ @ add", /* torn: no newline */
		"venvfs-history 1 2\ne 2 5 5 0 @ @ add\n", /* id >= next id */
		"venvfs-history 1 9\ne 1 5 5 0 @ @ Add\n", /* bad source */
		"venvfs-history 1 9\ns 5 @ 9bad\n",
	};
	char hx[VV_OID_HEX + 1];
	vv_oid_hex(&r0, hx);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		size_t tl = 0;
		for (const char *c = cases[i]; *c; c++) {
			if (*c == '@') {
				memcpy(text + tl, hx, VV_OID_HEX);
				tl += VV_OID_HEX;
			} else {
				text[tl++] = *c;
			}
		}
		text[tl] = 0;
		int r = vv_history_parse(text, strlen(text), "e", &h);
		if (i == 4) {
			assert_int_equal(r, 0);
			vv_history_release(&h);
			continue;
		}
		assert_int_equal(r, -EUCLEAN);
		assert_non_null(strstr(vv_errmsg(), "history/e:"));
	}
	/* a damaged file in the store: load, rollback, snapshot and gc say so ... */
	const char *junk = "venvfs-history 1 2\ngarbage here\n";
	assert_int_equal(vv_write_file_atomic(st->historyfd, "e", junk, strlen(junk), 0644), 0);
	assert_int_equal(vv_history_load(st, "e", &h), -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "history/e:2: unknown record"));
	vv_oid to;
	assert_int_equal(vv_envstate_rollback(st, "e", NULL, &to), -EUCLEAN);
	assert_int_equal(vv_envstate_snapshot(st, "e", "other"), -EUCLEAN);
	struct vv_gc_opts o = {.grace_s = 0};
	struct vv_gc_result res;
	assert_int_equal(vv_gc(st, &o, &res), -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "history/e"));
	assert_int_equal(res.freed, 0);
	struct vv_fsck_summary sum;
	assert_true(vv_fsck(st, NULL, NULL, &sum) >= 1);
	/* ... but the env still commits, and the file is left for repair */
	save_root(st, "e", r2, "add");
	vv_oid now = vt_env_root(st, "e");
	assert_true(vv_oid_eq(&now, &r2));
	char *after;
	size_t alen;
	assert_int_equal(vv_read_file_at(st->historyfd, "e", 1 << 20, &after, &alen), 0);
	assert_int_equal(alen, strlen(junk));
	assert_memory_equal(after, junk, alen);
	free(after);
	/* a history that cannot even be read (here: a directory) blocks no commit either */
	assert_int_equal(unlinkat(st->historyfd, "e", 0), 0);
	assert_int_equal(mkdirat(st->historyfd, "e", 0755), 0);
	save_root(st, "e", r1, "add");
	now = vt_env_root(st, "e");
	assert_true(vv_oid_eq(&now, &r1));
	assert_int_equal(unlinkat(st->historyfd, "e", AT_REMOVEDIR), 0);
	free(good);
	vt_store_free(st);
}

static void test_rollback(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid r0 = mkroot(st, 11, D0, 1, "0"), r1 = mkroot(st, 11, D1, 3, "1"),
	       r2 = mkroot(st, 11, D2, 2, "2"), other = mkroot(st, 12, D0, 1, "0");
	vt_mkenv(st, "e", r0);
	vv_oid to;
	assert_int_equal(vv_envstate_rollback(st, "e", NULL, &to), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "no history"));
	save_root(st, "e", r1, "add");
	assert_int_equal(vv_envstate_snapshot(st, "e", "one"), 0);
	assert_int_equal(vv_envstate_snapshot(st, "e", "one"), -EEXIST);
	assert_int_equal(vv_envstate_snapshot(st, "e", "1x"), -EINVAL);
	assert_int_equal(vv_envstate_snapshot(st, "e", "a/b"), -EINVAL);
	save_root(st, "e", r2, "add");
	/* default: undo the last entry */
	assert_int_equal(vv_envstate_rollback(st, "e", NULL, &to), 0);
	assert_true(vv_oid_eq(&to, &r1));
	vv_oid cur = vt_env_root(st, "e");
	assert_true(vv_oid_eq(&cur, &r1));
	struct vv_history h = load(st, "e");
	assert_int_equal(h.n, 3);
	assert_string_equal(h.ents[2].source, "rollback");
	vv_history_release(&h);
	/* undoing the rollback */
	assert_int_equal(vv_envstate_rollback(st, "e", NULL, &to), 0);
	cur = vt_env_root(st, "e");
	assert_true(vv_oid_eq(&cur, &r2));
	/* by entry: the state before entry 1 */
	assert_int_equal(vv_envstate_rollback(st, "e", "1", &to), 0);
	cur = vt_env_root(st, "e");
	assert_true(vv_oid_eq(&cur, &r0));
	assert_int_equal(vv_envstate_rollback(st, "e", "1", &to), 1); /* already there */
	/* by snapshot */
	assert_int_equal(vv_envstate_rollback(st, "e", "one", &to), 0);
	cur = vt_env_root(st, "e");
	assert_true(vv_oid_eq(&cur, &r1));
	assert_int_equal(vv_envstate_rollback(st, "e", "42", &to), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "42"));
	assert_int_equal(vv_envstate_rollback(st, "e", "nope", &to), -ENOENT);
	assert_int_equal(vv_envstate_rollback(st, "missing", NULL, &to), -ENOENT);
	/* pending mount changes: refused, nothing changes */
	char hx[VV_OID_HEX + 1], jr[200];
	vv_oid_hex(&r1, hx);
	snprintf(jr, sizeof(jr), "venvfs-journal 1 %s\nsomething\n", hx);
	assert_int_equal(vv_write_file_atomic(st->journalfd, "e", jr, strlen(jr), 0644), 0);
	assert_int_equal(vv_envstate_rollback(st, "e", NULL, &to), -EBUSY);
	assert_non_null(strstr(vv_errmsg(), "not committed"));
	assert_int_equal(vv_envstate_snapshot(st, "e", "two"), -EBUSY);
	cur = vt_env_root(st, "e");
	assert_true(vv_oid_eq(&cur, &r1));
	/* a header-only journal is no pending change: it is removed by the rollback */
	snprintf(jr, sizeof(jr), "venvfs-journal 1 %s\n", hx);
	assert_int_equal(vv_write_file_atomic(st->journalfd, "e", jr, strlen(jr), 0644), 0);
	assert_int_equal(vv_envstate_rollback(st, "e", NULL, &to), 0);
	struct stat sb;
	assert_int_equal(fstatat(st->journalfd, "e", &sb, 0), -1);
	/* a state of another Python minor version is refused */
	save_root(st, "e", other, "create");
	assert_int_equal(vv_envstate_rollback(st, "e", NULL, &to), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "python3.11"));
	cur = vt_env_root(st, "e");
	assert_true(vv_oid_eq(&cur, &other));
	/* a snapshot can be deleted once */
	assert_int_equal(vv_history_snapshot_delete(st, "e", "one"), 0);
	assert_int_equal(vv_history_snapshot_delete(st, "e", "one"), -ENOENT);
	vt_store_free(st);
}

static bool has(struct vv_store *st, const vv_oid *oid)
{
	int r = vv_odb_has(&st->odb, oid);
	assert_true(r >= 0);
	return r == 1;
}

static void test_gc_roots(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid only0 = vt_put(st, "only in state 0");
	vv_oid only1 = vt_put(st, "only in state 1");
	vv_oid onlysnap = vt_put(st, "only in the snapshot");
	struct vv_tree_ent e0 = vt_file_ent("a", only0, strlen("only in state 0"));
	struct vv_tree_ent e1 = vt_file_ent("b", only1, strlen("only in state 1"));
	struct vv_tree_ent es = vt_file_ent("c", onlysnap, strlen("only in the snapshot"));
	vv_oid r0 = vt_tree(st, &e0, 1), r1 = vt_tree(st, &e1, 1), rs = vt_tree(st, &es, 1);
	vv_oid r2 = mkroot(st, 11, D0, 1, "2");
	vt_mkenv(st, "e", rs);
	assert_int_equal(vv_envstate_snapshot(st, "e", "keep"), 0);
	save_root(st, "e", r0, "add");
	save_root(st, "e", r1, "add");
	save_root(st, "e", r2, "add");
	struct vv_gc_opts o = {.grace_s = 3600, .now_s = time(NULL) + 7200};
	struct vv_gc_result res;
	assert_int_equal(vv_gc(st, &o, &res), 0);
	assert_int_equal(res.histories, 1);
	assert_true(has(st, &only0) && has(st, &only1) && has(st, &onlysnap));
	assert_true(has(st, &r0) && has(st, &r1) && has(st, &rs));
	/* stats counts what the history holds as the env's, fsck checks it */
	struct vv_stats s;
	assert_int_equal(vv_stats_collect(st, &s), 0);
	assert_int_equal(s.unreachable, 0);
	assert_null(s.envs[0].error);
	vv_stats_release(&s);
	assert_int_equal(vv_fsck(st, NULL, NULL, NULL), 0);
	/* pruned to the last entry (r1 -> r2): state 0 goes, state 1 stays */
	st->hist_keep = 1;
	vv_oid r3 = mkroot(st, 11, D0, 1, "3");
	save_root(st, "e", r3, "add");
	save_root(st, "e", r2, "add"); /* entries now: r3 -> r2 only */
	struct vv_history h = load(st, "e");
	assert_int_equal(h.n, 1);
	vv_history_release(&h);
	assert_int_equal(vv_gc(st, &o, &res), 0);
	assert_false(has(st, &only0));
	assert_false(has(st, &only1));
	assert_true(has(st, &onlysnap)); /* the snapshot is kept regardless */
	/* the snapshot deleted: its state goes too */
	assert_int_equal(vv_history_snapshot_delete(st, "e", "keep"), 0);
	assert_int_equal(vv_gc(st, &o, &res), 0);
	assert_false(has(st, &onlysnap));
	assert_int_equal(vv_fsck(st, NULL, NULL, NULL), 0);
	vt_store_free(st);
}

static void test_config(void **state)
{
	(void)state;
	struct vv_config cfg = {0};
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\nhistory-keep = 7\nhistory-max-age = 30\n"
					  "history-coalesce = 3\n", "t.ini"), 0);
	struct vv_store *st = vt_store_new();
	assert_int_equal(st->hist_keep, VV_HIST_KEEP_DEFAULT);
	assert_int_equal(st->hist_coalesce_s, VV_HIST_COALESCE_DEFAULT);
	vv_history_policy(st, &cfg);
	assert_int_equal(st->hist_keep, 7);
	assert_int_equal(st->hist_max_age_s, 30 * 86400);
	assert_int_equal(st->hist_coalesce_s, 3);
	vv_config_release(&cfg);
	/* keys not given keep the defaults */
	struct vv_store *st2 = vt_store_new();
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\nhistory-keep = 0\n", "t.ini"), 0);
	vv_history_policy(st2, &cfg);
	assert_int_equal(st2->hist_keep, 0);
	assert_int_equal(st2->hist_coalesce_s, VV_HIST_COALESCE_DEFAULT);
	vv_config_release(&cfg);
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\nhistory-keep = -1\n", "t.ini"), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "t.ini:2"));
	assert_non_null(strstr(vv_errmsg(), "history-keep"));
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\nhistory-coalesce = soon\n", "t.ini"),
			 -EINVAL);
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\nhistory-keep = 10001\n", "t.ini"),
			 -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "0 to 10000"));
	assert_int_equal(vv_config_parse(&cfg, "[venvfs]\nhistory-max-age = 99999999999\n",
					 "t.ini"), -EINVAL);
	vv_config_release(&cfg);
	vt_store_free(st);
	vt_store_free(st2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_and_diff),
		cmocka_unit_test(test_coalesce),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_rename_remove),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_gc_roots),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
