/*
 * python.c - interpreter discovery and the facts venvfs needs about an interpreter.
 *
 * Facts are learned by running the interpreter once (fork/execve, no shell, isolated
 * mode, a timeout) with a tiny script that prints key=value lines; paths come back
 * hex-encoded so that no byte of a path can confuse the parser. The output is checked
 * strictly, then cached in the store as pythons/<sha256 of the real executable path>,
 * together with the executable's stat identity: while that identity holds, the cache is
 * the truth and no process is started.
 *
 * Discovery of several interpreters walks $PATH, pyenv's versions, /usr/bin and the
 * config's list, resolves every candidate through the same cache (so known binaries
 * cost a stat, and each shim script runs at most once), and sorts what works by
 * version. Selection by version prefix picks from that list.
 */
#include "python/python.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/config.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "store/store.h"

extern char **environ;

#define LEARN_TIMEOUT_MS 30000
#define LEARN_MAX_OUTPUT 65536
#define CACHE_MAX_SIZE 65536

/* Runs under -I -c on Python 3.6 and later. Prints one key=value per line; paths as hex
 * of their bytes. Picks the highest bundled pip wheel, comparing versions numerically. */
static const char learn_script[] =
	"import os, sys\n"
	"def h(s):\n"
	"    return os.fsencode(s).hex() if s else ''\n"
	"def ver(n):\n"
	"    p = n.split('-')\n"
	"    out = []\n"
	"    for x in (p[1] if len(p) > 1 else '').split('.'):\n"
	"        d = ''\n"
	"        for c in x:\n"
	"            if not '0' <= c <= '9':\n"
	"                break\n"
	"            d += c\n"
	"        out.append(int(d) if d else -1)\n"
	"    return out\n"
	"def best(d):\n"
	"    try:\n"
	"        ns = [n for n in os.listdir(d) if n.startswith('pip-') and n.endswith('.whl')]\n"
	"    except OSError:\n"
	"        return ''\n"
	"    if not ns:\n"
	"        return ''\n"
	"    return os.path.join(d, max(ns, key=lambda n: (ver(n), n)))\n"
	"w = ''\n"
	"try:\n"
	"    import ensurepip\n"
	"    w = best(os.path.join(os.path.dirname(os.path.abspath(ensurepip.__file__)),"
	" '_bundled'))\n"
	"except Exception:\n"
	"    pass\n"
	"if not w:\n"
	"    w = best('/usr/share/python-wheels')\n"
	"e = sys.executable or ''\n"
	"b = getattr(sys, '_base_executable', None) or e\n"
	"v = sys.version_info\n"
	"sys.stdout.write('venvfs-facts=1\\nversion=%d.%d.%d\\nmajor=%d\\nminor=%d\\n'\n"
	"    'executable=%s\\nbase_executable=%s\\nrealpath=%s\\npip_wheel=%s\\nend=1\\n' % (\n"
	"    v[0], v[1], v[2], v[0], v[1], h(e), h(b), h(os.path.realpath(e)) if e else '',"
	" h(w)))\n";

struct ident {
	unsigned long long dev, ino, size;
	long long mtime_ns;
};

static void ident_of(const struct stat *sb, struct ident *id)
{
	id->dev = (unsigned long long)sb->st_dev;
	id->ino = (unsigned long long)sb->st_ino;
	id->size = (unsigned long long)sb->st_size;
	id->mtime_ns = (long long)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
}

static bool ident_eq(const struct ident *a, const struct ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns;
}

void vv_python_release(struct vv_python *py)
{
	free(py->exe);
	free(py->home);
	free(py->base_exe);
	free(py->version);
	free(py->pip_wheel);
	memset(py, 0, sizeof(*py));
}

void vv_python_name(const struct vv_python *py, char *buf)
{
	snprintf(buf, 32, "python%d.%d", py->major, py->minor);
}

