/*
 * env.c - environments as the store records them: envs/NAME (see env.h).
 *
 * envs/NAME is written whole and renamed into place, so it is the atomic commit point
 * of an env. Its temp file lives in tmp/, never in envs/, where it would look like an
 * env to a concurrent lister. Creation and renames never clobber (RENAME_NOREPLACE, or
 * link+unlink where the filesystem lacks it). Parsing is strict: the file is written
 * by us, so anything unexpected is corruption or tampering and is reported.
 */
#include "env/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/config.h"
#include "env/envlock.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "env/history.h"
#include "store/store.h"
#include "store/tree.h"

#define ENV_MAX_SIZE 65536
#define ENV_RESERVED ".venvfs"

int vv_env_name_check(const char *name, size_t len)
{
	if (len == 0)
		return vv_err(-EINVAL, "bad env name '': empty");
	if (memchr(name, 0, len))
		return vv_err(-EINVAL, "bad env name '%.*s': contains a NUL byte", (int)len, name);
	if (len > 255)
		return vv_err(-ENAMETOOLONG, "bad env name '%.40s...': longer than 255 bytes",
			      name);
	if ((len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2)))
		return vv_err(-EINVAL, "bad env name '%.*s'", (int)len, name);
	if (memchr(name, '/', len))
		return vv_err(-EINVAL, "bad env name '%.*s': contains '/'", (int)len, name);
	if (len >= strlen(ENV_RESERVED) && !memcmp(name, ENV_RESERVED, strlen(ENV_RESERVED)))
		return vv_err(-EINVAL, "bad env name '%.*s': names starting with '%s' are "
			      "reserved", (int)len, name, ENV_RESERVED);
	return 0;
}

static int name_ok(const char *name)
{
	return vv_env_name_check(name, strlen(name));
}

void vv_envcfg_release(struct vv_envcfg *cfg)
{
	free(cfg->python);
	free(cfg->prompt);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- the INI text ---- */

enum { K_PYTHON, K_ROOT, K_SYSTEM_SITE, K_WITHOUT_PIP, K_PROMPT, K_LOCKED, K_OWNER, K_MODE,
       K_N };
static const char *const env_keys[K_N] = { "python", "root", "system-site-packages",
					   "without-pip", "prompt", "locked", "owner", "mode" };

mode_t vv_envcfg_mode(const struct vv_envcfg *cfg)
{
	return cfg->has_mode ? cfg->mode & 07777 : 0755;
}

/* A decimal id below (uid_t)-1 (which means "no change" to chown), all of s. */
static bool parse_id(const char *s, size_t len, unsigned long *out)
{
	unsigned long v = 0;
	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v >= 0xffffffffUL)
		return false;
	*out = v;
	return true;
}

/* owner = UID:GID */
static int parse_owner(const char *value, struct vv_envcfg *cfg)
{
	const char *colon = strchr(value, ':');
	unsigned long u, g;
	if (!colon || !parse_id(value, (size_t)(colon - value), &u) ||
	    !parse_id(colon + 1, strlen(colon + 1), &g))
		return vv_err(-EINVAL, "owner '%s' is not UID:GID (two decimal ids, e.g. "
			      "1000:1000)", value);
	cfg->owned = true;
	cfg->uid = (uid_t)u;
	cfg->gid = (gid_t)g;
	return 0;
}

/* mode = octal permission bits, at most 07777 */
static int parse_mode(const char *value, struct vv_envcfg *cfg)
{
	size_t len = strlen(value);
	unsigned long m = 0;
	bool ok = len > 0 && len <= 5;
	for (size_t i = 0; ok && i < len; i++) {
		ok = value[i] >= '0' && value[i] <= '7';
		m = m * 8 + (unsigned long)(value[i] - '0');
	}
	if (!ok || m > 07777)
		return vv_err(-EINVAL, "mode '%s' is not an octal mode of at most 07777 (e.g. "
			      "0755)", value);
	cfg->has_mode = true;
	cfg->mode = (mode_t)m;
	return 0;
}

struct env_parse {
	struct vv_envcfg *cfg;
	int line[K_N];
};

static int env_section(void *user, const char *section, int lineno)
{
	(void)user;
	(void)lineno;
	if (strcmp(section, "env"))
		return vv_err(-EINVAL, "unknown section [%s] (expected [env])", section);
	return 0;
}

