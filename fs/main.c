/*
 * main.c - the venvfs daemon: parse the command line and config, open the store and
 * the env model, mount, serve requests on a multithreaded loop, commit on exit.
 *
 *   venvfs [-f] [-d] [-o OPT,...] [--store DIR] [--config FILE] [STORE] MOUNTPOINT
 *
 * The form with STORE first is what mount(8) runs through mount.fuse3 for
 * `mount -t fuse.venvfs STORE MNT -o OPTS` and fstab lines of type fuse.venvfs; options
 * may follow the operands, and the fstab-only options mount passes along (noauto,
 * _netdev, user, x-systemd.*, ...) are dropped before libfuse sees them.
 *
 * A missing MOUNTPOINT is made when its parent exists (`venvfs ~/envs` on first use).
 *
 * -o ro serves every env read-only and opens the store read-only: nothing in it is
 * written, so it may belong to another user or sit on a read-only filesystem.
 *
 * Every failure before the mount is one line on stderr naming the input and the reason.
 */
#include "fs.h"
#include "fs/remote.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/config.h"
#include "env/history.h"
#include "util/fsutil.h"
#include "util/error.h"
#include "util/vec.h"
#include "store/remote.h"
#include "store/store.h"


static void usage(FILE *f)
{
	fprintf(f,
		"usage: venvfs [-f] [-d] [-o OPT,...] [--store DIR] [--config FILE] [STORE] MOUNTPOINT\n"
		"       venvfs [-f] [-d] [-o OPT,...] --remote URL [--cache DIR] [--cache-size N]\n"
		"              [--pin ID] [--timeout SECONDS] [--refresh SECONDS]\n"
		"              [--cacert FILE] MOUNTPOINT\n"
		"\n"
		"Mount a directory of Python virtual environments backed by a content-addressed\n"
		"store. Every directory made in MOUNTPOINT is a venv with pip. A missing\n"
		"MOUNTPOINT is made (its parent directory must exist).\n"
		"\n"
		"options:\n"
		"  -f               stay in the foreground\n"
		"  -d               debug: foreground, log every FUSE request\n"
		"  -o OPT[,OPT...]  mount options: ro (every env read-only, the store is never\n"
		"                   written), allow_other, and the other FUSE mount options\n"
		"  STORE            the store directory, as mount(8) passes it (same as --store)\n"
		"  --store DIR      store directory (default $XDG_DATA_HOME/venvfs,\n"
		"                   else ~/.local/share/venvfs)\n"
		"  --config FILE    config file (default $XDG_CONFIG_HOME/venvfs/venvfs.ini)\n"
		"  --remote URL     mount the envs `venvctl publish` wrote to a directory served\n"
		"                   at URL, read-only, fetching files on first use\n"
		"  --cache DIR      the store that keeps what was fetched (default\n"
		"                   $XDG_CACHE_HOME/venvfs/remote-HASH, else ~/.cache/...)\n"
		"  --cache-size N   bound of the cache: the least recently used files go when\n"
		"                   it is full (bytes, or with K, M, G, T; default 4G)\n"
		"  --pin ID         serve the manifest ID (as `venvctl publish` printed it), not\n"
		"                   the one the server's HEAD names\n"
		"  --timeout SECONDS  a transfer that sends nothing for this long fails (30)\n"
		"  --refresh SECONDS  look for a new publish this often (60; 0: never)\n"
		"  --cacert FILE    trust the CA certificates in FILE (PEM) for https://,\n"
		"                   instead of the system's\n"
		"  -h, --help       show this help\n"
		"  -V, --version    show the version\n");
}

/* The mountpoint this run made (see mountpoint()), removed again if it fails to mount. */
static const char *made_mnt;

static void unmake_mountpoint(void)
{
	if (made_mnt)
		(void)rmdir(made_mnt);
	made_mnt = NULL;
}

/* Every failure before the mount: one line on stderr, and a mountpoint made by this run
 * is taken back. */
