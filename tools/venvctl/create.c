/*
 * create.c - venvctl create and add: make envs with venv's flags, install wheels or the
 * pinned packages of a requirements file into them (a progress bar while ingesting).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bar.h"
#include "cli.h"
#include "env/env.h"
#include "ops/envops.h"
#include "util/error.h"
#include "util/ini.h"
#include "ops/install.h"

/* ---- create ---------------------------------------------------------------------- */

static int cmd_create(struct vc_ctx *c, int argc, char **argv)
{
	struct vv_create_opts cr = { 0 };
	char *prompt_buf = NULL;
	struct vv_creator *creator = NULL;
	const char **names = calloc((size_t)argc, sizeof(*names));
	const char **links = calloc((size_t)argc, sizeof(*links));
	size_t nnames = 0, nlinks = 0;
	struct vc_bar bar;
	int rc = 0;
	vc_bar_init(&bar, "create");
	if (!names || !links) {
		vc_msg(c, "out of memory");
		return VC_EXIT_USAGE;
	}
	bool opts_done = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int m;
		if (opts_done || a[0] != '-' || !a[1]) {
			names[nnames++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			opts_done = true;
		} else if (vc_is_help(a)) {
			vc_print_command_help(stdout, c->self);
			goto out;
		} else if ((m = vc_opt_match(argc, argv, &i, "--python", NULL, &v))) {
			if (m < 0 || !*v) {
				rc = vc_usage_error(c, "option '--python' needs an interpreter (a "
						 "version such as 3.12, a path or a command)");
				goto out;
			}
			cr.python = v;
		} else if ((m = vc_opt_match(argc, argv, &i, "--prompt", NULL, &v))) {
			if (m < 0 || !*v) {
				rc = vc_usage_error(c, "option '--prompt' needs a non-empty prompt");
				goto out;
			}
			cr.prompt = v;
		} else if ((m = vc_opt_match(argc, argv, &i, "--requirement", "-r", &v))) {
			if (m < 0 || !*v) {
				rc = vc_usage_error(c, "option '-r' needs a requirements file");
				goto out;
			}
			if (cr.requirements) {
				rc = vc_usage_error(c, "option '-r' given twice");
				goto out;
			}
			cr.requirements = v;
		} else if ((m = vc_opt_match(argc, argv, &i, "--find-links", "-f", &v))) {
			if (m < 0 || !*v) {
				rc = vc_usage_error(c, "option '--find-links' needs a directory");
				goto out;
			}
			links[nlinks++] = v;
		} else if (!strcmp(a, "--system-site-packages")) {
			cr.system_site = true;
		} else if (!strcmp(a, "--without-pip")) {
			cr.without_pip = true;
		} else if (!strcmp(a, "--clear")) {
			cr.clear = true;
		} else if (!strcmp(a, "--upgrade")) {
			cr.upgrade = true;
		} else if (!strcmp(a, "--upgrade-deps")) {
			cr.upgrade_deps = true;
		} else if ((rc = vc_global_opt(c, argc, argv, &i))) {
			goto out;
		}
	}
	if (!nnames) {
		rc = vc_usage_error(c, "no env name given");
		goto out;
	}
	if (cr.clear && cr.upgrade) {
		rc = vc_usage_error(c, "--clear and --upgrade cannot be combined");
		goto out;
	}
	if (cr.without_pip && cr.upgrade_deps) {
		rc = vc_usage_error(c, "--without-pip and --upgrade-deps cannot be combined");
		goto out;
	}
	if (nlinks && !cr.requirements) {
		rc = vc_usage_error(c, "--find-links needs -r FILE");
		goto out;
	}
	cr.find_links = links;
	cr.nlinks = nlinks;
	cr.progress = &bar.cb;
	for (size_t i = 0; i < nnames; i++) {
		vv_err_clear();
		if (vv_env_name_check(names[i], strlen(names[i])) < 0) {
			rc = vc_usage_error(c, "%s", vv_errmsg());
			goto out;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(names[k], names[i])) {
				rc = vc_usage_error(c, "env '%s' given twice", names[i]);
				goto out;
			}
	}
	if (cr.prompt && !strcmp(cr.prompt, ".")) {
		/* venv's rule: "." is the name of the current directory. */
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd))) {
			vc_msg(c, "--prompt .: cannot get the current directory: %s",
			    strerror(errno));
			rc = VC_EXIT_USAGE;
			goto out;
		}
		const char *base = strrchr(cwd, '/');
		base = base && base[1] ? base + 1 : cwd;
		if (!(prompt_buf = strdup(base))) {
			vc_msg(c, "out of memory");
			rc = VC_EXIT_USAGE;
			goto out;
		}
		cr.prompt = prompt_buf;
	}
	if (cr.prompt) {
		vv_err_clear();
		if (vv_ini_value_check("prompt", cr.prompt, "prompt") < 0) {
			rc = vc_usage_error(c, "%s", vv_errmsg());
			goto out;
		}
	}
	if ((rc = vc_open_store_mode(c, 1)))
		goto out;
	if (vv_creator_new(c->st, &c->cfg, &cr, &creator) < 0) {
		vc_msg(c, "%s", vv_errmsg());
		rc = VC_EXIT_USAGE;
		goto out;
	}
	if (cr.requirements)
		vc_commit_all_mounts(c); /* what pip installed in any env, committed */
	/* one failing env does not stop the others */
	for (size_t i = 0; i < nnames; i++) {
		if (vc_commit_mounts(c, names[i]) < 0) {
			rc = VC_EXIT_PROBLEMS;
			continue;
		}
		int r = vv_creator_run(creator, names[i]);
		vc_bar_done(&bar);
		if (r < 0) {
			const char *report = vv_creator_report(creator);
			vc_msg(c, "%s", vv_errmsg());
			if (report)
				fputs(report, stderr);
			if (report)
				vc_msg(c, "env '%s' was not created or changed", names[i]);
			rc = VC_EXIT_PROBLEMS;
		}
	}
	vc_sync_mounts(c);
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		rc = VC_EXIT_USAGE;
	}
