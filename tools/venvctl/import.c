/*
 * import.c - venvctl clone, import and freeze: copy an env, bring an existing venv
 * folder into the store, print an env's pins as `pip freeze` does.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bar.h"
#include "cli.h"
#include "env/env.h"
#include "util/error.h"
#include "ops/freeze.h"
#include "ops/import.h"

/* Collect positional arguments; options are handled by `opt` (returns 1 if it took
 * argv[*i], 0 if unknown, or an exit status < 0 negated). */
static int positionals(struct vc_ctx *c, int argc, char **argv, const char **pos, size_t max,
		       size_t *n, bool *help,
		       int (*opt)(struct vc_ctx *c, int argc, char **argv, int *i, void *arg),
		       void *arg)
{
	bool done = false;
	*n = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (done || a[0] != '-' || !a[1]) {
			if (*n >= max)
				return vc_usage_error(c, "unexpected argument '%s'", a);
			pos[(*n)++] = a;
		} else if (!strcmp(a, "--")) {
			done = true;
		} else if (vc_is_help(a)) {
			*help = true;
			return 0;
		} else {
			int m = opt ? opt(c, argc, argv, &i, arg) : 0;
			if (m < 0)
				return -m;
			if (m == 0 && vc_global_opt(c, argc, argv, &i))
				return VC_EXIT_USAGE;
		}
	}
	return 0;
}

static int check_name(struct vc_ctx *c, const char *name)
{
	vv_err_clear();
	if (vv_env_name_check(name, strlen(name)) < 0)
		return vc_usage_error(c, "%s", vv_errmsg());
	return 0;
}

static int flush_out(struct vc_ctx *c)
{
	if (fflush(stdout) != 0) {
		vc_msg(c, "cannot write output: %s", strerror(errno));
		return VC_EXIT_USAGE;
	}
	return 0;
}

/* ---- clone ----------------------------------------------------------------------- */

static int cmd_clone(struct vc_ctx *c, int argc, char **argv)
{
	const char *pos[2];
	size_t n;
	bool help = false;
	int rc = positionals(c, argc, argv, pos, 2, &n, &help, NULL, NULL);
	if (rc || help) {
		if (help)
			vc_print_command_help(stdout, c->self);
		return rc;
	}
	if (n < 2)
		return vc_usage_error(c, n ? "no name given for the new env" : "no env name given");
	if ((rc = check_name(c, pos[0])) || (rc = check_name(c, pos[1])))
		return rc;
	if ((rc = vc_open_store(c)))
		return rc;
	vv_err_clear();
	if (vc_commit_mounts(c, pos[0]) < 0)
		return VC_EXIT_PROBLEMS;
	if (vv_env_clone(c->st, pos[0], pos[1]) < 0) {
		vc_msg(c, "%s", vv_errmsg());
		return VC_EXIT_PROBLEMS;
	}
	vc_sync_mounts(c);
	printf("cloned env '%s' as '%s'\n", pos[0], pos[1]);
	return flush_out(c);
}

/* ---- import ---------------------------------------------------------------------- */

static int import_opt(struct vc_ctx *c, int argc, char **argv, int *i, void *arg)
{
	const char **python = arg, *v = NULL;
	int m = vc_opt_match(argc, argv, i, "--python", NULL, &v);
	if (m < 0 || (m > 0 && !*v))
		return -vc_usage_error(c, "option '--python' needs an interpreter (a version such "
				       "as 3.12, a path or a command)");
	if (m > 0)
		*python = v;
	return m;
}

static int cmd_import(struct vc_ctx *c, int argc, char **argv)
{
	const char *pos[2], *python = NULL;
	size_t n;
	bool help = false;
	int rc = positionals(c, argc, argv, pos, 2, &n, &help, import_opt, &python);
	if (rc || help) {
		if (help)
			vc_print_command_help(stdout, c->self);
		return rc;
	}
	if (n < 2)
		return vc_usage_error(c, n ? "no env name given" : "no venv folder given");
	if ((rc = check_name(c, pos[1])))
		return rc;
	if ((rc = vc_open_store_mode(c, 1)))
		return rc;
	struct vc_bar bar;
	vc_bar_init(&bar, "import");
	struct vv_import_opts o = {.python = python, .cfg = &c->cfg, .progress = &bar.cb};
	struct vv_import_result res;
	vv_err_clear();
	int r = vv_import_venv(c->st, pos[0], pos[1], &o, &res);
	vc_bar_done(&bar);
	if (r < 0) {
		vc_msg(c, "%s", vv_errmsg());
		vc_msg(c, "nothing was imported");
		return r == -ENOMEM ? VC_EXIT_USAGE : VC_EXIT_PROBLEMS;
	}
	vc_sync_mounts(c);
	char size[32];
	vc_human_size(res.bytes, size, sizeof(size));
	printf("imported '%s' as env '%s': Python %s (%s); %llu files (%s), %llu console "
	       "scripts made to follow the env, %llu symlinks, %llu directories",
	       pos[0], pos[1], res.version, res.python, (unsigned long long)res.files, size,
	       (unsigned long long)res.scripts, (unsigned long long)res.symlinks,
	       (unsigned long long)res.dirs);
	if (res.specials) /* rare: said only when there are some */
		printf(", %llu fifos and sockets", (unsigned long long)res.specials);
	putchar('\n');
	if (res.src_version && strcmp(res.src_version, res.version))
		printf("note: the venv was made with Python %s; env '%s' uses %s\n",
		       res.src_version, pos[1], res.version);
	vv_import_result_release(&res);
	return flush_out(c);
}

/* ---- freeze ---------------------------------------------------------------------- */