static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;
	unmake_mountpoint();
	va_start(ap, fmt);
	fprintf(stderr, "venvfs: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

/* Options of fstab and mount(8) that mean nothing to a FUSE filesystem: mount.fuse3
 * passes them along, libfuse would refuse them. */
static bool ignored_opt(const char *o, size_t len)
{
	static const char *const names[] = { "defaults", "auto", "noauto", "nofail",
		"_netdev", "user", "nouser", "users", "owner", "group", "rw" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (len == strlen(names[i]) && !strncmp(o, names[i], len))
			return true;
	return (len >= 2 && !strncmp(o, "x-", 2)) || (len >= 8 && !strncmp(o, "comment=", 8));
}

/* opts without the ignored ones, in place; NULL when nothing is left. */
static char *filter_opts(char *opts)
{
	if (!opts)
		return NULL;
	char *w = opts;
	for (const char *p = opts; *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len && !ignored_opt(p, len)) {
			if (w != opts)
				*w++ = ',';
			memmove(w, p, len);
			w += len;
		}
		p = c ? c + 1 : p + len;
	}
	*w = 0;
	if (!*opts) {
		free(opts);
		return NULL;
	}
	return opts;
}

/* Take "key=N" (N a decimal number of at most 9 digits) out of an -o list: 1 with *val,
 * 0 when absent, -1 (after saying why) when its value is not such a number. The last
 * one given counts, as for mount options. */
static int take_num_opt(char *opts, const char *key, long *val)
{
	size_t kl = strlen(key);
	int found = 0;
	char *w = opts;
	for (const char *p = opts; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t nl = len - kl - 1;
			char num[16];
			if (!nl || nl > 9 || strspn(v, "0123456789") < nl) {
				fprintf(stderr, "venvfs: option '%.*s': the value must be a number "
					"of microseconds (0 turns it off)\n", (int)len, p);
				return -1;
			}
			memcpy(num, v, nl);
			num[nl] = 0;
			*val = strtol(num, NULL, 10);
			found = 1;
		} else if (len) {
			if (w != opts)
				*w++ = ',';
			memmove(w, p, len);
			w += len;
		}
		p = c ? c + 1 : NULL;
	}
	if (opts)
		*w = 0;
	return found;
}

/* Options the daemon itself reacts to inside -o lists. */
static bool has_opt(const char *opts, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = opts; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == nl && !strncmp(p, name, nl))
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

/* The mountpoint as an absolute path in mnt. A missing one is made (0755 less the umask,
 * as mkdir(1) would) when its parent directory exists, so `venvfs ~/envs` works on first
 * use; it is made here, before the daemon detaches, so a failure reaches the terminal.
 * Returns 0, or 1 after printing why (a missing parent, a path that is not a directory). */
static int mountpoint(const char *arg, char mnt[PATH_MAX])
{
	struct stat s;
	if (!*arg)
		return die("mountpoint '': empty path");
	if (lstat(arg, &s) < 0 && errno == ENOENT) {
		if (mkdir(arg, 0755) == 0) {
			made_mnt = arg;
		} else if (errno != EEXIST) { /* EEXIST: made meanwhile, checked below */
			int e = errno;
			char parent[PATH_MAX];
			snprintf(parent, sizeof(parent), "%s", arg);
			if (e == ENOENT)
				return die("mountpoint '%s' does not exist and cannot be made: its "
					   "parent directory '%s' does not exist", arg, dirname(parent));
			return die("mountpoint '%s' does not exist and cannot be made in '%s': %s",
				   arg, dirname(parent), strerror(e));
		}
	}
	/* ENOENT here, after lstat found it: a symbolic link to nothing */
	if (stat(arg, &s) < 0)
		return die("mountpoint '%s': %s", arg, errno == ENOENT ? "a symbolic link to a "
			   "missing path" : strerror(errno));
	if (!S_ISDIR(s.st_mode))
		return die("mountpoint '%s': not a directory", arg);
	if (!realpath(arg, mnt))
		return die("mountpoint '%s': %s", arg, strerror(errno));
	return 0;
}

/* Every FUSE request keeps a process waiting, so the threads that serve them ask the
 * scheduler for short slices (EEVDF's latency hint, Linux 6.12+, no privilege needed):
 * a woken worker then preempts a long-running task on a busy CPU instead of queueing
 * behind it. Threads made after this call inherit it; older kernels ignore it. */
