/*
 * wheelzip.c - a wheel's zip archive (wheel_int.h). The wheel is outside input, so
 * this is defensive first: every member name is confined before it is used,
 * symlinks/devices/duplicates are refused, and bytes are counted while decompressing
 * (headers are not trusted), bounding the total size and the compression ratio.
 * Member mtimes are read the same way in every time zone, so the same wheel always
 * gives the same trees.
 */
#include "pkg/wheel.h"
#include "pkg/wheel_int.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <zip.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"

/* Copy a name for a message: control bytes become '?', long names are cut. */
static void shown(const char *in, char *out, size_t sz)
{
	size_t i = 0;
	for (; in[i] && i + 4 < sz; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ? '?' : in[i];
	if (in[i])
		memcpy(out + i, "...", 4);
	else
		out[i] = 0;
}

/* "WHEEL: MEMBER: reason" (or "WHEEL: reason" without a member), -EINVAL. */
int wheel_err(const struct wheel *w, const char *member, const char *fmt, ...)
{
	char why[600], mem[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!member)
		return vv_err(-EINVAL, "%s: %s", w->wname, why);
	shown(member, mem, sizeof(mem));
	return vv_err(-EINVAL, "%s: %s: %s", w->wname, mem, why);
}

/* Add wheel/member context to an error that already has a message (I/O, ENOMEM). */
int wheel_prefix(const struct wheel *w, const char *member, int code)
{
	char mem[300];
	if (!member)
		return vv_err_prefix(code, "%s", w->wname);
	shown(member, mem, sizeof(mem));
	return vv_err_prefix(code, "%s: %s", w->wname, mem);
}

/* DOS times carry no zone; libzip reads them as local time. Reading the fields back
 * as UTC makes the result independent of $TZ, so every process gets the same trees. */
static int64_t zip_time_ns(time_t t)
{
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return 0;
	return (int64_t)timegm(&tm) * 1000000000LL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ZIP_CHECKCONS refuses duplicate names without saying which: find one (malloc'd). */
static char *find_duplicate(const char *path)
{
	int ze = 0;
	zip_t *za = zip_open(path, ZIP_RDONLY, &ze);
	if (!za)
		return NULL;
	zip_int64_t n = zip_get_num_entries(za, 0);
	char *dup = NULL;
	const char **names = n > 0 && n <= MAX_ENTRIES ? calloc((size_t)n, sizeof(*names)) : NULL;
	if (names) {
		zip_int64_t k = 0;
		for (zip_int64_t i = 0; i < n; i++)
			if ((names[k] = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_STRICT)))
				k++;
		qsort(names, (size_t)k, sizeof(*names), cmp_str);
		for (zip_int64_t i = 1; i < k && !dup; i++)
			if (!strcmp(names[i - 1], names[i]))
				dup = strdup(names[i]);
		free(names);
	}
	zip_discard(za);
	return dup;
}

int wheel_open_zip(const char *path, const char *wname, zip_t **out)
{
	/* libzip says "no such file" for some corrupt archives too: ask the kernel. */
	struct stat sb;
	if (stat(path, &sb) < 0)
		return vv_err_sys(-errno, "%s: cannot open", wname);
	if (!S_ISREG(sb.st_mode))
		return vv_err(-EINVAL, "%s: not a regular file", wname);
	int ze = 0;
	zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
	if (za) {
		*out = za;
		return 0;
	}
	int sys = errno;
	zip_error_t e;
	zip_error_init_with_code(&e, ze);
	int code;
	char *dup = NULL;
	if (ze == ZIP_ER_EXISTS && (dup = find_duplicate(path))) {
		char mem[300];
		shown(dup, mem, sizeof(mem));
		code = vv_err(-EINVAL, "%s: %s: duplicate member", wname, mem);
		free(dup);
	} else if (ze == ZIP_ER_MEMORY)
		code = vv_err(-ENOMEM, "%s: out of memory", wname);
	else if (ze == ZIP_ER_OPEN || ze == ZIP_ER_READ || ze == ZIP_ER_SEEK)
		code = vv_err_sys(sys > 0 ? -sys : -EIO, "%s: cannot read", wname);
	else
		code = vv_err(-EINVAL, "%s: not a valid wheel (zip archive): %s", wname,
			      zip_error_strerror(&e));
	zip_error_fini(&e);
	return code;
}

/* ---------------------------------------------------------------- scanning */

/* NULL if the member name is acceptable, else why not. Sets *is_dir for "x/". */
static const char *bad_name(const char *name, bool *is_dir)
{
	size_t len = strlen(name);
	if (!len)
		return "empty member name";
	if (len > MAX_NAME)
		return "member name too long";
	if (name[0] == '/')
		return "absolute member name";
	*is_dir = name[len - 1] == '/';
	if (*is_dir)
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '\\')
			return "backslash in member name";
		if (c < 0x20 || c == 0x7f)
			return "control character in member name";
	}
	for (size_t s = 0; s <= len;) {
		size_t e = s;
		while (e < len && name[e] != '/')
			e++;
		size_t cl = e - s;
		if (cl == 0)
			return "empty path component in member name";
		if (cl == 1 && name[s] == '.')
			return "'.' component in member name";
		if (cl == 2 && name[s] == '.' && name[s + 1] == '.')
			return "'..' component in member name";
		if (cl > 255)
			return "path component longer than 255 bytes";
		s = e + 1;
	}
	return NULL;
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp((*(struct member *const *)a)->name, (*(struct member *const *)b)->name);
}

