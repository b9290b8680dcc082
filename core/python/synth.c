/*
 * synth.c - the files venvfs generates instead of storing (see synth.h): pyvenv.cfg as
 * `python3.X -m venv` writes it for that version, the activators (bin/activate for
 * bash/zsh/ksh/POSIX sh, activate.fish, activate.csh, Activate.ps1, activate.nu,
 * activate_this.py), and the first lines of console scripts. Everything that depends on
 * where the env lives is produced here from the env's current path, with the quoting
 * each consumer needs (Python repr() for pyvenv.cfg's prompt, each shell's own quoting
 * in its activator, and pip's /bin/sh trampoline for shebangs the kernel cannot handle).
 * The activators behave like CPython's venv scripts (virtualenv's for nushell and
 * activate_this.py) but are written for venvfs: the path is written in, not found.
 */
#include "python/synth.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "python/python.h"

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

/* The value of pyvenv.cfg's `command`, as python3.X -m venv writes it. */
static void put_command(FILE *f, const struct vv_synth_env *e)
{
	fprintf(f, "%s -m venv", e->py->base_exe);
	if (e->without_pip)
		fputs(" --without-pip", f);
	if (e->system_site)
		fputs(" --system-site-packages", f);
	if (e->prompt)
		fprintf(f, " --prompt=\"%s\"", e->prompt);
	fprintf(f, " %s", e->path);
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
		if (!e->no_command && !vv_pycfg_kept_has(e->pykeys, "command")) {
			fputs("command = ", f);
			put_command(f, e);
			fputc('\n', f);
		}
	}
	/* what tools wrote and venvfs keeps for them, in their order */
	for (const char *p = e->pykeys; p && *p;) {
		const char *nl = strchr(p, '\n'), *eq = strchr(p, '=');
		size_t ll = nl ? (size_t)(nl - p) : strlen(p);
		if (eq && eq > p && !vv_pycfg_owned(p, (size_t)(eq - p - 1)))
			fprintf(f, "%.*s\n", (int)ll, p);
		p += ll + (nl ? 1 : 0);
	}
	return mem_close(f, &buf, &blen, out, len);
}

int vv_synth_pyvenv_command(const struct vv_synth_env *e, char **out)
{
	*out = NULL;
	if (!py_at_least(e->py, 3, 11))
		return 0;
	char *buf;
	size_t blen;
	FILE *f = mem_open(&buf, &blen);
	if (!f)
		return vv_err(-ENOMEM, "out of memory");
	put_command(f, e);
	return mem_close(f, &buf, &blen, out, NULL);
}

/* The prompt every activator shows: the env's prompt or name. 3.13 exports it bare as
 * VIRTUAL_ENV_PROMPT whether or not the prompt is changed; earlier versions export
 * "(prompt) " and only when they change the prompt. The label is always "(prompt) ". */
struct prompt_info {
	const char *name;
	char *label;
	bool bare;
};

static int prompt_init(const struct vv_synth_env *e, struct prompt_info *p)
{
	p->name = e->prompt ? e->prompt : e->name;
	p->bare = py_at_least(e->py, 3, 13);
	if (asprintf(&p->label, "(%s) ", p->name) < 0) {
		p->label = NULL;
		return vv_err(-ENOMEM, "out of memory");
	}
	return 0;
}

/* What VIRTUAL_ENV_PROMPT holds for this version. */
static const char *prompt_value(const struct prompt_info *p)
{
	return p->bare ? p->name : p->label;
}

/* Open the output buffer after prompt_init; on failure release the prompt. */
static FILE *gen_open(struct prompt_info *p, char **buf, size_t *len)
{
	FILE *f = mem_open(buf, len);
	if (!f) {
		free(p->label);
		vv_err(-ENOMEM, "out of memory");
	}
	return f;
}

static int gen_close(FILE *f, struct prompt_info *p, char **buf, size_t *blen, char **out,
		     size_t *len)
{
	free(p->label);
	return mem_close(f, buf, blen, out, len);
}

/* bash, zsh, ksh and POSIX sh (dash). Only POSIX syntax plus `hash -r`, which is
 * optional (guarded) so the file also sources cleanly under `set -eu`. Saved values are
 * tested with ${X+x}, so an empty PS1 is restored as empty. */
