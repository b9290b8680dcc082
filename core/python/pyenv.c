/*
 * pyenv.c - which interpreter a pyenv shim would run, worked out from pyenv's own
 * files without running anything (python_int.h).
 *
 * A pyenv shim is a bash script that runs `pyenv exec NAME`: a dozen bash processes and
 * about 0.1 s on every `venvctl create` whose python3 is a shim. What it execs follows
 * from the environment and a few small files, so this file does pyenv's work (pyenv 2.x:
 * libexec/pyenv, pyenv-exec, pyenv-version-name, pyenv-version-file, -file-read and
 * pyenv-which): the version names come from PYENV_VERSION, else from the nearest
 * .python-version from the working directory (or PYENV_DIR) up, else from
 * $PYENV_ROOT/version, else "system"; each name's versions/NAME/bin/PROGRAM is tried in
 * order, then "system": the first PROGRAM on PATH with pyenv's shims left out.
 *
 * Correctness comes first: wherever pyenv could answer otherwise than this code can
 * tell for sure, the answer is "run the shim", and the caller does what it always did.
 * That is: a shim not in the exact form pyenv writes or not reached in its own shims
 * directory; a version name pyenv would resolve as a prefix or does not have; a hook
 * that could change the choice (only pyenv's pip-rehash and pyenv-virtualenv's `which`
 * hooks are known not to, for an interpreter that is found); variables that change how
 * bash starts; a PWD, PATH or version file a shell would read otherwise; a target that
 * is not an ELF binary. Nothing is cached here: it is a few small reads, and the facts
 * of the binary found are cached by pycache.c, keyed by its real path and checked
 * against its identity.
 */
#include "python/python.h"
#include "python/python_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

#define SHIM_MAX 4096           /* a shim is ~330 bytes and three paths */
#define VFILE_MAX 65536         /* a version file longer than this: run the shim */
#define VLINE_MAX 1024          /* pyenv reads a version file's lines with read -n 1024 */
#define MAX_NAMES 64

/* The shim pyenv-rehash writes: PYENV_ROOT twice, then the pyenv program. */
#define SHIM_FORM                                               \
	"#!/usr/bin/env bash\n"                                 \
	"set -e\n"                                              \
	"[ -n \"$PYENV_DEBUG\" ] && set -x\n"                   \
	"\n"                                                    \
	"program=\"${0##*/}\"\n"                                \
	"\n"                                                    \
	"export PYENV_ROOT=\"%s\"\n"                            \
	"SHIM_PATH=${0%%/*}\n"                                  \
	"if [[ $SHIM_PATH != \"%s/shims\" ]]; then\n"           \
	"  export _PYENV_SHIM_PATH=\"$SHIM_PATH\"\n"            \
	"fi\n"                                                  \
	"exec \"%s\" exec \"$program\" \"$@\"\n"

struct shim {
	char root[PATH_MAX];    /* PYENV_ROOT */
	char install[PATH_MAX]; /* pyenv's install prefix: its program's real path, two up */
	const char *prog;       /* the shim's name: python3, python3.11 ... */
};

/* Read at most cap bytes of path; the byte count, or -1. */
static ssize_t read_head(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t n = 0;
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	close(fd);
	return n < 0 ? -1 : (ssize_t)len;
}

/* A path (PATH_MAX bytes) made by printf; false when it does not fit. */
static bool pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	return n >= 0 && n < PATH_MAX;
}

static bool is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* An absolute path that a shell's `cd` and pyenv's pattern matching leave as it is: no
 * empty, "." or ".." component, no trailing '/' (but "/" itself), no glob or quoting
 * character. */
static bool plain_abs(const char *p)
{
	if (p[0] != '/' || strpbrk(p, "*?[\\\"$`\n~:"))
		return false;
	for (const char *c = p; *c; c++)
		if (*c == '/' && (c[1] == '/' || (c[1] == '.' && (!c[2] || c[2] == '/')) ||
				  (c[1] == '.' && c[2] == '.' && (!c[3] || c[3] == '/')) ||
				  (!c[1] && c != p)))
			return false;
	return true;
}

/* The text after `key` up to the next '"' into out, when it is a plain path. */
static bool quoted(const char *text, const char *key, char *out)
{
	const char *p = strstr(text, key);
	if (!p)
		return false;
	p += strlen(key);
	size_t n = strcspn(p, "\"\n");
	if (p[n] != '"' || n >= PATH_MAX)
		return false;
	memcpy(out, p, n);
	out[n] = 0;
	return plain_abs(out);
}

/* Is path a shim in the exact form pyenv-rehash writes? Its PYENV_ROOT and pyenv
 * program into root and pyenv (PATH_MAX bytes each). */
