/*
 * pykeys.c - pyvenv.cfg lines kept for the tools that wrote them (see pykeys.h): the
 * check of their bounds and form, and their encoding in envs/NAME's [pyvenv.cfg]
 * section. The INI reader underneath (inih) splits keys at ':' too, cuts values at
 * " ;", strips blanks and has a short line limit, so what it would misread is escaped
 * as %XX and long lines are continued on `+ = ...` lines.
 */
#include "env/pykeys.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* Longest encoded line written (the INI reader's limit is 197 bytes a line): the key,
 * " = " and the value's encoded bytes; a line may end 2 bytes over it when its last
 * blank is escaped. The longest key (48 bytes, each escaped: 144) still leaves room. */
#define LINE_BUDGET 190

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int vv_pykeys_check(const char *text, size_t len, const char *what)
{
	if (memchr(text, 0, len))
		return vv_err(-EINVAL, "%s: NUL byte", what);
	if (len > VV_PYKEYS_MAX_SIZE)
		return vv_err(-EINVAL, "%s: the kept lines are %zu bytes (at most %d)", what, len,
			      VV_PYKEYS_MAX_SIZE);
	const char *p = text, *end = text + len;
	int n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return vv_err(-EINVAL, "%s: last line has no newline", what);
		size_t ll = (size_t)(nl - p);
		if (++n > VV_PYKEYS_MAX_LINES)
			return vv_err(-EINVAL, "%s: more than %d kept lines", what,
				      VV_PYKEYS_MAX_LINES);
		const char *eq = memchr(p, '=', ll);
		size_t kl = eq ? (size_t)(eq - p) : 0;
		if (!eq || kl < 2 || p[kl - 1] != ' ' || eq + 1 >= nl || eq[1] != ' ')
			return vv_err(-EINVAL, "%s: line %d is not 'KEY = VALUE'", what, n);
		kl--;
		if (kl == 0 || is_blank(p[0]) || is_blank(p[kl - 1]))
			return vv_err(-EINVAL, "%s: line %d: empty key or blanks around it", what, n);
		if (kl > VV_PYKEYS_MAX_KEY)
			return vv_err(-EINVAL, "%s: key '%.*s...' is longer than %d bytes", what, 20,
				      p, VV_PYKEYS_MAX_KEY);
		if (ll > VV_PYKEYS_MAX_LINE)
			return vv_err(-EINVAL, "%s: line '%.*s = ...' is %zu bytes (at most %d)", what,
				      (int)kl, p, ll, VV_PYKEYS_MAX_LINE);
		for (size_t i = 0; i < kl; i++)
			if (is_ctl((unsigned char)p[i]))
				return vv_err(-EINVAL, "%s: key on line %d has a control character",
					      what, n);
		const char *v = eq + 2;
		size_t vl = (size_t)(nl - v);
		if (vl && (is_blank(v[0]) || is_blank(v[vl - 1])))
			return vv_err(-EINVAL, "%s: value of '%.*s' has blanks at its ends", what,
				      (int)kl, p);
		for (size_t i = 0; i < vl; i++)
			if (v[i] != '\t' && is_ctl((unsigned char)v[i]))
				return vv_err(-EINVAL, "%s: value of '%.*s' has a control character "
					      "(0x%02x)", what, (int)kl, p, (unsigned char)v[i]);
		p = nl + 1;
	}
	return 0;
}

static bool key_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

void vv_pykeys_encode(FILE *f, const char *text)
{
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		const char *eq = strchr(p, '=');
		if (!nl || !eq || eq > nl)
			break; /* checked before: does not happen */
		size_t used = 3; /* " = " */
		for (const char *k = p; k < eq - 1; k++) {
			if (key_safe((unsigned char)*k)) {
				fputc(*k, f);
				used++;
			} else {
				fprintf(f, "%%%02X", (unsigned char)*k);
				used += 3;
			}
		}
		fputs(" = ", f);
		/* the value, up to LINE_BUDGET bytes a line with what precedes it; a blank
		 * that would start or end a line is escaped (the reader strips them) */
		bool last_blank = false, line_start = true;
		for (const char *v = eq + 2; v < nl; v++) {
			unsigned char c = (unsigned char)*v;
			char tok[4];
			if (c == '%' || c == ';' || is_ctl(c))
				snprintf(tok, sizeof(tok), "%%%02X", c);
			else
				tok[0] = (char)c, tok[1] = 0;
			size_t tl = strlen(tok);
			if (used + tl > LINE_BUDGET) {
				if (last_blank)
					fputs("%20", f); /* instead of the blank not yet written */
				fputs("\n+ = ", f);
				used = 4;
				line_start = true;
			} else if (last_blank) {
				fputc(' ', f);
			}
			last_blank = false;
			if (c == ' ' && line_start) {
				fputs("%20", f);
				used += 3;
			} else if (c == ' ') {
				last_blank = true; /* written with the next byte */
				used++;
			} else {
				fputs(tok, f);
				used += tl;
			}
			line_start = false;
		}
		if (last_blank)
			fputs("%20", f);
		fputc('\n', f);
		p = nl + 1;
	}
}