out:
	free(names);
	free(links);
	free(prompt_buf);
	vv_creator_free(creator);
	return rc;
}

/* ---- add ------------------------------------------------------------------------- */

static void print_installed(const char *env, const struct vv_installed *done, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		printf("env '%s': installed %s %s", env, done[i].name, done[i].version);
		if (done[i].replaced)
			printf(" (replacing %s)", done[i].replaced);
		printf("\n");
	}
}

static int cmd_add(struct vc_ctx *c, int argc, char **argv)
{
	const char **args = calloc((size_t)argc, sizeof(*args));
	const char **links = calloc((size_t)argc, sizeof(*links));
	const char *reqs = NULL;
	size_t nargs = 0, nlinks = 0;
	bool opts_done = false;
	int rc = 0;
	if (!args || !links) {
		vc_msg(c, "out of memory");
		free(args);
		free(links);
		return VC_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int m;
		if (opts_done || a[0] != '-' || !a[1]) {
			args[nargs++] = a;
		} else if (!strcmp(a, "--")) {
			opts_done = true;
		} else if (vc_is_help(a)) {
			vc_print_command_help(stdout, c->self);
			goto out;
		} else if ((m = vc_opt_match(argc, argv, &i, "--requirement", "-r", &v))) {
			if (m < 0 || !*v) {
				rc = vc_usage_error(c, "option '-r' needs a requirements file");
				goto out;
			}
			if (reqs) {
				rc = vc_usage_error(c, "option '-r' given twice");
				goto out;
			}
			reqs = v;
		} else if ((m = vc_opt_match(argc, argv, &i, "--find-links", "-f", &v))) {
			if (m < 0 || !*v) {
				rc = vc_usage_error(c, "option '--find-links' needs a directory");
				goto out;
			}
			links[nlinks++] = v;
		} else if ((rc = vc_global_opt(c, argc, argv, &i))) {
			goto out;
		}
	}
	if (!nargs) {
		rc = vc_usage_error(c, "no env name given");
		goto out;
	}
	if (reqs && nargs > 1) {
		rc = vc_usage_error(c, "give WHEEL files or -r FILE, not both");
		goto out;
	}
	if (!reqs && nargs < 2) {
		rc = vc_usage_error(c, "no wheel given (WHEEL... or -r FILE)");
		goto out;
	}
	if (nlinks && !reqs) {
		rc = vc_usage_error(c, "--find-links needs -r FILE");
		goto out;
	}
	vv_err_clear();
	if (vv_env_name_check(args[0], strlen(args[0])) < 0) {
		rc = vc_usage_error(c, "%s", vv_errmsg());
		goto out;
	}
	for (size_t i = 1; i < nargs; i++) {
		struct stat sb;
		if (stat(args[i], &sb) < 0 || !S_ISREG(sb.st_mode)) {
			rc = vc_usage_error(c, "'%s' is not a wheel file", args[i]);
			goto out;
		}
	}
	if ((rc = vc_open_store_mode(c, 0)))
		goto out;
	if (vc_commit_mounts(c, args[0]) < 0) {
		rc = VC_EXIT_PROBLEMS;
		goto out;
	}
	struct vv_installed *done = NULL;
	size_t ndone = 0;
	int r;
	char *report = NULL, *skipped = NULL;
	if (reqs) {
		struct vc_bar bar;
		vc_commit_all_mounts(c);
		vc_bar_init(&bar, "add");
		r = vv_install_requirements(c->st, args[0], reqs, links, nlinks, &bar.cb, &done,
					    &ndone, &report, &skipped);
		vc_bar_done(&bar);
	} else {
		ndone = nargs - 1;
		r = vv_install_wheels(c->st, args[0], args + 1, ndone, &done);
	}
	if (r < 0) {
		vc_msg(c, "%s", vv_errmsg());
		if (report)
			fputs(report, stderr);
		free(report);
		vc_msg(c, "env '%s' is unchanged", args[0]);
		rc = VC_EXIT_PROBLEMS;
		goto out;
	}
	vc_sync_mounts(c);
	print_installed(args[0], done, ndone);
	for (const char *s = skipped; s && *s;) {
		size_t l = strcspn(s, "\n");
		printf("env '%s': %.*s\n", args[0], (int)l, s);
		s += l + (s[l] == '\n');
	}
	free(skipped);
	vv_installed_free(done, ndone);
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		rc = VC_EXIT_USAGE;
	}