static int freeze_opt(struct vc_ctx *c, int argc, char **argv, int *i, void *arg)
{
	(void)c;
	if (!vc_opt_match(argc, argv, i, "--all", NULL, NULL))
		return 0;
	*(bool *)arg = true;
	return 1;
}

static int cmd_freeze(struct vc_ctx *c, int argc, char **argv)
{
	const char *pos[1];
	size_t n;
	bool help = false, all = false;
	int rc = positionals(c, argc, argv, pos, 1, &n, &help, freeze_opt, &all);
	if (rc || help) {
		if (help)
			vc_print_command_help(stdout, c->self);
		return rc;
	}
	if (n < 1)
		return vc_usage_error(c, "no env name given");
	if ((rc = check_name(c, pos[0])) || (rc = vc_open_store(c)))
		return rc;
	char *text = NULL;
	size_t len = 0;
	/* what pip freeze would print now: a mount's changes committed first (a file still
	 * open for writing is said, and the committed state printed) */
	(void)vc_commit_mounts(c, pos[0]);
	vv_err_clear();
	if (vv_freeze(c->st, pos[0], all, &text, &len) < 0) {
		vc_msg(c, "%s", vv_errmsg());
		return VC_EXIT_PROBLEMS;
	}
	fwrite(text, 1, len, stdout);
	free(text);
	return flush_out(c);
}

const struct vc_command vc_command_clone = {"clone", cmd_clone, "FROM TO",
	"make env TO a copy of env FROM, at once",
	"Make env TO a copy of env FROM: the same committed files, interpreter and settings.\n"
	"It takes one small file, whatever the size of FROM (both envs share every object;\n"
	"a change in one is copied up and never shows in the other). Works mounted or not;\n"
	"a running mount shows TO at once.\n"
	"\n"
	"The prompt: when FROM uses the default (its name), TO uses its own name, as\n"
	"`python -m venv TO` would; a prompt set explicitly (--prompt, or pyvenv.cfg) is\n"
	"copied. TO belongs to the user running venvctl (FROM's root mode is copied).\n"
	"\n"
	"Refused: an existing TO (never replaced), and a FROM whose journal holds changes a\n"
	"mount has not committed yet: commit them with `sync MOUNT/FROM` (a mount also\n"
	"commits a few seconds after the last change, and at unmount) and clone again.\n"
	"\n"
	"    -h, --help  show this text\n"
	"\n"
	"Exits 0 on success, 1 when refused (the reason on stderr), 2 on a usage error.\n"};

const struct vc_command vc_command_import = {"import", cmd_import,
	"[--python VER|PATH] PATH NAME",
	"make an existing venv folder an env of the store",
	"Make the venv at PATH (made by `python -m venv`, virtualenv or uv: it has a\n"
	"pyvenv.cfg) the new env NAME. Every regular file is stored once in the store\n"
	"(files other envs have already are shared), symlinks stay symlinks, FIFOs and\n"
	"UNIX sockets stay FIFOs and sockets (never opened), modes and mtimes are kept.\n"
	"PATH is only read: nothing in it changes, no symlink in it is followed, and it\n"
	"stays usable.\n"
	"\n"
	"Left out, because every env shows its own: pyvenv.cfg, lib64, bin/python,\n"
	"bin/python3, bin/python3.N, the activators (also virtualenv's activate.ps1 and\n"
	"deactivate.nu) and, from 3.13 on, .gitignore. Console scripts in bin/ whose first\n"
	"line runs PATH's own interpreter (#!PATH/bin/python... or pip's /bin/sh\n"
	"trampoline) are stored so that they run the new env's. An absolute symlink into\n"
	"PATH becomes relative. include-system-site-packages and an explicit prompt are\n"
	"kept.\n"
	"\n"
	"The interpreter: with --python, that one (a version such as 3.12, a path or a\n"
	"command), which must be the venv's Python X.Y (its lib/python3.N). Else the one\n"
	"pyvenv.cfg names (executable, base-executable, home) if it is installed with the\n"
	"version pyvenv.cfg records, else an installed interpreter of exactly that version,\n"
	"else the named one with the same X.Y, else the newest installed X.Y (a note says\n"
	"so when the patch release differs).\n"
	"\n"
	"    --python VER|PATH  the interpreter (see above)\n"
	"    -h, --help         show this text\n"
	"\n"
	"A progress bar is shown on a terminal while files are stored. Refused, creating\n"
	"nothing: PATH without pyvenv.cfg or without exactly one lib/python3.N, no matching\n"
	"interpreter, a --python of another X.Y, a character or block device inside PATH,\n"
	"an existing NAME. Creates the store if it does not exist. Prints one line on\n"
	"success. Exits 0 on success, 1 when refused (PATH and the reason on stderr), 2 on\n"
	"a usage error.\n"};

const struct vc_command vc_command_freeze = {"freeze", cmd_freeze, "[--all] NAME",
	"print an env's installed packages as `pip freeze` does",
	"Print the distributions installed in env NAME's committed tree in `pip freeze`'s\n"
	"format and order, without mounting or running Python: Name==Version, sorted by\n"
	"the name in lower case; a package installed from a URL or a file (PEP 610\n"
	"direct_url.json) as `Name @ URL`; an editable install as pip shows one without\n"
	"version control (a comment, then -e LOCATION). Like pip, leaves out pip itself and,\n"
	"for Pythons before 3.12 (or pips before 23.1), setuptools, distribute and wheel.\n"
	"\n"
	"    --all       list those too, as `pip freeze --all`\n"
	"    -h, --help  show this text\n"
	"\n"
	"Only the env's own site-packages is read (as `pip freeze --local`); changes a mount\n"
	"has not committed yet are not seen. Versions are printed as METADATA spells them.\n"
	"Exits 0 on success, 1 if the env cannot be read, 2 on a usage error.\n"};