static bool streq_null(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

/* "3.11.7" -> major, minor; strict digits, no leading garbage. */
static int parse_version(const char *s, int *major, int *minor)
{
	int part[3], n = 0;
	const char *p = s;
	while (n < 3) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		long v = 0;
		int digits = 0;
		while (isdigit((unsigned char)*p)) {
			v = v * 10 + (*p++ - '0');
			if (++digits > 4)
				return -EINVAL;
		}
		part[n++] = (int)v;
		if (n < 3 && *p++ != '.')
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*major = part[0];
	*minor = part[1];
	return 0;
}

static char *dirname_dup(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* ---- running the interpreter ---- */

struct run_out {
	char *out, *err;
	size_t outlen, errlen;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void child_close_from(int lowfd, long maxfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
	for (long fd = lowfd; fd < maxfd; fd++)
		close((int)fd);
}

/* In the child: fds 0-2 become /dev/null and the two pipes, fd 3 reports exec failure. */
static void __attribute__((noreturn))
child_exec(const char *path, int nullfd, int outw, int errw, int execw, long maxfd)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	int a = fcntl(nullfd, F_DUPFD, 10), b = fcntl(outw, F_DUPFD, 10);
	int c = fcntl(errw, F_DUPFD, 10), d = fcntl(execw, F_DUPFD_CLOEXEC, 10);
	if (a < 0 || b < 0 || c < 0 || d < 0 || dup2(a, 0) < 0 || dup2(b, 1) < 0 ||
	    dup2(c, 2) < 0 || dup3(d, 3, O_CLOEXEC) < 0)
		_exit(127);
	child_close_from(4, maxfd);
	char *argv[] = { (char *)path, (char *)"-I", (char *)"-c", (char *)learn_script, NULL };
	execve(path, argv, environ);
	int e = errno;
	ssize_t w = write(3, &e, sizeof(e));
	(void)w;
	_exit(127);
}

static int drain(int fd, char **buf, size_t *len)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	if (n == 0)
		return 0;
	if (*len + (size_t)n > LEARN_MAX_OUTPUT)
		return -EFBIG;
	char *nb = realloc(*buf, *len + (size_t)n + 1);
	if (!nb)
		return -ENOMEM;
	memcpy(nb + *len, tmp, (size_t)n);
	*len += (size_t)n;
	nb[*len] = 0;
	*buf = nb;
	return 1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The telling line of stderr, for messages: the first one (pyenv's "command not
 * found", "Unknown option"), or the last one of a Python traceback. */
static void err_tail(const struct run_out *ro, char *buf, size_t size)
{
	buf[0] = 0;
	if (!ro->err)
		return;
	const char *s = ro->err, *end = ro->err + ro->errlen;
	while (s < end && isspace((unsigned char)*s))
		s++;
	if (s == end)
		return;
	const char *e = memchr(s, '\n', (size_t)(end - s));
	if (!e)
		e = end;
	if (!strncmp(s, "Traceback", 9)) {
		e = end;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		s = e;
		while (s > ro->err && s[-1] != '\n')
			s--;
	}
	snprintf(buf, size, ": %.*s", (int)(e - s), s);
}

static int run_python(const char *path, struct run_out *ro)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, execp[2] = { -1, -1 }, nullfd = -1;
	int r = 0;
	memset(ro, 0, sizeof(*ro));
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(execp, O_CLOEXEC) < 0 ||
	    (nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		r = vv_err_sys(-errno, "cannot run '%s'", path);
		goto out;
	}
	long maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	pid_t pid = fork();
	if (pid < 0) {
		r = vv_err_sys(-errno, "cannot run '%s'", path);
		goto out;
	}
	if (pid == 0)
		child_exec(path, nullfd, outp[1], errp[1], execp[1], maxfd);
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	close_fd(&execp[1]);
	close_fd(&nullfd);

	int64_t deadline = now_ms() + LEARN_TIMEOUT_MS;
	while (outp[0] >= 0 || errp[0] >= 0) {
		struct pollfd pf[2] = { { .fd = outp[0], .events = POLLIN },
					{ .fd = errp[0], .events = POLLIN } };
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			r = vv_err(-ETIMEDOUT, "'%s' did not answer within %d seconds", path,
				   LEARN_TIMEOUT_MS / 1000);
			break;
		}
		int n = poll(pf, 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = vv_err_sys(-errno, "cannot run '%s'", path);
			break;
		}
		for (int i = 0; i < 2 && r == 0; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int *fd = i ? &errp[0] : &outp[0];
			int d = i ? drain(*fd, &ro->err, &ro->errlen)
				  : drain(*fd, &ro->out, &ro->outlen);
			if (d == 0)
				close_fd(fd);
			else if (d < 0)
				r = vv_err_sys(d, "cannot read the output of '%s'", path);
		}
		if (r)
			break;
	}
	if (r)
		kill(pid, SIGKILL);
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			if (!r)
				r = vv_err_sys(-errno, "cannot wait for '%s'", path);
			goto out;
		}
	}
	if (r)
		goto out;
	int exec_errno = 0;
	ssize_t got;
	do
		got = read(execp[0], &exec_errno, sizeof(exec_errno));
	while (got < 0 && errno == EINTR);
	if (got == (ssize_t)sizeof(exec_errno)) {
		r = vv_err_sys(-exec_errno, "cannot execute '%s'", path);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char tail[300];
		err_tail(ro, tail, sizeof(tail));
		if (WIFSIGNALED(status))
			r = vv_err(-ENOEXEC, "'%s' does not work as a Python 3 interpreter "
				   "(killed by signal %d)%s", path, WTERMSIG(status), tail);
		else
			r = vv_err(-ENOEXEC, "'%s' does not work as a Python 3 interpreter (exit "
				   "status %d)%s", path, WEXITSTATUS(status), tail);
	}
out:
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&execp[0]);
	close_fd(&execp[1]);
	close_fd(&nullfd);
	if (r) {
		free(ro->out);
		free(ro->err);
		memset(ro, 0, sizeof(*ro));
	}
	return r;
}

/* ---- parsing what the interpreter said ---- */

static int unhex_path(const char *hex, char **out)
{
	size_t n = strlen(hex);
	if (n % 2 || n / 2 >= PATH_MAX)
		return -EINVAL;
	char *p = malloc(n / 2 + 1);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = hex[2 * i + (size_t)k];
			int d = c >= '0' && c <= '9' ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
			if (d < 0) {
				free(p);
				return -EINVAL;
			}
			v = v * 16 + d;
		}
		if (!v) {
			free(p);
			return -EINVAL;
		}
		p[i] = (char)v;
	}
	p[n / 2] = 0;
	*out = p;
	return 0;
}

enum { F_MAGIC, F_VERSION, F_MAJOR, F_MINOR, F_EXE, F_BASE, F_REAL, F_PIP, F_END, F_N };
static const char *const fact_keys[F_N] = {
	"venvfs-facts", "version", "major", "minor", "executable", "base_executable",
	"realpath", "pip_wheel", "end",
};

