/*
 * config.c - venvfs.ini (config.h): its keys and values, loading, and the XDG default
 * paths. The file is read by the strict INI reader's table layer (ini.h).
 */
#include "util/config.h"
#include "util/hash.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/ini.h"
#include "util/strv.h"
#include "util/vec.h"

#define CONFIG_MAX_SIZE (1u << 20)

enum { K_STORE, K_PYTHON, K_WITHOUT_PIP, K_PYTHONS, K_HIST, K_N = K_HIST + 3 };
static const char *const cfg_keys[K_N] = { "store", "python", "without-pip", "pythons",
					   "history-keep", "history-max-age",
					   "history-coalesce" };
static const int64_t hist_max[3] = { 10000, 100000, 86400 };
static const char *const hist_unit[3] = { "entries", "days", "seconds" };

struct cfg_parse {
	char *store, *python;
	bool without_pip;
	char **pythons;
	size_t npythons, cappythons;
	int64_t hist[3];
};

/* A whole number 0..max. */
static int parse_count(const char *key, const char *value, int64_t max, const char *unit,
		       int64_t *out)
{
	int64_t v = 0;
	const char *p = value;
	if (!*p)
		return vv_err(-EINVAL, "empty value for '%s'", key);
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || v > max)
			return vv_err(-EINVAL, "bad value '%s' for '%s' (a whole number of %s, "
				      "0 to %lld)", value, key, unit, (long long)max);
		v = v * 10 + (*p - '0');
	}
	if (v > max)
		return vv_err(-EINVAL, "bad value '%s' for '%s' (a whole number of %s, 0 to "
			      "%lld)", value, key, unit, (long long)max);
	*out = v;
	return 0;
}

/* "~/x" -> "$HOME/x"; anything else must be absolute. */
static int expand_path(const char *key, const char *value, char **out)
{
	if (!*value)
		return vv_err(-EINVAL, "empty path for '%s'", key);
	if (value[0] == '~' && (value[1] == '/' || value[1] == 0)) {
		const char *home = getenv("HOME");
		if (!home || home[0] != '/')
			return vv_err(-EINVAL, "cannot expand '%s' for '%s': HOME is not set",
				      value, key);
		if (asprintf(out, "%s%s", home, value + 1) < 0)
			return vv_err(-ENOMEM, "out of memory");
		return 0;
	}
	if (value[0] != '/')
		return vv_err(-EINVAL, "relative path '%s' for '%s' (use an absolute path or ~/)",
			      value, key);
	*out = strdup(value);
	return *out ? 0 : vv_err(-ENOMEM, "out of memory");
}

/* "a, b c" -> paths; commas and blanks separate, empty items are skipped. */
static int parse_path_list(struct cfg_parse *p, const char *key, const char *value)
{
	const char *s = value;
	for (;;) {
		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		if (!*s)
			return 0;
		size_t n = strcspn(s, ", \t\r\n\v\f");
		char *item = strndup(s, n), *path = NULL;
		if (!item)
			return vv_err(-ENOMEM, "out of memory");
		int r = expand_path(key, item, &path);
		free(item);
		if (r < 0)
			return r;
		if ((r = VV_GROW(p->pythons, p->npythons, p->cappythons, 1)) < 0) {
			free(path);
			return r;
		}
		p->pythons[p->npythons++] = path;
		s += n;
	}
}

static int cfg_value(void *user, int k, const char *value, int lineno)
{
	struct cfg_parse *p = user;
	const char *key = cfg_keys[k];
	(void)lineno;
	switch (k) {
	case K_STORE:
		return expand_path(key, value, &p->store);
	case K_PYTHON:
		/* A command name is looked up on PATH; anything with a slash is a path. */
		if (*value && !strchr(value, '/') && strcmp(value, "~") && value[0] != '.') {
			p->python = strdup(value);
			return p->python ? 0 : vv_err(-ENOMEM, "out of memory");
		}
		return expand_path(key, value, &p->python);
	case K_WITHOUT_PIP:
		return vv_parse_bool(value, &p->without_pip);
	case K_PYTHONS:
		return parse_path_list(p, key, value);
	default:
		return parse_count(key, value, hist_max[k - K_HIST], hist_unit[k - K_HIST],
				   &p->hist[k - K_HIST]);
	}
}

