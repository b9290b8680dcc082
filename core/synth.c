/*
 * synth.c - the files venvfs generates instead of storing (see synth.h): pyvenv.cfg as
 * `python3.X -m venv` writes it for that version, bin/activate for bash/zsh, and the
 * first lines of console scripts. Everything that depends on where the env lives is
 * produced here from the env's current path, with the quoting each consumer needs
 * (Python repr() for pyvenv.cfg's prompt, sh single quotes for activate, and pip's
 * /bin/sh trampoline for shebangs the kernel cannot handle).
 */
#include "synth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "python.h"

/* Longest "#!..." line (without the newline) the kernel is trusted with, as in pip. */
#define SHEBANG_MAX 127

static FILE *mem_open(char **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	return open_memstream(buf, len);
}

static int mem_close(FILE *f, char **buf, size_t *len, char **out, size_t *outlen)
{
	bool bad = ferror(f);
	if (fclose(f) != 0 || bad || !*buf) {
		free(*buf);
		*buf = NULL;
		return vv_err(-ENOMEM, "out of memory");
	}
	*out = *buf;
	if (outlen)
		*outlen = *len;
	return 0;
}

static bool py_at_least(const struct vv_python *py, int major, int minor)
{
	return py->major > major || (py->major == major && py->minor >= minor);
}

/* Decode one UTF-8 sequence at s (n bytes left). Returns its length, or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;
	if (s[0] < 0x80)
		return *cp = s[0], 1;
	if ((s[0] & 0xE0) == 0xC0)
		len = 2, c = s[0] & 0x1F, min = 0x80;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3, c = s[0] & 0x0F, min = 0x800;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Non-ASCII code points Python's str.isprintable() rejects that are likely to show up:
 * C1 controls, separators other than space, and common format characters. */
static bool unicode_unprintable(uint32_t c)
{
	return (c >= 0x80 && c <= 0xA0) || c == 0xAD || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
	       (c >= 0x205F && c <= 0x2064) || c == 0x3000 || c == 0xFEFF;
}

/* Python's repr() of a str: single quotes unless the text has ' and no ". */
static void put_py_repr(FILE *f, const char *s)
{
	char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	fputc(q, f);
	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t l = utf8_decode(p + i, n - i, &c);
		if (!l) {
			/* Not UTF-8: Python would hold a surrogate escape; show the byte. */
			fprintf(f, "\\udc%02x", p[i]);
			i++;
			continue;
		}
		if (c == (unsigned char)q || c == '\\')
			fprintf(f, "\\%c", (char)c);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20 || c == 0x7F ||
			 (c >= 0x80 && c <= 0xFF && unicode_unprintable(c)))
			fprintf(f, "\\x%02x", c);
		else if (unicode_unprintable(c))
			fprintf(f, "\\u%04x", c);
		else
			fwrite(p + i, 1, l, f);
		i += l;
	}
	fputc(q, f);
}

/* sh single-quoted word: 'it'\''s'. */
static void put_sh_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

int vv_synth_pyvenv_cfg(const struct vv_synth_env *e, char **out, size_t *len)
{
	const struct vv_python *py = e->py;
	char *buf;
	size_t blen;
	FILE *f = mem_open(&buf, &blen);
	if (!f)
		return vv_err(-ENOMEM, "out of memory");
	fprintf(f, "home = %s\n", py->home);
	fprintf(f, "include-system-site-packages = %s\n", e->system_site ? "true" : "false");
	fprintf(f, "version = %s\n", py->version);
	if (e->prompt && py_at_least(py, 3, 8)) {
		fputs("prompt = ", f);
		put_py_repr(f, e->prompt);
		fputc('\n', f);
	}
	if (py_at_least(py, 3, 11)) {
		fprintf(f, "executable = %s\n", py->exe);
		fprintf(f, "command = %s -m venv", py->base_exe);
		if (e->without_pip)
			fputs(" --without-pip", f);
		if (e->system_site)
			fputs(" --system-site-packages", f);
		if (e->prompt)
			fprintf(f, " --prompt=\"%s\"", e->prompt);
		fprintf(f, " %s\n", e->path);
	}
	return mem_close(f, &buf, &blen, out, len);
}

