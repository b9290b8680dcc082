/*
 * main.c - the venvfs daemon: parse the command line and config, open the store and
 * the env model, mount, serve requests on a multithreaded loop, commit on exit.
 *
 *   venvfs [-f] [-d] [-o OPT,...] [--store DIR] [--config FILE] MOUNTPOINT
 *
 * Every failure before the mount is one line on stderr naming the input and the reason.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "history.h"
#include "fsutil.h"
#include "error.h"
#include "store.h"


static void usage(FILE *f)
{
	fprintf(f,
		"usage: venvfs [-f] [-d] [-o OPT,...] [--store DIR] [--config FILE] MOUNTPOINT\n"
		"\n"
		"Mount a directory of Python virtual environments backed by a content-addressed\n"
		"store. Every directory made in MOUNTPOINT is a venv with pip.\n"
		"\n"
		"options:\n"
		"  -f               stay in the foreground\n"
		"  -d               debug: foreground, log every FUSE request\n"
		"  -o OPT[,OPT...]  mount options (ro, allow_other, ...)\n"
		"  --store DIR      store directory (default $XDG_DATA_HOME/venvfs,\n"
		"                   else ~/.local/share/venvfs)\n"
		"  --config FILE    config file (default $XDG_CONFIG_HOME/venvfs/venvfs.ini)\n"
		"  -h, --help       show this help\n"
		"  -V, --version    show the version\n");
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "venvfs: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
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

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	bool foreground = false, debug = false;
	const char *store_arg = NULL, *config_arg = NULL;
	char *mopts = NULL;
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "+fdo:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = true; break;
		case 'd': debug = foreground = true; break;
		case 'o': {
			size_t ol = mopts ? strlen(mopts) : 0;
			char *n = realloc(mopts, ol + strlen(optarg) + 2);
			if (!n)
				return die("out of memory");
			if (ol)
				n[ol++] = ',';
			strcpy(n + ol, optarg);
			mopts = n;
			break;
		}
		case 's': store_arg = optarg; break;
		case 'c': config_arg = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("venvfs %s\n", VV_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		if (optind >= argc)
			fprintf(stderr, "venvfs: missing MOUNTPOINT\n");
		else
			fprintf(stderr, "venvfs: unexpected argument '%s'\n", argv[optind + 1]);
		usage(stderr);
		return 2;
	}
	const char *mnt_arg = argv[optind];

	/* config: an explicit --config must exist; the default one may be missing */
	struct vv_config cfg = { 0 };
	char *cfgpath = config_arg ? strdup(config_arg) : vv_default_config_path();
	if (cfgpath && vv_config_load(&cfg, cfgpath, config_arg != NULL) < 0)
		return die("%s", vv_errmsg());
	free(cfgpath);

	/* mountpoint */
	struct stat s;
	if (stat(mnt_arg, &s) < 0)
		return die("mountpoint '%s': %s", mnt_arg, strerror(errno));
	if (!S_ISDIR(s.st_mode))
		return die("mountpoint '%s': not a directory", mnt_arg);
	char mnt[PATH_MAX];
	if (!realpath(mnt_arg, mnt))
		return die("mountpoint '%s': %s", mnt_arg, strerror(errno));

	/* store */
	char *storepath = store_arg ? strdup(store_arg) : cfg.store ? strdup(cfg.store)
								   : vv_default_store_path();
	if (!storepath)
		return die("no store given and neither $XDG_DATA_HOME nor $HOME is set");
	if (vv_mkdir_p_at(AT_FDCWD, storepath, 0755) < 0)
		return die("%s", vv_errmsg());
	struct vv_store *st = NULL;
	if (vv_store_open(&st, storepath, 1) < 0)
		return die("%s", vv_errmsg());
	free(storepath);
	vv_history_policy(st, &cfg);
	raise_nofile();

	struct vv_fs fs = { .st = st, .ro = has_opt(mopts, "ro"), .inotify_fd = -1 };
	pthread_mutex_init(&fs.lk, NULL);
	pthread_mutex_init(&fs.watch_lk, NULL);
	pthread_cond_init(&fs.cv, NULL);
	struct vv_envset_opts eo = {
		.mountpoint = mnt,
		.python = cfg.python,
		.without_pip = cfg.without_pip,
	};
	if (vv_envset_open(&fs.set, st, &eo) < 0)
		return die("%s", vv_errmsg());
	fs.set->inval_entry = vv_fs_model_inval;
	fs.set->inval_ctx = &fs;

	/* FUSE arguments: ours first, the user's -o after so they can override */
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char base[] = "default_permissions,fsname=venvfs,subtype=venvfs,noatime";
	if (fuse_opt_add_arg(&args, argv[0]) || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, base) ||
	    (mopts && (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, mopts))) ||
	    (debug && fuse_opt_add_arg(&args, "-d")))
		return die("out of memory");

	int ret = 1;
	fs.se = fuse_session_new(&args, &vv_fs_ops, sizeof(vv_fs_ops), &fs);
	if (!fs.se)
		goto out_set;
	if (fuse_set_signal_handlers(fs.se) != 0)
		goto out_session;
	if (fuse_session_mount(fs.se, mnt) != 0) {
		fprintf(stderr, "venvfs: cannot mount on '%s'\n", mnt);
		goto out_signals;
	}
	if (fuse_daemonize(foreground) != 0)
		goto out_unmount;
	if (vv_fs_worker_start(&fs) < 0) {
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		goto out_unmount;
	}

	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	if (!lc)
		goto out_worker;
	fuse_loop_cfg_set_clone_fd(lc, 1);
	fuse_loop_cfg_set_max_threads(lc, 16);
	ret = fuse_session_loop_mt(fs.se, lc) ? 1 : 0;
	fuse_loop_cfg_destroy(lc);

out_worker:
	vv_fs_worker_stop(&fs);
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
	vv_store_close(st);
	vv_config_release(&cfg);
	free(mopts);
	return ret;
}