static int parse_facts(const char *path, char *text, struct vv_python *py)
{
	char *val[F_N] = { 0 };
	int r = 0;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (!next)
			return vv_err(-EINVAL, "'%s' gave truncated output", path);
		*next++ = 0;
		char *eq = strchr(line, '=');
		if (!eq)
			return vv_err(-EINVAL, "'%s' gave unexpected output '%.60s'", path, line);
		*eq = 0;
		int k = 0;
		while (k < F_N && strcmp(fact_keys[k], line))
			k++;
		if (k == F_N || val[k])
			return vv_err(-EINVAL, "'%s' gave unexpected output '%.60s'", path, line);
		val[k] = eq + 1;
	}
	for (int k = 0; k < F_N; k++)
		if (!val[k])
			return vv_err(-EINVAL, "'%s' gave incomplete output (no %s)", path,
				      fact_keys[k]);
	if (strcmp(val[F_MAGIC], "1") || strcmp(val[F_END], "1"))
		return vv_err(-EINVAL, "'%s' gave unexpected output", path);

	int major, minor;
	char want[32];
	if (parse_version(val[F_VERSION], &major, &minor) < 0)
		return vv_err(-EINVAL, "'%s' reported a bad version '%.40s'", path, val[F_VERSION]);
	snprintf(want, sizeof(want), "%d", major);
	bool ok = !strcmp(want, val[F_MAJOR]);
	snprintf(want, sizeof(want), "%d", minor);
	if (!ok || strcmp(want, val[F_MINOR]))
		return vv_err(-EINVAL, "'%s' reported an inconsistent version", path);
	if (major != 3 || minor < 6)
		return vv_err(-ENOTSUP, "'%s' is Python %s; venvfs needs Python 3.6 or later",
			      path, val[F_VERSION]);

	char *exe = NULL, *base = NULL, *real = NULL, *pip = NULL;
	if (unhex_path(val[F_EXE], &exe) < 0 || unhex_path(val[F_BASE], &base) < 0 ||
	    unhex_path(val[F_REAL], &real) < 0 || unhex_path(val[F_PIP], &pip) < 0) {
		r = vv_err(-EINVAL, "'%s' reported a malformed path", path);
		goto fail;
	}
	if (exe[0] != '/' || base[0] != '/' || real[0] != '/') {
		r = vv_err(-EINVAL, "'%s' does not know its own absolute path (sys.executable "
			   "'%s')", path, exe);
		goto fail;
	}
	size_t pl = strlen(pip);
	if (pl && (pip[0] != '/' || pl < 5 || strcmp(pip + pl - 4, ".whl"))) {
		r = vv_err(-EINVAL, "'%s' reported a bad pip wheel path '%s'", path, pip);
		goto fail;
	}
	/* The real binary: resolved here rather than trusting the child's realpath. */
	char rp[PATH_MAX];
	struct stat sb;
	if (!realpath(exe, rp) || stat(rp, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		r = vv_err(-ENOENT, "'%s' reported sys.executable '%s', which does not exist",
			   path, exe);
		goto fail;
	}
	memset(py, 0, sizeof(*py));
	py->exe = strdup(rp);
	py->home = dirname_dup(base);
	py->base_exe = base;
	py->version = strdup(val[F_VERSION]);
	py->major = major;
	py->minor = minor;
	py->pip_wheel = pl ? pip : NULL;
	if (!pl)
		free(pip);
	base = pip = NULL;
	free(exe);
	free(real);
	if (!py->exe || !py->home || !py->version) {
		vv_python_release(py);
		return vv_err(-ENOMEM, "out of memory");
	}
	return 0;
fail:
	free(exe);
	free(base);
	free(real);
	free(pip);
	return r;
}

/* Run `path` once and learn its facts (skeleton ids zero). */
static int learn(const char *path, struct vv_python *py)
{
	struct run_out ro;
	int r = run_python(path, &ro);
	if (r < 0)
		return r;
	r = ro.out ? parse_facts(path, ro.out, py)
		   : vv_err(-EINVAL, "'%s' printed nothing", path);
	free(ro.out);
	free(ro.err);
	return r;
}

/* ---- the cache in pythons/ ---- */

static void cache_key(const char *exe, char *hex)
{
	vv_oid oid;
	vv_hash_buf(exe, strlen(exe), &oid);
	vv_oid_hex(&oid, hex);
}

struct cache_parse {
	struct vv_python *py;
	struct ident id;
	unsigned seen;
};

enum { C_EXE, C_HOME, C_BASE, C_VERSION, C_PIP, C_SKEL_PIP, C_SKEL_NOPIP, C_DEV, C_INO,
       C_SIZE, C_MTIME, C_N };
static const struct {
	const char *section, *key;
} cache_keys[C_N] = {
	{ "python", "exe" }, { "python", "home" }, { "python", "base-exe" },
	{ "python", "version" }, { "python", "pip-wheel" }, { "python", "skel-pip" },
	{ "python", "skel-nopip" }, { "stat", "dev" }, { "stat", "ino" }, { "stat", "size" },
	{ "stat", "mtime-ns" },
};
#define C_REQUIRED ((1u << C_N) - 1 - (1u << C_PIP) - (1u << C_SKEL_PIP) - (1u << C_SKEL_NOPIP))

static int parse_num(const char *s, long long *out, bool sign)
{
	const char *p = s;
	if (sign && *p == '-')
		p++;
	if (!*p || strlen(p) > 19)
		return -EINVAL;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return -EINVAL;
	unsigned long long v = strtoull(p, NULL, 10);
	if (!sign)
		*out = (long long)v;
	else if (v > (unsigned long long)LLONG_MAX)
		return -EINVAL;
	else
		*out = *s == '-' ? -(long long)v : (long long)v;
	return 0;
}

static int cache_section(void *user, const char *section, int lineno)
{
	(void)user;
	(void)lineno;
	if (strcmp(section, "python") && strcmp(section, "stat"))
		return vv_err(-EINVAL, "unknown section [%s]", section);
	return 0;
}