static int env_key(void *user, const char *section, const char *key, const char *value,
		   int lineno)
{
	struct env_parse *p = user;
	struct vv_envcfg *cfg = p->cfg;
	if (!*section)
		return vv_err(-EINVAL, "key '%s' outside a section", key);
	if (strcmp(section, "env"))
		return vv_err(-EINVAL, "unknown section [%s] (expected [env])", section);
	int k = 0;
	while (k < K_N && strcmp(env_keys[k], key))
		k++;
	if (k == K_N)
		return vv_err(-EINVAL, "unknown key '%s'", key);
	if (p->line[k])
		return vv_err(-EINVAL, "duplicate key '%s' (first set on line %d)", key,
			      p->line[k]);
	p->line[k] = lineno;
	switch (k) {
	case K_PYTHON:
		if (value[0] != '/')
			return vv_err(-EINVAL, "python '%s' is not an absolute path", value);
		cfg->python = strdup(value);
		return cfg->python ? 0 : vv_err(-ENOMEM, "out of memory");
	case K_ROOT:
		if (vv_oid_from_hex(&cfg->root, value, strlen(value)) < 0)
			return vv_err(-EINVAL, "root '%s' is not a 64-digit hex object id", value);
		return 0;
	case K_SYSTEM_SITE:
		return vv_parse_bool(value, &cfg->system_site);
	case K_WITHOUT_PIP:
		return vv_parse_bool(value, &cfg->without_pip);
	case K_LOCKED:
		return vv_parse_bool(value, &cfg->locked);
	case K_OWNER:
		return parse_owner(value, cfg);
	case K_MODE:
		return parse_mode(value, cfg);
	default:
		cfg->prompt = strdup(value);
		return cfg->prompt ? 0 : vv_err(-ENOMEM, "out of memory");
	}
}

int vv_envcfg_parse(const char *buf, size_t len, const char *name, struct vv_envcfg *out)
{
	char fname[300];
	snprintf(fname, sizeof(fname), "envs/%s", name);
	memset(out, 0, sizeof(*out));
	struct env_parse p = { .cfg = out };
	struct vv_ini_cb cb = { .section = env_section, .key = env_key, .user = &p };
	int r = vv_ini_parse(buf, len, fname, &cb);
	if (r == 0 && !p.line[K_PYTHON])
		r = vv_err(-EINVAL, "%s: no 'python' key", fname);
	if (r == 0 && !p.line[K_ROOT])
		r = vv_err(-EINVAL, "%s: no 'root' key", fname);
	if (r < 0)
		vv_envcfg_release(out);
	return r;
}

int vv_envcfg_format(const struct vv_envcfg *cfg, char **out, size_t *len)
{
	*out = NULL;
	if (!cfg->python || cfg->python[0] != '/')
		return vv_err(-EINVAL, "env python '%s' is not an absolute path",
			      cfg->python ? cfg->python : "");
	int r = vv_ini_value_check("python", cfg->python, "python path");
	if (r == 0 && cfg->prompt)
		r = vv_ini_value_check("prompt", cfg->prompt, "prompt");
	if (r < 0)
		return r;
	if (cfg->owned && (cfg->uid == (uid_t)-1 || cfg->gid == (gid_t)-1))
		return vv_err(-EINVAL, "env owner %lu:%lu is not a valid uid:gid",
			      (unsigned long)cfg->uid, (unsigned long)cfg->gid);
	char hex[VV_OID_HEX + 1], owner[48] = "", mode[24] = "";
	vv_oid_hex(&cfg->root, hex);
	if (cfg->owned)
		snprintf(owner, sizeof(owner), "owner = %lu:%lu\n", (unsigned long)cfg->uid,
			 (unsigned long)cfg->gid);
	if (cfg->has_mode)
		snprintf(mode, sizeof(mode), "mode = %04o\n", (unsigned)(cfg->mode & 07777));
	const char *p = cfg->prompt;
	int n = asprintf(out, "[env]\npython = %s\nroot = %s\nsystem-site-packages = %s\n%s%s%s%s%s%s%s",
			 cfg->python, hex, cfg->system_site ? "true" : "false",
			 cfg->without_pip ? "without-pip = true\n" : "", p ? "prompt = " : "",
			 p ? p : "", p ? "\n" : "", cfg->locked ? "locked = true\n" : "",
			 owner, mode);
	if (n < 0) {
		*out = NULL;
		return vv_err(-ENOMEM, "out of memory");
	}
	if (len)
		*len = (size_t)n;
	return 0;
}

