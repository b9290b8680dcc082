/*
 * fsck.c - the consistency check (fsck.h): hash every object file, then walk the
 * committed root tree of every env and the roots of its history.
 *
 * The scan of objects/ and the walks share one node table (reach.h): a tree node
 * remembers that it was checked and whether something below it was wrong, so a clean
 * tree shared by many envs is walked once, while a damaged one is walked again for each
 * env so that every env and path using a broken object is named.
 *
 * Nothing here writes to the store: it may run next to a mounted daemon.
 */
#include "ops/fsck.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "env/history.h"
#include "env/journal.h"
#include "ops/manifest.h"
#include "ops/reach.h"
#include "pkg/rectpl.h"
#include "python/pyc.h"
#include "store/damaged.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/times.h"
#include "store/tree.h"
#include "util/error.h"
#include "util/strv.h"
#include "util/hash.h"

/* ---- small helpers --------------------------------------------------------------- */

/* Append s to a message buffer, showing control bytes and backslashes as escapes so a
 * report stays one line whatever the names contain. */
static void msg_escaped(char *buf, size_t cap, size_t *len, const char *s)
{
	for (; *s && *len + 5 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '\\')
			*len += (size_t)snprintf(buf + *len, cap - *len, "\\x%02x", c);
		else
			buf[(*len)++] = (char)c;
	}
	buf[*len] = 0;
}

static void free_names(char **names, size_t n)
{
	if (names)
		vv_strv_free(names, n);
}

/* ---- fsck ------------------------------------------------------------------------ */

