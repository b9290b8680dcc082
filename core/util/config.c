/*
 * config.c - venvfs.ini, and the strict INI reader every venvfs INI file goes through.
 *
 * inih does the parsing; it is fed by our own line reader so that we know the line
 * number of every key, can see [section] headers that hold no keys, and can reject what
 * inih would silently get wrong: lines longer than its fixed buffer (it would split
 * them and count the pieces as lines), NUL bytes (it would stop at them) and indented
 * lines after a key (it would append them to that key as a "continuation").
 */
#include "util/config.h"

#include <ctype.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

#define CONFIG_MAX_SIZE (1u << 20)

/* ---- strict INI reading ---- */

struct ini_ctx {
	const char *pos, *end;
	const char *fname;
	const struct vv_ini_cb *cb;
	int lineno;          /* line last handed to inih */
	bool key_seen;       /* inih's "previous name" is set: indented lines would continue it */
	int err;             /* first error found by us (reader or callbacks) */
	int err_line;
	char msg[512];
};

static void ini_fail(struct ini_ctx *c, int code)
{
	if (c->err)
		return;
	c->err = code;
	c->err_line = c->lineno;
	snprintf(c->msg, sizeof(c->msg), "%s", vv_errmsg());
}

/* Mirror inih's view of a line: is it a header, a key, or nothing; reject continuations
 * and report section headers (with or without keys under them). */
static int ini_classify(struct ini_ctx *c, const char *line, size_t len)
{
	size_t i = 0;
	if (c->lineno == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3))
		i = 3;
	size_t start = i;
	while (i < len && isspace((unsigned char)line[i]))
		i++;
	if (i == len || line[i] == ';' || line[i] == '#')
		return 0;
	if (i > start && c->key_seen)
		return vv_err(-EINVAL, "indented line (continuation lines are not supported)");
	if (line[i] != '[') {
		c->key_seen = true;
		return 0;
	}
	const char *close = memchr(line + i, ']', len - i);
	if (!close)
		return 0; /* inih reports it */
	c->key_seen = false;
	if (!c->cb->section)
		return 0;
	char name[INI_MAX_LINE];
	size_t n = (size_t)(close - (line + i + 1));
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, line + i + 1, n);
	name[n] = 0;
	return c->cb->section(c->cb->user, name, c->lineno);
}

static char *read_line(char *str, int num, void *stream)
{
	struct ini_ctx *c = stream;
	if (c->err || c->pos >= c->end || num < 4)
		return NULL;
	const char *nl = memchr(c->pos, '\n', (size_t)(c->end - c->pos));
	size_t len = nl ? (size_t)(nl - c->pos) + 1 : (size_t)(c->end - c->pos);
	const char *line = c->pos;
	c->pos += len;
	c->lineno++;

	size_t content = len;
	if (content && line[content - 1] == '\n')
		content--;
	if (content && line[content - 1] == '\r')
		content--;
	int r;
	if (memchr(line, 0, len))
		r = vv_err(-EINVAL, "NUL byte in line");
	else if (content > (size_t)num - 3)
		r = vv_err(-EINVAL, "line too long (%zu bytes, at most %d)", content, num - 3);
	else
		r = ini_classify(c, line, content);
	if (r < 0) {
		ini_fail(c, r);
		return NULL;
	}
	memcpy(str, line, len);
	str[len] = 0;
	return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *c = user;
	if (c->err)
		return 0;
	int r = c->cb->key(c->cb->user, section, name, value, c->lineno);
	if (r < 0) {
		ini_fail(c, r);
		return 0;
	}
	return 1;
}

/* Explain an error inih found on its own (the line has no '=' or an unclosed '['). */
static int ini_syntax_error(const char *buf, size_t len, const char *fname, int lineno)
{
	const char *p = buf, *end = buf + len;
	for (int i = 1; i < lineno && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	while (p < end && *p != '\n' && isspace((unsigned char)*p))
		p++;
	if (p < end && *p == '[')
		return vv_err(-EINVAL, "%s:%d: bad section header (expected [name])", fname,
			      lineno);
	return vv_err(-EINVAL, "%s:%d: syntax error (expected key = value)", fname, lineno);
}

int vv_ini_parse(const char *buf, size_t len, const char *fname, const struct vv_ini_cb *cb)
{
	struct ini_ctx c = { .pos = buf, .end = buf + len, .fname = fname, .cb = cb };
	int r = ini_parse_stream(read_line, &c, on_key, &c);
	if (r == -2)
		return vv_err(-ENOMEM, "%s: out of memory", fname);
	if (r < 0)
		return vv_err(-EIO, "%s: cannot read", fname);
	if (c.err && (r == 0 || c.err_line <= r))
		return vv_err(c.err, "%s:%d: %s", fname, c.err_line, c.msg);
	if (r > 0)
		return ini_syntax_error(buf, len, fname, r);
	return 0;
}

int vv_ini_value_check(const char *key, const char *value, const char *what)
{
	size_t n = strlen(value);
	if (n && (isspace((unsigned char)value[0]) || isspace((unsigned char)value[n - 1])))
		return vv_err(-EINVAL, "%s '%s' cannot be stored: leading or trailing blanks",
			      what, value);
	if (value[0] == ';')
		return vv_err(-EINVAL, "%s '%s' cannot be stored: starts with ';'", what, value);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)value[i];
		if (ch == '\n' || ch == '\r')
			return vv_err(-EINVAL, "%s cannot be stored: contains a line break", what);
		if (ch == ';' && i > 0 && isspace((unsigned char)value[i - 1]))
			return vv_err(-EINVAL, "%s '%s' cannot be stored: blank before ';'", what,
				      value);
	}
	if (strlen(key) + 3 + n > INI_MAX_LINE - 3)
		return vv_err(-ENAMETOOLONG, "%s '%s' cannot be stored: longer than %d bytes",
			      what, value, INI_MAX_LINE - 6 - (int)strlen(key));
	return 0;
}