static int grow(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 256;
		while (nc < *len + n + 1)
			nc *= 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return vv_err(-ENOMEM, "out of memory");
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = 0;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode %XX escapes of s (n bytes) in place; the new length, or -EINVAL. */
static int unescape(char *s, size_t n, size_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			s[o++] = s[i];
			continue;
		}
		int h = i + 2 < n ? hexval(s[i + 1]) : -1, l = h >= 0 ? hexval(s[i + 2]) : -1;
		if (l < 0)
			return vv_err(-EINVAL, "bad %%-escape (expected %%XX, two hex digits)");
		s[o++] = (char)(h * 16 + l);
		i += 2;
	}
	*out = o;
	return 0;
}

/* Append the current line (key, decoded value) to the text. */
static int flush_line(struct vv_pykeys_reader *rd)
{
	if (!rd->key)
		return 0;
	size_t vl = 0;
	int r = rd->val ? unescape(rd->val, rd->vlen, &vl) : 0;
	if (r == 0)
		r = grow(&rd->text, &rd->len, &rd->cap, rd->key, strlen(rd->key));
	if (r == 0)
		r = grow(&rd->text, &rd->len, &rd->cap, " = ", 3);
	if (r == 0 && vl)
		r = grow(&rd->text, &rd->len, &rd->cap, rd->val, vl);
	if (r == 0)
		r = grow(&rd->text, &rd->len, &rd->cap, "\n", 1);
	free(rd->key);
	rd->key = NULL;
	rd->vlen = 0;
	/* bounded while reading: the file is at most 64 KiB, but say so early */
	if (r == 0 && rd->len > VV_PYKEYS_MAX_SIZE)
		r = vv_err(-EINVAL, "[pyvenv.cfg] holds more than %d bytes", VV_PYKEYS_MAX_SIZE);
	return r;
}

/* Are the escapes of an encoded value (one line's part of it) well formed? */
static int check_escapes(const char *v)
{
	for (; *v; v++)
		if (*v == '%' && (hexval(v[1]) < 0 || hexval(v[2]) < 0))
			return vv_err(-EINVAL, "bad %%-escape (expected %%XX, two hex digits)");
	return 0;
}

int vv_pykeys_feed(struct vv_pykeys_reader *rd, const char *key, const char *value)
{
	int r = check_escapes(value);
	if (r < 0)
		return r;
	if (!strcmp(key, "+")) {
		if (!rd->key)
			return vv_err(-EINVAL, "'+' line without a line to continue");
		return grow(&rd->val, &rd->vlen, &rd->vcap, value, strlen(value));
	}
	if ((r = flush_line(rd)) < 0)
		return r;
	size_t kl = strlen(key);
	char *k = strdup(key);
	if (!k)
		return vv_err(-ENOMEM, "out of memory");
	if ((r = unescape(k, kl, &kl)) < 0 || (kl == 0 || memchr(k, 0, kl) || memchr(k, '=', kl))) {
		free(k);
		return r < 0 ? r : vv_err(-EINVAL, "key '%s' is empty or has '=' or NUL", key);
	}
	k[kl] = 0;
	rd->key = k;
	rd->vlen = 0;
	return grow(&rd->val, &rd->vlen, &rd->vcap, value, strlen(value));
}

int vv_pykeys_finish(struct vv_pykeys_reader *rd, const char *what, char **out)
{
	*out = NULL;
	int r = flush_line(rd);
	if (r == 0 && rd->len)
		r = vv_pykeys_check(rd->text, rd->len, what);
	if (r == 0 && rd->len) {
		*out = rd->text;
		rd->text = NULL;
		rd->len = rd->cap = 0;
	}
	return r;
}

void vv_pykeys_reader_release(struct vv_pykeys_reader *rd)
{
	free(rd->text);
	free(rd->val);
	free(rd->key);
	memset(rd, 0, sizeof(*rd));
}
