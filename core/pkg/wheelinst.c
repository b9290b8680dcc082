/*
 * wheelinst.c - install a wheel (PEP 427) into a tree builder the way pip installs it
 * into a venv, so an env's site-packages looks exactly like one pip made (wheel.h).
 *
 * Member contents are streamed into store temp files while being hashed and checked
 * against RECORD; the store holds each distinct file once, so every env that installs
 * the same wheel points at the same objects.
 *
 * Determinism matters as much as safety: files get the member's zip mtime, generated
 * files (console scripts, INSTALLER, RECORD) get the newest member mtime, and console
 * scripts keep a neutral "#!python" first line (the mount shows the env's interpreter
 * there). The same wheel therefore always gives byte-identical trees.
 */
#include "pkg/wheel.h"
#include "pkg/wheel_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/vec.h"
#include "python/python.h"
#include "store/store.h"
#include "store/tree.h"
#include "store/treebuild.h"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ---------------------------------------------------------------- installing */

/* Names the mount synthesizes for every env; a wheel may not put files there. */
static bool reserved_dest(const struct wheel *w, const char *dest)
{
	char a[32], b[32];
	if (!strcmp(dest, "pyvenv.cfg") || !strcmp(dest, "lib64") || !strncmp(dest, "lib64/", 6))
		return true;
	if (strncmp(dest, "bin/", 4))
		return false;
	const char *f = dest + 4;
	snprintf(a, sizeof(a), "python%d", w->major);
	snprintf(b, sizeof(b), "python%d.%d", w->major, w->minor);
	return !strcmp(f, "python") || !strcmp(f, a) || !strcmp(f, b) || !strcmp(f, "activate") ||
	       !strcmp(f, "activate.csh") || !strcmp(f, "activate.fish") ||
	       !strcmp(f, "Activate.ps1");
}

static int add_row(struct wheel *w, const char *dest, const vv_oid *oid, uint64_t size)
{
	if (VV_GROW(w->rows, w->nrows, w->caprows, 256) < 0)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	struct outrow *row = &w->rows[w->nrows];
	size_t spl = strlen(w->sp);
	int n;
	if (!strncmp(dest, w->sp, spl) && dest[spl] == '/')
		n = asprintf(&row->path, "%s", dest + spl + 1);
	else
		n = asprintf(&row->path, "../../../%s", dest);
	if (n < 0)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	if (oid)
		vv_oid_b64(oid, row->b64);
	else
		row->b64[0] = 0;
	row->size = size;
	w->nrows++;
	return 0;
}

/* Put a file into the builder; conflicts name the member that caused them. */
static int tb_put(struct wheel *w, const char *member, const char *dest, uint8_t kind,
		  uint16_t mode, uint64_t size, int64_t mtime_ns, const vv_oid *oid)
{
	if (reserved_dest(w, dest))
		return wheel_err(w, member, "'%s' is reserved for the file the mount provides",
				 dest);
	struct vv_tree_ent e = {
		.kind = kind, .mode = mode, .size = size, .mtime_ns = mtime_ns, .oid = *oid,
	};
	int r = vv_tb_add(w->tb, dest, &e);
	if (r == -EEXIST || r == -ENOTDIR)
		return wheel_err(w, member, "conflicts with another installed file at '%s'", dest);
	if (r < 0)
		return wheel_prefix(w, member, r);
	return add_row(w, dest, oid, size);
}

/* Publish a finished temp file whose content hashes to want. Always through the store
 * (an existing object is fine there), which also removes a named fallback temp file. */
static int publish_tmp(struct wheel *w, int fd, const vv_oid *want, const char *member)
{
	vv_oid got;
	int r;
	if ((r = vv_odb_publish_tmpfile(&w->st->odb, fd, &got, NULL)) < 0)
		return wheel_prefix(w, member, r);
	if (!vv_oid_eq(&got, want))
		return vv_err(-EIO, "%s: %s: content changed while being stored", w->wname,
			      member);
	return 0;
}

/* Writes what gets stored, rewriting a "#!python..." first line to exactly
 * "#!python\n" when asked (scripts from .data/scripts). */
enum { S_PLAIN, S_DECIDE, S_SKIPLINE };
#define PY_SHEBANG "#!python"

struct filesink {
	int fd;
	vv_hasher *h;
	uint64_t size;
	int state;
	char head[8];
	size_t nhead;
	bool rewritten;
};

