/*
 * env.c - environments as the store records them: envs/NAME (see env.h).
 *
 * The reading side: names, the INI text, loading and listing. Writing envs/NAME is
 * the env transaction's (txn.h), the one commit point. Parsing is strict (ini.h's
 * table layer): the file is written by us, so anything unexpected is corruption or
 * tampering and is reported.
 */
#include "env/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/journal.h"
#include "env/pykeys.h"
#include "util/error.h"
#include "util/ini.h"
#include "util/strv.h"
#include "util/vec.h"
#include "util/fsutil.h"
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

int vv_env_name_ok(const char *name, size_t len)
{
	if (len == strlen(VV_ROOT_ENV) && !memcmp(name, VV_ROOT_ENV, len))
		return 0;
	return vv_env_name_check(name, len);
}

static int name_ok(const char *name)
{
	return vv_env_name_ok(name, strlen(name));
}

void vv_envcfg_release(struct vv_envcfg *cfg)
{
	free(cfg->python);
	free(cfg->prompt);
	free(cfg->pykeys);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- the INI text ---- */

enum { K_PYTHON, K_ROOT, K_SYSTEM_SITE, K_WITHOUT_PIP, K_PROMPT, K_LOCKED, K_OWNER, K_MODE,
       K_NO_COMMAND, K_STATE, K_N };
static const char *const env_keys[K_N] = { "python", "root", "system-site-packages",
					   "without-pip", "prompt", "locked", "owner", "mode",
					   "no-command", "state" };
static const char *const state_names[VV_ENV_NSTATES] = { "venv", "unborn", "folder", "made" };
#define PYKEYS_SECTION "pyvenv.cfg"

struct parse_ctx {
	struct vv_envcfg *cfg;
	struct vv_pykeys_reader rd;
};

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

static int env_pykey(void *user, const char *key, const char *value, int lineno)
{
	struct parse_ctx *c = user;
	(void)lineno;
	return vv_pykeys_feed(&c->rd, key, value);
}

static int env_value(void *user, int k, const char *value, int lineno)
{
	struct vv_envcfg *cfg = ((struct parse_ctx *)user)->cfg;
	(void)lineno;
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
	case K_NO_COMMAND:
		return vv_parse_bool(value, &cfg->no_command);
	case K_STATE:
		for (uint8_t i = 0; i < VV_ENV_NSTATES; i++)
			if (!strcmp(value, state_names[i])) {
				cfg->state = i;
				return 0;
			}
		return vv_err(-EINVAL, "state '%s' is not venv, unborn, folder or made", value);
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
	struct parse_ctx c = { .cfg = out };
	struct vv_ini_table t = { .section = "env", .keys = env_keys, .nkeys = K_N,
				  .value = env_value, .user = &c,
				  .extra_section = PYKEYS_SECTION, .extra = env_pykey };
	int line[K_N];
	int r = vv_ini_parse_table(buf, len, fname, &t, line);
	if (r == 0 && !line[K_PYTHON])
		r = vv_err(-EINVAL, "%s: no 'python' key", fname);
	if (r == 0 && !line[K_ROOT])
		r = vv_err(-EINVAL, "%s: no 'root' key", fname);
	if (r == 0) {
		char what[320];
		snprintf(what, sizeof(what), "%s: [%s]", fname, PYKEYS_SECTION);
		r = vv_pykeys_finish(&c.rd, what, &out->pykeys);
	}
	vv_pykeys_reader_release(&c.rd);
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
	if (r == 0 && cfg->pykeys)
		r = vv_pykeys_check(cfg->pykeys, strlen(cfg->pykeys), "pyvenv.cfg lines kept");
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
	char *text;
	size_t n;
	FILE *f = open_memstream(&text, &n);
	if (!f)
		return vv_err(-ENOMEM, "out of memory");
	fprintf(f, "[env]\npython = %s\nroot = %s\nsystem-site-packages = %s\n%s%s%s%s%s%s%s%s%s%s%s",
		cfg->python, hex, cfg->system_site ? "true" : "false",
		cfg->without_pip ? "without-pip = true\n" : "", p ? "prompt = " : "",
		p ? p : "", p ? "\n" : "", cfg->locked ? "locked = true\n" : "",
		owner, mode, cfg->no_command ? "no-command = true\n" : "",
		cfg->state ? "state = " : "", cfg->state ? state_names[cfg->state % VV_ENV_NSTATES] : "",
		cfg->state ? "\n" : "");
	if (cfg->pykeys && *cfg->pykeys) {
		fputs("\n[" PYKEYS_SECTION "]\n", f);
		vv_pykeys_encode(f, cfg->pykeys);
	}
	bool bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		free(text);
		return vv_err(-ENOMEM, "out of memory");
	}
	*out = text;
	if (len)
		*len = n;
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

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
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
		if ((r = VV_GROW(v, cnt, cap, 16)) < 0)
			break;
		if (!(v[cnt] = strdup(nm))) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		cnt++;
	}
	closedir(d);
	if (r < 0) {
		vv_strv_free(v, cnt);
		return r;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_names);
	*names = v;
	*n = cnt;
	return 0;
}

int vv_env_check_committed(struct vv_store *st, const char *name, const vv_oid *root)
{
	int r = vv_journal_pending(st, name, root);
	if (r > 0)
		r = vv_err(-EBUSY, "env '%s' has changes not committed yet (journal/%s): commit "
			   "them first (`sync MOUNT/%s`, or unmount; a mount that stopped leaves "
			   "them to the next mount of the store) and try again", name, name, name);
	return r;
}

int vv_env_roots(struct vv_store *st, int minor, vv_oid **roots, size_t *n)
{
	char **names = NULL;
	size_t nn = 0, cap = 0;
	*roots = NULL;
	*n = 0;
	int r = vv_env_list(st, &names, &nn);
	for (size_t i = 0; r == 0 && i < nn; i++) {
		struct vv_envcfg cfg;
		if (vv_env_load(st, names[i], &cfg) < 0) {
			vv_err_clear();
			continue;
		}
		int m = vv_oid_is_zero(&cfg.root) ? -1 : vv_env_py_minor(st, &cfg.root);
		vv_err_clear();
		if (m == minor && (r = VV_GROW(*roots, *n, cap, 16)) == 0)
			(*roots)[(*n)++] = cfg.root;
		vv_envcfg_release(&cfg);
	}
	vv_strv_free(names, nn);
	if (r < 0) {
		free(*roots);
		*roots = NULL;
		*n = 0;
	}
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