const struct member *wheel_find_member(const struct wheel *w, const char *name)
{
	struct member key = {.name = (char *)name}, *kp = &key;
	struct member **r = bsearch(&kp, w->byname, w->nm, sizeof(*w->byname), cmp_member);
	return r ? *r : NULL;
}

int wheel_scan(struct wheel *w)
{
	zip_int64_t n = zip_get_num_entries(w->za, 0);
	if (n < 0)
		return wheel_err(w, NULL, "cannot list members");
	if (n > MAX_ENTRIES)
		return wheel_err(w, NULL, "too many members (%lld)", (long long)n);
	w->m = calloc((size_t)n + 1, sizeof(*w->m));
	w->byname = calloc((size_t)n + 1, sizeof(*w->byname));
	if (!w->m || !w->byname)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);

	uint64_t declared = 0;
	for (zip_uint64_t i = 0; i < (zip_uint64_t)n; i++) {
		const char *name = zip_get_name(w->za, i, ZIP_FL_ENC_STRICT);
		if (!name)
			return wheel_err(w, NULL, "cannot read the name of member %llu: %s",
					 (unsigned long long)i,
					 zip_error_strerror(zip_get_error(w->za)));
		struct member *m = &w->m[w->nm];
		if (!(m->name = strdup(name)))
			return vv_err(-ENOMEM, "%s: out of memory", w->wname);
		w->byname[w->nm] = m;
		w->nm++;
		m->index = i;

		const char *why = bad_name(name, &m->is_dir);
		if (why)
			return wheel_err(w, name, "%s", why);

		zip_stat_t sb;
		zip_stat_init(&sb);
		if (zip_stat_index(w->za, i, ZIP_FL_ENC_STRICT, &sb) < 0)
			return wheel_err(w, name, "cannot stat: %s",
					 zip_error_strerror(zip_get_error(w->za)));
		if (!(sb.valid & ZIP_STAT_SIZE) || !(sb.valid & ZIP_STAT_COMP_SIZE))
			return wheel_err(w, name, "member sizes unknown");
		m->size = sb.size;
		m->csize = sb.comp_size;
		m->mtime_ns = (sb.valid & ZIP_STAT_MTIME) ? zip_time_ns(sb.mtime) : 0;
		if (m->mtime_ns > w->mtime_ns)
			w->mtime_ns = m->mtime_ns;

		zip_uint8_t opsys = 0;
		zip_uint32_t attr = 0;
		if (zip_file_get_external_attributes(w->za, i, 0, &opsys, &attr) < 0)
			return wheel_err(w, name, "cannot read attributes");
		m->mode = 0644;
		if (opsys == ZIP_OPSYS_UNIX) {
			uint32_t mode = attr >> 16, fmt = mode & S_IFMT;
			if (fmt == S_IFLNK)
				return wheel_err(w, name, "symbolic links are not allowed");
			if (fmt != 0 && fmt != S_IFREG && !(m->is_dir && fmt == S_IFDIR))
				return wheel_err(w, name, "not a regular file (mode %o)", mode);
			if (mode & 0111)
				m->mode = 0755;
		}
		if (m->is_dir) {
			if (m->size)
				return wheel_err(w, name, "directory entry with content");
			continue;
		}
		declared += m->size;
		if (declared > MAX_TOTAL)
			return wheel_err(w, name, "wheel expands to more than %llu bytes",
					 (unsigned long long)MAX_TOTAL);
		if (m->size > RATIO_FLOOR && m->size / (m->csize ? m->csize : 1) > MAX_RATIO)
			return wheel_err(w, name, "compression ratio above %llu:1 (%llu of %llu "
					 "bytes)", MAX_RATIO, (unsigned long long)m->size,
					 (unsigned long long)m->csize);
	}

	qsort(w->byname, w->nm, sizeof(*w->byname), cmp_member);
	for (size_t i = 1; i < w->nm; i++)
		if (!strcmp(w->byname[i - 1]->name, w->byname[i]->name))
			return wheel_err(w, w->byname[i]->name, "duplicate member");
	return 0;
}

