/*
 * ini.c - the strict INI reader every venvfs INI file goes through (ini.h), and the
 * one-section table layer on top of it.
 *
 * inih does the parsing; it is fed by our own line reader so that we know the line
 * number of every key, can see [section] headers that hold no keys, and can reject what
 * inih would silently get wrong: lines longer than its fixed buffer (it would split
 * them and count the pieces as lines), NUL bytes (it would stop at them) and indented
 * lines after a key (it would append them to that key as a "continuation").
 *
 * The table layer exists so that venvfs.ini, envs/NAME and packages/RECORD check
 * sections, unknown keys and duplicate keys the same way, with the same messages.
 */
#include "util/ini.h"

#include <ctype.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

/* ---- the reader ---- */

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

/* ---- one section, known keys ---- */

struct table_ctx {
	const struct vv_ini_table *t;
	int lines[VV_INI_MAX_KEYS];
};

static int table_section(void *user, const char *section, int lineno)
{
	const struct table_ctx *c = user;
	(void)lineno;
	if (c->t->extra_section && !strcmp(section, c->t->extra_section))
		return 0;
	if (strcmp(section, c->t->section))
		return vv_err(-EINVAL, "unknown section [%s] (expected [%s])", section,
			      c->t->section);
	return 0;
}

/* "unknown key 'K' in [S] (known: a, b, c)" */
static int table_unknown(const struct vv_ini_table *t, const char *key)
{
	char known[400] = "";
	size_t o = 0;
	for (size_t i = 0; i < t->nkeys && o < sizeof(known); i++) {
		int n = snprintf(known + o, sizeof(known) - o, "%s%s", i ? ", " : "", t->keys[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return vv_err(-EINVAL, "unknown key '%s' in [%s] (known: %s)", key, t->section, known);
}

static int table_key(void *user, const char *section, const char *key, const char *value,
		     int lineno)
{
	struct table_ctx *c = user;
	const struct vv_ini_table *t = c->t;
	if (!*section)
		return vv_err(-EINVAL, "key '%s' outside a section (start with [%s])", key,
			      t->section);
	if (t->extra_section && !strcmp(section, t->extra_section))
		return t->extra(t->user, key, value, lineno);
	if (strcmp(section, t->section))
		return table_section(user, section, lineno);
	size_t k = 0;
	while (k < t->nkeys && strcmp(t->keys[k], key))
		k++;
	if (k == t->nkeys)
		return table_unknown(t, key);
	if (c->lines[k])
		return vv_err(-EINVAL, "duplicate key '%s' (first set on line %d)", key,
			      c->lines[k]);
	c->lines[k] = lineno;
	return t->value(t->user, (int)k, value, lineno);
}

int vv_ini_parse_table(const char *buf, size_t len, const char *fname,
		       const struct vv_ini_table *t, int *lines)
{
	if (lines)
		memset(lines, 0, t->nkeys * sizeof(*lines));
	if (t->nkeys > VV_INI_MAX_KEYS)
		return vv_err(-EINVAL, "%s: a table of %zu keys (at most %d)", fname, t->nkeys,
			      VV_INI_MAX_KEYS);
	struct table_ctx c = { .t = t };
	struct vv_ini_cb cb = { .section = table_section, .key = table_key, .user = &c };
	int r = vv_ini_parse(buf, len, fname, &cb);
	if (lines)
		memcpy(lines, c.lines, t->nkeys * sizeof(*lines));
	return r;
}

/* ---- values ---- */

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