static int cache_key_cb(void *user, const char *section, const char *key, const char *value,
			int lineno)
{
	struct cache_parse *p = user;
	struct vv_python *py = p->py;
	(void)lineno;
	int k = 0;
	while (k < C_N &&
	       (strcmp(cache_keys[k].section, section) || strcmp(cache_keys[k].key, key)))
		k++;
	if (k == C_N)
		return vv_err(-EINVAL, "unknown key '%s'", key);
	if (p->seen & (1u << k))
		return vv_err(-EINVAL, "duplicate key '%s'", key);
	p->seen |= 1u << k;
	long long v = 0;
	char **s = NULL;
	switch (k) {
	case C_EXE: s = &py->exe; break;
	case C_HOME: s = &py->home; break;
	case C_BASE: s = &py->base_exe; break;
	case C_PIP: s = &py->pip_wheel; break;
	case C_VERSION:
		if (parse_version(value, &py->major, &py->minor) < 0)
			return vv_err(-EINVAL, "bad version '%s'", value);
		py->version = strdup(value);
		return py->version ? 0 : vv_err(-ENOMEM, "out of memory");
	case C_SKEL_PIP:
	case C_SKEL_NOPIP:
		if (vv_oid_from_hex(k == C_SKEL_PIP ? &py->skel_pip : &py->skel_nopip, value,
				    strlen(value)) < 0)
			return vv_err(-EINVAL, "bad object id '%s'", value);
		return 0;
	default:
		if (parse_num(value, &v, k == C_MTIME) < 0)
			return vv_err(-EINVAL, "bad number '%s'", value);
		if (k == C_DEV) p->id.dev = (unsigned long long)v;
		else if (k == C_INO) p->id.ino = (unsigned long long)v;
		else if (k == C_SIZE) p->id.size = (unsigned long long)v;
		else p->id.mtime_ns = v;
		return 0;
	}
	if (value[0] != '/')
		return vv_err(-EINVAL, "'%s' is not an absolute path", value);
	*s = strdup(value);
	return *s ? 0 : vv_err(-ENOMEM, "out of memory");
}

/* 0 and the cached facts, -ENOENT if there are none, -EUCLEAN if the file is bad. */
static int cache_read(struct vv_store *st, const char *exe, struct vv_python *py,
		      struct ident *id)
{
	char key[VV_OID_HEX + 1], fname[VV_OID_HEX + 16];
	cache_key(exe, key);
	char *buf = NULL;
	size_t len = 0;
	int r = vv_read_file_at(st->pythonfd, key, CACHE_MAX_SIZE, &buf, &len);
	if (r < 0)
		return r == -ENOENT ? -ENOENT : r;
	snprintf(fname, sizeof(fname), "pythons/%s", key);
	memset(py, 0, sizeof(*py));
	struct cache_parse p = { .py = py };
	struct vv_ini_cb cb = { .section = cache_section, .key = cache_key_cb, .user = &p };
	r = vv_ini_parse(buf, len, fname, &cb);
	free(buf);
	if (r == 0 && (p.seen & C_REQUIRED) != C_REQUIRED)
		r = vv_err(-EUCLEAN, "%s: incomplete", fname);
	if (r == 0 && strcmp(py->exe, exe))
		r = vv_err(-EUCLEAN, "%s: describes '%s', not '%s'", fname, py->exe, exe);
	if (r < 0) {
		vv_python_release(py);
		return r == -ENOMEM ? r : -EUCLEAN;
	}
	*id = p.id;
	return 0;
}

/* Cached facts for exe if they are still true (same inode, size and mtime; the pip wheel
 * still there). 1 fresh, 0 missing or stale (*stale gets the old facts if readable). */
static int cache_fresh(struct vv_store *st, const char *exe, struct vv_python *py,
		       struct vv_python *stale)
{
	struct vv_python c;
	struct ident id, now;
	struct stat sb;
	int r = cache_read(st, exe, &c, &id);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;
	bool fresh = stat(exe, &sb) == 0;
	if (fresh) {
		ident_of(&sb, &now);
		fresh = ident_eq(&id, &now) &&
			(!c.pip_wheel || (stat(c.pip_wheel, &sb) == 0 && S_ISREG(sb.st_mode)));
	}
	if (fresh) {
		*py = c;
		return 1;
	}
	if (stale)
		*stale = c;
	else
		vv_python_release(&c);
	return 0;
}

static int append(char **buf, size_t *len, const char *section, const char *key,
		  const char *value)
{
	if (section) {
		char *nb;
		if (asprintf(&nb, "%s[%s]\n", *buf ? *buf : "", section) < 0)
			return vv_err(-ENOMEM, "out of memory");
		free(*buf);
		*buf = nb;
	}
	if (key) {
		int r = vv_ini_value_check(key, value, key);
		if (r < 0)
			return r;
		char *nb;
		if (asprintf(&nb, "%s%s = %s\n", *buf ? *buf : "", key, value) < 0)
			return vv_err(-ENOMEM, "out of memory");
		free(*buf);
		*buf = nb;
	}
	*len = strlen(*buf);
	return 0;
}

int vv_python_save(struct vv_store *st, const struct vv_python *py)
{
	if (st->readonly)
		return 0; /* facts stay in memory: learned again next time */
	if (!py->exe || py->exe[0] != '/' || !py->home || !py->base_exe || !py->version)
		return vv_err(-EINVAL, "incomplete interpreter facts");
	struct stat sb;
	if (stat(py->exe, &sb) < 0)
		return vv_err_sys(-errno, "cannot stat interpreter '%s'", py->exe);
	struct ident id;
	ident_of(&sb, &id);
	char *buf = NULL, num[4][32], skel[2][VV_OID_HEX + 1];
	size_t len = 0;
	snprintf(num[0], sizeof(num[0]), "%llu", id.dev);
	snprintf(num[1], sizeof(num[1]), "%llu", id.ino);
	snprintf(num[2], sizeof(num[2]), "%llu", id.size);
	snprintf(num[3], sizeof(num[3]), "%lld", id.mtime_ns);
	vv_oid_hex(&py->skel_pip, skel[0]);
	vv_oid_hex(&py->skel_nopip, skel[1]);
	int r = append(&buf, &len, "python", "exe", py->exe);
	if (!r) r = append(&buf, &len, NULL, "home", py->home);
	if (!r) r = append(&buf, &len, NULL, "base-exe", py->base_exe);
	if (!r) r = append(&buf, &len, NULL, "version", py->version);
	if (!r && py->pip_wheel) r = append(&buf, &len, NULL, "pip-wheel", py->pip_wheel);
	if (!r && !vv_oid_is_zero(&py->skel_pip))
		r = append(&buf, &len, NULL, "skel-pip", skel[0]);
	if (!r && !vv_oid_is_zero(&py->skel_nopip))
		r = append(&buf, &len, NULL, "skel-nopip", skel[1]);
	if (!r) r = append(&buf, &len, "stat", "dev", num[0]);
	if (!r) r = append(&buf, &len, NULL, "ino", num[1]);
	if (!r) r = append(&buf, &len, NULL, "size", num[2]);
	if (!r) r = append(&buf, &len, NULL, "mtime-ns", num[3]);
	if (r < 0) {
		free(buf);
		return vv_err_prefix(r, "caching facts about '%s'", py->exe);
	}
	char key[VV_OID_HEX + 1];
	cache_key(py->exe, key);
	r = vv_write_file_atomic(st->pythonfd, key, buf, len, 0644);
	free(buf);
	if (r < 0)
		return vv_err_prefix(r, "caching facts about '%s'", py->exe);
	return 0;
}