static bool parse_shim(const char *path, char *root, char *pyenv)
{
	char text[SHIM_MAX + 1], want[SHIM_MAX + 1];
	ssize_t len = read_head(path, text, SHIM_MAX);
	if (len < 2 || memcmp(text, "#!", 2))
		return false;
	text[len] = 0;
	if (strlen(text) != (size_t)len || !quoted(text, "\nexport PYENV_ROOT=\"", root) ||
	    !strcmp(root, "/") || !quoted(text, "\nexec \"", pyenv))
		return false;
	int n = snprintf(want, sizeof(want), SHIM_FORM, root, root, pyenv);
	return n == len && !memcmp(want, text, (size_t)len);
}

bool python_pyenv_shim(const char *path, char *root)
{
	char pyenv[PATH_MAX];
	return parse_shim(path, root, pyenv);
}

/* ---- hooks: pyenv sources DIR/CMD/NAME.bash of every hook directory DIR ---- */

enum { HOOKS_OTHER, HOOKS_PYENV, HOOKS_VIRTUALENV };

/* Is this hook known not to change what `pyenv exec PROG` runs, when pyenv-which finds
 * an executable file? pip-rehash swaps pip, easy_install and any program it has a file
 * for with a wrapper; pyenv-virtualenv's `which` hooks act only on a program not
 * found. A symlinked hook would be another file. */
static bool hook_known(const struct shim *s, const char *dir, int kind, const char *cmd,
		       const char *name)
{
	char path[PATH_MAX], alt[PATH_MAX];
	struct stat sb;
	if (!pathf(path, "%s/%s/%s", dir, cmd, name) || lstat(path, &sb) < 0 ||
	    !S_ISREG(sb.st_mode))
		return false;
	if (kind == HOOKS_PYENV && !strcmp(cmd, "exec") && !strcmp(name, "pip-rehash.bash"))
		return strncmp(s->prog, "pip", 3) && strncmp(s->prog, "easy_install", 12) &&
		       pathf(alt, "%s/%s/pip-rehash/%s", dir, cmd, s->prog) &&
		       lstat(alt, &sb) < 0 && errno == ENOENT;
	return kind == HOOKS_VIRTUALENV && !strcmp(cmd, "which") &&
	       (!strcmp(name, "python-config.bash") || !strcmp(name, "conda.bash") ||
		!strcmp(name, "system-site-packages.bash"));
}

/* No hook of dir for the commands a shim runs that is not known. */
static bool hooks_known(const struct shim *s, const char *dir, int kind)
{
	static const char *const cmds[] = { "version-name", "which", "exec" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++) {
		char sub[PATH_MAX];
		DIR *dh = pathf(sub, "%s/%s", dir, cmds[i]) ? opendir(sub) : NULL;
		struct dirent *de;
		bool ok = true;
		while (ok && dh && (de = readdir(dh))) {
			size_t n = strlen(de->d_name);
			if (de->d_name[0] != '.' && n > 5 && !strcmp(de->d_name + n - 5, ".bash"))
				ok = hook_known(s, dir, kind, cmds[i], de->d_name);
		}
		if (dh)
			closedir(dh);
		if (!ok)
			return false;
	}
	return true;
}

/* base/plugins/STAR (as pyenv globs them): no bin/PROG, which `command -v` would find
 * before PATH's for "system"; with hooks, every etc/pyenv.d hook known. */