int vv_synth_activate_sh(const struct vv_synth_env *e, char **out, size_t *len)
{
	struct prompt_info p;
	char *buf;
	size_t blen;
	int r = prompt_init(e, &p);
	if (r < 0)
		return r;
	FILE *f = gen_open(&p, &buf, &blen);
	if (!f)
		return -ENOMEM;
	fputs("# Source this file from bash, zsh, ksh or any POSIX sh: . bin/activate\n"
	      "# Running it as a program has no effect on the calling shell.\n"
	      "\n"
	      "deactivate () {\n"
	      "    # put back what activation changed\n"
	      "    if [ -n \"${_OLD_VIRTUAL_PATH+x}\" ] ; then\n"
	      "        PATH=\"$_OLD_VIRTUAL_PATH\"\n"
	      "        export PATH\n"
	      "        unset _OLD_VIRTUAL_PATH\n"
	      "    fi\n"
	      "    if [ -n \"${_OLD_VIRTUAL_PYTHONHOME:-}\" ] ; then\n"
	      "        PYTHONHOME=\"$_OLD_VIRTUAL_PYTHONHOME\"\n"
	      "        export PYTHONHOME\n"
	      "        unset _OLD_VIRTUAL_PYTHONHOME\n"
	      "    fi\n"
	      "\n"
	      "    # forget remembered command locations so the new PATH is used\n"
	      "    hash -r 2> /dev/null || :\n"
	      "\n"
	      "    if [ -n \"${_OLD_VIRTUAL_PS1+x}\" ] ; then\n"
	      "        PS1=\"$_OLD_VIRTUAL_PS1\"\n"
	      "        export PS1\n"
	      "        unset _OLD_VIRTUAL_PS1\n"
	      "    fi\n"
	      "\n"
	      "    unset VIRTUAL_ENV\n"
	      "    unset VIRTUAL_ENV_PROMPT\n"
	      "    if [ \"${1:-}\" != \"nondestructive\" ] ; then\n"
	      "        # the function removes itself\n"
	      "        unset -f deactivate\n"
	      "    fi\n"
	      "}\n"
	      "\n"
	      "# leave any env that is active now\n"
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
	if (p.bare) {
		fputs("VIRTUAL_ENV_PROMPT=", f);
		put_sh_quoted(f, p.name);
		fputs("\nexport VIRTUAL_ENV_PROMPT\n\n", f);
	}
	fputs("# a PYTHONHOME would point python away from the env: set it aside\n"
	      "if [ -n \"${PYTHONHOME:-}\" ] ; then\n"
	      "    _OLD_VIRTUAL_PYTHONHOME=\"$PYTHONHOME\"\n"
	      "    unset PYTHONHOME\n"
	      "fi\n"
	      "\n"
	      "if [ -z \"${VIRTUAL_ENV_DISABLE_PROMPT:-}\" ] ; then\n"
	      "    _OLD_VIRTUAL_PS1=\"${PS1:-}\"\n"
	      "    PS1=", f);
	put_sh_quoted(f, p.label);
	fputs("\"${PS1:-}\"\n"
	      "    export PS1\n", f);
	if (!p.bare) {
		fputs("    VIRTUAL_ENV_PROMPT=", f);
		put_sh_quoted(f, p.label);
		fputs("\n    export VIRTUAL_ENV_PROMPT\n", f);
	}
	fputs("fi\n"
	      "\n"
	      "# forget remembered command locations so the new PATH is used\n"
	      "hash -r 2> /dev/null || :\n", f);
	return gen_close(f, &p, &buf, &blen, out, len);
}

/* fish single-quoted word: only \ and ' are escaped. */
static void put_fish_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* fish: PATH is a list; the prompt is shown by wrapping fish_prompt, which deactivate
 * puts back. The saved values are exported like venv's, so a nested fish can deactivate
 * the env it inherited. */
static int synth_activate_fish(const struct vv_synth_env *e, char **out, size_t *len)
{
	struct prompt_info p;
	char *buf;
	size_t blen;
	int r = prompt_init(e, &p);
	if (r < 0)
		return r;
	FILE *f = gen_open(&p, &buf, &blen);
	if (!f)
		return -ENOMEM;
	fputs("# Source this file from fish: source bin/activate.fish\n"
	      "# Running it as a program has no effect on the calling shell.\n"
	      "\n"
	      "function deactivate -d 'Leave the Python virtual environment'\n"
	      "    # put back what activation changed\n"
	      "    if set -q _OLD_VIRTUAL_PATH\n"
	      "        set -gx PATH $_OLD_VIRTUAL_PATH\n"
	      "        set -e _OLD_VIRTUAL_PATH\n"
	      "    end\n"
	      "    if set -q _OLD_VIRTUAL_PYTHONHOME\n"
	      "        set -gx PYTHONHOME $_OLD_VIRTUAL_PYTHONHOME\n"
	      "        set -e _OLD_VIRTUAL_PYTHONHOME\n"
	      "    end\n"
	      "    if set -q _OLD_FISH_PROMPT_OVERRIDE\n"
	      "        set -e _OLD_FISH_PROMPT_OVERRIDE\n"
	      "        # only where this shell wrapped the prompt (not in a nested fish)\n"
	      "        if functions -q _old_fish_prompt\n"
	      "            functions -e fish_prompt\n"
	      "            functions -c _old_fish_prompt fish_prompt\n"
	      "            functions -e _old_fish_prompt\n"
	      "        end\n"
	      "    end\n"
	      "    set -e VIRTUAL_ENV\n"
	      "    set -e VIRTUAL_ENV_PROMPT\n"
	      "    if test \"$argv[1]\" != nondestructive\n"
	      "        # the function removes itself\n"
	      "        functions -e deactivate\n"
	      "    end\n"
	      "end\n"
	      "\n"
	      "# leave any env that is active now\n"
	      "deactivate nondestructive\n"
	      "\n"
	      "set -gx VIRTUAL_ENV ", f);
	put_fish_quoted(f, e->path);
	fputs("\n"
	      "\n"
	      "set -gx _OLD_VIRTUAL_PATH $PATH\n"
	      "set -gx PATH \"$VIRTUAL_ENV/bin\" $PATH\n"
	      "\n", f);
	if (p.bare) {
		fputs("set -gx VIRTUAL_ENV_PROMPT ", f);
		put_fish_quoted(f, p.name);
		fputs("\n\n", f);
	}
	fputs("# a PYTHONHOME would point python away from the env: set it aside\n"
	      "if set -q PYTHONHOME\n"
	      "    set -gx _OLD_VIRTUAL_PYTHONHOME $PYTHONHOME\n"
	      "    set -e PYTHONHOME\n"
	      "end\n"
	      "\n"
	      "if test -z \"$VIRTUAL_ENV_DISABLE_PROMPT\"\n"
	      "    if functions -q fish_prompt\n"
	      "        functions -c fish_prompt _old_fish_prompt\n"
	      "    end\n"
	      "    function fish_prompt\n"
	      "        set -l last_status $status\n"
	      "        printf '%s%s%s' (set_color 4B8BBE) ", f);
	put_fish_quoted(f, p.label);
	fputs(" (set_color normal)\n"
	      "        if functions -q _old_fish_prompt\n"
	      "            # the wrapped prompt may show the last command's status\n"
	      "            echo \"exit $last_status\" | source\n"
	      "            _old_fish_prompt\n"
	      "        end\n"
	      "    end\n"
	      "    set -gx _OLD_FISH_PROMPT_OVERRIDE \"$VIRTUAL_ENV\"\n", f);
	if (!p.bare) {
		fputs("    set -gx VIRTUAL_ENV_PROMPT ", f);
		put_fish_quoted(f, p.label);
		fputc('\n', f);
	}
	fputs("end\n", f);
	return gen_close(f, &p, &buf, &blen, out, len);
}

/* csh word: single-quoted runs, with ' ! and \ outside the quotes as \' \! \\ (a ! is
 * history substitution even inside single quotes; a \ inside them means something
 * with tcsh's backslash_quote), and a newline as \<newline> inside the quotes. */
static void put_csh_quoted(FILE *f, const char *s)
{
	bool open = false;
	if (!*s)
		fputs("''", f);
	for (; *s; s++) {
		bool outside = *s == '\'' || *s == '!' || *s == '\\';
		if (outside == open) {
			fputc('\'', f);
			open = !open;
		}
		if (outside || *s == '\n')
			fputc('\\', f);
		fputc(*s, f);
	}
	if (open)
		fputc('\'', f);
}

/* csh and tcsh: one-line alias for deactivate (csh functions do not exist); its tests
 * run /usr/bin/test so a variable is only expanded once it is known to be set. */
static int synth_activate_csh(const struct vv_synth_env *e, char **out, size_t *len)
{
	struct prompt_info p;
	char *buf;
	size_t blen;
	int r = prompt_init(e, &p);
	if (r < 0)
		return r;
	FILE *f = gen_open(&p, &buf, &blen);
	if (!f)
		return -ENOMEM;
	fputs("# Source this file from csh or tcsh: source bin/activate.csh\n"
	      "# Running it as a program has no effect on the calling shell.\n"
	      "\n"
	      "alias deactivate '"
	      "test $?_OLD_VIRTUAL_PATH != 0 && setenv PATH \"$_OLD_VIRTUAL_PATH:q\" && "
	      "unset _OLD_VIRTUAL_PATH; "
	      "test $?_OLD_VIRTUAL_PYTHONHOME != 0 && "
	      "setenv PYTHONHOME \"$_OLD_VIRTUAL_PYTHONHOME:q\" && "
	      "unset _OLD_VIRTUAL_PYTHONHOME; "
	      "rehash; "
	      "test $?_OLD_VIRTUAL_PROMPT != 0 && set prompt=\"$_OLD_VIRTUAL_PROMPT:q\" && "
	      "unset _OLD_VIRTUAL_PROMPT; "
	      "unsetenv VIRTUAL_ENV; unsetenv VIRTUAL_ENV_PROMPT; "
	      "test \"\\!:*\" != nondestructive && unalias deactivate && unalias pydoc'\n"
	      "\n"
	      "# leave any env that is active now\n"
	      "deactivate nondestructive\n"
	      "\n"
	      "setenv VIRTUAL_ENV ", f);
	put_csh_quoted(f, e->path);
	fputs("\n"
	      "\n"
	      "set _OLD_VIRTUAL_PATH=\"$PATH:q\"\n"
	      "setenv PATH \"$VIRTUAL_ENV:q/bin:$PATH:q\"\n"
	      "\n", f);
	if (p.bare) {
		fputs("setenv VIRTUAL_ENV_PROMPT ", f);
		put_csh_quoted(f, p.name);
		fputs("\n\n", f);
	}
	fputs("# a PYTHONHOME would point python away from the env: set it aside\n"
	      "if ( $?PYTHONHOME ) then\n"
	      "    set _OLD_VIRTUAL_PYTHONHOME=\"$PYTHONHOME:q\"\n"
	      "    unsetenv PYTHONHOME\n"
	      "endif\n"
	      "\n"
	      "# as in sh, a non-empty VIRTUAL_ENV_DISABLE_PROMPT leaves the prompt alone\n"
	      "set _venv_do_prompt=1\n"
	      "if ( $?VIRTUAL_ENV_DISABLE_PROMPT ) then\n"
	      "    if ( \"$VIRTUAL_ENV_DISABLE_PROMPT:q\" != \"\" ) set _venv_do_prompt=0\n"
	      "endif\n"
	      "if ( $_venv_do_prompt == 1 ) then\n"
	      "    # a shell without a prompt (not interactive) gets none\n"
	      "    if ( $?prompt ) then\n"
	      "        set _OLD_VIRTUAL_PROMPT=\"$prompt:q\"\n"
	      "        set prompt=", f);
	put_csh_quoted(f, p.label);
	fputs("\"$prompt:q\"\n"
	      "    endif\n", f);
	if (!p.bare) {
		fputs("    setenv VIRTUAL_ENV_PROMPT ", f);
		put_csh_quoted(f, p.label);
		fputc('\n', f);
	}
	fputs("endif\n"
	      "unset _venv_do_prompt\n"
	      "\n"
	      "alias pydoc python -m pydoc\n"
	      "\n"
	      "rehash\n", f);
	return gen_close(f, &p, &buf, &blen, out, len);
}

/* PowerShell single-quoted string: the quote characters PowerShell accepts (' and the
 * typographic U+2018..U+201B) are doubled. */
static void put_ps_quoted(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	fputc('\'', f);
	for (size_t i = 0; u[i]; i++) {
		if (u[i] == '\'') {
			fputs("''", f);
		} else if (u[i] == 0xE2 && u[i + 1] == 0x80 && u[i + 2] >= 0x98 &&
			   u[i + 2] <= 0x9B) {
			fwrite(u + i, 1, 3, f);
			fwrite(u + i, 1, 3, f);
			i += 2;
		} else {
			fputc(u[i], f);
		}
	}
	fputc('\'', f);
}

/* PowerShell (pwsh on Linux or macOS). The env's path and prompt are written in as the
 * defaults of -VenvDir and -Prompt, which still override them as in venv's script. */
static int synth_activate_ps1(const struct vv_synth_env *e, char **out, size_t *len)
{
	struct prompt_info p;
	char *buf;
	size_t blen;
	int r = prompt_init(e, &p);
	if (r < 0)
		return r;
	FILE *f = gen_open(&p, &buf, &blen);
	if (!f)
		return -ENOMEM;
	fputs("<#\n"
	      ".Synopsis\n"
	      "Activate this Python virtual environment in the current PowerShell session.\n"
	      "\n"
	      ".Description\n"
	      "Puts the environment's bin directory first on $Env:PATH, sets $Env:VIRTUAL_ENV,\n"
	      "sets PYTHONHOME aside and prefixes the prompt with the environment's name\n"
	      "(unless $Env:VIRTUAL_ENV_DISABLE_PROMPT is set). `deactivate` undoes all of it.\n"
	      "Dot-source it: . bin/Activate.ps1\n"
	      "\n"
	      ".Parameter VenvDir\n"
	      "The environment to activate; by default this file's environment.\n"
	      "\n"
	      ".Parameter Prompt\n"
	      "The prompt prefix; by default the environment's prompt or name.\n"
	      "#>\n"
	      "Param(\n"
	      "    [Parameter(Mandatory = $false)]\n"
	      "    [String]\n"
	      "    $VenvDir = ", f);
	put_ps_quoted(f, e->path);
	fputs(",\n"
	      "    [Parameter(Mandatory = $false)]\n"
	      "    [String]\n"
	      "    $Prompt = ", f);
	put_ps_quoted(f, p.name);
	fputs("\n"
	      ")\n"
	      "\n"
	      "function global:deactivate ([switch] $NonDestructive) {\n"
	      "    # put back what activation changed\n"
	      "    if (Test-Path -Path Function:_OLD_VIRTUAL_PROMPT) {\n"
	      "        Copy-Item -Path Function:_OLD_VIRTUAL_PROMPT -Destination Function:prompt\n"
	      "        Remove-Item -Path Function:_OLD_VIRTUAL_PROMPT\n"
	      "    }\n"
	      "    if (Test-Path -Path Env:_OLD_VIRTUAL_PYTHONHOME) {\n"
	      "        Copy-Item -Path Env:_OLD_VIRTUAL_PYTHONHOME -Destination Env:PYTHONHOME\n"
	      "        Remove-Item -Path Env:_OLD_VIRTUAL_PYTHONHOME\n"
	      "    }\n"
	      "    if (Test-Path -Path Env:_OLD_VIRTUAL_PATH) {\n"
	      "        Copy-Item -Path Env:_OLD_VIRTUAL_PATH -Destination Env:PATH\n"
	      "        Remove-Item -Path Env:_OLD_VIRTUAL_PATH\n"
	      "    }\n"
	      "    if (Test-Path -Path Env:VIRTUAL_ENV) {\n"
	      "        Remove-Item -Path Env:VIRTUAL_ENV\n"
	      "    }\n"
	      "    if (Test-Path -Path Env:VIRTUAL_ENV_PROMPT) {\n"
	      "        Remove-Item -Path Env:VIRTUAL_ENV_PROMPT\n"
	      "    }\n"
	      "    if (Get-Variable -Name _PYTHON_VENV_PROMPT_PREFIX -ErrorAction SilentlyContinue) {\n"
	      "        Remove-Variable -Name _PYTHON_VENV_PROMPT_PREFIX -Scope Global -Force\n"
	      "    }\n"
	      "    if (-not $NonDestructive) {\n"
	      "        # the function removes itself\n"
	      "        Remove-Item -Path Function:deactivate\n"
	      "    }\n"
	      "}\n"
	      "\n"
	      "# leave any env that is active now\n"
	      "deactivate -NonDestructive\n"
	      "\n"
	      "$VenvDir = $VenvDir.TrimEnd('/')\n"
	      "$Env:VIRTUAL_ENV = $VenvDir\n", f);
	if (p.bare)
		fputs("$Env:VIRTUAL_ENV_PROMPT = $Prompt\n", f);
	fputs("\n"
	      "if (-not $Env:VIRTUAL_ENV_DISABLE_PROMPT) {\n"
	      "    # keep the current prompt function to call it and to put it back\n"
	      "    function global:_OLD_VIRTUAL_PROMPT { \"\" }\n"
	      "    Copy-Item -Path Function:prompt -Destination Function:_OLD_VIRTUAL_PROMPT\n"
	      "    New-Variable -Name _PYTHON_VENV_PROMPT_PREFIX -Scope Global -Option ReadOnly `\n"
	      "        -Description 'Python virtual environment prompt prefix' -Value $Prompt\n"
	      "    function global:prompt {\n"
	      "        Write-Host -NoNewline -ForegroundColor Green \"($_PYTHON_VENV_PROMPT_PREFIX) \"\n"
	      "        _OLD_VIRTUAL_PROMPT\n"
	      "    }\n", f);
	if (!p.bare)
		fputs("    $Env:VIRTUAL_ENV_PROMPT = \"($Prompt) \"\n", f);
	fputs("}\n"
	      "\n"
	      "# a PYTHONHOME would point python away from the env: set it aside\n"
	      "if (Test-Path -Path Env:PYTHONHOME) {\n"
	      "    Copy-Item -Path Env:PYTHONHOME -Destination Env:_OLD_VIRTUAL_PYTHONHOME\n"
	      "    Remove-Item -Path Env:PYTHONHOME\n"
	      "}\n"
	      "\n"
	      "Copy-Item -Path Env:PATH -Destination Env:_OLD_VIRTUAL_PATH\n"
	      "$Env:PATH = (Join-Path -Path $VenvDir -ChildPath 'bin') + "
	      "[System.IO.Path]::PathSeparator + $Env:PATH\n", f);
	return gen_close(f, &p, &buf, &blen, out, len);
}

/* nushell double-quoted string: \ and " escaped, control characters as \n \t \r or
 * \u{..}; nothing else is special inside "" (no interpolation). */
static void put_nu_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20 || c == 0x7F)
			fprintf(f, "\\u{%x}", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* nushell: a module used as an overlay (`overlay use bin/activate.nu`); hiding the
 * overlay drops everything it set, so deactivate is an alias for that. */
static int synth_activate_nu(const struct vv_synth_env *e, char **out, size_t *len)
{
	struct prompt_info p;
	char *buf;
	size_t blen;
	int r = prompt_init(e, &p);
	if (r < 0)
		return r;
	FILE *f = gen_open(&p, &buf, &blen);
	if (!f)
		return -ENOMEM;
	fputs("# Activate from nushell with: overlay use bin/activate.nu\n"
	      "# Leave with `deactivate`, which hides the overlay and with it every change\n"
	      "# below (an overlay used under another name is left with `overlay hide NAME`).\n"
	      "\n"
	      "export-env {\n"
	      "    let venv_dir = ", f);
	put_nu_quoted(f, e->path);
	fputs("\n    let venv_prompt = ", f);
	put_nu_quoted(f, prompt_value(&p));
	fputs("\n    let venv_label = ", f);
	put_nu_quoted(f, p.label);
	fputs("\n"
	      "    let venv_bin = ([$venv_dir 'bin'] | path join)\n"
	      "\n"
	      "    # Windows spells it Path; PATH may still be a string in old configs\n"
	      "    let path_name = (if 'Path' in $env { 'Path' } else { 'PATH' })\n"
	      "    let old_path = ($env | get $path_name)\n"
	      "    let new_path = (if ($old_path | describe) == 'string' {\n"
	      "        $old_path | split row (char esep) | prepend $venv_bin\n"
	      "    } else {\n"
	      "        $old_path | prepend $venv_bin\n"
	      "    })\n"
	      "\n"
	      "    # as in sh, a non-empty VIRTUAL_ENV_DISABLE_PROMPT leaves the prompt alone\n"
	      "    let show_prompt = (if 'VIRTUAL_ENV_DISABLE_PROMPT' in $env {\n"
	      "        ($env.VIRTUAL_ENV_DISABLE_PROMPT | into string | is-empty)\n"
	      "    } else {\n"
	      "        true\n"
	      "    })\n"
	      "\n"
	      "    let base = {\n"
	      "        $path_name : $new_path\n"
	      "        VIRTUAL_ENV: $venv_dir\n"
	      "    }\n", f);
	if (p.bare)
		fputs("    let base = ($base | merge { VIRTUAL_ENV_PROMPT: $venv_prompt })\n", f);
	fputs("    let with_prompt = (if $show_prompt {\n"
	      "        let old_prompt = (if 'PROMPT_COMMAND' in $env {\n"
	      "            $env.PROMPT_COMMAND\n"
	      "        } else {\n"
	      "            ''\n"
	      "        })\n"
	      "        let new_prompt = (if ($old_prompt | describe) in ['closure' 'block'] {\n"
	      "            {|| $venv_label + (do $old_prompt) }\n"
	      "        } else {\n"
	      "            {|| $venv_label + $old_prompt }\n"
	      "        })\n", f);
	if (p.bare)
		fputs("        $base | merge { PROMPT_COMMAND: $new_prompt }\n", f);
	else
		fputs("        $base | merge {\n"
		      "            PROMPT_COMMAND: $new_prompt\n"
		      "            VIRTUAL_ENV_PROMPT: $venv_prompt\n"
		      "        }\n", f);
	fputs("    } else {\n"
	      "        $base\n"
	      "    })\n"
	      "    load-env $with_prompt\n"
	      "\n"
	      "    # a PYTHONHOME would point python away from the env: hidden while active\n"
	      "    if 'PYTHONHOME' in $env { hide-env PYTHONHOME }\n"
	      "}\n"
	      "\n"
	      "export alias pydoc = python -m pydoc\n"
	      "export alias deactivate = overlay hide activate\n", f);
	return gen_close(f, &p, &buf, &blen, out, len);
}

/* Python string literal in ASCII (like ascii()): non-ASCII as \x \u \U escapes and bytes
 * that are not UTF-8 as \udcXX (what os.fsdecode gives), so the file reads the same
 * whatever encoding the reader assumes. */
static void put_py_ascii(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	fputc('\'', f);
	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t l = utf8_decode(u + i, n - i, &c);
		if (!l) {
			fprintf(f, "\\udc%02x", u[i]);
			i++;
			continue;
		}
		i += l;
		if (c == '\'' || c == '\\')
			fprintf(f, "\\%c", (char)c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20 || (c >= 0x7F && c <= 0xFF))
			fprintf(f, "\\x%02x", c);
		else if (c > 0xFFFF)
			fprintf(f, "\\U%08x", c);
		else if (c > 0xFF)
			fprintf(f, "\\u%04x", c);
		else
			fputc((int)c, f);
	}
	fputc('\'', f);
}