/* ---- venvfs.ini ---- */

int vv_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return vv_err(-EINVAL, "bad boolean '%s' (use true or false)", s);
}

struct cfg_parse {
	char *store, *python;
	bool without_pip;
	char **pythons;
	size_t npythons;
	int store_line, python_line, without_pip_line, pythons_line;
	int64_t hist[3];
	int hist_line[3];
};

static const char *const hist_keys[3] = { "history-keep", "history-max-age",
					  "history-coalesce" };
static const int64_t hist_max[3] = { 10000, 100000, 86400 };
static const char *const hist_unit[3] = { "entries", "days", "seconds" };

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

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
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
		char **nv = realloc(p->pythons, (p->npythons + 1) * sizeof(*nv));
		if (!nv) {
			free(path);
			return vv_err(-ENOMEM, "out of memory");
		}
		p->pythons = nv;
		p->pythons[p->npythons++] = path;
		s += n;
	}
}

static int cfg_section(void *user, const char *section, int lineno)
{
	(void)user;
	(void)lineno;
	if (strcmp(section, "venvfs"))
		return vv_err(-EINVAL, "unknown section [%s] (expected [venvfs])", section);
	return 0;
}

static int cfg_dup(const char *key, int *line, int lineno)
{
	if (*line)
		return vv_err(-EINVAL, "duplicate key '%s' (first set on line %d)", key, *line);
	*line = lineno;
	return 0;
}

static int cfg_key(void *user, const char *section, const char *key, const char *value,
		   int lineno)
{
	struct cfg_parse *p = user;
	int r;
	if (!*section)
		return vv_err(-EINVAL, "key '%s' outside a section (start with [venvfs])", key);
	if (strcmp(section, "venvfs"))
		return vv_err(-EINVAL, "unknown section [%s] (expected [venvfs])", section);
	if (!strcmp(key, "store")) {
		if ((r = cfg_dup(key, &p->store_line, lineno)) < 0)
			return r;
		return expand_path(key, value, &p->store);
	}
	if (!strcmp(key, "python")) {
		if ((r = cfg_dup(key, &p->python_line, lineno)) < 0)
			return r;
		/* A command name is looked up on PATH; anything with a slash is a path. */
		if (*value && !strchr(value, '/') && strcmp(value, "~") && value[0] != '.') {
			p->python = strdup(value);
			return p->python ? 0 : vv_err(-ENOMEM, "out of memory");
		}
		return expand_path(key, value, &p->python);
	}
	if (!strcmp(key, "without-pip")) {
		if ((r = cfg_dup(key, &p->without_pip_line, lineno)) < 0)
			return r;
		return vv_parse_bool(value, &p->without_pip);
	}
	if (!strcmp(key, "pythons")) {
		if ((r = cfg_dup(key, &p->pythons_line, lineno)) < 0)
			return r;
		return parse_path_list(p, key, value);
	}
	for (int k = 0; k < 3; k++) {
		if (strcmp(key, hist_keys[k]))
			continue;
		if ((r = cfg_dup(key, &p->hist_line[k], lineno)) < 0)
			return r;
		return parse_count(key, value, hist_max[k], hist_unit[k], &p->hist[k]);
	}
	return vv_err(-EINVAL, "unknown key '%s' in [venvfs] (known: store, python, without-pip, "
		      "pythons, history-keep, history-max-age, history-coalesce)", key);
}

static int config_parse_buf(struct vv_config *cfg, const char *text, size_t len,
			    const char *fname)
{
	struct cfg_parse p = { 0 };
	struct vv_ini_cb cb = { .section = cfg_section, .key = cfg_key, .user = &p };
	int r = vv_ini_parse(text, len, fname, &cb);
	if (r < 0) {
		free(p.store);
		free(p.python);
		free_list(p.pythons, p.npythons);
		return r;
	}
	/* Only a file that parsed as a whole changes cfg; later files override. */
	if (p.store_line) {
		free(cfg->store);
		cfg->store = p.store;
	}
	if (p.python_line) {
		free(cfg->python);
		cfg->python = p.python;
	}
	if (p.without_pip_line)
		cfg->without_pip = p.without_pip;
	if (p.pythons_line) {
		free_list(cfg->pythons, cfg->npythons);
		cfg->pythons = p.pythons;
		cfg->npythons = p.npythons;
	}
	int64_t *dst[3] = { &cfg->history_keep, &cfg->history_max_age_days,
			    &cfg->history_coalesce_s };
	for (int k = 0; k < 3; k++) {
		if (p.hist_line[k]) {
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
	free_list(cfg->pythons, cfg->npythons);
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