static bool plugins_ok(const struct shim *s, const char *base, bool hooks)
{
	char dir[PATH_MAX], path[PATH_MAX];
	DIR *dh = pathf(dir, "%s/plugins", base) ? opendir(dir) : NULL;
	struct dirent *de;
	bool ok = true;
	struct stat sb;
	while (ok && dh && (de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		ok = pathf(path, "%s/%s/bin/%s", dir, de->d_name, s->prog) &&
		     lstat(path, &sb) < 0 && errno == ENOENT;
		if (ok && hooks)
			ok = pathf(path, "%s/%s/etc/pyenv.d", dir, de->d_name) &&
			     hooks_known(s, path, strcmp(de->d_name, "pyenv-virtualenv") ?
						   HOOKS_OTHER : HOOKS_VIRTUALENV);
	}
	if (dh)
		closedir(dh);
	return ok;
}

/* Nothing pyenv adds in front of the shim's work can change the choice: its hook
 * directories (libexec/pyenv's list) and the directories it puts before PATH. */
static bool pyenv_dirs_ok(const struct shim *s)
{
	static const char *const sys_hooks[] = { "/usr/etc/pyenv.d", "/usr/local/etc/pyenv.d",
						 "/etc/pyenv.d", "/usr/lib/pyenv/hooks" };
	char dir[PATH_MAX];
	struct stat sb;
	if (!pathf(dir, "%s/pyenv.d", s->root) || !hooks_known(s, dir, HOOKS_PYENV) ||
	    !pathf(dir, "%s/pyenv.d", s->install) || !hooks_known(s, dir, HOOKS_PYENV))
		return false;
	for (size_t i = 0; i < sizeof(sys_hooks) / sizeof(*sys_hooks); i++)
		if (!hooks_known(s, sys_hooks[i], HOOKS_OTHER))
			return false;
	return pathf(dir, "%s/libexec/%s", s->install, s->prog) && lstat(dir, &sb) < 0 &&
	       errno == ENOENT && plugins_ok(s, s->install, false) &&
	       plugins_ok(s, s->root, true);
}

/* Variables that change how bash starts or what pyenv does beyond this file's reading:
 * startup files and options, exported functions, a hook path of the caller's, the shim
 * paths a shim outside ROOT/shims leaves for the next. */
static bool environ_plain(void)
{
	static const char *const names[] = { "BASH_ENV=", "SHELLOPTS=", "BASHOPTS=",
					     "GLOBIGNORE=", "PYENV_HOOK_PATH=", "PYENV_NATIVE_EXT=",
					     "BASH_FUNC_", "_PYENV_SHIM_PATH" };
	for (char **e = environ; e && *e; e++)
		for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
			if (!strncmp(*e, names[i], strlen(names[i])))
				return false;
	return true;
}

/* ---- the version names: pyenv-version-name, pyenv-version-file(-read) ---- */

/* bash's $PWD: the inherited one when it is the working directory, else getcwd(). */
static bool shell_pwd(char *out)
{
	const char *pwd = getenv("PWD");
	struct stat a, b;
	if (pwd && pwd[0] == '/' && stat(pwd, &a) == 0 && stat(".", &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		if (strlen(pwd) >= PATH_MAX)
			return false;
		strcpy(out, pwd);
	} else if (!getcwd(out, PATH_MAX)) {
		return false;
	}
	return plain_abs(out);
}

/* The first DIR/.python-version that is a regular file, from dir up to '/'. */
static bool find_local(const char *dir, char *out)
{
	char d[PATH_MAX];
	strcpy(d, dir);
	for (;;) {
		struct stat sb;
		if (pathf(out, "%s/.python-version", d) && stat(out, &sb) == 0 &&
		    S_ISREG(sb.st_mode))
			return true;
		if (!d[0])
			return false;
		*strrchr(d, '/') = 0;
	}
}

/* pyenv-version-file-read: the first word of each line that is neither empty nor a
 * comment, joined by ':' ("" for none or no file: "system"). false when pyenv could
 * read the file otherwise (a long line, a CR inside a line, a NUL, an unreadable file). */
static bool read_version_file(const char *path, char *out, size_t cap)
{
	struct stat sb;
	out[0] = 0;
	if (stat(path, &sb) < 0)
		return errno == ENOENT;
	if (sb.st_size == 0)
		return true;
	if (!S_ISREG(sb.st_mode) || sb.st_size > VFILE_MAX)
		return false;
	char *buf = malloc(VFILE_MAX + 2);
	ssize_t len = buf ? read_head(path, buf, VFILE_MAX + 1) : -1;
	bool ok = len >= 0 && len <= VFILE_MAX && !memchr(buf, 0, (size_t)len);
	if (ok)
		buf[len] = 0; /* strspn below stops there */
	size_t olen = 0;
	for (char *line = buf, *end = buf + (ok ? len : 0); ok && line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line)), *le = nl ? nl : end;
		if (le > line && le[-1] == '\r')
			le--;
		char *w = line + strspn(line, " \t"), *we = w;
		while (we < le && *we != ' ' && *we != '\t')
			we++;
		size_t n = w < le ? (size_t)(we - w) : 0;
		ok = le - line < VLINE_MAX && !memchr(line, '\r', (size_t)(le - line)) &&
		     olen + n + 2 <= cap;
		if (ok && n && *w != '#') {
			if (olen)
				out[olen++] = ':';
			memcpy(out + olen, w, n);
			out[olen += n] = 0;
		}
		line = nl ? nl + 1 : end;
	}
	free(buf);
	return ok;
}

/* The version names (pyenv-version-name), split into names[]; false when pyenv could
 * pick otherwise (a name it would resolve as a prefix, or does not have). */