/* Learned facts plus what the cache knew: skeletons survive as long as the interpreter
 * and its pip wheel are the same. Saves when anything changed. */
static int merge_and_save(struct vv_store *st, struct vv_python *learned,
			  struct vv_python *cached, bool fresh)
{
	bool same = fresh && !strcmp(cached->version, learned->version) &&
		    streq_null(cached->pip_wheel, learned->pip_wheel);
	if (same) {
		learned->skel_pip = cached->skel_pip;
		learned->skel_nopip = cached->skel_nopip;
		if (!strcmp(cached->home, learned->home) &&
		    !strcmp(cached->base_exe, learned->base_exe))
			return 0;
	}
	return vv_python_save(st, learned);
}

int vv_python_load(struct vv_store *st, const char *exe, struct vv_python *out)
{
	memset(out, 0, sizeof(*out));
	if (!exe || exe[0] != '/')
		return vv_err(-EINVAL, "interpreter path '%s' is not absolute", exe ? exe : "");
	struct stat sb;
	if (stat(exe, &sb) < 0)
		return vv_err_sys(-errno, "interpreter '%s'", exe);
	struct vv_python stale = { 0 };
	int r = cache_fresh(st, exe, out, &stale);
	if (r != 0) {
		vv_python_release(&stale);
		return r < 0 ? r : 0;
	}
	/* Stale or missing: ask the binary itself. Keep where it was reached from (home,
	 * base_exe) if the cache knew and that is still there; drop the skeletons. */
	struct vv_python py;
	r = learn(exe, &py);
	if (r < 0) {
		vv_python_release(&stale);
		return vv_err_prefix(r, "learning about interpreter '%s'", exe);
	}
	if (stale.exe && !strcmp(stale.exe, py.exe) && stat(stale.base_exe, &sb) == 0) {
		char *h = py.home, *b = py.base_exe;
		py.home = stale.home;
		py.base_exe = stale.base_exe;
		stale.home = h;
		stale.base_exe = b;
	}
	vv_python_release(&stale);
	r = vv_python_save(st, &py);
	if (r < 0) {
		vv_python_release(&py);
		return r;
	}
	*out = py;
	return 0;
}

static bool is_elf(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return false;
	char m[4];
	ssize_t n = read(fd, m, sizeof(m));
	close(fd);
	return n == 4 && !memcmp(m, "\x7f" "ELF", 4);
}

static bool is_exec_file(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

/* First `name` on $PATH (absolute directories only: the daemon's cwd means nothing). */
static int search_path(const char *name, char **out)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	const char *p = path;
	while (*p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n && p[0] == '/') {
			char *cand;
			if (asprintf(&cand, "%.*s/%s", (int)n, p, name) < 0)
				return vv_err(-ENOMEM, "out of memory");
			if (is_exec_file(cand)) {
				*out = cand;
				return 0;
			}
			free(cand);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return vv_err(-ENOENT, "no Python interpreter found (looked for '%s' on PATH '%s')",
		      name, path);
}

int vv_python_resolve(struct vv_store *st, const char *configured, struct vv_python *out)
{
	memset(out, 0, sizeof(*out));
	const char *name = configured && *configured ? configured : "python3";
	char *cand = NULL;
	int r;
	if (strchr(name, '/')) {
		if (!is_exec_file(name))
			return vv_err(-ENOENT, "no Python interpreter found (looked for '%s': %s)",
				      name, access(name, F_OK) ? strerror(errno)
							       : "not an executable file");
		cand = strdup(name);
		if (!cand)
			return vv_err(-ENOMEM, "out of memory");
	} else if ((r = search_path(name, &cand)) < 0) {
		return r;
	}

	/* A real binary with fresh cached facts: no process at all. */
	if (is_elf(cand)) {
		char rp[PATH_MAX];
		if (realpath(cand, rp)) {
			r = cache_fresh(st, rp, out, NULL);
			if (r != 0) {
				free(cand);
				return r < 0 ? r : 0;
			}
		}
	}
	/* A shim script, or facts not cached yet: run it once. */
	struct vv_python py, cached = { 0 };
	r = learn(cand, &py);
	free(cand);
	if (r < 0)
		return r;
	int fresh = cache_fresh(st, py.exe, &cached, NULL);
	if (fresh < 0) {
		vv_python_release(&py);
		return fresh;
	}
	r = merge_and_save(st, &py, &cached, fresh == 1);
	vv_python_release(&cached);
	if (r < 0) {
		vv_python_release(&py);
		return r;
	}
	*out = py;
	return 0;
}

/* ---- versions ---- */

/* One dotted component: its number and whether something follows the digits
 * ("0b1" -> 0, pre-release). Returns the end of the component. */
static const char *ver_part(const char *s, unsigned long long *num, bool *pre,
			    const char **suffix, size_t *slen)
{
	unsigned long long v = 0;
	while (isdigit((unsigned char)*s)) {
		if (v < 1000000000000ULL)
			v = v * 10 + (unsigned)(*s - '0');
		s++;
	}
	const char *suf = s;
	while (*s && *s != '.')
		s++;
	*num = v;
	*pre = s > suf;
	*suffix = suf;
	*slen = (size_t)(s - suf);
	return s;
}

int vv_version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		unsigned long long x = 0, y = 0;
		bool xp = false, yp = false;
		const char *xs = "", *ys = "";
		size_t xl = 0, yl = 0;
		if (*a)
			a = ver_part(a, &x, &xp, &xs, &xl);
		if (*b)
			b = ver_part(b, &y, &yp, &ys, &yl);
		if (x != y)
			return x < y ? -1 : 1;
		if (xp != yp)
			return xp ? -1 : 1; /* "0b1" < "0" */
		if (xp) {
			int c = strncmp(xs, ys, xl < yl ? xl : yl);
			if (c || xl != yl)
				return c ? c : xl < yl ? -1 : 1;
		}
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
	}
	return 0;
}