out:
	free(args);
	free(links);
	return rc;
}

const struct vc_command vc_command_create = {"create", cmd_create,
	 "[--python VER|PATH] [--system-site-packages] [--without-pip] [--prompt P] "
	 "[--clear] [--upgrade] [--upgrade-deps] [-r FILE [--find-links DIR]...] NAME...",
	 "create envs, or clear or upgrade them, like `python -m venv`",
	 "Create each NAME as a new env in the store, with `python -m venv`'s options and\n"
	 "meanings. The store need not be mounted: a new env is one small file, envs/NAME,\n"
	 "pointing at the interpreter's cached skeleton (pip unpacked once per interpreter).\n"
	 "An existing NAME is an error unless --clear, --upgrade or --upgrade-deps says\n"
	 "what to do with it (venv would silently reuse the directory).\n"
	 "\n"
	 "    --python VER|PATH       the interpreter: a version prefix (3, 3.12, 3.12.1,\n"
	 "                            python3.12: the newest installed match, see\n"
	 "                            `venvctl python list`), a path, or a command on PATH.\n"
	 "                            Default: the config's `python`, else the first\n"
	 "                            python3 on PATH; with --clear, the env's own\n"
	 "                            interpreter.\n"
	 "    --system-site-packages  give the env access to the interpreter's\n"
	 "                            site-packages (include-system-site-packages = true)\n"
	 "    --without-pip           no pip in the env (default: the config's\n"
	 "                            without-pip, else false)\n"
	 "    --prompt P              the prompt activate shows instead of the env's name;\n"
	 "                            \".\" means the name of the current directory\n"
	 "    --clear                 empty an existing env: it starts again from the\n"
	 "                            skeleton of its interpreter (or of --python), with\n"
	 "                            the options of this command line; options not given\n"
	 "                            are back to their defaults, and changes not yet\n"
	 "                            committed (journal/NAME) are dropped\n"
	 "    --upgrade               point an existing env at the newest installed patch\n"
	 "                            release of its Python X.Y (e.g. 3.11.6 -> 3.11.7;\n"
	 "                            never an older one), or at --python, which must be\n"
	 "                            the same X.Y. The env's files are unchanged.\n"
	 "    --upgrade-deps          replace the env's pip with the newest pip wheel on\n"
	 "                            offer (the installed interpreters' bundled ones and\n"
	 "                            /usr/share/python-wheels) that supports the env's\n"
	 "                            Python; other packages are kept\n"
	 "    -r, --requirement FILE  also install the packages FILE pins (see below)\n"
	 "    -f, --find-links DIR    wheels for pins not in the store yet (repeatable)\n"
	 "    -h, --help              show this text\n"
	 "\n"
	 "With -r, every line of FILE must pin one version: `name==version` or\n"
	 "`name[extra,...]==version`, optionally followed by an environment marker\n"
	 "(`; python_version >= \"3.8\"`, PEP 508) and `--hash=sha256:HEX` options (the\n"
	 "wheel must have one of them); `#` comments, blank lines and `\\` continuations\n"
	 "are allowed, so `poetry export`, `pip-compile` and `uv export` files work.\n"
	 "Markers are evaluated for the env's interpreter on this machine (`extra` is\n"
	 "\"\"); a line whose marker is false is skipped, and printed as skipped. Other\n"
	 "options, URLs, malformed markers and unpinned lines are refused (extras select\n"
	 "nothing: pin every package). A pin is taken from the packages already in the\n"
	 "store for the env's Python (the most specific fitting tags first), else from the\n"
	 "wheels in the --find-links directories, which are then unpacked once and\n"
	 "recorded in the store (a progress bar on a terminal), so the next env gets them\n"
	 "in O(1) per package. If any line cannot be met, every such line is printed with\n"
	 "its line number and the env is not created (nor changed). Dependencies are not\n"
	 "resolved: `bin/pip check` tells.\n"
	 "\n"
	 "--clear cannot be combined with --upgrade, nor --without-pip with --upgrade-deps.\n"
	 "Unlike venv, --upgrade and --upgrade-deps without --clear keep the env's\n"
	 "system-site-packages and prompt settings unless given again. --clear, --upgrade\n"
	 "and --upgrade-deps refuse an existing env that a mount or another venvctl is\n"
	 "changing (naming it: program, pid, host); --upgrade-deps also one whose journal\n"
	 "holds changes a stopped mount left. One line per env is printed on success, then\n"
	 "one per requirement line skipped for its marker.\n"
	 "\n"
	 "Creates the store if it does not exist. Exits 0 if every NAME was done, 1 if some\n"
	 "could not be (each named in one line on stderr, the others are still done), 2 on\n"
	 "a usage error (nothing is done).\n"};

