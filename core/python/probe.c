/*
 * probe.c - learning an interpreter's facts by running it (python_int.h).
 *
 * The interpreter runs once (fork/execve, no shell, isolated mode, a timeout) with a
 * tiny script that prints key=value lines; paths come back hex-encoded so that no byte
 * of a path can confuse the parser. The output is checked strictly before anything of
 * it is used or cached (pycache.c).
 */
#include "python/python.h"
#include "python/python_int.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
int python_learn(const char *path, struct vv_python *py)
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