/* Do the first components of ver equal all components of prefix ("3.1" vs "3.12.0":
 * no)? Components are compared as numbers. */
static bool ver_prefix(const char *ver, const char *prefix)
{
	while (*prefix) {
		if (!*ver)
			return false;
		unsigned long long x, y;
		bool xp, yp;
		const char *xs, *ys;
		size_t xl, yl;
		ver = ver_part(ver, &x, &xp, &xs, &xl);
		prefix = ver_part(prefix, &y, &yp, &ys, &yl);
		if (x != y || xp != yp || (xp && (xl != yl || strncmp(xs, ys, xl))))
			return false;
		if (*ver == '.')
			ver++;
		if (*prefix == '.')
			prefix++;
	}
	return true;
}

/* One Requires-Python clause: 1 holds, 0 fails, -1 unreadable. */
static int clause_ok(const char *ver, const char *c, size_t len)
{
	static const char *const ops[] = { "===", "~=", "==", "!=", ">=", "<=", ">", "<" };
	char buf[64];
	while (len && isspace((unsigned char)*c))
		c++, len--;
	while (len && isspace((unsigned char)c[len - 1]))
		len--;
	if (!len)
		return 1;
	size_t k = 0, ol = 0;
	for (; k < sizeof(ops) / sizeof(ops[0]); k++) {
		ol = strlen(ops[k]);
		if (len > ol && !strncmp(c, ops[k], ol))
			break;
	}
	if (k == sizeof(ops) / sizeof(ops[0]) || k == 0)
		return -1;
	c += ol;
	len -= ol;
	while (len && isspace((unsigned char)*c))
		c++, len--;
	if (!len || len >= sizeof(buf))
		return -1;
	memcpy(buf, c, len);
	buf[len] = 0;
	bool star = len > 2 && !strcmp(buf + len - 2, ".*");
	if (star)
		buf[len - 2] = 0;
	for (const char *p = buf; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.')
			return -1;
	if (!isdigit((unsigned char)buf[0]))
		return -1;
	if (star && k != 2 && k != 3)
		return -1;
	int cmp = vv_version_cmp(ver, buf);
	switch (k) {
	case 1: { /* ~= X.Y[.Z]: >= it, and the same up to its last component */
		char *dot = strrchr(buf, '.');
		if (!dot)
			return -1;
		if (cmp < 0)
			return 0;
		*dot = 0;
		return ver_prefix(ver, buf);
	}
	case 2: return star ? ver_prefix(ver, buf) : cmp == 0;
	case 3: return star ? !ver_prefix(ver, buf) : cmp != 0;
	case 4: return cmp >= 0;
	case 5: return cmp <= 0;
	case 6: return cmp > 0;
	default: return cmp < 0;
	}
}

int vv_python_requires_ok(const struct vv_python *py, const char *spec)
{
	if (!spec || !py->version)
		return 1;
	const char *s = spec;
	for (;;) {
		size_t n = strcspn(s, ",");
		if (clause_ok(py->version, s, n) == 0)
			return 0;
		if (!s[n])
			return 1;
		s += n + 1;
	}
}

int vv_python_wheel_version(const char *path, char *buf, size_t size)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dash = strchr(base, '-');
	if (!dash || !isdigit((unsigned char)dash[1]))
		return vv_err(-EINVAL, "'%s' is not a wheel file name", path);
	size_t n = strcspn(dash + 1, "-");
	if (!dash[1 + n] || n >= size)
		return vv_err(-EINVAL, "'%s' is not a wheel file name", path);
	memcpy(buf, dash + 1, n);
	buf[n] = 0;
	return 0;
}

/* ---- several interpreters ---- */

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int vv_python_copy(const struct vv_python *from, struct vv_python *to)
{
	bool oom = false;
	*to = *from;
	to->exe = dup_or_null(from->exe, &oom);
	to->home = dup_or_null(from->home, &oom);
	to->base_exe = dup_or_null(from->base_exe, &oom);
	to->version = dup_or_null(from->version, &oom);
	to->pip_wheel = dup_or_null(from->pip_wheel, &oom);
	if (oom) {
		vv_python_release(to);
		return vv_err(-ENOMEM, "out of memory");
	}
	return 0;
}

void vv_python_list_free(struct vv_python *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vv_python_release(&list[i]);
	free(list);
}

void vv_pydisc_release(struct vv_pydisc *d)
{
	vv_python_list_free(d->list, d->n);
	for (size_t i = 0; i < d->nskipped; i++)
		free(d->skipped[i]);
	free(d->skipped);
	memset(d, 0, sizeof(*d));
	d->dflt = -1;
}

/* "python3" or "python3.N" (N digits): an interpreter name, not python3.11-config,
 * python3.11-gdb.py or python3.11m. */