static int fs_emit(struct filesink *s, const char *buf, size_t n)
{
	if (!n)
		return 0;
	vv_hasher_update(s->h, buf, n);
	s->size += n;
	int r = vv_write_all(s->fd, buf, n);
	return r < 0 ? vv_err_sys(r, "cannot write store temp file") : 0;
}

static int file_sink(void *ctx, const char *buf, size_t n)
{
	struct filesink *s = ctx;
	size_t i = 0;
	while (s->state == S_DECIDE && i < n) {
		s->head[s->nhead++] = buf[i++];
		if (s->head[s->nhead - 1] != PY_SHEBANG[s->nhead - 1]) {
			s->state = S_PLAIN;
			int r = fs_emit(s, s->head, s->nhead);
			if (r < 0)
				return r;
		} else if (s->nhead == sizeof(s->head)) {
			s->state = S_SKIPLINE;
			s->rewritten = true;
			int r = fs_emit(s, PY_SHEBANG "\n", sizeof(PY_SHEBANG));
			if (r < 0)
				return r;
		}
	}
	if (s->state == S_SKIPLINE && i < n) {
		const char *nl = memchr(buf + i, '\n', n - i);
		if (!nl)
			return 0;
		i = (size_t)(nl - buf) + 1;
		s->state = S_PLAIN;
	}
	return fs_emit(s, buf + i, n - i);
}

static int install_member(struct wheel *w, const struct member *m, const char *dest,
			  bool script)
{
	int fd = vv_odb_tmpfile(&w->st->odb);
	if (fd < 0)
		return wheel_prefix(w, m->name, fd);
	vv_hasher *orig = vv_hasher_new();
	struct filesink s = {.fd = fd, .h = vv_hasher_new(), .state = script ? S_DECIDE : S_PLAIN};
	int r;
	if (!orig || !s.h) {
		r = vv_err(-ENOMEM, "%s: out of memory", w->wname);
		goto out;
	}
	if ((r = wheel_stream(w, m, orig, file_sink, &s)) < 0)
		goto out;
	if (s.state == S_DECIDE && (r = fs_emit(&s, s.head, s.nhead)) < 0) {
		r = wheel_prefix(w, m->name, r);
		goto out;
	}
	vv_oid ooid, soid;
	vv_hasher_final(orig, &ooid);
	vv_hasher_final(s.h, &soid);
	if ((r = wheel_check_record(w, m, &ooid)) < 0)
		goto out;
	if ((r = publish_tmp(w, fd, &soid, m->name)) < 0)
		goto out;
	r = tb_put(w, m->name, dest, s.rewritten ? VV_SCRIPT : VV_REG, m->mode, s.size,
		   m->mtime_ns, &soid);
out:
	vv_hasher_free(orig);
	vv_hasher_free(s.h);
	close(fd);
	return r;
}

/* Where a member goes, relative to the env root (malloc'd); *script for .data/scripts. */
static int dest_of(struct wheel *w, const struct member *m, char **dest, bool *script)
{
	const char *name = m->name, *slash = strchr(name, '/');
	size_t tl = slash ? (size_t)(slash - name) : strlen(name);
	int n;
	*script = false;
	*dest = NULL;
	if (tl > 5 && !memcmp(name + tl - 5, ".data", 5)) {
		if (!slash)
			return wheel_err(w, name, "a .data entry that is not a directory");
		if (strlen(w->datadir) != tl || memcmp(name, w->datadir, tl))
			return wheel_err(w, name, "unexpected .data directory (expected '%s')",
					 w->datadir);
		const char *scheme = slash + 1, *s2 = strchr(scheme, '/');
		if (!s2)
			return wheel_err(w, name, "file directly in the .data directory");
		size_t sl = (size_t)(s2 - scheme);
		const char *rest = s2 + 1;
		if ((sl == 7 && !memcmp(scheme, "purelib", 7)) ||
		    (sl == 7 && !memcmp(scheme, "platlib", 7))) {
			n = asprintf(dest, "%s/%s", w->sp, rest);
		} else if (sl == 7 && !memcmp(scheme, "scripts", 7)) {
			n = asprintf(dest, "bin/%s", rest);
			*script = true;
		} else if (sl == 7 && !memcmp(scheme, "headers", 7)) {
			n = asprintf(dest, "include/site/%s/%s/%s", w->pyname, w->name, rest);
		} else if (sl == 4 && !memcmp(scheme, "data", 4)) {
			n = asprintf(dest, "%s", rest);
		} else {
			return wheel_err(w, name, "unknown .data scheme '%.*s'", (int)sl, scheme);
		}
	} else {
		n = asprintf(dest, "%s/%s", w->sp, name);
	}
	if (n < 0) {
		*dest = NULL;
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	}
	return 0;
}

