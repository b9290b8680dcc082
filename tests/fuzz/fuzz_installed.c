/*
 * fuzz_installed.c - fuzz target for making a package record from a distribution
 * installed in an env (pkg.h vv_pkg_from_installed), whose METADATA, WHEEL and RECORD
 * are whatever was written through the mount: outside input.
 *
 * The input is three parts split at the first two "\n--\n": METADATA, WHEEL, RECORD.
 * They become files of site-packages/demo-1.0.dist-info/ next to a module demo.py in a
 * store made once in /tmp/fuzz-installed.PID (removed at exit, or by the next run when
 * libFuzzer ended without exit handlers). Every input must give a record, "not usable"
 * or an error with a message; a record must name a version of demo 1.0, say `installed`, keep its
 * trees inside what the env holds (no path outside site-packages and bin/ beyond what
 * the env has) and round-trip through the record file format.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "pkg/pkg.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vv_store *st;
static char dir[64];

static void rm_rf(const char *path)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

static void cleanup(void)
{
	vv_store_close(st);
	rm_rf(dir);
}

/* libFuzzer ends without running atexit handlers: remove the stores of earlier runs
 * whose process is gone, so runs leave at most their own behind. */
static void remove_stale(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		int pid;
		char path[300];
		if (sscanf(e->d_name, "fuzz-installed.%d", &pid) == 1 && pid > 0 &&
		    kill(pid, 0) < 0 && errno == ESRCH) {
			snprintf(path, sizeof(path), "/tmp/%s", e->d_name);
			rm_rf(path);
		}
	}
	if (d)
		closedir(d);
}

static vv_oid put(const char *p, size_t n)
{
	vv_oid oid;
	if (vv_odb_put_buf(&st->odb, p, n, &oid) < 0)
		abort();
	return oid;
}

static struct vv_tree_ent ent(const char *name, char kind, vv_oid oid, size_t size)
{
	struct vv_tree_ent e;
	memset(&e, 0, sizeof(e));
	e.name = name;
	e.namelen = (uint16_t)strlen(name);
	e.kind = (uint8_t)kind;
	e.mode = kind == VV_DIR ? 0755 : 0644;
	e.size = size;
	e.mtime_ns = 1000;
	e.oid = oid;
	return e;
}

static vv_oid tree(struct vv_tree_ent *e, size_t n)
{
	vv_oid oid;
	vv_tree_sort(e, n);
	if (vv_tree_write(st, e, n, &oid) < 0)
		abort();
	return oid;
}

/* The next part of the input, up to "\n--\n" (or the end). */
static const char *part(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *sep = NULL;
	for (const char *q = s; q + 4 <= end; q++)
		if (!memcmp(q, "\n--\n", 4)) {
			sep = q;
			break;
		}
	*len = (size_t)((sep ? sep : end) - s);
	*p = sep ? sep + 4 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!st) {
		remove_stale();
		snprintf(dir, sizeof(dir), "/tmp/fuzz-installed.%d", (int)getpid());
		rm_rf(dir);
		if (vv_store_open(&st, dir, 1) < 0)
			abort();
		atexit(cleanup);
	}
	const char *p = (const char *)data, *end = p + size;
	size_t ml, wl, rl;
	const char *meta = part(&p, end, &ml), *wheel = part(&p, end, &wl),
		   *record = part(&p, end, &rl);
	struct vv_tree_ent di[] = {ent("METADATA", VV_REG, put(meta, ml), ml),
				   ent("RECORD", VV_REG, put(record, rl), rl),
				   ent("WHEEL", VV_REG, put(wheel, wl), wl)};
	struct vv_tree_ent sp[] = {ent("demo-1.0.dist-info", VV_DIR, tree(di, 3), 0),
				   ent("demo.py", VV_REG, put("X = 1\n", 6), 6)};
	struct vv_tree_ent py[] = {ent("site-packages", VV_DIR, tree(sp, 2), 0)};
	struct vv_tree_ent lib[] = {ent("python3.11", VV_DIR, tree(py, 1), 0)};
	struct vv_tree_ent top[] = {ent("lib", VV_DIR, tree(lib, 1), 0)};
	vv_oid root = tree(top, 1);

	struct vv_pkg pkg;
	vv_err_clear();
	int r = vv_pkg_from_installed(st, &root, 11, "demo", "1.0", &pkg);
	if (r < 0) {
		if (!*vv_errmsg())
			abort();
		return 0;
	}
	if (r == 1)
		return 0;
	if (r != 0 || !pkg.installed || pkg.version[0] != '1' || pkg.minor != 11 ||
	    !strstr(pkg.wheel, ".whl"))
		abort();
	/* nothing but what the env has: site-packages entries demo.py and the dist-info */
	struct vv_tree *t = NULL;
	if (!vv_oid_is_zero(&pkg.site)) {
		if (vv_tree_get(st, &pkg.site, &t) < 0)
			abort();
		for (size_t i = 0; i < t->n; i++)
			if (strcmp(t->ents[i].name, "demo.py") &&
			    strcmp(t->ents[i].name, "demo-1.0.dist-info"))
				abort();
		vv_tree_unref(t);
	}
	if (pkg.extra || !vv_oid_is_zero(&pkg.bin))
		abort();
	char *text;
	size_t len;
	struct vv_pkg back;
	if (vv_pkg_format(&pkg, &text, &len) == 0) {
		if (vv_pkg_parse(text, len, "fuzz", &back) < 0 || !back.installed ||
		    !vv_oid_eq(&back.tree, &pkg.tree))
			abort();
		vv_pkg_release(&back);
		free(text);
	}
	vv_pkg_release(&pkg);
	return 0;
}