int vv_envcfg_check_unlocked(const struct vv_envcfg *cfg, const char *name)
{
	if (!cfg->locked)
		return 0;
	return vv_err(-EROFS, "env '%s' is locked (read-only); unlock it first with "
		      "'venvctl unlock %s'", name, name);
}

/* ---- files in the store ---- */

int vv_env_load(struct vv_store *st, const char *name, struct vv_envcfg *out)
{
	memset(out, 0, sizeof(*out));
	int r = name_ok(name);
	if (r < 0)
		return r;
	char *buf = NULL;
	size_t len = 0;
	r = vv_read_file_at(st->envfd, name, ENV_MAX_SIZE, &buf, &len);
	if (r == -ENOENT)
		return vv_err(-ENOENT, "no env named '%s'", name);
	if (r < 0)
		return vv_err_prefix(r, "loading env '%s'", name);
	r = vv_envcfg_parse(buf, len, name, out);
	free(buf);
	if (r == 0 && !out->owned) {
		/* written before envs had owners: the file's owner owns the env */
		struct stat sb;
		if (fstatat(st->envfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			r = vv_err_sys(-errno, "loading env '%s'", name);
			vv_envcfg_release(out);
			return r;
		}
		out->owned = true;
		out->uid = sb.st_uid;
		out->gid = sb.st_gid;
	}
	return r;
}

/* Write the env file as a fresh, fsynced temp file in tmp/; *tmpname gets its name. */
static int write_temp(struct vv_store *st, const char *name, const struct vv_envcfg *cfg,
		      char *tmpname, size_t tmpsize)
{
	static atomic_uint counter;
	char *text;
	size_t len;
	int r = vv_envcfg_format(cfg, &text, &len);
	if (r < 0)
		return vv_err_prefix(r, "saving env '%s'", name);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tmpname, tmpsize, "env.%ld.%u.%lx", (long)getpid(),
		 atomic_fetch_add(&counter, 1), (unsigned long)ts.tv_nsec);
	int fd = openat(st->tmpfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(text);
		return vv_err_sys(-errno, "saving env '%s': cannot create tmp/%s", name, tmpname);
	}
	r = vv_write_all(fd, text, len);
	free(text);
	if (r == 0 && fsync(fd) < 0)
		r = vv_err_sys(-errno, "saving env '%s': fsync", name);
	if (close(fd) < 0 && r == 0)
		r = vv_err_sys(-errno, "saving env '%s': close", name);
	if (r < 0) {
		unlinkat(st->tmpfd, tmpname, 0);
		return r;
	}
	return 0;
}

/* rename without replacing; link+unlink where RENAME_NOREPLACE is not supported. */
static int rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -errno;
	if (linkat(fromfd, from, tofd, to, 0) < 0)
		return -errno;
	if (unlinkat(fromfd, from, 0) < 0)
		return -errno;
	return 0;
}

int vv_env_save(struct vv_store *st, const char *name, const struct vv_envcfg *cfg,
		const char *source, unsigned hflags)
{
	int r = name_ok(name);
	if (r < 0)
		return r;
	/* An env file that is missing or unreadable has no old root to record. */
	struct vv_envcfg old, keep = *cfg;
	bool have_old = vv_env_load(st, name, &old) == 0;
	/* A config that does not say who owns the env (a tool that built it afresh, e.g.
	 * create --clear) keeps the owner and mode of the env it replaces. */
	if (have_old && (!cfg->owned || !cfg->has_mode)) {
		if (!keep.owned) {
			keep.owned = true;
			keep.uid = old.uid;
			keep.gid = old.gid;
		}
		if (!keep.has_mode) {
			keep.has_mode = old.has_mode;
			keep.mode = old.mode;
		}
		cfg = &keep;
	}
	char tmp[64];
	if ((r = write_temp(st, name, cfg, tmp, sizeof(tmp))) < 0) {
		if (have_old)
			vv_envcfg_release(&old);
		return r;
	}
	/* The history entry goes first (see history.h: gc reads envs/ before history/). A
	 * history that cannot be written (damaged: -EUCLEAN, or a write error) never stops
	 * the commit: the change is not recorded and a message says so; a damaged file is
	 * left alone, and gc and fsck report it until it is repaired or removed. */
	char *undo = NULL;
	size_t undolen = 0;
	bool recorded = false;
	if (have_old) {
		r = vv_history_record(st, name, &old.root, &cfg->root, source, hflags, 0, &undo,
				      &undolen);
		recorded = r == 0 && !vv_oid_eq(&old.root, &cfg->root);
		vv_envcfg_release(&old);
		if (r < 0) {
			fprintf(stderr, "venvfs: %s (change of env '%s' not recorded in its "
				"history)\n", vv_errmsg(), name);
			r = 0;
		}
	}
	vv_err_clear();
	if (renameat(st->tmpfd, tmp, st->envfd, name) < 0) {
		r = vv_err_sys(-errno, "saving env '%s': rename into envs/", name);
		unlinkat(st->tmpfd, tmp, 0);
		if (recorded)
			vv_history_restore(st, name, undo, undolen);
		free(undo);
		return r;
	}
	free(undo);
	r = vv_fsync_dir_at(st->envfd, ".");
	return r < 0 ? vv_err_prefix(r, "saving env '%s'", name) : 0;
}

