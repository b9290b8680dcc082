/*
 * cli.c - what every venvctl command shares: messages, option parsing, size and
 * JSON output, opening the store named by --store or the config file.
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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "util/config.h"
#include "env/env.h"
#include "util/error.h"
#include "env/history.h"
#include "store/store.h"

/* ---- messages -------------------------------------------------------------------- */

void vc_msg(const struct vc_ctx *c, const char *fmt, ...)
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

int vc_usage_error(const struct vc_ctx *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c && c->cmd)
		vc_msg(c, "%s (see 'venvctl %s --help')", buf, c->cmd);
	else
		vc_msg(c, "%s (see 'venvctl --help')", buf);
	return VC_EXIT_USAGE;
}

/* ---- command-line helpers -------------------------------------------------------- */

/* Match "--name" (flag) or "--name VALUE" / "--name=VALUE" (value != NULL). Returns 1 if
 * arg is this option (advancing *i past a separate value), 0 if not, -1 if its value is
 * missing. */
int vc_opt_match(int argc, char **argv, int *i, const char *lng, const char *shrt,
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

bool vc_is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

int vc_global_opt(struct vc_ctx *c, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *v = NULL;
	int m;
	if ((m = vc_opt_match(argc, argv, i, "--store", NULL, &v))) {
		if (m < 0 || !*v)
			return vc_usage_error(c, "option '--store' needs a directory");
		c->store_opt = v;
		return 0;
	}
	if ((m = vc_opt_match(argc, argv, i, "--config", NULL, &v))) {
		if (m < 0 || !*v)
			return vc_usage_error(c, "option '--config' needs a file");
		c->config_opt = v;
		return 0;
	}
	if (a[0] == '-' && a[1])
		return vc_usage_error(c, "unknown option '%s'", a);
	return vc_usage_error(c, "unexpected argument '%s'", a);
}

/* Parse a command's own flags: each entry of flags is a long option (e.g. "--json")
 * with an optional short form; the matching bool is set. The global options are taken
 * too; everything else is an error. */
int vc_parse_flags(struct vc_ctx *c, int argc, char **argv, const struct vc_flag *flags,
		       size_t nflags, bool *help)
{
	for (int i = 1; i < argc; i++) {
		if (vc_is_help(argv[i])) {
			*help = true;
			return 0;
		}
		bool ok = false;
		for (size_t f = 0; f < nflags && !ok; f++) {
			if (vc_opt_match(argc, argv, &i, flags[f].lng, flags[f].shrt, NULL)) {
				*flags[f].set = true;
				ok = true;
			}
		}
		if (!ok && vc_global_opt(c, argc, argv, &i))
			return VC_EXIT_USAGE;
	}
	return 0;
}

/* ---- output helpers -------------------------------------------------------------- */

void vc_human_size(uint64_t n, char *buf, size_t cap)
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

void vc_size_field(uint64_t n, bool exact, char *buf, size_t cap)
{
	if (exact)
		snprintf(buf, cap, "%llu", (unsigned long long)n);
	else
		vc_human_size(n, buf, cap);
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
void vc_json_str(FILE *f, const char *s)
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
char *vc_display_name(const char *s, size_t *width)
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

void vc_pad(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

/* ---- mounts ---------------------------------------------------------------------- */

/* Undo /proc/self/mountinfo's octal escapes (\040 space, \011 tab, \012, \134) in place. */
static void unescape_mountinfo(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
}

/* Call fn(fd, mountpoint, arg) with the root of every venvfs mount of c's store this
 * process can see (/proc/self/mountinfo; "venvfs" as the source when the store path
 * could not be an option value: those are asked too), until fn returns nonzero. */
static int each_mount(const struct vc_ctx *c, int (*fn)(int, const char *, void *), void *arg)
{
	if (!c->st)
		return 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 0;
	char *line = NULL;
	size_t cap = 0;
	int r = 0;
	while (r == 0 && getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ... */
		char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "fuse.venvfs ", 12))
			continue;
		char *src = sep + 3 + 12, *end = strpbrk(src, " \n");
		if (end)
			*end = 0;
		unescape_mountinfo(src);
		if (strcmp(src, c->st->path) && strcmp(src, "venvfs"))
			continue;
		*sep = 0;
		char *save = NULL, *mnt = NULL;
		char *tok = strtok_r(line, " ", &save);
		for (int i = 0; tok && i < 4; i++)
			tok = strtok_r(NULL, " ", &save);
		mnt = tok;
		if (!mnt)
			continue;
		unescape_mountinfo(mnt);
		int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		r = fn(fd, mnt, arg);
		close(fd);
	}
	free(line);
	fclose(f);
	return r;
}

static int sync_one(int fd, const char *mnt, void *arg)
{
	(void)mnt, (void)arg;
	(void)ioctl(fd, VV_IOC_SYNC);
	return 0;
}

void vc_sync_mounts(const struct vc_ctx *c)
{
	each_mount(c, sync_one, NULL);
}

struct commit_ask {
	const struct vc_ctx *c;
	const char *name;
};

static int commit_one(int fd, const char *mnt, void *arg)
{
	struct commit_ask *a = arg;
	struct vv_ioc_commit req;
	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", a->name);
	/* an older daemon answers ENOTTY: then the env's writer lock decides, as before */
	if (ioctl(fd, VV_IOC_COMMIT, &req) != 1)
		return 0;
	req.msg[sizeof(req.msg) - 1] = 0;
	vc_msg(a->c, "env '%s' is being changed through the mount %s: %s; try again once it "
	       "is closed", a->name, mnt, req.msg);
	return -EBUSY;
}

int vc_commit_mounts(const struct vc_ctx *c, const char *name)
{
	struct commit_ask a = { c, name };
	return each_mount(c, commit_one, &a);
}

static int commit_all_one(int fd, const char *mnt, void *arg)
{
	(void)mnt, (void)arg;
	(void)fsync(fd); /* fsync of a mount's root commits each of its envs */
	return 0;
}

void vc_commit_all_mounts(const struct vc_ctx *c)
{
	each_mount(c, commit_all_one, NULL);
}

/* ---- store access ---------------------------------------------------------------- */

/* --store, else the config file's `store`, else the default path. The config stays in
 * c->cfg. create: make the store's layout if it is missing (as the daemon does). */
int vc_open_store_mode(struct vc_ctx *c, int create)
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
		vc_msg(NULL, "%s", vv_errmsg());
		rc = VC_EXIT_USAGE;
		goto out;
	}
	if (c->store_opt) {
		path = strdup(c->store_opt);
	} else {
		path = cfg.store ? strdup(cfg.store) : vv_default_store_path();
		if (!path && !cfg.store) {
			vc_msg(NULL, "no store given: use --store DIR, set `store` in the config "
				  "file, or set $HOME");
			rc = VC_EXIT_USAGE;
			goto out;
		}
	}
	if (!path) {
		vc_msg(NULL, "out of memory");
		rc = VC_EXIT_USAGE;
		goto out;
	}
	vv_err_clear();
	int r = vv_store_open(&c->st, path, create);
	if (r < 0) {
		/* The store's messages name the path already, mostly. */
		if (strstr(vv_errmsg(), path))
			vc_msg(NULL, "%s", vv_errmsg());
		else
			vc_msg(NULL, "cannot open store '%s': %s", path, vv_errmsg());
		c->st = NULL;
		rc = VC_EXIT_USAGE;
	} else {
		vv_history_policy(c->st, &cfg);
	}
out:
	free(path);
	if (rc == 0)
		c->cfg = cfg;
	else
		vv_config_release(&cfg);
	return rc;
}

int vc_open_store(struct vc_ctx *c)
{
	return vc_open_store_mode(c, 0);
}
