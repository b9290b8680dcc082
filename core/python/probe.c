/*
 * probe.c - learning an interpreter's facts by running it (python_int.h), and judging
 * without running it whether a file looks like a CPython interpreter at all (python.h).
 *
 * The interpreter runs once (fork/execve, no shell, isolated mode, a timeout) with a
 * tiny script that prints key=value lines; paths come back hex-encoded so that no byte
 * of a path can confuse the parser. It also prints the values of the environment
 * markers that belong to the interpreter (python.h struct vv_pyplatform), computed as
 * the packaging library does, except that the platform's name and machine come from
 * os.uname() (what platform.system() and platform.machine() return on POSIX; on old
 * Pythons those run `uname -p`). The output is checked strictly before anything of
 * it is used or cached (pycache.c). A root process probing for an env's owner runs the
 * child as that owner: a user who names a program in pyvenv.cfg gets no more rights
 * out of it than the user had.
 */
#include "python/python.h"
#include "python/python_int.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

extern char **environ;

#define LEARN_TIMEOUT_MS 30000
#define LEARN_MAX_OUTPUT 65536

/* Runs under -I -c on Python 3.6 and later. Prints one key=value per line; paths as hex
 * of their bytes. Picks the highest bundled pip wheel, comparing versions numerically. */
static const char learn_script[] =
	"import os, platform, sys\n"
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
	"def full(i):\n"
	"    s = '%d.%d.%d' % (i.major, i.minor, i.micro)\n"
	"    if i.releaselevel != 'final':\n"
	"        s += i.releaselevel[0] + str(i.serial)\n"
	"    return s\n"
	"pv = platform.python_version()\n"
	"if pv.endswith('+'):\n"
	"    pv += 'local'\n"
	"u = os.uname()\n"
	"sys.stdout.write('venvfs-facts=1\\nversion=%d.%d.%d\\nmajor=%d\\nminor=%d\\n'\n"
	"    'executable=%s\\nbase_executable=%s\\nrealpath=%s\\npip_wheel=%s\\n' % (\n"
	"    v[0], v[1], v[2], v[0], v[1], h(e), h(b), h(os.path.realpath(e)) if e else '',"
	" h(w)))\n"
	"sys.stdout.write('python_full_version=%s\\nimplementation_name=%s\\n'\n"
	"    'implementation_version=%s\\nplatform_python_implementation=%s\\n'\n"
	"    'sys_platform=%s\\nos_name=%s\\nplatform_system=%s\\nplatform_machine=%s\\n'\n"
	"    'end=1\\n' % (pv, sys.implementation.name, full(sys.implementation.version),\n"
	"    platform.python_implementation(), sys.platform, os.name, u.sysname, u.machine))\n";

