/*
 * import.c - `venvctl import` and `venvctl clone` (see import.h).
 *
 * Import works in three steps, and only the last one is visible: read pyvenv.cfg and
 * lib/python3.N and pick an installed interpreter of that X.Y (the patch release
 * pyvenv.cfg names when installed); walk the folder twice through directory fds opened
 * with O_NOFOLLOW (once to count files for the progress bar, once to publish them into
 * a tree builder), so no symlink is ever followed and the source is only read (FIFOs
 * and sockets become nodes without content and are never opened; devices are
 * refused); then write the trees and create envs/NAME with vv_txn_create, which never
 * clobbers.
 */
#include "ops/import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/ini.h"
#include "env/env.h"
#include "env/txn.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "python/pyc.h"
#include "python/python.h"
#include "store/store.h"
#include "python/synth.h"
#include "store/tree.h"
#include "store/treebuild.h"

#define PYVENV_CFG_MAX (64u << 10)
#define SCRIPT_MAX (1u << 20) /* larger files in bin/ are not console scripts */
#define MAX_DEPTH 128

/* ---- pyvenv.cfg -------------------------------------------------------------------- */

struct pycfg {
	char *home, *version, *executable, *base_executable, *prompt;
	bool system_site;
};

static void pycfg_release(struct pycfg *c)
{
	free(c->home);
	free(c->version);
	free(c->executable);
	free(c->base_executable);
	free(c->prompt);
}

/* "3.11.7.final.0" (virtualenv's version_info) or "3.11.7" -> "3.11.7". */
static void trim_version(char *v)
{
	int dots = 0;
	for (char *p = v; *p; p++) {
		if (*p == '.' && ++dots == 3) {
			*p = 0;
			return;
		}
		if ((*p < '0' || *p > '9') && *p != '.') {
			*p = 0;
			return;
		}
	}
}

/* The way CPython reads it: each line split at the first '=', both sides stripped, keys
 * case-insensitive; other tools' keys are ignored. */
static int pycfg_parse(const char *path, const char *buf, size_t len, struct pycfg *c)
{
	const char *p = buf, *end = buf + len;
	memset(c, 0, sizeof(*c));
	if (memchr(buf, 0, len))
		return vv_err(-EINVAL, "'%s/pyvenv.cfg': NUL byte", path);
	const char *ks, *vs;
	size_t kl, vl;
	while (vv_pycfg_next(&p, end, &ks, &kl, &vs, &vl)) {
		char **slot = NULL;
		if (kl == 4 && !strncasecmp(ks, "home", 4))
			slot = &c->home;
		else if ((kl == 7 && !strncasecmp(ks, "version", 7)) ||
			 (kl == 12 && !strncasecmp(ks, "version_info", 12)))
			slot = &c->version;
		else if (kl == 10 && !strncasecmp(ks, "executable", 10))
			slot = &c->executable;
		else if (kl == 15 && !strncasecmp(ks, "base-executable", 15))
			slot = &c->base_executable;
		else if (kl == 6 && !strncasecmp(ks, "prompt", 6))
			slot = &c->prompt;
		else if (kl == 28 && !strncasecmp(ks, "include-system-site-packages", 28))
			c->system_site = vl == 4 && !strncasecmp(vs, "true", 4);
		if (slot) {
			free(*slot);
			if (!(*slot = strndup(vs, vl)))
				return vv_err(-ENOMEM, "out of memory");
		}
	}
	if (c->version)
		trim_version(c->version);
	if (c->prompt) {
		/* venv writes repr(prompt): strip one pair of matching quotes */
		size_t l = strlen(c->prompt);
		if (l >= 2 && (c->prompt[0] == '\'' || c->prompt[0] == '"') &&
		    c->prompt[l - 1] == c->prompt[0]) {
			memmove(c->prompt, c->prompt + 1, l - 2);
			c->prompt[l - 2] = 0;
		}
		if (!c->prompt[0] || vv_ini_value_check("prompt", c->prompt, "prompt") < 0) {
			free(c->prompt); /* unusable: the env's name instead */
			c->prompt = NULL;
		}
	}
	return 0;
}