const struct vc_command vc_command_add = {"add", cmd_add,
	 "NAME WHEEL... | NAME -r FILE [--find-links DIR]...",
	 "install wheels into an env, as pip would, without mounting",
	 "Install each WHEEL file into env NAME's committed tree the way `pip install` run in\n"
	 "that venv would, so pip lists, shows, freezes, checks, upgrades and uninstalls the\n"
	 "packages like its own (INSTALLER is \"venvctl\"; REQUESTED is written). Works\n"
	 "whether or not the store is mounted: a mount shows the change at once.\n"
	 "\n"
	 "A wheel must fit the env's Python by its file-name tags: py3-none-any (py3N with\n"
	 "N up to the env's 3.N, compressed sets such as py2.py3), cp3N-cp3N and cp3N-none\n"
	 "for the env's own 3.N, cp3M-abi3 for M up to N; platform any, linux_ARCH or\n"
	 "manylinux*_ARCH of this machine. Its Requires-Python must admit the env's\n"
	 "interpreter. A distribution of the same (PEP 503) name already installed is\n"
	 "replaced as pip upgrades: the files its RECORD lists, their bytecode, directories\n"
	 "left empty and its .dist-info are removed first. Every member is checked against\n"
	 "the wheel's RECORD (hash and size) before the env changes.\n"
	 "\n"
	 "A wheel is unpacked into the store once and recorded as a package (packages/):\n"
	 "adding it to another env, or again, grafts its directories by their tree ids.\n"
	 "With -r FILE, the packages FILE pins are installed instead, as `create -r` does\n"
	 "(see `venvctl help create`; a line whose environment marker is false for the\n"
	 "env's interpreter is skipped): from the store, else from the --find-links wheels.\n"
	 "\n"
	 "    -r, --requirement FILE  install the pinned packages of FILE\n"
	 "    -f, --find-links DIR    wheels for pins not in the store yet (repeatable)\n"
	 "    -h, --help              show this text\n"
	 "\n"
	 "All wheels go in at once or none does: the env file is replaced once, at the end.\n"
	 "Refused: an env a mount (on any host sharing the store) or another venvctl is\n"
	 "changing, named in the error, or whose journal holds changes a stopped mount\n"
	 "left; a wheel given twice, and a wheel that would write a file another installed\n"
	 "distribution owns. Dependencies are not resolved (run `bin/pip check`).\n"
	 "\n"
	 "Prints one line per wheel (and per requirement line skipped for its marker).\n"
	 "Exits 0 when all were installed, 1 if the env was left unchanged (the wheel, the\n"
	 "member and the reason on stderr), 2 on a usage error.\n"};