static void latency_hint(void)
{
#ifdef SYS_sched_setattr
	struct {
		uint32_t size, policy;
		uint64_t flags;
		int32_t nice;
		uint32_t priority;
		uint64_t runtime, deadline, period;
	} a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.policy = SCHED_OTHER;
	a.nice = getpriority(PRIO_PROCESS, 0);
	a.runtime = 100 * 1000; /* ns: the shortest slice the kernel accepts */
	syscall(SYS_sched_setattr, 0, &a, 0);
#endif
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* "N", "NK", "NM", "NG", "NT" (powers of 1024; "KiB" and "KB" alike). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || *s == '-' || errno)
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	case 'T': case 't': shift = 40; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (shift) {
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
	}
	if (*end || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int main(int argc, char **argv)
{
	bool foreground = false, debug = false;
	const char *store_arg = NULL, *config_arg = NULL;
	struct vv_fs_remote_opts ro_opts = { .refresh_s = -1 };
	const char *cache_arg = NULL;
	char *mopts = NULL;
	size_t mopts_cap = 0;
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "remote", required_argument, NULL, 'R' },
		{ "cache", required_argument, NULL, 'C' },
		{ "pin", required_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "refresh", required_argument, NULL, 'F' },
		{ "cache-size", required_argument, NULL, 'S' },
		{ "cacert", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;
	/* permuting: mount.fuse3 puts -o after the operands */
	while ((c = getopt_long(argc, argv, "fdo:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = true; break;
		case 'd': debug = foreground = true; break;
		case 'o': {
			size_t ol = mopts ? strlen(mopts) : 0, need = ol + strlen(optarg) + 2;
			/* the first -o gets exactly its size, later ones double until they fit */
			while (mopts_cap < need)
				if (VV_GROW(mopts, mopts_cap, mopts_cap, need) < 0)
					return die("out of memory");
			if (ol)
				mopts[ol++] = ',';
			strcpy(mopts + ol, optarg);
			break;
		}
		case 's': store_arg = optarg; break;
		case 'c': config_arg = optarg; break;
		case 'R': ro_opts.url = optarg; break;
		case 'C': cache_arg = optarg; break;
		case 'P': ro_opts.pin = optarg; break;
		case 'A': ro_opts.ca_file = optarg; break;
		case 'T': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v == 0 || v > 3600)
				return die("--timeout '%s': give whole seconds, 1 to 3600", optarg);
			ro_opts.timeout_s = (unsigned)v;
			break;
		}
		case 'S':
			if (parse_size(optarg, &ro_opts.cache_size) < 0 || !ro_opts.cache_size)
				return die("--cache-size '%s': give bytes, or a number with K, M, G "
					   "or T (powers of 1024), above 0", optarg);
			break;
		case 'F': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 0 || v > 86400)
				return die("--refresh '%s': give whole seconds, 0 (never) to 86400",
					   optarg);
			ro_opts.refresh_s = v;
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V': printf("venvfs %s\n", VV_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		if (optind >= argc)
			fprintf(stderr, "venvfs: missing MOUNTPOINT\n");
		else
			fprintf(stderr, "venvfs: unexpected argument '%s'\n", argv[optind + 2]);
		usage(stderr);
		return 2;
	}
	if (argc - optind == 2) {
		if (store_arg) {
			fprintf(stderr, "venvfs: store given twice: --store '%s' and '%s'\n",
				store_arg, argv[optind]);
			usage(stderr);
			return 2;
		}
		store_arg = argv[optind++];
		if (!*store_arg)
			return die("store '': empty path");
	}
	const char *mnt_arg = argv[optind];
	if (!ro_opts.url && (cache_arg || ro_opts.pin || ro_opts.timeout_s ||
			     ro_opts.refresh_s >= 0 || ro_opts.cache_size || ro_opts.ca_file))
		return die("--cache, --cache-size, --pin, --timeout, --refresh and --cacert go "
			   "with --remote URL");
	static char ca_abs[PATH_MAX]; /* absolute: the daemon leaves the working directory */
	if (ro_opts.ca_file) {
		int fd = -1;
		if (!realpath(ro_opts.ca_file, ca_abs) ||
		    (fd = open(ca_abs, O_RDONLY | O_CLOEXEC)) < 0)
			return die("--cacert '%s': %s", ro_opts.ca_file, strerror(errno));
		close(fd);
		ro_opts.ca_file = ca_abs;
	}
	if (ro_opts.url && store_arg)
		return die("--remote mounts its cache store (--cache), not a store '%s'",
			   store_arg);
	mopts = filter_opts(mopts);
	bool ro = has_opt(mopts, "ro");
	if (ro_opts.url && !ro) {
		/* published envs are read-only: the kernel refuses writes before we see them */
		size_t ol = mopts ? strlen(mopts) : 0;
		char *m = realloc(mopts, ol + 4);
		if (!m)
			return die("out of memory");
		strcpy(m + ol, ol ? ",ro" : "ro");
		mopts = m;
	}
	ro = ro || ro_opts.url;
	long warm_us = VV_WARM_DEFAULT_US;
	if (take_num_opt(mopts, "warm", &warm_us) < 0)
		return 2;
	if (mopts && !*mopts) {
		free(mopts);
		mopts = NULL;
	}

	/* config: an explicit --config must exist; the default one may be missing */
	struct vv_config cfg = { 0 };
	char *cfgpath = config_arg ? strdup(config_arg) : vv_default_config_path();
	if (cfgpath && vv_config_load(&cfg, cfgpath, config_arg != NULL) < 0)
		return die("%s", vv_errmsg());
	free(cfgpath);

	char mnt[PATH_MAX];
	if (mountpoint(mnt_arg, mnt))
		return 1;

	/* store */
	char *storepath = ro_opts.url ? (cache_arg ? strdup(cache_arg)
						   : vv_default_cache_path(ro_opts.url))
			  : store_arg ? strdup(store_arg)
			  : cfg.store ? strdup(cfg.store) : vv_default_store_path();
	if (!storepath)
		return die("no store given and neither $XDG_DATA_HOME nor $HOME is set");
	/* a remote's cache is written (what is fetched) while its envs are read-only */
	bool store_ro = ro && !ro_opts.url;
	if (!store_ro && vv_mkdir_p_at(AT_FDCWD, storepath, 0755) < 0)
		return die("%s", vv_errmsg());
	struct vv_store *st = NULL;
	if (vv_store_open(&st, storepath, store_ro ? VV_STORE_READONLY : 1) < 0)
		return die("%s", vv_errmsg());
	free(storepath);
	vv_history_policy(st, &cfg);
	raise_nofile();
	struct vv_remote *rm = NULL;
	if (ro_opts.url && vv_fs_remote_open(st, &ro_opts, &rm) < 0)
		return die("%s", vv_errmsg());

	struct vv_fs fs = { .st = st, .ro = ro, .inotify_fd = -1,
			    .allow_other = has_opt(mopts, "allow_other") };
	pthread_mutex_init(&fs.lk, NULL);
	pthread_mutex_init(&fs.watch_lk, NULL);
	pthread_cond_init(&fs.cv, NULL);
	pthread_cond_init(&fs.pub_cv, NULL);
	pthread_cond_init(&fs.stage_cv, NULL);
	struct vv_envset_opts eo = {
		.mountpoint = mnt,
		.python = cfg.python,
		.without_pip = cfg.without_pip,
		.readonly = ro,
	};
	if (vv_envset_open(&fs.set, st, &eo) < 0)
		return die("%s", vv_errmsg());
	fs.set->inval_entry = vv_fs_model_inval;
	fs.set->inval_ctx = &fs;

	/* FUSE arguments: ours first, the user's -o after so they can override */
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	/* fsname: the store, as mount(8), df and systemd show and match the source (when
	 * it needs no escaping in an option list) */
	char base[PATH_MAX + 80];
	snprintf(base, sizeof(base), "default_permissions,fsname=%s,subtype=venvfs,noatime",
		 strpbrk(st->path, ",\\ \t\n") ? "venvfs" : st->path);
	if (fuse_opt_add_arg(&args, argv[0]) || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, base) ||
	    (mopts && (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, mopts))) ||
	    (debug && fuse_opt_add_arg(&args, "-d")))
		return die("out of memory");

	int ret = 1;
	fs.se = fuse_session_new(&args, vv_fs_count_ops(warm_us > 0), sizeof(vv_fs_ops), &fs);
	if (!fs.se)
		goto out_set;
	if (fuse_set_signal_handlers(fs.se) != 0)
		goto out_session;
	if (fuse_session_mount(fs.se, mnt) != 0) {
		fprintf(stderr, "venvfs: cannot mount on '%s'\n", mnt);
		goto out_signals;
	}
	made_mnt = NULL; /* mounted: a directory this run made stays */
	if (fuse_daemonize(foreground) != 0)
		goto out_unmount;
	if (vv_fs_count_start() < 0 || vv_fs_worker_start(&fs) < 0 ||
	    (rm && vv_fs_remote_start(st, rm, &ro_opts) < 0) ||
	    vv_fs_warm_start(warm_us) < 0) {
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		goto out_unmount;
	}

	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	if (!lc)
		goto out_worker;
	fuse_loop_cfg_set_clone_fd(lc, 1);
	fuse_loop_cfg_set_max_threads(lc, 16);
	latency_hint();
	ret = fuse_session_loop_mt(fs.se, lc) ? 1 : 0;
	fuse_loop_cfg_destroy(lc);

out_worker:
	vv_fs_warm_stop();
	vv_fs_remote_stop();
	vv_fs_worker_stop(&fs);
	vv_fs_count_write();
out_unmount:
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_set:
	/* commit every env: this is what an unmount leaves in the store */
	if (vv_envset_close(fs.set) < 0)
		ret = 1;
	fuse_opt_free_args(&args);
	vv_fs_remote_close(rm);
	vv_store_close(st);
	vv_config_release(&cfg);
	free(mopts);
	unmake_mountpoint(); /* only when it never got mounted */
	return ret;
}