static int config_parse_buf(struct vv_config *cfg, const char *text, size_t len,
			    const char *fname)
{
	struct cfg_parse p = { 0 };
	struct vv_ini_table t = { .section = "venvfs", .keys = cfg_keys, .nkeys = K_N,
				  .value = cfg_value, .user = &p };
	int line[K_N];
	int r = vv_ini_parse_table(text, len, fname, &t, line);
	if (r < 0) {
		free(p.store);
		free(p.python);
		vv_strv_free(p.pythons, p.npythons);
		return r;
	}
	/* Only a file that parsed as a whole changes cfg; later files override. */
	if (line[K_STORE]) {
		free(cfg->store);
		cfg->store = p.store;
	}
	if (line[K_PYTHON]) {
		free(cfg->python);
		cfg->python = p.python;
	}
	if (line[K_WITHOUT_PIP])
		cfg->without_pip = p.without_pip;
	if (line[K_PYTHONS]) {
		vv_strv_free(cfg->pythons, cfg->npythons);
		cfg->pythons = p.pythons;
		cfg->npythons = p.npythons;
	}
	int64_t *dst[3] = { &cfg->history_keep, &cfg->history_max_age_days,
			    &cfg->history_coalesce_s };
	for (int k = 0; k < 3; k++) {
		if (line[K_HIST + k]) {
			*dst[k] = p.hist[k];
			cfg->history_set |= 1u << k;
		}
	}
	return 0;
}

int vv_config_parse(struct vv_config *cfg, const char *text, const char *fname)
{
	return config_parse_buf(cfg, text, strlen(text), fname);
}

int vv_config_load(struct vv_config *cfg, const char *path, int must_exist)
{
	/* Plain open: a config file may well be a symlink into a dotfiles repository. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT && !must_exist)
			return 0;
		if (e == ENOENT)
			return vv_err(-ENOENT, "config file '%s' does not exist", path);
		return vv_err_sys(-e, "cannot open config file '%s'", path);
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return vv_err(-EINVAL, "config file '%s' is not a regular file", path);
	}
	if ((uint64_t)sb.st_size > CONFIG_MAX_SIZE) {
		close(fd);
		return vv_err(-EFBIG, "config file '%s' is too large", path);
	}
	size_t cap = (size_t)sb.st_size + 1, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return vv_err(-ENOMEM, "out of memory");
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return vv_err_sys(-e, "cannot read config file '%s'", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			free(buf);
			close(fd);
			return vv_err(-EFBIG, "config file '%s' is too large", path);
		}
	}
	close(fd);
	buf[len] = 0;
	int r = config_parse_buf(cfg, buf, len, path);
	free(buf);
	return r;
}

void vv_config_release(struct vv_config *cfg)
{
	free(cfg->store);
	free(cfg->python);
	vv_strv_free(cfg->pythons, cfg->npythons);
	cfg->store = cfg->python = NULL;
	cfg->pythons = NULL;
	cfg->npythons = 0;
	cfg->without_pip = false;
	cfg->history_keep = cfg->history_max_age_days = cfg->history_coalesce_s = 0;
	cfg->history_set = 0;
}

/* $VAR/suffix when $VAR is an absolute path (the XDG spec ignores relative ones), else
 * $HOME/fallback, else NULL. */
static char *xdg_path(const char *var, const char *fallback, const char *suffix)
{
	const char *x = getenv(var);
	char *out = NULL;
	if (x && x[0] == '/') {
		if (asprintf(&out, "%s/%s", x, suffix) < 0)
			return NULL;
		return out;
	}
	const char *home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	if (asprintf(&out, "%s/%s/%s", home, fallback, suffix) < 0)
		return NULL;
	return out;
}

char *vv_default_config_path(void)
{
	return xdg_path("XDG_CONFIG_HOME", ".config", "venvfs/venvfs.ini");
}

char *vv_default_store_path(void)
{
	return xdg_path("XDG_DATA_HOME", ".local/share", "venvfs");
}

char *vv_default_cache_path(const char *url)
{
	vv_oid id;
	char hex[VV_OID_HEX + 1], sub[48];
	vv_hash_buf(url, strlen(url), &id);
	vv_oid_hex(&id, hex);
	snprintf(sub, sizeof(sub), "venvfs/remote-%.16s", hex);
	return xdg_path("XDG_CACHE_HOME", ".cache", sub);
}