/* The N of the venv's only lib/python3.N directory. */
static int lib_minor(int rfd, const char *path, int *minor)
{
	DIR *d = vv_opendir_at(rfd, "lib");
	if (!d)
		return vv_err(-EINVAL, "'%s': not a venv: no lib/ directory (%s)", path,
			      strerror(errno));
	int found = 0, r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		int n, used = 0;
		struct stat sb;
		if (sscanf(de->d_name, "python3.%d%n", &n, &used) != 1 || de->d_name[used] ||
		    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(sb.st_mode))
			continue;
		if (found++) {
			r = vv_err(-EINVAL, "'%s': more than one lib/python3.N directory (python3.%d "
				   "and python3.%d)", path, *minor, n);
			break;
		}
		*minor = n;
	}
	closedir(d);
	if (r == 0 && !found)
		r = vv_err(-EINVAL, "'%s': not a venv: no lib/python3.N directory", path);
	return r;
}

/* ---- the interpreter ------------------------------------------------------------- */

/* --python, else the interpreter pyvenv.cfg names (executable, base-executable, home) when
 * it is installed with the same version, else an installed one with that exact version,
 * else one it names with the same X.Y, else the newest installed of that X.Y. */
static int pick_python(struct vv_store *st, const struct vv_import_opts *o, const char *path,
		       const struct pycfg *pc, int minor, struct vv_python *out)
{
	int r;
	memset(out, 0, sizeof(*out));
	if (o->python) {
		if ((r = vv_python_select(st, o->cfg, o->python, out)) < 0)
			return vv_err_prefix(r, "--python %s", o->python);
		if (out->major != 3 || out->minor != minor) {
			r = vv_err(-EINVAL, "'%s' has lib/python3.%d, but --python %s is Python %s",
				   path, minor, o->python, out->version);
			vv_python_release(out);
		}
		return r;
	}
	char hints[5][PATH_MAX];
	size_t nh = 0;
	if (pc->executable)
		snprintf(hints[nh++], PATH_MAX, "%s", pc->executable);
	if (pc->base_executable)
		snprintf(hints[nh++], PATH_MAX, "%s", pc->base_executable);
	if (pc->home) {
		snprintf(hints[nh++], PATH_MAX, "%s/python3.%d", pc->home, minor);
		snprintf(hints[nh++], PATH_MAX, "%s/python3", pc->home);
	}
	struct vv_python hint = {0};
	bool have_hint = false;
	for (size_t i = 0; i < nh; i++) {
		struct vv_python t;
		/* named by the venv's pyvenv.cfg: run only what looks like CPython */
		if (access(hints[i], X_OK) < 0 || vv_python_check_exe(hints[i]) < 0 ||
		    vv_python_resolve(st, hints[i], &t) < 0)
			continue;
		if (t.major == 3 && t.minor == minor) {
			if (pc->version && !strcmp(t.version, pc->version)) {
				if (have_hint)
					vv_python_release(&hint);
				*out = t;
				return 0;
			}
			if (!have_hint) {
				hint = t;
				have_hint = true;
				continue;
			}
		}
		vv_python_release(&t);
	}
	struct vv_python *list = NULL;
	size_t n = 0;
	if ((r = vv_python_discover(st, o->cfg, &list, &n)) < 0) {
		if (have_hint)
			vv_python_release(&hint);
		return r;
	}
	const struct vv_python *best = NULL;
	for (size_t i = 0; i < n && !best; i++)
		if (pc->version && list[i].major == 3 && list[i].minor == minor &&
		    !strcmp(list[i].version, pc->version))
			best = &list[i];
	for (size_t i = 0; i < n && !best && !have_hint; i++)
		if (list[i].major == 3 && list[i].minor == minor)
			best = &list[i]; /* newest first */
	if (best) {
		if (have_hint)
			vv_python_release(&hint);
		r = vv_python_copy(best, out);
	} else if (have_hint) {
		*out = hint;
		r = 0;
	} else {
		r = vv_err(-ENOENT, "'%s': no installed Python 3.%d interpreter found (pyvenv.cfg: "
			   "home %s, version %s); install one or name it with --python", path, minor,
			   pc->home ? pc->home : "missing", pc->version ? pc->version : "missing");
	}
	vv_python_list_free(list, n);
	return r;
}

/* ---- walking the venv ------------------------------------------------------------ */

struct imp {
	struct vv_store *st;
	struct vv_tb *tb;
	const char *path;          /* as given, for messages */
	char *envpaths[2];         /* where the venv thinks it is: as given made absolute,
				      and resolved */
	size_t nenv;
	const struct vv_python *py;
	char pyx[32];              /* python3.N */
	char site[64];             /* lib/python3.N/site-packages */
	const struct vv_progress *prog;
	bool counting;
	uint64_t total, done;
	bool has_pip;
	struct vv_import_result *res;
};