static bool version_names(const struct shim *s, char *spec, size_t cap,
			  const char **names, size_t *n)
{
	const char *env = getenv("PYENV_VERSION"), *dir = getenv("PYENV_DIR");
	char pwd[PATH_MAX], file[PATH_MAX];
	*n = 0;
	if (env && *env) {
		if (strlen(env) >= cap)
			return false;
		strcpy(spec, env);
	} else {
		if (!shell_pwd(pwd))
			return false;
		if (!dir || !*dir)
			dir = pwd;
		else if (!plain_abs(dir) || strlen(dir) >= PATH_MAX || !is_dir(dir))
			return false;
		if (!find_local(dir, file) && (!strcmp(dir, pwd) || !find_local(pwd, file)) &&
		    !pathf(file, "%s/version", s->root))
			return false;
		if (!read_version_file(file, spec, cap))
			return false;
	}
	if (!spec[0] || !strcmp(spec, "system")) {
		names[(*n)++] = "system";
		return true;
	}
	/* Split at ':' as bash does (unquoted, so anything a glob could match is out). */
	for (char *p = spec, *next; p; p = next) {
		if ((next = strchr(p, ':')))
			*next++ = 0;
		char d[PATH_MAX];
		if (!*p || strpbrk(p, "*?[\\/") || !strcmp(p, ".") || !strcmp(p, "..") ||
		    *n == MAX_NAMES)
			return false;
		if (strcmp(p, "system") && !(pathf(d, "%s/versions/%s", s->root, p) && is_dir(d))) {
			/* "python-3.12.1" names 3.12.1 */
			if (strncmp(p, "python-", 7) || !p[7] ||
			    !(pathf(d, "%s/versions/%s", s->root, p + 7) && is_dir(d)))
				return false;
			p += 7;
		}
		names[(*n)++] = p;
	}
	return true;
}

/* ---- the program: pyenv-which ---- */

enum { FOUND, NEXT, RUN };

/* [ -x path ]: FOUND for an executable regular file, NEXT for none, RUN for anything
 * else executable. */
static int executable(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) < 0 || access(path, X_OK) < 0)
		return NEXT;
	return S_ISREG(sb.st_mode) ? FOUND : RUN;
}

/* "system": the first PROG on PATH without ROOT/shims. An empty, relative or oddly
 * spelled directory before it: RUN (bash would read it otherwise or relative to the
 * working directory). */
static int system_prog(const struct shim *s, char *out)
{
	const char *path = getenv("PATH");
	char shims[PATH_MAX];
	if (!path || strchr(path, '~') || !pathf(shims, "%s/shims", s->root))
		return RUN;
	for (const char *p = path;;) {
		size_t n = strcspn(p, ":");
		if (n != strlen(shims) || memcmp(p, shims, n)) {
			char dir[PATH_MAX];
			if (!pathf(dir, "%.*s", (int)n, p) || !plain_abs(dir) ||
			    !strcmp(dir, "/") || !pathf(out, "%s/%s", dir, s->prog))
				return RUN;
			int r = executable(out);
			if (r != NEXT)
				return r;
		}
		if (!p[n])
			return NEXT;
		p += n + 1;
	}
}

int python_pyenv_target(const char *path, char **target)
{
	*target = NULL;
	struct shim *s = malloc(sizeof(*s));
	char *spec = malloc(VFILE_MAX), *out = malloc(PATH_MAX), *real = malloc(PATH_MAX);
	const char *names[MAX_NAMES + 1], *slash = strrchr(path, '/');
	size_t n;
	int r = -ENOMEM, found = RUN;
	if (!s || !spec || !out || !real)
		goto out;
	r = PYTHON_PYENV_NOT_SHIM;
	if (!slash || !parse_shim(path, s->root, real))
		goto out;
	/* Reached as ROOT/shims/PROG, or the shim exports another shim path. */
	r = PYTHON_PYENV_RUN;
	s->prog = slash + 1;
	if (!*s->prog || !pathf(out, "%s/shims/%s", s->root, s->prog) || strcmp(out, path) ||
	    !environ_plain())
		goto out;
	/* libexec/pyenv's _PYENV_INSTALL_PREFIX: its program's directory, resolved, up one */
	if (!realpath(real, s->install))
		goto out;
	for (int up = 0; up < 2; up++) {
		char *sl = strrchr(s->install, '/');
		sl[sl == s->install ? 1 : 0] = 0; /* "/" stays */
	}
	if (!pyenv_dirs_ok(s) || !version_names(s, spec, VFILE_MAX, names, &n))
		goto out;
	names[n++] = "system";
	found = NEXT;
	for (size_t i = 0; i < n && found == NEXT; i++) {
		if (!strcmp(names[i], "system"))
			found = system_prog(s, out);
		else
			found = pathf(out, "%s/versions/%s/bin/%s", s->root, names[i], s->prog) ?
				executable(out) : RUN;
	}
	/* Not found (pyenv says why) or not a binary whose facts can be cached. */
	if (found == FOUND && python_is_elf(out)) {
		r = (*target = strdup(out)) ? PYTHON_PYENV_FOUND : -ENOMEM;
	}
out:
	free(s);
	free(spec);
	free(out);
	free(real);
	return r == -ENOMEM ? vv_err(r, "out of memory") : r;
}