static bool interp_name(const char *name)
{
	if (strncmp(name, "python3", 7))
		return false;
	const char *p = name + 7;
	if (!*p)
		return true;
	if (*p++ != '.' || !*p)
		return false;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

struct strv {
	char **v;
	size_t n, cap;
};

static int strv_push(struct strv *s, char *item)
{
	if (!item)
		return vv_err(-ENOMEM, "out of memory");
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		char **nv = realloc(s->v, nc * sizeof(*nv));
		if (!nv) {
			free(item);
			return vv_err(-ENOMEM, "out of memory");
		}
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = item;
	return 0;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Candidates: paths to try, and their realpaths, so that one file reached under
 * several names (/bin -> /usr/bin, python3 -> python3.11) is looked at once. */
struct cands {
	struct strv path, real;
};

static int add_candidate(struct cands *c, const char *path)
{
	char rp[PATH_MAX];
	if (!is_exec_file(path) || !realpath(path, rp))
		return 0;
	for (size_t i = 0; i < c->real.n; i++)
		if (!strcmp(c->real.v[i], rp))
			return 0;
	int r = strv_push(&c->path, strdup(path));
	if (r == 0 && (r = strv_push(&c->real, strdup(rp))) < 0)
		free(c->path.v[--c->path.n]);
	return r;
}

/* Add dir/NAME for every interpreter-looking NAME in dir (sorted by name; `only` keeps
 * just that name). A missing or unreadable directory adds nothing. */
static int add_dir_candidates(struct cands *c, const char *dir, size_t dirlen, const char *only)
{
	char *d = strndup(dir, dirlen);
	if (!d)
		return vv_err(-ENOMEM, "out of memory");
	DIR *dh = opendir(d);
	if (!dh) {
		free(d);
		return 0;
	}
	struct strv names = { 0 };
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(dh))) {
		if (only ? strcmp(de->d_name, only) : !interp_name(de->d_name))
			continue;
		r = strv_push(&names, strdup(de->d_name));
	}
	closedir(dh);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_cstr);
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		char *cand;
		if (asprintf(&cand, "%s/%s", d, names.v[i]) < 0) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		r = add_candidate(c, cand);
		free(cand);
	}
	strv_free(&names);
	free(d);
	return r;
}

/* pyenv's root: $PYENV_ROOT, else ~/.pyenv (malloc'd; NULL if neither is usable). */
static char *pyenv_root(void)
{
	const char *root = getenv("PYENV_ROOT");
	const char *home = getenv("HOME");
	char *out = NULL;
	if (root && root[0] == '/')
		out = strdup(root);
	else if (home && home[0] == '/' && asprintf(&out, "%s/.pyenv", home) < 0)
		out = NULL;
	return out;
}

/* root/versions/x/bin/python3, sorted by version dir. */
static int add_pyenv_candidates(struct cands *c, const char *root)
{
	char *base;
	if (asprintf(&base, "%s/versions", root) < 0)
		return vv_err(-ENOMEM, "out of memory");
	DIR *dh = opendir(base);
	if (!dh) {
		free(base);
		return 0;
	}
	struct strv vers = { 0 };
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(dh)))
		if (de->d_name[0] != '.')
			r = strv_push(&vers, strdup(de->d_name));
	closedir(dh);
	if (vers.n)
		qsort(vers.v, vers.n, sizeof(*vers.v), cmp_cstr);
	for (size_t i = 0; r == 0 && i < vers.n; i++) {
		char *bin;
		if (asprintf(&bin, "%s/%s/bin", base, vers.v[i]) < 0) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		r = add_dir_candidates(c, bin, strlen(bin), "python3");
		free(bin);
	}
	strv_free(&vers);
	free(base);
	return r;
}

struct found {
	struct vv_python py;
	bool dflt;
};

static int cmp_found(const void *a, const void *b)
{
	const struct found *x = a, *y = b;
	int c = vv_version_cmp(y->py.version, x->py.version);
	return c ? c : strcmp(x->py.exe, y->py.exe);
}