/* What venvfs synthesizes (and other tools' activators for shells it makes one for):
 * left out of the tree, the env shows its own. */
static bool skipped(const struct imp *im, const char *dir, const char *name,
		    const struct stat *sb)
{
	if (!*dir) {
		return !strcmp(name, "pyvenv.cfg") || (!strcmp(name, "lib64") && S_ISLNK(sb->st_mode)) ||
		       (!strcmp(name, ".gitignore") &&
			vv_synth_exists(VV_SYNTH_GITIGNORE, im->py));
	}
	if (strcmp(dir, "bin"))
		return false;
	if (!strcmp(name, "python") || !strcmp(name, "python3") || !strcmp(name, im->pyx))
		return true;
	for (int f = 0; f < VV_SYNTH_NFILES; f++)
		if (vv_synth_in_bin((enum vv_synth_file)f) &&
		    vv_synth_exists((enum vv_synth_file)f, im->py) &&
		    !strcmp(name, vv_synth_name((enum vv_synth_file)f)))
			return true;
	/* virtualenv's spellings of activators venvfs generates */
	static const char *const other[] = {"activate.ps1", "deactivate.nu", "activate.bat",
					    "deactivate.bat"};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (!strcmp(name, other[i]))
			return true;
	return false;
}

static int read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	return 0;
}

static int64_t mtime_ns(const struct stat *sb)
{
	return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

static bool is_pyc(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && !strcmp(name + n - 4, ".pyc");
}

/* A .pyc of the venv in the shared stored form (python/pyc.h), its co_filename taken
 * apart at the venv's path (any of the forms it was reached by), so the env renders
 * its own path there and shares it with every env that compiled the same source; one
 * that is not a pyc pyc.h knows is stored as it is. */
static int import_pyc(struct imp *im, int fd, size_t len, const char *rel,
		      struct vv_tree_ent *e)
{
	char *buf = malloc(len);
	if (!buf)
		return vv_err(-ENOMEM, "out of memory");
	int r = read_all(fd, buf, len);
	if (r < 0) {
		free(buf);
		return vv_err_sys(r, "'%s/%s': cannot read", im->path, rel);
	}
	char *best = NULL;
	size_t bestlen = 0;
	struct vv_pycent bent = { 0 };
	for (size_t i = 0; i < im->nenv && r >= 0 && !(best && bent.nsub); i++) {
		char *t = NULL;
		size_t tl = 0;
		struct vv_pycent ent;
		r = vv_pyc_neutral(buf, len, im->envpaths[i], &t, &tl, &ent);
		if (r == 1 && (!best || ent.nsub > bent.nsub)) {
			free(best);
			best = t, bestlen = tl, bent = ent;
		} else {
			free(t);
		}
	}
	if (r < 0) {
		free(best);
		free(buf);
		return vv_err(r, "out of memory");
	}
	if (best) {
		e->kind = VV_PYC;
		e->pyc = bent;
		e->size = bestlen;
		r = vv_odb_put_buf(&im->st->odb, best, bestlen, &e->oid);
	} else {
		e->size = len;
		r = vv_odb_put_buf(&im->st->odb, buf, len, &e->oid);
	}
	free(best);
	free(buf);
	return r;
}

static int add_file(struct imp *im, int dfd, const char *dir, const char *name,
		    const char *rel, const struct stat *sb)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vv_err_sys(-errno, "'%s/%s': cannot open", im->path, rel);
	struct stat fs;
	int r = 0;
	struct vv_tree_ent e = {.kind = VV_REG, .mode = (uint16_t)(sb->st_mode & 07777),
				.mtime_ns = mtime_ns(sb)};
	if (fstat(fd, &fs) < 0 || !S_ISREG(fs.st_mode) || fs.st_ino != sb->st_ino ||
	    fs.st_dev != sb->st_dev) {
		r = vv_err(-EAGAIN, "'%s/%s': changed while it was being imported", im->path, rel);
		goto out;
	}
	if (!strcmp(dir, "bin") && fs.st_size >= 4 && fs.st_size <= SCRIPT_MAX) {
		size_t len = (size_t)fs.st_size;
		char *buf = malloc(len + 32);
		if (!buf) {
			r = vv_err(-ENOMEM, "out of memory");
			goto out;
		}
		if ((r = read_all(fd, buf, len)) < 0) {
			free(buf);
			r = vv_err_sys(r, "'%s/%s': cannot read", im->path, rel);
			goto out;
		}
		char sfx[16];
		size_t head = 0;
		for (size_t i = 0; i < im->nenv && !head; i++)
			head = vv_synth_script_head(buf, len, im->envpaths[i], sfx, sizeof(sfx));
		if (head) {
			/* "#!python" + suffix + "\n" replaces the head, as mtree.c stores it */
			int nl = snprintf(NULL, 0, "#!python%s\n", sfx);
			char *out = malloc(len - head + (size_t)nl + 1);
			if (!out) {
				free(buf);
				r = vv_err(-ENOMEM, "out of memory");
				goto out;
			}
			snprintf(out, (size_t)nl + 1, "#!python%s\n", sfx);
			memcpy(out + nl, buf + head, len - head);
			e.size = len - head + (size_t)nl;
			e.kind = VV_SCRIPT;
			r = vv_odb_put_buf(&im->st->odb, out, e.size, &e.oid);
			free(out);
			im->res->scripts++;
		} else {
			e.size = len;
			r = vv_odb_put_buf(&im->st->odb, buf, len, &e.oid);
		}
		free(buf);
	} else if (is_pyc(name) && fs.st_size >= 16 && fs.st_size <= VV_PYC_MAX) {
		r = import_pyc(im, fd, (size_t)fs.st_size, rel, &e);
	} else {
		r = vv_odb_put_fd(&im->st->odb, fd, &e.oid, &e.size);
	}
	if (r < 0) {
		r = vv_err_prefix(r, "'%s/%s'", im->path, rel);
		goto out;
	}
	im->res->files++;
	im->res->bytes += (uint64_t)fs.st_size;
	if ((r = vv_tb_add(im->tb, rel, &e)) < 0)
		r = vv_err_prefix(r, "'%s/%s'", im->path, rel);
out:
	close(fd);
	return r;
}