int vv_env_create(struct vv_store *st, const char *name, const struct vv_envcfg *cfg)
{
	int r = name_ok(name);
	if (r < 0)
		return r;
	/* whoever creates an env owns it unless told otherwise */
	struct vv_envcfg own = *cfg;
	if (!cfg->owned) {
		own.owned = true;
		own.uid = getuid();
		own.gid = getgid();
		cfg = &own;
	}
	char tmp[64];
	if ((r = write_temp(st, name, cfg, tmp, sizeof(tmp))) < 0)
		return r;
	r = rename_noreplace(st->tmpfd, tmp, st->envfd, name);
	if (r < 0) {
		unlinkat(st->tmpfd, tmp, 0);
		if (r == -EEXIST)
			return vv_err(-EEXIST, "env '%s' already exists", name);
		return vv_err_sys(r, "creating env '%s'", name);
	}
	/* A history of that name is a leftover of an earlier env (a crash in a rename). */
	if (unlinkat(st->historyfd, name, 0) == 0)
		vv_fsync_dir_at(st->historyfd, ".");
	r = vv_fsync_dir_at(st->envfd, ".");
	return r < 0 ? vv_err_prefix(r, "creating env '%s'", name) : 0;
}

int vv_env_rename(struct vv_store *st, const char *from, const char *to)
{
	int r = name_ok(from);
	if (r == 0)
		r = name_ok(to);
	if (r < 0)
		return r;
	if (!strcmp(from, to)) {
		struct stat sb;
		if (fstatat(st->envfd, from, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			return vv_err(-ENOENT, "no env named '%s'", from);
		return vv_err(-EEXIST, "env '%s' already exists", to);
	}
	r = rename_noreplace(st->envfd, from, st->envfd, to);
	if (r == -ENOENT)
		return vv_err(-ENOENT, "no env named '%s'", from);
	if (r == -EEXIST)
		return vv_err(-EEXIST, "env '%s' already exists", to);
	if (r < 0)
		return vv_err_sys(r, "renaming env '%s' to '%s'", from, to);
	/* envs/to did not exist, so any journal/to is a leftover: replace or remove it. */
	if (renameat(st->journalfd, from, st->journalfd, to) < 0) {
		if (errno != ENOENT)
			return vv_err_sys(-errno, "renaming env '%s' to '%s': moving its journal",
					  from, to);
		if ((r = vv_rm_rf_at(st->journalfd, to)) < 0)
			return vv_err_prefix(r, "renaming env '%s' to '%s'", from, to);
	}
	if ((r = vv_history_rename(st, from, to)) < 0)
		return vv_err_prefix(r, "renaming env '%s' to '%s'", from, to);
	if ((r = vv_fsync_dir_at(st->envfd, ".")) < 0 ||
	    (r = vv_fsync_dir_at(st->journalfd, ".")) < 0)
		return vv_err_prefix(r, "renaming env '%s' to '%s'", from, to);
	return 0;
}

int vv_env_remove(struct vv_store *st, const char *name)
{
	int r = name_ok(name);
	if (r < 0)
		return r;
	/* The journal first: a crash in between leaves an env without changes, never a
	 * journal that a later env of the same name would pick up. */
	if ((r = vv_rm_rf_at(st->journalfd, name)) < 0)
		return vv_err_prefix(r, "removing env '%s'", name);
	struct stat sb;
	if (fstatat(st->envfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return vv_err(-ENOENT, "no env named '%s'", name);
	if ((r = vv_history_remove(st, name)) < 0)
		return vv_err_prefix(r, "removing env '%s'", name);
	if (unlinkat(st->envfd, name, 0) < 0) {
		if (errno == ENOENT)
			return vv_err(-ENOENT, "no env named '%s'", name);
		return vv_err_sys(-errno, "removing env '%s'", name);
	}
	if ((r = vv_fsync_dir_at(st->envfd, ".")) < 0 ||
	    (r = vv_fsync_dir_at(st->journalfd, ".")) < 0)
		return vv_err_prefix(r, "removing env '%s'", name);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void vv_env_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int vv_env_list(struct vv_store *st, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	DIR *d = vv_opendir_at(st->envfd, ".");
	if (!d)
		return vv_err_sys(-errno, "cannot list envs/");
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno)
				r = vv_err_sys(-errno, "cannot list envs/");
			break;
		}
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, "..") ||
		    !strncmp(nm, ENV_RESERVED, strlen(ENV_RESERVED)))
			continue;
		if (de->d_type != DT_REG) {
			struct stat sb;
			if (de->d_type != DT_UNKNOWN ||
			    fstatat(dirfd(d), nm, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
				continue;
		}
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				r = vv_err(-ENOMEM, "out of memory");
				break;
			}
			v = nv;
			cap = nc;
		}
		if (!(v[cnt] = strdup(nm))) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		cnt++;
	}
	closedir(d);
	if (r < 0) {
		vv_env_list_free(v, cnt);
		return r;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_names);
	*names = v;
	*n = cnt;
	return 0;
}