/* ---------------------------------------------------------------- reading members */

/* Decompress a member, counting bytes as they come (headers are not trusted): the
 * original bytes go to h (may be NULL) and sink. */
int wheel_stream(struct wheel *w, const struct member *m, vv_hasher *h, sink_fn sink,
		 void *ctx)
{
	zip_file_t *zf = zip_fopen_index(w->za, m->index, 0);
	if (!zf)
		return wheel_err(w, m->name, "cannot open: %s",
				 zip_error_strerror(zip_get_error(w->za)));
	char *buf = malloc(CHUNK);
	if (!buf) {
		zip_fclose(zf);
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	}
	uint64_t got = 0;
	int r = 0;
	for (;;) {
		zip_int64_t k = zip_fread(zf, buf, CHUNK);
		if (k < 0) {
			r = wheel_err(w, m->name, "cannot decompress: %s", zip_file_strerror(zf));
			break;
		}
		if (k == 0)
			break;
		got += (uint64_t)k;
		w->total += (uint64_t)k;
		if (got > m->size) {
			r = wheel_err(w, m->name, "more data than its header says (%llu bytes)",
				      (unsigned long long)m->size);
			break;
		}
		if (w->total > MAX_TOTAL) {
			r = wheel_err(w, m->name, "wheel expands to more than %llu bytes",
				      (unsigned long long)MAX_TOTAL);
			break;
		}
		if (got > RATIO_FLOOR && got / (m->csize ? m->csize : 1) > MAX_RATIO) {
			r = wheel_err(w, m->name, "compression ratio above %llu:1", MAX_RATIO);
			break;
		}
		if (h)
			vv_hasher_update(h, buf, (size_t)k);
		if (sink && (r = sink(ctx, buf, (size_t)k)) < 0) {
			r = wheel_prefix(w, m->name, r);
			break;
		}
	}
	if (!r && got != m->size)
		r = wheel_err(w, m->name, "%llu bytes, but its header says %llu",
			      (unsigned long long)got, (unsigned long long)m->size);
	int ze = zip_fclose(zf);
	if (!r && ze != 0) {
		zip_error_t e;
		zip_error_init_with_code(&e, ze);
		r = wheel_err(w, m->name, "corrupt member: %s", zip_error_strerror(&e));
		zip_error_fini(&e);
	}
	free(buf);
	return r;
}

struct memsink {
	char *p;
	size_t len;
};

static int mem_sink(void *ctx, const char *buf, size_t n)
{
	struct memsink *s = ctx;
	memcpy(s->p + s->len, buf, n); /* wheel_stream() never passes more than m->size */
	s->len += n;
	return 0;
}

/* A whole member into memory (NUL-terminated), refusing members above max. */
int wheel_read_member(struct wheel *w, const struct member *m, size_t max, char **out,
		      size_t *len)
{
	if (m->size > max)
		return wheel_err(w, m->name, "too large (%llu bytes)", (unsigned long long)m->size);
	struct memsink s = {.p = malloc((size_t)m->size + 1)};
	if (!s.p)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	int r = wheel_stream(w, m, NULL, mem_sink, &s);
	if (r < 0) {
		free(s.p);
		return r;
	}
	s.p[s.len] = 0;
	*out = s.p;
	if (len)
		*len = s.len;
	return 0;
}

/* ---------------------------------------------------------------- public */

int vv_wheel_mtime(const char *wheel_path, int64_t *mtime_ns)
{
	zip_t *za;
	const char *wname = vv_base_name(wheel_path);
	int r = wheel_open_zip(wheel_path, wname, &za);
	if (r < 0)
		return r;
	zip_int64_t n = zip_get_num_entries(za, 0);
	int64_t best = 0;
	for (zip_int64_t i = 0; i < n; i++) {
		zip_stat_t sb;
		zip_stat_init(&sb);
		if (zip_stat_index(za, (zip_uint64_t)i, 0, &sb) < 0) {
			zip_discard(za);
			return vv_err(-EINVAL, "%s: cannot stat member %lld", wname, (long long)i);
		}
		if (sb.valid & ZIP_STAT_MTIME) {
			int64_t t = zip_time_ns(sb.mtime);
			if (t > best)
				best = t;
		}
	}
	zip_discard(za);
	*mtime_ns = best;
	return 0;
}