struct fsck_ctx;
static int fsck_report(struct fsck_ctx *fc, enum vv_fsck_kind kind, const vv_oid *oid,
		       const char *env, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

struct fsck_ctx {
	struct vv_store *st;
	struct vv_reach *r;
	vv_fsck_cb cb;
	void *arg;
	struct vv_fsck_summary sum;
	struct vv_reach_path path;
	int stop;
	bool cache;                 /* a remote mount's cache: absent is unfetched */
	struct vv_oidset unfetched;
};

static int fsck_report(struct fsck_ctx *fc, enum vv_fsck_kind kind, const vv_oid *oid,
		       const char *env, const char *path, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	if (kind == VV_FSCK_MISSING && fc->cache && oid) {
		if (vv_oidset_add(&fc->unfetched, oid) < 0)
			fc->stop = -ENOMEM;
		return 0;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (env) {
		size_t len = strlen(msg);
		/* Insert " (env NAME, path P)" after the leading "what <hex>" part, keeping
		   any ": detail" at the end. */
		char tail[1024] = "";
		char *colon = strstr(msg, ": ");
		if (colon) {
			snprintf(tail, sizeof(tail), "%s", colon);
			*colon = 0;
			len = strlen(msg);
		}
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, " (env ");
		msg_escaped(msg, sizeof(msg), &len, env);
		if (len < sizeof(msg))
			len += (size_t)snprintf(msg + len, sizeof(msg) - len, ", path ");
		if (len < sizeof(msg))
			msg_escaped(msg, sizeof(msg), &len, path ? path : "/");
		if (len < sizeof(msg))
			snprintf(msg + len, sizeof(msg) - len, ")%s", tail);
	}
	fc->sum.problems++;
	if (fc->cb) {
		struct vv_fsck_problem p = {
			.kind = kind, .oid = oid, .env = env, .path = path, .msg = msg,
		};
		if (fc->cb(&p, fc->arg))
			fc->stop = 1;
	}
	return 0;
}

/* What the scan of objects/ found (vv_reach_scan): corrupt objects and anything that
 * does not belong under objects/. */
static int scan_found(const struct vv_odb_entry *e, struct vv_reach_node *n, void *arg)
{
	struct fsck_ctx *fc = arg;
	char hex[VV_OID_HEX + 1];
	switch (e->kind) {
	case VV_ODB_FAN:
		break;
	case VV_ODB_STRAY:
		fsck_report(fc, VV_FSCK_STRAY, NULL, NULL, e->rel, "stray entry %s (%s)", e->rel,
			    e->why);
		break;
	case VV_ODB_ERROR:
		if (!n) {
			/* a fan-out directory that cannot be opened */
			fsck_report(fc, VV_FSCK_IO, NULL, NULL, NULL, "cannot open %s: %s", e->rel,
				    strerror(-e->err));
			break;
		}
		vv_oid_hex(&e->oid, hex);
		fsck_report(fc, VV_FSCK_IO, &e->oid, NULL, NULL, "cannot read object %s: %s", hex,
			    vv_errmsg());
		break;
	case VV_ODB_OBJECT:
		if (!e->intact) {
			vv_oid_hex(&e->oid, hex);
			fsck_report(fc, VV_FSCK_CORRUPT, &e->oid, NULL, NULL, "corrupt object %s",
				    hex);
		}
		break;
	}
	return fc->stop ? 1 : 0;
}

/* Does the object of 'c' or 'r' entry e render as the pyc (python/pyc.h) or RECORD
 * (pkg/rectpl.h) it says? 1 yes, 0 no, -errno. */
static int tpl_ok(struct fsck_ctx *fc, struct vv_reach_node *c, const struct vv_tree_ent *e)
{
	if (c->flags & VV_RN_PYC_OK)
		return 1;
	char *t = NULL, *out = NULL;
	size_t tl = 0, ol = 0;
	bool pyc = e->kind == VV_PYC;
	int r = vv_odb_read_obj(&fc->st->odb, &c->oid,
				pyc ? VV_PYC_MAX + (1u << 20) : 2 * (size_t)VV_RECTPL_MAX, &t, &tl);
	if (r == -EUCLEAN || r == -EFBIG)
		return 0;
	if (r < 0)
		return r;
	r = pyc ? vv_pyc_render(t, tl, &e->pyc, "/", &out, &ol) :
		  vv_rectpl_render(t, tl, &e->rec, "/", &out, &ol);
	free(t);
	free(out);
	if (r == 0)
		c->flags |= VV_RN_PYC_OK;
	return r == 0 ? 1 : r == -EUCLEAN ? 0 : r;
}

/* Check the tree at node n (reached in env at fc->path). Returns 1 if problems were
 * found below, 0 if clean, -errno if the check itself failed. */
static int check_tree(struct fsck_ctx *fc, struct vv_reach_node *n, const char *env, int depth)
{
	if (fc->stop)
		return 0;
	if ((n->flags & VV_RN_CHECKED) && !(n->flags & VV_RN_BAD))
		return 0;
	const char *path = vv_reach_path_str(&fc->path);
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&n->oid, hex);
	int r = vv_reach_probe(fc->r, n, true);
	if (r < 0)
		return r;
	bool first = !(n->flags & VV_RN_CHECKED);
	n->flags |= VV_RN_CHECKED | VV_RN_TREE;
	if (n->flags & VV_RN_ABSENT) {
		n->flags |= VV_RN_BAD;
		fsck_report(fc, VV_FSCK_MISSING, &n->oid, env, path, "missing object %s", hex);
		return 1;
	}
	if (n->flags & VV_RN_CORRUPT) {
		n->flags |= VV_RN_BAD;
		fsck_report(fc, VV_FSCK_CORRUPT, &n->oid, env, path, "corrupt object %s", hex);
		return 1;
	}
	if (first)
		fc->sum.trees++;
	vv_reach_load(fc->r, n);
	if (!n->tree) {
		n->flags |= VV_RN_BAD;
		fsck_report(fc, n->err == -EUCLEAN ? VV_FSCK_BAD_TREE : VV_FSCK_IO, &n->oid, env,
			    path, "bad tree %s: %s", hex, n->errmsg ? n->errmsg : strerror(-n->err));
		return 1;
	}
	if (depth > VV_REACH_MAX_DEPTH) {
		n->flags |= VV_RN_BAD;
		fsck_report(fc, VV_FSCK_BAD_TREE, &n->oid, env, path,
			    "bad tree %s: nested more than %d levels", hex, VV_REACH_MAX_DEPTH);
		return 1;
	}
	bool bad = false;
	/* an env root's times section (store/times.h) must decode against its entries */
	if (depth == 0 && n->tree->times) {
		struct vv_times *t = NULL;
		vv_err_clear();
		r = vv_times_of(n->tree, &t);
		vv_times_unref(t);
		if (r == -EUCLEAN) {
			fsck_report(fc, VV_FSCK_BAD_TREE, &n->oid, env, path, "bad tree %s: %s",
				    hex, vv_errmsg());
			bad = true;
		} else if (r < 0) {
			return r;
		}
	}
	for (size_t i = 0; i < n->tree->n && !fc->stop; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (!vv_kind_has_oid(e->kind)) /* symlinks, FIFOs, sockets: nothing stored */
			continue;
		struct vv_reach_node *c = NULL;
		r = vv_reach_node(fc->r, &e->oid, &c);
		if (r < 0)
			return r;
		size_t saved;
		r = vv_reach_path_push(&fc->path, e->name, e->namelen, &saved);
		if (r < 0)
			return r;
		if (e->kind == VV_DIR) {
			r = check_tree(fc, c, env, depth + 1);
			if (r >= 0 && n->tree->version == 2 && c->tree) {
				/* the count the entries below are numbered with (times.h) */
				uint64_t cnt = c->tree->count;
				if (c->tree->version == 1 &&
				    vv_tree_count(fc->st, &c->oid, &cnt) < 0) {
					vv_err_clear();
					cnt = e->size; /* reported as missing or bad below */
				}
				if (cnt != e->size) {
					fsck_report(fc, VV_FSCK_BAD_TREE, &n->oid, env,
						    vv_reach_path_str(&fc->path),
						    "bad tree %s: the entry says %llu entries below "
						    "it, its tree has %llu", hex,
						    (unsigned long long)e->size,
						    (unsigned long long)cnt);
					r = 1;
				}
			}
			vv_reach_path_pop(&fc->path, saved);
			if (r < 0)
				return r;
			bad |= r > 0;
			continue;
		}
		r = vv_reach_probe(fc->r, c, true);
		if (r < 0) {
			vv_reach_path_pop(&fc->path, saved);
			return r;
		}
		char chex[VV_OID_HEX + 1];
		vv_oid_hex(&c->oid, chex);
		const char *cp = vv_reach_path_str(&fc->path);
		if (c->flags & VV_RN_ABSENT) {
			fsck_report(fc, VV_FSCK_MISSING, &c->oid, env, cp, "missing object %s", chex);
			bad = true;
		} else if (c->flags & VV_RN_CORRUPT) {
			fsck_report(fc, VV_FSCK_CORRUPT, &c->oid, env, cp, "corrupt object %s", chex);
			bad = true;
		} else if (c->size != e->size) {
			fsck_report(fc, VV_FSCK_SIZE, &c->oid, env, cp,
				    "size mismatch %s: tree says %llu bytes, object has %llu", chex,
				    (unsigned long long)e->size, (unsigned long long)c->size);
			bad = true;
		} else if ((e->kind == VV_PYC || e->kind == VV_RECORD) &&
			   (r = tpl_ok(fc, c, e)) <= 0) {
			if (r < 0) {
				vv_reach_path_pop(&fc->path, saved);
				return r;
			}
			const char *what = e->kind == VV_PYC ? "pyc" : "RECORD";
			fsck_report(fc, VV_FSCK_BAD_TPL, &c->oid, env, cp,
				    "bad %s %s: not the stored form of a %s its tree entry "
				    "describes", what, chex, what);
			bad = true;
		}
		vv_reach_path_pop(&fc->path, saved);
	}
	if (bad)
		n->flags |= VV_RN_BAD;
	return bad ? 1 : 0;
}

