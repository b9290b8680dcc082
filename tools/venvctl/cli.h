/*
 * cli.h - what venvctl's commands share. Each command lives in its own file and
 * exports one `struct vc_command` (name, handler, usage, summary, man-page-style
 * help); main.c lists them, dispatches and generates the usage text from the table.
 *
 * Errors: handlers print their own messages (vc_msg names the command) and return an
 * exit status: 0 success, VC_EXIT_PROBLEMS when the command found problems or failed
 * for some env, VC_EXIT_USAGE on a usage error or when the store cannot be opened.
 */
#ifndef VC_CLI_H
#define VC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/config.h"
#include "store/store.h"

#ifndef VV_VERSION
#define VV_VERSION "0.1.0"
#endif

#define VC_EXIT_PROBLEMS 1
#define VC_EXIT_USAGE 2

struct vc_command;

struct vc_ctx {
	const char *store_opt;  /* --store */
	const char *config_opt; /* --config */
	struct vv_store *st;    /* opened for commands that need it */
	struct vv_config cfg;   /* the config file, loaded by vc_open_store() */
	const char *cmd;        /* command name, for messages */
	const struct vc_command *self; /* the running command's table entry */
};

struct vc_command {
	const char *name;
	int (*fn)(struct vc_ctx *c, int argc, char **argv);
	const char *args;    /* usage after the name */
	const char *summary; /* one line for the command list */
	/* Long description and options for "help NAME", or NULL. venvctl(1)'s COMMANDS are
	 * made from it at build time (man/help2roff.py): paragraphs at column 0, option
	 * lists indented as "    -x, --long ARG  text" with continuations aligned. */
	const char *help;
};

/* A command's boolean flag: long option (e.g. "--json"), optional short form. */
struct vc_flag {
	const char *lng, *shrt;
	bool *set;
};

/* "venvctl CMD: message" on stderr. */
void vc_msg(const struct vc_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error: the message plus a pointer to the command's help; returns VC_EXIT_USAGE. */
int vc_usage_error(const struct vc_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Match "--name" (flag) or "--name VALUE" / "--name=VALUE" (value != NULL). Returns 1 if
 * argv[*i] is this option (advancing *i past a separate value), 0 if not, -1 if its value
 * is missing. */
int vc_opt_match(int argc, char **argv, int *i, const char *lng, const char *shrt,
		 const char **value);
bool vc_is_help(const char *a);
/* argv[*i], an argument the command does not know, as a global option: --store DIR or
 * --config FILE are taken after the command as before it (into c, *i past a separate
 * value; the last one given counts) and return 0; anything else is a usage error
 * (an unknown option, an unexpected argument, a missing or empty value): VC_EXIT_USAGE
 * after saying so. */
int vc_global_opt(struct vc_ctx *c, int argc, char **argv, int *i);
/* Parse argv[1..] as flags (and global options) only; *help is set on -h/--help.
 * Returns 0 or VC_EXIT_USAGE. */
int vc_parse_flags(struct vc_ctx *c, int argc, char **argv, const struct vc_flag *flags,
		   size_t nflags, bool *help);

void vc_human_size(uint64_t n, char *buf, size_t cap);
/* n as a human size, or the exact byte count when exact. */
void vc_size_field(uint64_t n, bool exact, char *buf, size_t cap);
/* s as a JSON string literal. */
void vc_json_str(FILE *f, const char *s);
/* s with control characters made visible, and its display width; caller frees. */
char *vc_display_name(const char *s, size_t *width);
void vc_pad(FILE *f, size_t n);

/* Open the store (--store, else the config's `store`, else the default) and load the
 * config into c->cfg; create: make the store's layout if missing. Returns 0 or
 * VC_EXIT_USAGE after printing why. */
int vc_open_store_mode(struct vc_ctx *c, int create);
int vc_open_store(struct vc_ctx *c);

/* After replacing env files behind the mounts' back: ask every venvfs mount this
 * process can see (/proc/self/mountinfo) to apply the change now (env.h VV_IOC_SYNC),
 * so the mount shows it when the command returns. Only mounts of c's store are asked.
 * Errors are ignored: a mount that cannot be asked still picks the change up by itself
 * a moment later. */
void vc_sync_mounts(const struct vc_ctx *c);
/* Before changing env `name`: ask every venvfs mount of c's store this process can see
 * to commit the env and let go of it (env.h VV_IOC_COMMIT), so the change needs no wait
 * and a mount's changes end their history entry here. -EBUSY, after saying which file
 * of which process keeps a mount from letting go, else 0 (also when no mount could be
 * asked: the env's writer lock then decides, as for a mount in another namespace). */
int vc_commit_mounts(const struct vc_ctx *c, const char *name);
/* Before reading every env's committed state (a requirements file looks for what pip
 * installed in any env): ask every mount of c's store to commit all its envs now (an
 * fsync of its root). Best effort, like vc_sync_mounts. */
void vc_commit_all_mounts(const struct vc_ctx *c);

/* Show a command's help (usage line, summary, long text). */
void vc_print_command_help(FILE *f, const struct vc_command *cmd);

extern const struct vc_command vc_command_create, vc_command_add, vc_command_python,
	vc_command_stats, vc_command_fsck, vc_command_du, vc_command_gc, vc_command_lock,
	vc_command_unlock, vc_command_clone, vc_command_import, vc_command_freeze,
	vc_command_history, vc_command_rollback, vc_command_snapshot, vc_command_publish;

#endif