static int note_skip(struct vv_pydisc *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int note_skip(struct vv_pydisc *d, const char *fmt, ...)
{
	char *line;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return vv_err(-ENOMEM, "out of memory");
	char **nv = realloc(d->skipped, (d->nskipped + 1) * sizeof(*nv));
	if (!nv) {
		free(line);
		return vv_err(-ENOMEM, "out of memory");
	}
	d->skipped = nv;
	d->skipped[d->nskipped++] = line;
	return 0;
}

int vv_python_discover_all(struct vv_store *st, const struct vv_config *cfg,
			   struct vv_pydisc *out)
{
	memset(out, 0, sizeof(*out));
	out->dflt = -1;
	struct cands c = { 0 };
	struct found *f = NULL;
	size_t nf = 0;
	int r = 0;

	/* The default first: the config's `python`, else the first python3 on PATH. */
	const char *defname = cfg && cfg->python && *cfg->python ? cfg->python : "python3";
	char *defpath = NULL, defreal[PATH_MAX] = "";
	if (strchr(defname, '/')) {
		if (is_exec_file(defname))
			defpath = strdup(defname);
		else
			r = note_skip(out, "%s: not an executable file (the configured python)",
				      defname);
	} else if (search_path(defname, &defpath) < 0) {
		defpath = NULL;
		if (cfg && cfg->python)
			r = note_skip(out, "%s: not found on PATH (the configured python)",
				      defname);
	}
	if (r == 0 && defpath && realpath(defpath, defreal))
		r = add_candidate(&c, defpath);

	/* pyenv's shims (bash scripts, ~0.1 s a run) all lead into its versions/, which
	 * is searched directly below: only the default one is run, to know the default. */
	char *proot = pyenv_root(), *shims = NULL;
	if (proot && asprintf(&shims, "%s/shims", proot) < 0)
		shims = NULL;
	const char *path = getenv("PATH");
	for (const char *p = path ? path : ""; r == 0 && *p;) {
		size_t n = strcspn(p, ":");
		if (n && p[0] == '/' && !(shims && strlen(shims) == n && !strncmp(p, shims, n)))
			r = add_dir_candidates(&c, p, n, NULL);
		p += n;
		if (*p == ':')
			p++;
	}
	if (r == 0 && proot)
		r = add_pyenv_candidates(&c, proot);
	free(proot);
	free(shims);
	if (r == 0)
		r = add_dir_candidates(&c, "/usr/bin", 8, NULL);
	for (size_t i = 0; r == 0 && cfg && i < cfg->npythons; i++) {
		if (is_exec_file(cfg->pythons[i]))
			r = add_candidate(&c, cfg->pythons[i]);
		else
			r = note_skip(out, "%s: not an executable file (listed in `pythons`)",
				      cfg->pythons[i]);
	}
	if (r == 0 && c.path.n && !(f = calloc(c.path.n, sizeof(*f))))
		r = vv_err(-ENOMEM, "out of memory");

	for (size_t i = 0; r == 0 && i < c.path.n; i++) {
		const char *cand = c.path.v[i];
		bool is_def = defreal[0] && !strcmp(c.real.v[i], defreal);
		/* A binary already found through a shim: nothing to learn. */
		size_t k = 0;
		while (k < nf && strcmp(f[k].py.exe, c.real.v[i]))
			k++;
		if (k < nf) {
			f[k].dflt |= is_def;
			continue;
		}
		/* An ELF with fresh cached facts starts no process; a shim runs once. */
		struct vv_python py;
		vv_err_clear();
		int e = vv_python_resolve(st, cand, &py);
		if (e == -ENOMEM) {
			r = e;
			break;
		}
		if (e < 0) {
			r = note_skip(out, "%s", vv_errmsg());
			continue;
		}
		for (k = 0; k < nf && strcmp(f[k].py.exe, py.exe); k++)
			;
		if (k < nf) {
			f[k].dflt |= is_def;
			vv_python_release(&py);
			continue;
		}
		f[nf].py = py;
		f[nf].dflt = is_def;
		nf++;
	}
	if (r == 0 && nf) {
		qsort(f, nf, sizeof(*f), cmp_found);
		if (!(out->list = calloc(nf, sizeof(*out->list))))
			r = vv_err(-ENOMEM, "out of memory");
	}
	if (r == 0) {
		for (size_t k = 0; k < nf; k++) {
			out->list[k] = f[k].py;
			if (f[k].dflt && out->dflt < 0)
				out->dflt = (long)k;
		}
		out->n = nf;
	} else {
		for (size_t k = 0; k < nf; k++)
			vv_python_release(&f[k].py);
		vv_pydisc_release(out);
	}
	free(f);
	free(defpath);
	strv_free(&c.path);
	strv_free(&c.real);
	return r;
}

int vv_python_discover(struct vv_store *st, const struct vv_config *cfg,
		       struct vv_python **list, size_t *n)
{
	struct vv_pydisc d;
	*list = NULL;
	*n = 0;
	int r = vv_python_discover_all(st, cfg, &d);
	if (r < 0)
		return r;
	*list = d.list;
	*n = d.n;
	d.list = NULL;
	d.n = 0;
	vv_pydisc_release(&d);
	return 0;
}

/* "3", "3.12", "3.12.1", "python3.12", "python3.12.1" -> the version part; NULL if spec
 * is not a version ("python3" alone is the command). */
static const char *spec_version(const char *spec)
{
	const char *v = spec;
	bool prefixed = !strncmp(v, "python", 6);
	if (prefixed)
		v += 6;
	int parts = 0;
	const char *p = v;
	for (;;) {
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
		parts++;
		if (!*p)
			break;
		if (*p++ != '.' || parts == 3)
			return NULL;
	}
	if (prefixed && parts < 2)
		return NULL;
	return v;
}

/* ", found: 3.13.0, 3.12.1" into buf. */
static void found_list(const struct vv_pydisc *d, char *buf, size_t size)
{
	size_t len = (size_t)snprintf(buf, size, d->n ? "found" : "found no interpreter");
	for (size_t i = 0; i < d->n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s %s (%s)", i ? "," : "",
					d->list[i].version, d->list[i].exe);
	if (len >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

int vv_python_select(struct vv_store *st, const struct vv_config *cfg, const char *spec,
		     struct vv_python *out)
{
	memset(out, 0, sizeof(*out));
	if (!spec || !*spec)
		return vv_err(-EINVAL, "empty interpreter (give a path, a command or a version "
			      "such as 3.12)");
	const char *ver = spec_version(spec);
	struct vv_pydisc d;
	int r;
	if (strchr(spec, '/') || !ver) {
		r = vv_python_resolve(st, spec, out);
		if (r != -ENOENT || strchr(spec, '/'))
			return r;
		/* Not a command on PATH either: say what there is. */
		if ((r = vv_python_discover_all(st, cfg, &d)) < 0)
			return r;
		char list[1024];
		found_list(&d, list, sizeof(list));
		vv_pydisc_release(&d);
		return vv_err(-ENOENT, "no Python interpreter matches '%s': not a path, a "
			      "version or a command on PATH (%s)", spec, list);
	}
	if ((r = vv_python_discover_all(st, cfg, &d)) < 0)
		return r;
	for (size_t i = 0; i < d.n; i++) {
		if (ver_prefix(d.list[i].version, ver)) {
			*out = d.list[i];
			memset(&d.list[i], 0, sizeof(d.list[i]));
			vv_pydisc_release(&d);
			return 0;
		}
	}
	char list[1024];
	found_list(&d, list, sizeof(list));
	vv_pydisc_release(&d);
	return vv_err(-ENOENT, "no Python interpreter matches '%s' (%s)", spec, list);
}