struct hist_check {
	struct fsck_ctx *fc;
	const char *env;
};

static int hist_check_root(void *arg, const vv_oid *oid)
{
	struct hist_check *hc = arg;
	struct vv_reach_node *n = NULL;
	int r = vv_reach_node(hc->fc->r, oid, &n);
	if (r < 0)
		return r;
	vv_reach_path_pop(&hc->fc->path, 0);
	if (hc->fc->stop)
		return 1;
	r = check_tree(hc->fc, n, hc->env, 0);
	return r < 0 ? r : 0;
}

/* The states an env's history holds must be as intact as its current one. */
static int fsck_history(struct fsck_ctx *fc, const char *env)
{
	struct vv_history h;
	vv_err_clear();
	if (vv_history_load(fc->st, env, &h) < 0) {
		char msg[1024];
		size_t len = 0;
		msg[0] = 0;
		msg_escaped(msg, sizeof(msg), &len, vv_errmsg());
		fsck_report(fc, VV_FSCK_BAD_ENV, NULL, NULL, NULL, "bad history: %s", msg);
		return 0;
	}
	struct hist_check hc = {.fc = fc, .env = env};
	int r = vv_history_roots(&h, hist_check_root, &hc);
	vv_history_release(&h);
	return r < 0 ? r : 0;
}

/* journal/NAME, if it holds changes over root: is the content its records name there?
 * Only content a path still holds at the end counts (vv_jlost): an unlinked file's
 * stage is removed at once. */
struct jcheck {
	struct vv_store *st;
	struct vv_jlost lost;
};