static int add_link(struct imp *im, int dfd, const char *dir, const char *name,
		    const char *rel, const struct stat *sb)
{
	char target[PATH_MAX + 1], rewritten[PATH_MAX + 1];
	ssize_t n = readlinkat(dfd, name, target, PATH_MAX);
	if (n < 0)
		return vv_err_sys(-errno, "'%s/%s': cannot read the link", im->path, rel);
	if (n == 0)
		return vv_err(-EINVAL, "'%s/%s': empty symlink", im->path, rel);
	target[n] = 0;
	/* an absolute link into the venv itself becomes relative, so it points into the
	 * new env and not back at the source */
	for (size_t i = 0; i < im->nenv; i++) {
		size_t el = strlen(im->envpaths[i]);
		if (strncmp(target, im->envpaths[i], el) || (target[el] && target[el] != '/'))
			continue;
		size_t o = 0;
		int depth = *dir ? 1 : 0;
		for (const char *p = dir; *p; p++)
			depth += *p == '/';
		rewritten[0] = 0;
		for (int d = 0; d < depth && o + 3 < sizeof(rewritten); d++)
			o += (size_t)snprintf(rewritten + o, sizeof(rewritten) - o, "../");
		const char *rest = target[el] ? target + el + 1 : "";
		snprintf(rewritten + o, sizeof(rewritten) - o, "%s", rest);
		size_t rl = strlen(rewritten);
		if (rl && rewritten[rl - 1] == '/')
			rewritten[--rl] = 0;
		snprintf(target, sizeof(target), "%s", rl ? rewritten : ".");
		break;
	}
	struct vv_tree_ent e = {.kind = VV_LNK, .mode = 0777, .size = strlen(target),
				.mtime_ns = mtime_ns(sb), .target = target};
	int r = vv_tb_add(im->tb, rel, &e);
	if (r < 0)
		return vv_err_prefix(r, "'%s/%s'", im->path, rel);
	im->res->symlinks++;
	return 0;
}

/* A FIFO or UNIX socket: a node without content (tree.h), kept with its mode and mtime
 * as the mount keeps one made in an env. A socket nobody listens on any more is what
 * a server leaves behind; it stays, as in the folder. */
static int add_special(struct imp *im, const char *rel, const struct stat *sb)
{
	struct vv_tree_ent e = {.kind = S_ISFIFO(sb->st_mode) ? VV_FIFO : VV_SOCK,
				.mode = (uint16_t)(sb->st_mode & 07777), .mtime_ns = mtime_ns(sb)};
	int r = vv_tb_add(im->tb, rel, &e);
	if (r < 0)
		return vv_err_prefix(r, "'%s/%s'", im->path, rel);
	im->res->specials++;
	return 0;
}

static const char *type_name(mode_t m)
{
	return S_ISCHR(m) ? "character device" : S_ISBLK(m) ? "block device" : "special file";
}