/* activate_this.py: activates the env inside an interpreter that is already running
 * (exec'd or runpy.run_path'd): environment for child processes, the env's site-packages
 * (with its .pth files) ahead of the rest of sys.path, and sys.prefix. */
static int synth_activate_this(const struct vv_synth_env *e, char **out, size_t *len)
{
	struct prompt_info p;
	char *buf;
	size_t blen;
	int r = prompt_init(e, &p);
	if (r < 0)
		return r;
	FILE *f = gen_open(&p, &buf, &blen);
	if (!f)
		return -ENOMEM;
	fputs("\"\"\"Activate this virtual environment inside a running Python interpreter.\n"
	      "\n"
	      "For programs that must run under another interpreter but use this env's\n"
	      "packages:\n"
	      "\n"
	      "    path = '<env>/bin/activate_this.py'\n"
	      "    exec(open(path).read(), {'__file__': path})\n"
	      "\n"
	      "or runpy.run_path(path). There is no deactivation: it changes the process.\n"
	      "\"\"\"\n"
	      "\n"
	      "\n"
	      "def _activate(venv_dir, version, prompt):\n"
	      "    import os\n"
	      "    import site\n"
	      "    import sys\n"
	      "\n"
	      "    # what `source bin/activate` sets, for this process and its children\n"
	      "    bin_dir = os.path.join(venv_dir, 'bin')\n"
	      "    old_path = os.environ.get('PATH')\n"
	      "    os.environ['PATH'] = bin_dir + os.pathsep + old_path if old_path else bin_dir\n"
	      "    os.environ['VIRTUAL_ENV'] = venv_dir\n"
	      "    os.environ['VIRTUAL_ENV_PROMPT'] = prompt\n"
	      "    os.environ.pop('PYTHONHOME', None)\n"
	      "\n"
	      "    # the env's packages (and its .pth files) first on sys.path\n"
	      "    old_len = len(sys.path)\n"
	      "    site.addsitedir(os.path.join(venv_dir, 'lib', 'python' + version, 'site-packages'))\n"
	      "    sys.path[:] = sys.path[old_len:] + sys.path[:old_len]\n"
	      "\n"
	      "    if not hasattr(sys, 'real_prefix'):\n"
	      "        sys.real_prefix = sys.prefix\n"
	      "    sys.prefix = sys.exec_prefix = venv_dir\n"
	      "\n"
	      "\n"
	      "_activate(\n"
	      "    ", f);
	put_py_ascii(f, e->path);
	fprintf(f, ",\n    '%d.%d',\n    ", e->py->major, e->py->minor);
	put_py_ascii(f, prompt_value(&p));
	fputs(",\n"
	      ")\n"
	      "del _activate\n", f);
	return gen_close(f, &p, &buf, &blen, out, len);
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

/* ---- the table of synthesized files ---------------------------------------------- */

static int synth_gitignore(const struct vv_synth_env *e, char **out, size_t *len)
{
	(void)e;
	static const char text[] =
		"# Created by venv; see https://docs.python.org/3/library/venv.html\n*\n";
	*out = strdup(text);
	if (!*out)
		return vv_err(-ENOMEM, "out of memory");
	*len = sizeof(text) - 1;
	return 0;
}

static const struct {
	const char *name;
	bool in_bin;
	int min_minor; /* first Python 3 minor version that has it */
	int (*gen)(const struct vv_synth_env *e, char **out, size_t *len);
} synth_files[VV_SYNTH_NFILES] = {
	[VV_SYNTH_PYVENV_CFG] = { "pyvenv.cfg", false, 0, vv_synth_pyvenv_cfg },
	[VV_SYNTH_GITIGNORE] = { ".gitignore", false, 13, synth_gitignore },
	[VV_SYNTH_ACTIVATE] = { "activate", true, 0, vv_synth_activate_sh },
	[VV_SYNTH_ACTIVATE_FISH] = { "activate.fish", true, 0, synth_activate_fish },
	[VV_SYNTH_ACTIVATE_CSH] = { "activate.csh", true, 0, synth_activate_csh },
	[VV_SYNTH_ACTIVATE_PS1] = { "Activate.ps1", true, 0, synth_activate_ps1 },
	[VV_SYNTH_ACTIVATE_NU] = { "activate.nu", true, 0, synth_activate_nu },
	[VV_SYNTH_ACTIVATE_THIS] = { "activate_this.py", true, 0, synth_activate_this },
};

const char *vv_synth_name(enum vv_synth_file f)
{
	return synth_files[f].name;
}

bool vv_synth_in_bin(enum vv_synth_file f)
{
	return synth_files[f].in_bin;
}

bool vv_synth_exists(enum vv_synth_file f, const struct vv_python *py)
{
	return synth_files[f].gen && py_at_least(py, 3, synth_files[f].min_minor);
}

int vv_synth_file(enum vv_synth_file f, const struct vv_synth_env *e, char **out, size_t *len)
{
	if ((unsigned)f >= VV_SYNTH_NFILES || !synth_files[f].gen)
		return vv_err(-ENOENT, "no such synthesized file");
	return synth_files[f].gen(e, out, len);
}

/* Recognise a first line written for the env at envpath (see synth.h): mtree.c uses it
 * when a file in an env's bin/ is published, import.c for every file of an imported
 * venv's bin/. */
size_t vv_synth_script_head(const char *buf, size_t len, const char *envpath, char *sfx,
			    size_t sfxsize)
{
	static const char tr_head[] = "#!/bin/sh\n'''exec' ", tr_tail[] = " \"$0\" \"$@\"\n' '''\n";
	size_t el = strlen(envpath), i = 0, k = 0;
	/* pip's trampoline, used for paths with spaces or too long for a #! line; the
	 * interpreter is double-quoted when its path has a space */
	bool tramp = len > sizeof(tr_head) - 1 && !memcmp(buf, tr_head, sizeof(tr_head) - 1);
	bool quoted = false;
	if (tramp) {
		i = sizeof(tr_head) - 1;
		quoted = buf[i] == '"';
		i += quoted;
	} else if (len >= 2 && !memcmp(buf, "#!", 2)) {
		i = 2;
	} else {
		return 0;
	}
	if (len < i + el + 11 || memcmp(buf + i, envpath, el) ||
	    memcmp(buf + i + el, "/bin/python", 11))
		return 0;
	i += el + 11;
	while (i < len && ((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.') && k + 1 < sfxsize)
		sfx[k++] = buf[i++];
	sfx[k] = 0;
	if (!tramp)
		return i < len && buf[i] == '\n' ? i + 1 : 0;
	if (quoted && (i >= len || buf[i++] != '"'))
		return 0;
	if (len - i < sizeof(tr_tail) - 1 || memcmp(buf + i, tr_tail, sizeof(tr_tail) - 1))
		return 0;
	return i + sizeof(tr_tail) - 1;
}