int vv_env_journal_pending(struct vv_store *st, const char *name, const vv_oid *root)
{
	int fd = openat(st->journalfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : vv_err_sys(-errno, "cannot open journal/%s", name);
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	int e = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? vv_err_sys(-e, "cannot read journal/%s", name) : 0;
	buf[n] = 0;
	char hex[VV_OID_HEX + 1], want[VV_OID_HEX + 32];
	vv_oid_hex(root, hex);
	snprintf(want, sizeof(want), "venvfs-journal 1 %s\n", hex);
	if (strncmp(buf, want, strlen(want)))
		return 0; /* names another root: stale, ignored */
	return (size_t)n > strlen(want);
}

int vv_env_set_locked(struct vv_store *st, const char *name, bool locked)
{
	struct vv_envcfg cfg;
	int lk, r = name_ok(name);
	/* one writer at a time: a mount with uncommitted changes holds the lock too */
	if (r < 0 || (r = vv_envlock_take_env(st, name, &lk)) < 0)
		return r;
	if ((r = vv_env_load(st, name, &cfg)) < 0) {
		vv_envlock_release(lk);
		return r;
	}
	if (cfg.locked == locked) {
		vv_envcfg_release(&cfg);
		vv_envlock_release(lk);
		return 1;
	}
	/* A mount holding changes would commit them with the config it loaded, dropping
	 * the new flag: let it commit first (it does within seconds). */
	if ((r = vv_env_journal_pending(st, name, &cfg.root)) > 0)
		r = vv_err(-EBUSY, "env '%s' has changes not committed yet in journal/%s (a "
			   "mount is writing to it, or crashed): try again in a few seconds, or "
			   "run 'sync MOUNT/%s' first", name, name, name);
	if (r == 0) {
		cfg.locked = locked;
		r = vv_env_save(st, name, &cfg, "lock", 0);
	}
	vv_envcfg_release(&cfg);
	vv_envlock_release(lk);
	return r;
}

int vv_env_py_minor(struct vv_store *st, const vv_oid *root)
{
	struct vv_tree *t = NULL, *lib = NULL;
	int r = vv_tree_get(st, root, &t);
	if (r < 0)
		return r;
	const struct vv_tree_ent *e = vv_tree_find(t, "lib", 3);
	int minor = -1, found = 0;
	if (e && e->kind == VV_DIR && (r = vv_tree_get(st, &e->oid, &lib)) == 0) {
		for (size_t i = 0; i < lib->n; i++) {
			const char *n = lib->ents[i].name;
			char *end;
			if (lib->ents[i].kind != VV_DIR || strncmp(n, "python3.", 8) ||
			    !n[8] || n[8] < '0' || n[8] > '9')
				continue;
			long m = strtol(n + 8, &end, 10);
			if (*end || m > 1000)
				continue;
			minor = (int)m;
			found++;
		}
		vv_tree_unref(lib);
	}
	vv_tree_unref(t);
	if (r < 0)
		return r;
	if (found != 1)
		return vv_err(-EINVAL, "it has %s lib/python3.N directory",
			      found ? "more than one" : "no");
	return minor;
}