static int install_members(struct wheel *w)
{
	char rec[600], inst[600], req[600];
	snprintf(rec, sizeof(rec), "%s/RECORD", w->distinfo);
	snprintf(inst, sizeof(inst), "%s/INSTALLER", w->distinfo);
	snprintf(req, sizeof(req), "%s/REQUESTED", w->distinfo);
	for (size_t i = 0; i < w->nm; i++) {
		const struct member *m = &w->m[i];
		/* Directories come from file paths; RECORD and INSTALLER are rewritten, and
		 * REQUESTED too when the installer writes its own. */
		if (m->is_dir || !strcmp(m->name, rec))
			continue;
		if (!strcmp(m->name, inst) ||
		    ((w->flags & VV_WHEEL_REQUESTED) && !strcmp(m->name, req))) {
			/* Not installed (rewritten), but still listed like every member. */
			if (!wheel_rec_find(w, m->name) && !wheel_record_exempt(w, m->name))
				return wheel_err(w, m->name, "not listed in RECORD");
			continue;
		}
		char *dest;
		bool script;
		int r = dest_of(w, m, &dest, &script);
		if (r == 0)
			r = install_member(w, m, dest, script);
		free(dest);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- entry points */

struct ep {
	char *name, *value;
};

struct epset {
	struct ep *v;
	size_t n, cap;
	bool oom;
};

static int ep_add(struct epset *s, const char *name, const char *value)
{
	int r = VV_GROW(s->v, s->n, s->cap, 16);
	if (r < 0)
		return r;
	s->v[s->n].name = strdup(name);
	s->v[s->n].value = strdup(value);
	if (!s->v[s->n].name || !s->v[s->n].value) {
		free(s->v[s->n].name);
		free(s->v[s->n].value);
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

static void ep_free(struct epset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].value);
	}
	free(s->v);
}

static int ep_handler(void *user, const char *section, const char *name, const char *value)
{
	struct epset *s = user;
	if (strcmp(section, "console_scripts") && strcmp(section, "gui_scripts"))
		return 1;
	if (ep_add(s, name, value) < 0) {
		s->oom = true;
		return 0;
	}
	return 1;
}

static bool valid_script_name(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!is_alnum(*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

/* A dotted Python name of ASCII identifiers; returns its length (0 if none). */
static size_t dotted_name(const char *s)
{
	size_t i = 0;
	for (;;) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
			return 0;
		while (is_alnum(s[i]) || s[i] == '_')
			i++;
		if (s[i] != '.')
			return i;
		i++;
	}
}

/* "module:attr [extras]" -> module and attr (malloc'd). */
static int parse_ep_value(const char *v, char **module, char **attr)
{
	const char *p = v;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t ml = dotted_name(p);
	if (!ml)
		return -EINVAL;
	const char *mod = p;
	p += ml;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != ':')
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t al = dotted_name(p);
	if (!al)
		return -EINVAL;
	const char *at = p;
	p += al;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '[') {
		p = strchr(p, ']');
		if (!p)
			return -EINVAL;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (*p)
		return -EINVAL;
	*module = strndup(mod, ml);
	*attr = strndup(at, al);
	if (!*module || !*attr) {
		free(*module);
		free(*attr);
		return -ENOMEM;
	}
	return 0;
}

/* The wrapper pip 23 generates (distlib's template), first line "#!python". */
static int make_script(const char *module, const char *attr, char **out, size_t *len)
{
	size_t rl = strcspn(attr, ".");
	int n = asprintf(out,
			 "#!python\n"
			 "# -*- coding: utf-8 -*-\n"
			 "import re\n"
			 "import sys\n"
			 "from %s import %.*s\n"
			 "if __name__ == '__main__':\n"
			 "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
			 "    sys.exit(%s())\n",
			 module, (int)rl, attr, attr);
	if (n < 0)
		return -ENOMEM;
	*len = (size_t)n;
	return 0;
}

/* pip(\d+(\.\d+)?)?  /  easy_install(-\d+\.\d+)? */
static bool versioned_name(const char *s, const char *base, char sep, bool opt_minor)
{
	size_t bl = strlen(base);
	if (strncmp(s, base, bl))
		return false;
	s += bl;
	if (!*s)
		return true;
	if (sep) {
		if (*s++ != sep)
			return false;
	}
	if (!(*s >= '0' && *s <= '9'))
		return false;
	while (*s >= '0' && *s <= '9')
		s++;
	if (!*s)
		return opt_minor;
	if (*s++ != '.' || !(*s >= '0' && *s <= '9'))
		return false;
	while (*s >= '0' && *s <= '9')
		s++;
	return !*s;
}

static int write_script(struct wheel *w, const char *epmember, const char *name,
			const char *value)
{
	char *module = NULL, *attr = NULL, *text = NULL, dest[300];
	size_t len;
	int r = parse_ep_value(value, &module, &attr);
	if (r == -ENOMEM)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	if (r < 0)
		return wheel_err(w, epmember, "bad entry point '%s = %.200s'", name, value);
	if ((r = make_script(module, attr, &text, &len)) < 0) {
		r = vv_err(-ENOMEM, "%s: out of memory", w->wname);
		goto out;
	}
	vv_oid oid;
	if ((r = vv_odb_put_buf(&w->st->odb, text, len, &oid)) < 0) {
		r = wheel_prefix(w, epmember, r);
		goto out;
	}
	snprintf(dest, sizeof(dest), "bin/%s", name);
	r = tb_put(w, epmember, dest, VV_SCRIPT, 0755, len, w->mtime_ns, &oid);
out:
	free(module);
	free(attr);
	free(text);
	return r;
}

static int install_entry_points(struct wheel *w)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/entry_points.txt", w->distinfo);
	const struct member *m = wheel_find_member(w, path);
	if (!m)
		return 0;
	char *text;
	size_t len;
	int r = wheel_read_member(w, m, MAX_SMALL, &text, &len);
	if (r < 0)
		return r;
	if (strlen(text) != len) {
		free(text);
		return wheel_err(w, path, "NUL byte");
	}
	/* Lines are stripped first, as Python's entry point reader does: no inih
	 * continuation lines. Lines inih would split are refused. */
	char *clean = malloc(len + 1), *o = clean;
	if (!clean) {
		free(text);
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	}
	size_t lineno = 1;
	for (const char *l = text; *l; lineno++) {
		while (*l == ' ' || *l == '\t')
			l++;
		const char *e = strchr(l, '\n');
		size_t ll = e ? (size_t)(e - l) + 1 : strlen(l);
		if (ll + 3 > INI_MAX_LINE) {
			free(text);
			free(clean);
			return wheel_err(w, path, "line %zu is too long", lineno);
		}
		memcpy(o, l, ll);
		o += ll;
		l += ll;
	}
	*o = 0;
	free(text);

	struct epset set = {0};
	int line = ini_parse_string(clean, ep_handler, &set);
	free(clean);
	if (set.oom || line == -2) {
		r = vv_err(-ENOMEM, "%s: out of memory", w->wname);
		goto out;
	}
	if (line != 0) {
		r = wheel_err(w, path, "syntax error on line %d", line);
		goto out;
	}
	for (size_t i = 0; i < set.n; i++) {
		if (!valid_script_name(set.v[i].name)) {
			r = wheel_err(w, path, "bad entry point name '%.200s'", set.v[i].name);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(set.v[i].name, set.v[j].name)) {
				r = wheel_err(w, path, "entry point '%s' defined twice",
					      set.v[i].name);
				goto out;
			}
	}

	/* pip replaces pip/easy_install wrappers with ones for the running interpreter:
	 * pip, pipX, pipX.Y and easy_install, easy_install-X.Y. */
	const char *pipv = NULL, *eiv = NULL;
	for (size_t i = 0; i < set.n; i++) {
		if (!strcmp(set.v[i].name, "pip"))
			pipv = set.v[i].value;
		if (!strcmp(set.v[i].name, "easy_install"))
			eiv = set.v[i].value;
	}
	for (size_t i = 0; i < set.n; i++) {
		const char *n = set.v[i].name;
		if ((pipv && versioned_name(n, "pip", 0, true)) ||
		    (eiv && versioned_name(n, "easy_install", '-', false)))
			continue;
		if ((r = write_script(w, path, n, set.v[i].value)) < 0)
			goto out;
	}
	char name[64];
	if (pipv) {
		const char *names[3] = {"pip", name, name + 32};
		snprintf(name, 32, "pip%d", w->major);
		snprintf(name + 32, 32, "pip%d.%d", w->major, w->minor);
		for (int k = 0; k < 3; k++)
			if ((r = write_script(w, path, names[k], pipv)) < 0)
				goto out;
	}
	if (eiv) {
		snprintf(name, sizeof(name), "easy_install-%d.%d", w->major, w->minor);
		if ((r = write_script(w, path, "easy_install", eiv)) < 0 ||
		    (r = write_script(w, path, name, eiv)) < 0)
			goto out;
	}
	r = 0;
out:
	ep_free(&set);
	return r;
}