static int jcheck_rec(void *ctx, const struct vv_jrec *j)
{
	struct jcheck *jc = ctx;
	int has = 1;
	if (j->op == 'w') {
		has = vv_odb_stage_has(&jc->st->odb, j->stage);
	} else if (j->op == 'c') {
		vv_oid oid;
		has = vv_oid_from_hex(&oid, j->oidhex, VV_OID_HEX) < 0 ? 0 :
		      vv_odb_has(&jc->st->odb, &oid);
	}
	if (has < 0)
		return has;
	return vv_jlost_step(&jc->lost, j, has == 0);
}

static int fsck_journal(struct fsck_ctx *fc, const char *env, const vv_oid *root)
{
	struct jcheck jc = { .st = fc->st };
	int r = vv_journal_scan(fc->st, env, root, jcheck_rec, &jc);
	for (size_t i = 0; r >= 0 && i < jc.lost.n && !fc->stop; i++) {
		char *path = malloc(strlen(jc.lost.paths[i]) + 2);
		if (!path) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		path[0] = '/'; /* as the tree walk shows paths */
		strcpy(path + 1, jc.lost.paths[i]);
		fsck_report(fc, VV_FSCK_JOURNAL, NULL, env, path,
			    "lost content in journal/%s: its change to the file is not in "
			    "the store (a mount keeps the file's earlier content)", env);
		free(path);
	}
	vv_jlost_free(&jc.lost);
	return r < 0 ? r : 0;
}

int vv_fsck(struct vv_store *st, vv_fsck_cb cb, void *arg, struct vv_fsck_summary *sum)
{
	return vv_fsck_ex(st, cb, arg, sum, NULL);
}

int vv_fsck_ex(struct vv_store *st, vv_fsck_cb cb, void *arg, struct vv_fsck_summary *sum,
	       const struct vv_progress *pg)
{
	struct fsck_ctx fc = {.st = st, .cb = cb, .arg = arg};
	char **names = NULL;
	size_t nnames = 0;
	char *url = NULL;
	int r = vv_manifest_cache_url(st, &url);
	fc.cache = url != NULL;
	free(url);
	if (r == 0)
		r = vv_reach_new(st, &fc.r);
	if (r == 0)
		r = vv_reach_scan(fc.r, VV_ODB_VERIFY, scan_found, &fc, pg, "hashing");
	if (r < 0)
		goto out;
	fc.sum.objects = vv_reach_count(fc.r); /* so far the table holds exactly the scanned
						  files */
	if (fc.stop)
		goto out;
	r = vv_env_list(st, &names, &nnames);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < nnames && !fc.stop; i++) {
		vv_progress_report(pg, "checking", i, nnames);
		struct vv_envcfg cfg = {0};
		vv_err_clear();
		int lr = vv_env_load(st, names[i], &cfg);
		if (lr == -ENOENT)
			continue; /* removed since the listing */
		fc.sum.envs++;
		if (lr < 0) {
			char msg[1024];
			size_t len = 0;
			msg[0] = 0;
			msg_escaped(msg, sizeof(msg), &len, names[i]);
			fsck_report(&fc, VV_FSCK_BAD_ENV, NULL, NULL, NULL, "bad env %s: %s", msg,
				    vv_errmsg());
			continue;
		}
		struct vv_reach_node *root = NULL;
		vv_oid rootid = cfg.root;
		r = vv_reach_node(fc.r, &cfg.root, &root);
		vv_envcfg_release(&cfg);
		if (r < 0)
			goto out;
		if ((r = fsck_journal(&fc, names[i], &rootid)) < 0)
			goto out;
		vv_reach_path_pop(&fc.path, 0);
		r = check_tree(&fc, root, names[i], 0);
		if (r < 0)
			goto out;
		r = fsck_history(&fc, names[i]);
		if (r < 0)
			goto out;
	}
	vv_progress_report(pg, "checking", nnames, nnames);
	r = 0;
out:
	if (r == 0 && fc.stop == -ENOMEM)
		r = vv_err(-ENOMEM, "out of memory");
	vv_oidset_sort(&fc.unfetched);
	fc.sum.unfetched = fc.unfetched.n;
	vv_oidset_release(&fc.unfetched);
	free_names(names, nnames);
	free(fc.path.s);
	vv_reach_free(fc.r);
	if (sum)
		*sum = fc.sum;
	if (r < 0)
		return r;
	return fc.sum.problems > INT32_MAX ? INT32_MAX : (int)fc.sum.problems;
}