int vv_synth_activate_sh(const struct vv_synth_env *e, char **out, size_t *len)
{
	const char *name = e->prompt ? e->prompt : e->name;
	/* 3.13 exports the bare prompt; earlier versions "(prompt) ", with PS1. */
	bool bare = py_at_least(e->py, 3, 13);
	char *buf, *label = NULL;
	size_t blen;
	if (asprintf(&label, "(%s) ", name) < 0)
		return vv_err(-ENOMEM, "out of memory");
	FILE *f = mem_open(&buf, &blen);
	if (!f) {
		free(label);
		return vv_err(-ENOMEM, "out of memory");
	}
	fputs("# This file must be used with \"source bin/activate\" *from bash*\n"
	      "# You cannot run it directly\n"
	      "\n"
	      "deactivate () {\n"
	      "    # reset old environment variables\n"
	      "    if [ -n \"${_OLD_VIRTUAL_PATH:-}\" ] ; then\n"
	      "        PATH=\"${_OLD_VIRTUAL_PATH:-}\"\n"
	      "        export PATH\n"
	      "        unset _OLD_VIRTUAL_PATH\n"
	      "    fi\n"
	      "    if [ -n \"${_OLD_VIRTUAL_PYTHONHOME:-}\" ] ; then\n"
	      "        PYTHONHOME=\"${_OLD_VIRTUAL_PYTHONHOME:-}\"\n"
	      "        export PYTHONHOME\n"
	      "        unset _OLD_VIRTUAL_PYTHONHOME\n"
	      "    fi\n"
	      "\n"
	      "    # forget remembered command locations so the new PATH is used\n"
	      "    hash -r 2> /dev/null\n"
	      "\n"
	      "    if [ -n \"${_OLD_VIRTUAL_PS1:-}\" ] ; then\n"
	      "        PS1=\"${_OLD_VIRTUAL_PS1:-}\"\n"
	      "        export PS1\n"
	      "        unset _OLD_VIRTUAL_PS1\n"
	      "    fi\n"
	      "\n"
	      "    unset VIRTUAL_ENV\n"
	      "    unset VIRTUAL_ENV_PROMPT\n"
	      "    if [ ! \"${1:-}\" = \"nondestructive\" ] ; then\n"
	      "    # Self destruct!\n"
	      "        unset -f deactivate\n"
	      "    fi\n"
	      "}\n"
	      "\n"
	      "# unset irrelevant variables\n"
	      "deactivate nondestructive\n"
	      "\n"
	      "VIRTUAL_ENV=", f);
	put_sh_quoted(f, e->path);
	fputs("\n"
	      "export VIRTUAL_ENV\n"
	      "\n"
	      "_OLD_VIRTUAL_PATH=\"$PATH\"\n"
	      "PATH=\"$VIRTUAL_ENV/bin:$PATH\"\n"
	      "export PATH\n"
	      "\n", f);
	if (bare) {
		fputs("VIRTUAL_ENV_PROMPT=", f);
		put_sh_quoted(f, name);
		fputs("\nexport VIRTUAL_ENV_PROMPT\n\n", f);
	}
	fputs("# unset PYTHONHOME if set\n"
	      "if [ -n \"${PYTHONHOME:-}\" ] ; then\n"
	      "    _OLD_VIRTUAL_PYTHONHOME=\"${PYTHONHOME:-}\"\n"
	      "    unset PYTHONHOME\n"
	      "fi\n"
	      "\n"
	      "if [ -z \"${VIRTUAL_ENV_DISABLE_PROMPT:-}\" ] ; then\n"
	      "    _OLD_VIRTUAL_PS1=\"${PS1:-}\"\n"
	      "    PS1=", f);
	put_sh_quoted(f, label);
	fputs("\"${PS1:-}\"\n"
	      "    export PS1\n", f);
	if (!bare) {
		fputs("    VIRTUAL_ENV_PROMPT=", f);
		put_sh_quoted(f, label);
		fputs("\n    export VIRTUAL_ENV_PROMPT\n", f);
	}
	fputs("fi\n"
	      "\n"
	      "# forget remembered command locations so the new PATH is used\n"
	      "hash -r 2> /dev/null\n", f);
	free(label);
	return mem_close(f, &buf, &blen, out, len);
}

int vv_synth_shebang(const char *envpath, char **out, size_t *len)
{
	char *buf;
	size_t blen;
	bool plain = strlen("#!") + strlen(envpath) + strlen("/bin/python") <= SHEBANG_MAX &&
		     !strpbrk(envpath, " \t\n");
	FILE *f = mem_open(&buf, &blen);
	if (!f)
		return vv_err(-ENOMEM, "out of memory");
	if (plain) {
		fprintf(f, "#!%s/bin/python\n", envpath);
		return mem_close(f, &buf, &blen, out, len);
	}
	/* The line is both sh (exec the env's python on this file) and a Python string
	 * literal that Python skips. In sh's double quotes ", \ are backslash-escaped (also
	 * valid Python escapes); $ and ` are written as '$' '`' pieces instead, because
	 * "\$" would make Python 3.12+ warn about an invalid escape on every run. */
	fputs("#!/bin/sh\n'''exec' \"", f);
	for (const char *p = envpath; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '$' || *p == '`')
			fprintf(f, "\"'%c'\"", *p);
		else
			fputc(*p, f);
	}
	fputs("/bin/python\" \"$0\" \"$@\"\n' '''\n", f);
	return mem_close(f, &buf, &blen, out, len);
}