/* ---------------------------------------------------------------- INSTALLER and RECORD out */

static int write_installer_and_record(struct wheel *w, const char *installer)
{
	char dest[700], member[600];
	vv_oid oid;
	int r;
	size_t il = strlen(installer), len;
	char *text = malloc(il + 2);
	if (!text)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	memcpy(text, installer, il);
	memcpy(text + il, "\n", 2);
	snprintf(member, sizeof(member), "%s/INSTALLER", w->distinfo);
	snprintf(dest, sizeof(dest), "%s/%s", w->sp, member);
	r = vv_odb_put_buf(&w->st->odb, text, il + 1, &oid);
	free(text);
	if (r < 0)
		return wheel_prefix(w, member, r);
	if ((r = tb_put(w, member, dest, VV_REG, 0644, il + 1, w->mtime_ns, &oid)) < 0)
		return r;

	if (w->flags & VV_WHEEL_REQUESTED) {
		/* Empty, and listed in RECORD with its hash, as pip writes it. */
		snprintf(member, sizeof(member), "%s/REQUESTED", w->distinfo);
		snprintf(dest, sizeof(dest), "%s/%s", w->sp, member);
		if ((r = vv_odb_put_buf(&w->st->odb, "", 0, &oid)) < 0)
			return wheel_prefix(w, member, r);
		if ((r = tb_put(w, member, dest, VV_REG, 0644, 0, w->mtime_ns, &oid)) < 0)
			return r;
	}

	snprintf(member, sizeof(member), "%s/RECORD", w->distinfo);
	snprintf(dest, sizeof(dest), "%s/%s", w->sp, member);
	if ((r = add_row(w, dest, NULL, 0)) < 0)
		return r;
	if ((r = wheel_record_text(w, &text, &len)) < 0)
		return r;
	r = vv_odb_put_buf(&w->st->odb, text ? text : "", len, &oid);
	free(text);
	if (r < 0)
		return wheel_prefix(w, member, r);
	struct vv_tree_ent e = {
		.kind = VV_REG, .mode = 0644, .size = len, .mtime_ns = w->mtime_ns, .oid = oid,
	};
	r = vv_tb_add(w->tb, dest, &e);
	if (r == -EEXIST || r == -ENOTDIR)
		return wheel_err(w, member, "conflicts with another installed file at '%s'", dest);
	return r < 0 ? wheel_prefix(w, member, r) : 0;
}

