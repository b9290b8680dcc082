/*
 * publish.c - venvctl publish: envs as a directory of plain files that an HTTP server
 * serves to `venvfs --remote` clients (core/ops/publish.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "env/env.h"
#include "ops/publish.h"
#include "util/error.h"

static int cmd_publish(struct vc_ctx *c, int argc, char **argv)
{
	char **names = calloc((size_t)argc, sizeof(*names));
	const char *dir = NULL;
	size_t n = 0;
	int rc = 0;
	if (!names) {
		vc_msg(c, "out of memory");
		return VC_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int m;
		if (vc_is_help(a)) {
			vc_print_command_help(stdout, c->self);
			goto out;
		} else if ((m = vc_opt_match(argc, argv, &i, "--env", "-e", &v)) != 0) {
			if (m < 0 || !*v) {
				rc = vc_usage_error(c, "--env needs an env name");
				goto out;
			}
			vv_err_clear();
			if (vv_env_name_check(v, strlen(v)) < 0) {
				rc = vc_usage_error(c, "%s", vv_errmsg());
				goto out;
			}
			names[n++] = (char *)v;
		} else if (a[0] == '-' && a[1]) {
			if ((rc = vc_global_opt(c, argc, argv, &i)))
				goto out;
		} else if (!dir) {
			dir = a;
		} else {
			rc = vc_usage_error(c, "unexpected argument '%s'", a);
			goto out;
		}
	}
	if (!dir) {
		rc = vc_usage_error(c, "no directory given");
		goto out;
	}
	if ((rc = vc_open_store(c)))
		goto out;
	/* what the mounts have not committed yet goes in too */
	if (n == 0) {
		vc_commit_all_mounts(c);
	} else {
		for (size_t i = 0; i < n; i++)
			if (vc_commit_mounts(c, names[i]) < 0) {
				rc = VC_EXIT_PROBLEMS;
				goto out;
			}
	}
	struct vv_publish_result res;
	vv_err_clear();
	if (vv_publish(c->st, names, n, dir, &res) < 0) {
		vc_msg(c, "%s", vv_errmsg());
		rc = VC_EXIT_PROBLEMS;
		goto out;
	}
	char hex[VV_OID_HEX + 1], size[32];
	vv_oid_hex(&res.manifest, hex);
	vc_human_size(res.added_bytes, size, sizeof(size));
	fprintf(stderr, "published %zu env%s to '%s': %llu objects, %llu new (%s)\n", res.envs,
		res.envs == 1 ? "" : "s", dir, (unsigned long long)res.objects,
		(unsigned long long)res.added, size);
	printf("%s\n", hex);
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		rc = VC_EXIT_USAGE;
	}
out:
	free(names);
	return rc;
}

const struct vc_command vc_command_publish = {"publish", cmd_publish, "[--env NAME]... DIR",
	 "publish envs as plain files for venvfs --remote over HTTP",
	 "Write a static, self-verifying snapshot of the store's envs (every env, or each\n"
	 "--env NAME) into DIR, for any HTTP server to serve; `venvfs --remote URL` mounts\n"
	 "it read-only on other machines, fetching files on first use. DIR holds\n"
	 "objects/ (the files and trees the envs reach, named by their SHA-256, as in a\n"
	 "store) and HEAD, which names the manifest: the envs, their roots and\n"
	 "interpreters. Publishing again copies only objects DIR lacks (hard links where\n"
	 "DIR is on the store's filesystem), verifying each against its name, and replaces\n"
	 "HEAD last: a client reading DIR meanwhile sees the old snapshot or the new one,\n"
	 "and nothing it may still fetch is removed.\n"
	 "\n"
	 "    -e, --env NAME  publish this env (repeatable; default: every env)\n"
	 "    -h, --help      show this text\n"
	 "\n"
	 "Changes a mount has not committed yet are committed first. Prints the\n"
	 "manifest's SHA-256 (for `venvfs --pin`) on stdout and a summary on stderr. Exits\n"
	 "0 on success, 1 when publishing failed (no such env, a damaged object: nothing\n"
	 "new is named by HEAD then), 2 on a usage error or when the store cannot be\n"
	 "opened.\n"};
