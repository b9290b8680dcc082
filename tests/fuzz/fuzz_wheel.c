/*
 * fuzz_wheel.c - fuzz target for wheel installation (zip members, RECORD, METADATA,
 * WHEEL, entry_points.txt: all outside input) and for the RECORD CSV parser alone.
 *
 * Each input is written to a temp file and installed into a temp store. Beyond "no
 * crash": a refusal must be -EINVAL (or -ENOMEM) naming the wheel, a success must give
 * a writable tree and the distribution's name; RECORD rows that parse must survive a
 * quote-everything round trip unchanged.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "python/python.h"
#include "store/store.h"
#include "store/treebuild.h"
#include "pkg/wheel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dir;
static struct vv_store *st;
static unsigned runs;

static void cleanup(void)
{
	if (st)
		vv_store_close(st);
	if (dir)
		vv_rm_rf_at(AT_FDCWD, dir);
	free(dir);
}

/* A fresh store now and then, so objects from earlier inputs do not pile up. */
static void ensure_store(void)
{
	if (!dir) {
		const char *t = getenv("TMPDIR");
		char buf[4096];
		snprintf(buf, sizeof(buf), "%s/vvfuzz.XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(buf) || !(dir = strdup(buf)))
			abort();
		atexit(cleanup);
	}
	if (st && ++runs % 1000 == 0) {
		vv_store_close(st);
		st = NULL;
	}
	if (!st) {
		char sp[4200];
		snprintf(sp, sizeof(sp), "%s/store", dir);
		vv_rm_rf_at(AT_FDCWD, sp);
		if (vv_store_open(&st, sp, 1) < 0)
			abort();
	}
}

static void quote(char **p, const char *s)
{
	*(*p)++ = '"';
	for (; *s; s++) {
		if (*s == '"')
			*(*p)++ = '"';
		*(*p)++ = *s;
	}
	*(*p)++ = '"';
}

static void fuzz_record(const uint8_t *data, size_t size)
{
	struct vv_record_row *rows = NULL;
	size_t n = 0;
	if (vv_record_parse((const char *)data, size, &rows, &n) < 0) {
		if (rows || n)
			abort();
		return;
	}
	/* Re-serialize with every field quoted (at most 2x + 3 per field + 3 per row). */
	char *out = malloc(2 * size + 12 * n + 1), *p = out;
	if (!out)
		abort();
	for (size_t i = 0; i < n; i++) {
		quote(&p, rows[i].path);
		*p++ = ',';
		quote(&p, rows[i].hash);
		*p++ = ',';
		quote(&p, rows[i].size);
		*p++ = '\n';
	}
	struct vv_record_row *again = NULL;
	size_t m = 0;
	if (vv_record_parse(out, (size_t)(p - out), &again, &m) < 0 || m != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].path, again[i].path) || strcmp(rows[i].hash, again[i].hash) ||
		    strcmp(rows[i].size, again[i].size))
			abort();
	vv_record_free(again, m);
	vv_record_free(rows, n);
	free(out);
}

static void fuzz_install(const uint8_t *data, size_t size)
{
	ensure_store();
	char path[4200];
	snprintf(path, sizeof(path), "%s/input.whl", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || vv_write_all(fd, data, size) < 0)
		abort();
	close(fd);

	struct vv_python py = {.major = 3, .minor = 11};
	struct vv_tb *tb = vv_tb_new(0);
	if (!tb)
		abort();
	struct vv_wheel_info info = {0};
	int r = vv_wheel_install(st, path, &py, "pip", tb, &info);
	if (r == 0) {
		vv_oid root;
		if (!info.name || !info.version || vv_tb_write(tb, st, &root) < 0)
			abort();
	} else {
		if (r != -EINVAL && r != -ENOMEM)
			abort();
		if (info.name || info.version)
			abort();
		if (r == -EINVAL && strncmp(vv_errmsg(), "input.whl: ", 11))
			abort();
	}
	vv_wheel_info_release(&info);
	vv_tb_free(tb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_record(data, size);
	fuzz_install(data, size);
	return 0;
}
