/*
 * main.c - venvctl's entry point: global options, the command table, usage text.
 * The global options may also follow the command: each command's parser hands the
 * arguments it does not know to vc_global_opt().
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

#include "cli.h"
#include "util/config.h"
#include "store/store.h"

static const struct vc_command *find_command(const char *name);
static void print_usage(FILE *f);

/* ---- help ------------------------------------------------------------------------ */

static int cmd_help(struct vc_ctx *c, int argc, char **argv)
{
	if (argc > 2)
		return vc_usage_error(c, "unexpected argument '%s'", argv[2]);
	if (argc == 2 && !vc_is_help(argv[1])) {
		const struct vc_command *cmd = find_command(argv[1]);
		if (!cmd) {
			vc_msg(NULL, "unknown command '%s' (see 'venvctl --help')", argv[1]);
			return VC_EXIT_USAGE;
		}
		vc_print_command_help(stdout, cmd);
		return 0;
	}
	print_usage(stdout);
	return 0;
}


static const struct vc_command command_help = {"help", cmd_help, "[COMMAND]",
	"show this text, or one command's",
	"Without COMMAND, show the usage: the commands, the global options, notes and\n"
	"exit status. With COMMAND, show its usage line, summary and full text, the same\n"
	"as `venvctl COMMAND --help`.\n"};

/* The order of the usage text. */
static const struct vc_command *const commands[] = {
	&vc_command_create,  &vc_command_add,      &vc_command_clone, &vc_command_import,
	&vc_command_freeze,  &vc_command_history,  &vc_command_rollback,
	&vc_command_snapshot, &vc_command_publish, &vc_command_lock,  &vc_command_unlock,
	&vc_command_python,
	&vc_command_stats,   &vc_command_fsck,     &vc_command_du,     &vc_command_gc,
	&command_help,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct vc_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

void vc_print_command_help(FILE *f, const struct vc_command *cmd)
{
	fprintf(f, "usage: venvctl [--store DIR] [--config FILE] %s %s\n\n%s\n", cmd->name,
		cmd->args, cmd->summary);
	if (cmd->help)
		fprintf(f, "\n%s", cmd->help);
}

static void print_usage(FILE *f)
{
	fputs("NAME\n"
	      "    venvctl - create envs in a venvfs store, inspect and check it\n"
	      "\n"
	      "SYNOPSIS\n"
	      "    venvctl [--store DIR] [--config FILE] COMMAND [ARGS...]\n"
	      "    venvctl help [COMMAND]\n"
	      "    venvctl --help | --version\n"
	      "\n"
	      "COMMANDS\n",
	      f);
	/* Man-page style: the synopsis line, then the summary indented below it. */
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "    %s %s\n        %s\n", commands[i]->name, commands[i]->args,
			commands[i]->summary);
	fputs("\n"
	      "OPTIONS\n"
	      "    --store DIR    the store directory (default: `store` in the config file,\n"
	      "                   else $XDG_DATA_HOME/venvfs or ~/.local/share/venvfs)\n"
	      "    --config FILE  the config file (default: $XDG_CONFIG_HOME/venvfs/venvfs.ini\n"
	      "                   or ~/.config/venvfs/venvfs.ini; a missing default is fine)\n"
	      "    -h, --help     show this text; after a command, that command's help\n"
	      "    -V, --version  show the version\n"
	      "\n"
	      "    --store and --config may also follow COMMAND, among its options (`venvctl\n"
	      "    du --store DIR`); given twice, the last one counts.\n"
	      "\n"
	      "NOTES\n"
	      "    stats, du and fsck read what is committed in the store: the objects and the\n"
	      "    root tree recorded in each envs/NAME. A mounted env commits its changes\n"
	      "    there a few seconds after the last one (and on fsync of the env directory,\n"
	      "    e.g. `sync MOUNT/NAME`, and at unmount); until then they live in\n"
	      "    journal/NAME and are not counted or checked. These commands only read the\n"
	      "    store and may run while it is mounted; so may gc, which also keeps what\n"
	      "    journals name and whatever was written within its grace period.\n"
	      "\n"
	      "    create, import and clone make the user running venvctl the owner of the\n"
	      "    new env (owner = UID:GID in envs/NAME; a mount shows every file of the env\n"
	      "    as that user's); create --clear and the other commands keep the owner. A\n"
	      "    mount changes it with chown of the env's directory.\n"
	      "\n"
	      "EXIT STATUS\n"
	      "    0  success\n"
	      "    1  the command found problems (fsck: damage; stats: an unreadable env;\n"
	      "       create: some env could not be made; python list: no interpreter;\n"
	      "       clone, import: refused, nothing created; freeze: unreadable env;\n"
	      "       gc: a root could not be read, nothing deleted; lock/unlock: some env\n"
	      "       could not be changed)\n"
	      "    2  usage error, or the store could not be opened or read\n",
	      f);
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct vc_ctx c = {0};
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (vc_is_help(a)) {
			print_usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("venvctl (venvfs) %s\n", VV_VERSION);
			return 0;
		}
		if (vc_global_opt(&c, argc, argv, &i))
			return VC_EXIT_USAGE;
	}
	if (i >= argc) {
		vc_msg(NULL, "no command given (see 'venvctl --help')");
		return VC_EXIT_USAGE;
	}
	const struct vc_command *cmd = find_command(argv[i]);
	if (!cmd) {
		vc_msg(NULL, "unknown command '%s' (see 'venvctl --help')", argv[i]);
		return VC_EXIT_USAGE;
	}
	c.cmd = cmd->name;
	c.self = cmd;
	int rc = cmd->fn(&c, argc - i, argv + i);
	if (c.st)
		vv_store_close(c.st);
	vv_config_release(&c.cfg);
	return rc;
}