/* ---------------------------------------------------------------- public */

int vv_wheel_install(struct vv_store *st, const char *wheel_path, const struct vv_python *py,
		     const char *installer, struct vv_tb *tb, struct vv_wheel_info *info)
{
	return vv_wheel_install_ex(st, wheel_path, py, installer, 0, tb, info);
}

int vv_wheel_install_ex(struct vv_store *st, const char *wheel_path, const struct vv_python *py,
			const char *installer, unsigned flags, struct vv_tb *tb,
			struct vv_wheel_info *info)
{
	struct wheel w = {.st = st, .tb = tb, .wname = vv_base_name(wheel_path), .flags = flags};
	int r;
	if (info)
		info->name = info->version = NULL;
	w.major = py->major;
	w.minor = py->minor;
	snprintf(w.pyname, sizeof(w.pyname), "python%d.%d", py->major, py->minor);
	snprintf(w.sp, sizeof(w.sp), "lib/%s/site-packages", w.pyname);
	if (!installer || !*installer || strpbrk(installer, "\r\n"))
		return vv_err(-EINVAL, "%s: bad installer name", w.wname);

	if ((r = wheel_open_zip(wheel_path, w.wname, &w.za)) < 0)
		return r;
	if ((r = wheel_scan(&w)) < 0 || (r = wheel_find_distinfo(&w)) < 0 ||
	    (r = wheel_read_control(&w)) < 0 || (r = install_members(&w)) < 0 ||
	    (r = install_entry_points(&w)) < 0 ||
	    (r = write_installer_and_record(&w, installer)) < 0)
		goto out;
	if (info) {
		info->name = w.name;
		info->version = w.version;
		w.name = w.version = NULL;
	}
out:
	wheel_free(&w);
	return r;
}