/* Walk directory dfd (at rel, rl bytes of it in use; rel has PATH_MAX bytes). */
static int walk(struct imp *im, int dfd, char *rel, size_t rl, int depth)
{
	if (depth > MAX_DEPTH)
		return vv_err(-ELOOP, "'%s/%s': directories nested too deep", im->path, rel);
	DIR *d = vv_opendir_at(dfd, ".");
	if (!d)
		return vv_err_sys(-errno, "'%s/%s': cannot list", im->path, rel);
	char dir[PATH_MAX];
	memcpy(dir, rel, rl + 1);
	int r = 0;
	struct dirent *de;
	errno = 0;
	while (r == 0 && (de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		size_t nl = strlen(name), cl = rl ? rl + 1 + nl : nl;
		if (cl >= PATH_MAX) {
			r = vv_err(-ENAMETOOLONG, "'%s/%s/%s': path too long", im->path, dir, name);
			break;
		}
		if (rl)
			rel[rl] = '/';
		memcpy(rel + (rl ? rl + 1 : 0), name, nl + 1);
		struct stat sb;
		if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			r = vv_err_sys(-errno, "'%s/%s': cannot stat", im->path, rel);
		} else if (skipped(im, dir, name, &sb)) {
			if (!im->counting)
				im->res->skipped++;
		} else if (S_ISDIR(sb.st_mode)) {
			if (!im->counting) {
				struct vv_tree_ent e = {.kind = VV_DIR,
							.mode = (uint16_t)(sb.st_mode & 07777),
							.mtime_ns = mtime_ns(&sb)};
				if ((r = vv_tb_add(im->tb, rel, &e)) < 0)
					r = vv_err_prefix(r, "'%s/%s'", im->path, rel);
				im->res->dirs++;
			}
			int cfd = r < 0 ? -1 : openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
									O_CLOEXEC);
			if (r == 0 && cfd < 0)
				r = vv_err_sys(-errno, "'%s/%s': cannot open", im->path, rel);
			if (r == 0)
				r = walk(im, cfd, rel, cl, depth + 1);
			if (cfd >= 0)
				close(cfd);
		} else if (S_ISREG(sb.st_mode)) {
			if (im->counting) {
				im->total++;
			} else {
				r = add_file(im, dfd, dir, name, rel, &sb);
				vv_progress_report(im->prog, "hashing", ++im->done, im->total);
			}
		} else if (S_ISLNK(sb.st_mode)) {
			if (!im->counting)
				r = add_link(im, dfd, dir, name, rel, &sb);
		} else if (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)) {
			if (!im->counting)
				r = add_special(im, rel, &sb);
		} else {
			/* devices: the mount refuses to make them in an env too */
			r = vv_err(-EINVAL, "'%s/%s': a %s cannot be stored in an env", im->path, rel,
				   type_name(sb.st_mode));
		}
		/* pip is installed: a pip-X.dist-info directory */
		if (r == 0 && !im->counting && S_ISDIR(sb.st_mode) && !strcmp(dir, im->site) &&
		    !strncmp(name, "pip-", 4) && nl > 14 && !strcmp(name + nl - 10, ".dist-info"))
			im->has_pip = true;
		rel[rl] = 0;
		errno = 0;
	}
	if (r == 0 && errno)
		r = vv_err_sys(-errno, "'%s/%s': cannot list", im->path, dir);
	closedir(d);
	return r;
}