static char *dirname_dup(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* ---- judging a file without running it ---- */

bool python_is_elf(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return false;
	char m[4];
	ssize_t n = read(fd, m, sizeof(m));
	close(fd);
	return n == 4 && !memcmp(m, "\x7f" "ELF", 4);
}

/* "python", "pythonX" or "pythonX.Y" (digits), the versioned ones optionally followed
 * by up to two ABI flags of d (debug), m (pymalloc, 3.7 and older) and t (free
 * threading): python3.13t, python3.11d, python3.7m. */
static bool cpython_name(const char *name)
{
	if (strncmp(name, "python", 6))
		return false;
	const char *p = name + 6;
	if (!*p)
		return true;
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	for (int n = 0; *p; p++, n++)
		if (n == 2 || !strchr("dmt", *p) || strchr(p + 1, *p))
			return false;
	return true;
}

int vv_python_check_exe(const char *path)
{
	char rp[PATH_MAX], via[PATH_MAX + 32] = "";
	if (!realpath(path, rp))
		return vv_err_sys(-errno, "interpreter '%s'", path);
	if (strcmp(rp, path))
		snprintf(via, sizeof(via), " ('%s')", rp);
	struct stat sb;
	if (stat(rp, &sb) < 0)
		return vv_err_sys(-errno, "interpreter '%s'%s", path, via);
	const char *why = NULL;
	const char *base = strrchr(rp, '/') + 1; /* rp is absolute */
	int code = -ENOEXEC;
	if (!S_ISREG(sb.st_mode)) {
		why = "it is not a regular file";
	} else if (!(sb.st_mode & 0111) || access(rp, X_OK) < 0) {
		why = "it is not executable";
		code = -EACCES;
	} else if (!cpython_name(base)) {
		why = "its name is not python, pythonX or pythonX.Y";
	} else if (!python_is_elf(rp)) {
		why = "it is not an ELF binary (a script or another kind of file)";
	}
	if (why)
		return vv_err(code, "'%s'%s is not a CPython interpreter: %s", path, via, why);
	return 0;
}

static bool stdlib_at(const char *prefix, const char *lib, const char *xy)
{
	char p[PATH_MAX];
	int n = snprintf(p, sizeof(p), "%s/%s/python%s/os.py", prefix, lib, xy);
	return n > 0 && (size_t)n < sizeof(p) && access(p, F_OK) == 0;
}

int vv_python_stdlib_xy(const char *path, const char *want_xy, char *got, size_t gotsz)
{
	char prefix[PATH_MAX];
	if (!realpath(path, prefix))
		return -ENOENT;
	for (int up = 0; up < 2; up++) { /* PREFIX/bin/python3.11 -> PREFIX */
		char *slash = strrchr(prefix, '/');
		if (!slash)
			return -ENOENT;
		*slash = '\0';
	}
	if (!*prefix)
		strcpy(prefix, "/");
	static const char *const libs[] = { "lib", "lib64" };
	for (size_t i = 0; i < 2; i++)
		if (stdlib_at(prefix, libs[i], want_xy))
			return 1;
	for (size_t i = 0; i < 2; i++) {
		char d[PATH_MAX];
		snprintf(d, sizeof(d), "%s/%s", prefix, libs[i]);
		DIR *dir = opendir(d);
		if (!dir)
			continue;
		struct dirent *de;
		int major, minor;
		char tail;
		while ((de = readdir(dir)))
			if (sscanf(de->d_name, "python%d.%d%c", &major, &minor, &tail) == 2 &&
			    major >= 2 && major < 100 && minor >= 0 && minor < 1000 &&
			    stdlib_at(prefix, libs[i], de->d_name + 6)) {
				snprintf(got, gotsz, "%d.%d", major, minor);
				closedir(dir);
				return 0;
			}
		closedir(dir);
	}
	return -ENOENT;
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

/* What the child reports on fd 3 when it cannot get to the interpreter: the step
 * that failed and its errno. */
enum { STEP_EXEC, STEP_GROUPS, STEP_GID, STEP_UID };
static const char *const step_names[] = { "execve", "setgroups", "setgid", "setuid" };
struct child_fail {
	int step, err;
};

static void __attribute__((noreturn)) child_fail(int step)
{
	struct child_fail f = { step, errno };
	ssize_t w = write(3, &f, sizeof(f));
	(void)w;
	_exit(127);
}

/* In the child: fds 0-2 become /dev/null and the two pipes, fd 3 reports failure; as
 * (if not NULL) is the user to become first: no supplementary groups, then its gid,
 * then its uid, each checked. */
static void __attribute__((noreturn))
child_exec(const char *path, const struct vv_pyowner *as, int nullfd, int outw, int errw,
	   int execw, long maxfd)
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
	if (as) {
		if (setgroups(0, NULL) < 0)
			child_fail(STEP_GROUPS);
		if (setgid(as->gid) < 0)
			child_fail(STEP_GID);
		if (setuid(as->uid) < 0)
			child_fail(STEP_UID);
	}
	char *argv[] = { (char *)path, (char *)"-I", (char *)"-c", (char *)learn_script, NULL };
	execve(path, argv, environ);
	child_fail(STEP_EXEC);
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

static int run_python(const char *path, const struct vv_pyowner *as, struct run_out *ro)
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
		child_exec(path, as, nullfd, outp[1], errp[1], execp[1], maxfd);
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
	struct child_fail cf;
	ssize_t got;
	do
		got = read(execp[0], &cf, sizeof(cf));
	while (got < 0 && errno == EINTR);
	if (got == (ssize_t)sizeof(cf)) {
		int e = cf.err > 0 ? -cf.err : -EIO;
		if (!as)
			r = vv_err_sys(e, "cannot execute '%s'", path);
		else if (cf.step == STEP_EXEC)
			r = vv_err_sys(e, "cannot execute '%s' as uid %u gid %u (the env's owner)",
				       path, (unsigned)as->uid, (unsigned)as->gid);
		else
			r = vv_err_sys(e, "cannot run '%s' as uid %u gid %u (the env's owner): %s "
				       "failed", path, (unsigned)as->uid, (unsigned)as->gid,
				       step_names[cf.step >= 0 && cf.step <= STEP_UID ? cf.step : 0]);
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

enum { F_MAGIC, F_VERSION, F_MAJOR, F_MINOR, F_EXE, F_BASE, F_REAL, F_PIP, F_PLAT,
       F_END = F_PLAT + PYPLAT_N, F_N };
/* The keys the probe prints; F_PLAT.. are python_plat_keys. */
static const char *const fact_keys[F_N] = {
	"venvfs-facts", "version", "major", "minor", "executable", "base_executable",
	"realpath", "pip_wheel", [F_END] = "end",
};

static const char *fact_key(int k)
{
	return k >= F_PLAT && k < F_END ? python_plat_keys[k - F_PLAT] : fact_keys[k];
}

/* Does a reported version string start with the X.Y.Z version (then a pre-release or
 * local part, never another digit)? */
static bool extends_version(const char *s, const char *version)
{
	size_t n = strlen(version);
	return !strncmp(s, version, n) && !isdigit((unsigned char)s[n]);
}

/* The marker values (val: F_PLAT..) into *out: each short, of [A-Za-z0-9._+-],
 * implementation_name set, python_full_version the version with at most a pre-release
 * or local part. owner: only what CPython says on this kernel is taken (the child
 * could have been tampered with, check_owner_facts): cpython, posix, this uname's
 * system and machine, a sys.platform that starts with the system's name. */
static int parse_plat(const char *path, char *const *val, const char *version, bool owner,
		      struct vv_pyplatform *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < PYPLAT_N; i++) {
		const char *v = val[F_PLAT + i];
		if (!python_plat_value_ok(v))
			return vv_err(-EINVAL, "'%s' reported a bad %s '%.40s'", path,
				      python_plat_keys[i], v);
		memcpy(python_plat_field(out, i), v, strlen(v) + 1);
	}
	if (!out->implementation_name[0])
		return vv_err(-EINVAL, "'%s' reported no implementation_name", path);
	if (!extends_version(out->python_full_version, version))
		return vv_err(-EINVAL, "'%s' reported python_full_version '%s' for version %s",
			      path, out->python_full_version, version);
	if (!owner)
		return 0;
	struct utsname u;
	char sys[sizeof(u.sysname)];
	if (uname(&u) < 0)
		return vv_err_sys(-errno, "uname");
	size_t i = 0;
	for (; u.sysname[i]; i++)
		sys[i] = (char)tolower((unsigned char)u.sysname[i]);
	sys[i] = 0;
	if (strcmp(out->implementation_name, "cpython") ||
	    strcmp(out->platform_python_implementation, "CPython") ||
	    !extends_version(out->implementation_version, version) ||
	    strcmp(out->os_name, "posix") || strcmp(out->platform_system, u.sysname) ||
	    strcmp(out->platform_machine, u.machine) ||
	    strncmp(out->sys_platform, sys, strlen(sys)))
		return vv_err(-EINVAL, "'%s' reported %s %s on %s %s (%s, %s), not CPython on "
			      "this %s %s", path, out->platform_python_implementation,
			      out->implementation_version, out->platform_system,
			      out->platform_machine, out->sys_platform, out->os_name, u.sysname,
			      u.machine);
	return 0;
}

/* Is p a path under dir (by the string: no "/../" in it)? */
static bool path_under(const char *p, const char *dir, size_t dlen)
{
	return !strncmp(p, dir, dlen) && p[dlen] == '/' && !strstr(p, "/../");
}

/* A probe run as another user (the env's owner) ran in a process that user owns and
 * could have tampered with (ptrace), yet its facts are cached for everybody. So only
 * what can be checked here is taken, by the strings alone (a path the user made up is
 * never looked up: it could lead into the mount being served): sys.executable and
 * sys._base_executable are exactly the binary run (vv_python_load runs resolved ones),
 * the pip wheel lies under the interpreter's prefix (the parent of its directory) or
 * in /usr/share/python-wheels, and a pythonX.Y name agrees with the version. */
static int check_owner_facts(const char *path, const char *exe, const char *base,
			     const char *pip, int major, int minor)
{
	if (strcmp(exe, path) || strcmp(base, path))
		return vv_err(-EINVAL, "'%s' reported sys.executable '%s' and base '%s', not "
			      "itself", path, exe, base);
	const char *slash = strrchr(path, '/'), *prefix_end = slash;
	while (prefix_end > path && prefix_end[-1] != '/')
		prefix_end--;
	size_t plen = prefix_end > path ? (size_t)(prefix_end - 1 - path) : 0;
	static const char wheels[] = "/usr/share/python-wheels";
	if (*pip && !path_under(pip, path, plen) && !path_under(pip, wheels, sizeof(wheels) - 1))
		return vv_err(-EINVAL, "'%s' reported pip wheel '%s', outside its prefix '%.*s' "
			      "and %s", path, pip, (int)plen, path, wheels);
	int x, y;
	if (slash && sscanf(slash + 1, "python%d.%d", &x, &y) == 2 && (x != major || y != minor))
		return vv_err(-EINVAL, "'%s' reported Python %d.%d, not what its name says",
			      path, major, minor);
	return 0;
}

/* Parse what the probe printed; owner: it ran as another user (check_owner_facts). */
static int parse_facts(const char *path, char *text, bool owner, struct vv_python *py)
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
		while (k < F_N && strcmp(fact_key(k), line))
			k++;
		if (k == F_N || val[k])
			return vv_err(-EINVAL, "'%s' gave unexpected output '%.60s'", path, line);
		val[k] = eq + 1;
	}
	for (int k = 0; k < F_N; k++)
		if (!val[k])
			return vv_err(-EINVAL, "'%s' gave incomplete output (no %s)", path,
				      fact_key(k));
	if (strcmp(val[F_MAGIC], "1") || strcmp(val[F_END], "1"))
		return vv_err(-EINVAL, "'%s' gave unexpected output", path);

	int major, minor;
	char want[32];
	if (python_parse_version(val[F_VERSION], &major, &minor) < 0)
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
	struct vv_pyplatform plat;
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
	if ((owner && (r = check_owner_facts(path, exe, base, pip, major, minor)) < 0) ||
	    (r = parse_plat(path, val, val[F_VERSION], owner, &plat)) < 0)
		goto fail;
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
	py->plat = plat;
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
int python_learn(const char *path, const struct vv_pyowner *owner, struct vv_python *py)
{
	/* Only root can become another user; a daemon that is not root runs the probe as
	 * itself (vv_path_trusted lets it name only what root or its own user controls). */
	const struct vv_pyowner *as =
		owner && geteuid() == 0 && owner->uid != 0 ? owner : NULL;
	struct run_out ro;
	int r = run_python(path, as, &ro);
	if (r < 0)
		return r;
	r = ro.out ? parse_facts(path, ro.out, as != NULL, py)
		   : vv_err(-EINVAL, "'%s' printed nothing (it does not work as a Python 3 "
			    "interpreter)", path);
	free(ro.out);
	free(ro.err);
	return r;
}
