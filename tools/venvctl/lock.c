/*
 * lock.c - venvctl lock / unlock: make envs read-only, or writable again.
 *
 * The lock is one key in envs/NAME (`locked = true`, env.h), so it is written with the
 * env's single atomic commit point and a running mount picks it up from its watcher at
 * once (no remount): every write into the env is then refused with EROFS.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "env/env.h"
#include "util/error.h"
#include "ops/envstate.h"

static int lock_or_unlock(struct vc_ctx *c, int argc, char **argv, bool locked)
{
	const char **names = calloc((size_t)argc, sizeof(*names));
	size_t n = 0;
	int rc = 0;
	if (!names) {
		vc_msg(c, "out of memory");
		return VC_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (vc_is_help(a)) {
			vc_print_command_help(stdout, c->self);
			goto out;
		} else if (!strcmp(a, "--") && i + 1 < argc) {
			while (++i < argc)
				names[n++] = argv[i];
		} else if (a[0] == '-' && a[1]) {
			if ((rc = vc_global_opt(c, argc, argv, &i)))
				goto out;
		} else {
			names[n++] = a;
		}
	}
	if (n == 0) {
		rc = vc_usage_error(c, "no env name given");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		vv_err_clear();
		if (vv_env_name_check(names[i], strlen(names[i])) < 0) {
			rc = vc_usage_error(c, "%s", vv_errmsg());
			goto out;
		}
	}
	if ((rc = vc_open_store(c)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		vv_err_clear();
		if (vc_commit_mounts(c, names[i]) < 0) {
			rc = VC_EXIT_PROBLEMS;
			continue;
		}
		int r = vv_envstate_lock(c->st, names[i], locked);
		if (r < 0) {
			vc_msg(c, "%s", vv_errmsg());
			rc = VC_EXIT_PROBLEMS;
		} else {
			printf("env '%s' %s%s\n", names[i], r == 1 ? "was already " : "",
			       locked ? "locked (read-only)" : "unlocked (writable)");
		}
	}
	vc_sync_mounts(c);
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		rc = VC_EXIT_USAGE;
	}
out:
	free(names);
	return rc;
}

static int cmd_lock(struct vc_ctx *c, int argc, char **argv)
{
	return lock_or_unlock(c, argc, argv, true);
}

static int cmd_unlock(struct vc_ctx *c, int argc, char **argv)
{
	return lock_or_unlock(c, argc, argv, false);
}

const struct vc_command vc_command_lock = {"lock", cmd_lock, "NAME...",
	 "make envs read-only, in every mount and for venvctl",
	 "Lock each env NAME: it becomes read-only. Sets `locked = true` in envs/NAME;\n"
	 "a running mount applies it at once, without a remount. Then every change to the\n"
	 "env through a mount fails with EROFS (\"Read-only file system\"): creating,\n"
	 "writing, truncating, removing or renaming files and directories, chmod and\n"
	 "utimes, editing pyvenv.cfg, `pip install` and `pip uninstall`, and removing\n"
	 "(rmdir) or renaming the env itself; its files show no write permission. Python\n"
	 "runs and imports as before (it cannot store new bytecode there; see\n"
	 "PYTHONPYCACHEPREFIX in venvfs(1)). `venvctl add` and `venvctl create --clear,\n"
	 "--upgrade, --upgrade-deps` refuse a locked env, naming the lock.\n"
	 "\n"
	 "    -h, --help  show this text\n"
	 "\n"
	 "Refused while journal/NAME holds changes a mount has not committed yet (the\n"
	 "mount would commit over the lock): a mount commits a second after the last\n"
	 "change, or at once on `sync MOUNT/NAME`. Locking a locked env changes nothing.\n"
	 "\n"
	 "Prints one line per env. Exits 0 when every NAME is locked, 1 if some could not\n"
	 "be (no such env, uncommitted changes; each named on stderr), 2 on a usage error\n"
	 "or when the store cannot be opened.\n"};

const struct vc_command vc_command_unlock = {"unlock", cmd_unlock, "NAME...",
	 "make locked envs writable again",
	 "Unlock each env NAME (remove `locked` from envs/NAME): a running mount makes it\n"
	 "writable again at once, without a remount, and venvctl may change it.\n"
	 "\n"
	 "    -h, --help  show this text\n"
	 "\n"
	 "Prints one line per env. Exits 0 when every NAME is unlocked, 1 if some could\n"
	 "not be, 2 on a usage error or when the store cannot be opened.\n"};