/* path as an absolute path without "." components or trailing slashes (not resolved). */
static char *abs_path(const char *path)
{
	char cwd[PATH_MAX], buf[2 * PATH_MAX + 2];
	if (path[0] == '/')
		snprintf(buf, sizeof(buf), "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		snprintf(buf, sizeof(buf), "%s/%s", cwd, path);
	else
		return NULL;
	/* drop "." components and repeated slashes */
	char *o = buf, *p = buf;
	while (*p) {
		if (p[0] == '/' && (p[1] == '/' || (p[1] == '.' && (p[2] == '/' || !p[2])))) {
			p += p[1] == '/' ? 1 : 2;
			continue;
		}
		*o++ = *p++;
	}
	*o = 0;
	while (o > buf + 1 && o[-1] == '/')
		*--o = 0;
	return strdup(buf);
}

int vv_import_venv(struct vv_store *st, const char *path, const char *name,
		   const struct vv_import_opts *o, struct vv_import_result *res)
{
	struct pycfg pc = {0};
	struct vv_python py = {0};
	struct imp im = {.st = st, .path = path, .prog = o->progress, .res = res};
	char *buf = NULL;
	size_t len = 0;
	int minor = 0, rfd = -1;
	memset(res, 0, sizeof(*res));
	int r = vv_env_name_check(name, strlen(name));
	if (r < 0)
		return r;
	struct stat sb;
	if (fstatat(st->envfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return vv_err(-EEXIST, "env '%s' exists (choose another name, or remove it first)",
			      name);
	if ((rfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return vv_err(-errno == -ENOTDIR ? -EINVAL : -errno, "'%s': %s", path,
			      errno == ENOTDIR ? "not a directory" : strerror(errno));
	r = vv_read_file_at(rfd, "pyvenv.cfg", PYVENV_CFG_MAX, &buf, &len);
	if (r == -ENOENT)
		r = vv_err(-EINVAL, "'%s': not a venv (no pyvenv.cfg)", path);
	else if (r == -ELOOP)
		r = vv_err(-EINVAL, "'%s': pyvenv.cfg is a symlink", path);
	else if (r < 0)
		r = vv_err_prefix(r, "'%s'", path);
	if (r == 0)
		r = pycfg_parse(path, buf, len, &pc);
	if (r == 0)
		r = lib_minor(rfd, path, &minor);
	if (r == 0)
		r = pick_python(st, o, path, &pc, minor, &py);
	if (r < 0)
		goto out;
	im.py = &py;
	vv_python_name(&py, im.pyx);
	snprintf(im.site, sizeof(im.site), "lib/python3.%d/site-packages", minor);
	char real[PATH_MAX];
	if (!(im.envpaths[0] = abs_path(path))) {
		r = vv_err_sys(-errno ? -errno : -ENOMEM, "'%s': cannot make the path absolute", path);
		goto out;
	}
	im.nenv = 1;
	if (realpath(path, real) && strcmp(real, im.envpaths[0]) && (im.envpaths[1] = strdup(real)))
		im.nenv = 2;
	if (fstat(rfd, &sb) < 0) {
		r = vv_err_sys(-errno, "'%s': cannot stat", path);
		goto out;
	}
	if (!(im.tb = vv_tb_new(mtime_ns(&sb)))) {
		r = vv_err(-ENOMEM, "out of memory");
		goto out;
	}
	char rel[PATH_MAX] = "";
	im.counting = true;
	if ((r = walk(&im, rfd, rel, 0, 0)) < 0)
		goto out;
	im.counting = false;
	vv_progress_report(im.prog, "hashing", 0, im.total);
	if ((r = walk(&im, rfd, rel, 0, 0)) < 0)
		goto out;
	struct vv_envcfg cfg = {.python = py.exe, .system_site = pc.system_site,
				.without_pip = !im.has_pip, .prompt = pc.prompt};
	if ((r = vv_tb_write(im.tb, st, &cfg.root)) < 0) {
		r = vv_err_prefix(r, "'%s': writing trees", path);
		goto out;
	}
	if ((r = vv_txn_create(st, name, &cfg)) < 0)
		goto out;
	res->python = strdup(py.exe);
	res->version = strdup(py.version);
	res->src_version = pc.version ? strdup(pc.version) : NULL;
out:
	if (r < 0)
		vv_import_result_release(res);
	vv_tb_free(im.tb);
	free(im.envpaths[0]);
	free(im.envpaths[1]);
	if (py.exe)
		vv_python_release(&py);
	pycfg_release(&pc);
	free(buf);
	if (rfd >= 0)
		close(rfd);
	return r;
}

void vv_import_result_release(struct vv_import_result *res)
{
	free(res->python);
	free(res->version);
	free(res->src_version);
	memset(res, 0, sizeof(*res));
}

/* ---- clone ----------------------------------------------------------------------- */

int vv_env_clone(struct vv_store *st, const char *from, const char *to)
{
	struct vv_envcfg cfg;
	int r = vv_env_name_check(to, strlen(to));
	if (r < 0)
		return r;
	if ((r = vv_env_load(st, from, &cfg)) < 0)
		return r;
	r = vv_env_check_committed(st, from, &cfg.root);
	/* the copy belongs to whoever makes it (vv_txn_create records the caller) */
	cfg.owned = false;
	if (r == 0 && (r = vv_txn_create(st, to, &cfg)) == -EEXIST)
		r = vv_err(-EEXIST, "env '%s' exists (clone never replaces an env)", to);
	vv_envcfg_release(&cfg);
	return r;
}
