/*
 * envops.h - environment operations on the store with `python -m venv`'s meanings:
 * make an env, --clear it (back to a fresh skeleton), --upgrade it (another patch
 * release of the same Python, same tree) and --upgrade-deps (the newest pip wheel
 * available, put in as a tree edit), optionally with the packages of a requirements
 * file (-r). They write envs/NAME directly, so they work
 * whether or not the store is mounted; a running mount notices (fs/ watches envs/).
 */
#ifndef VV_ENVOPS_H
#define VV_ENVOPS_H

#include <stdbool.h>
#include <stddef.h>

struct vv_store;
struct vv_config;
struct vv_creator;
struct vv_progress;

struct vv_create_opts {
	const char *python;   /* --python VER|PATH, or NULL: the config's, else python3 */
	bool system_site;     /* --system-site-packages */
	bool without_pip;     /* --without-pip (the config's without-pip also counts) */
	bool clear, upgrade, upgrade_deps;
	const char *prompt;   /* --prompt, or NULL (the env's name) */
	/* -r FILE: the pinned packages of a requirements file go in (pkg.h), resolved
	 * before anything is written, so an unmet line leaves no env behind. */
	const char *requirements;
	const char *const *find_links; /* --find-links DIRs */
	size_t nlinks;
	const struct vv_progress *progress; /* ingesting wheels; may be NULL */
};

/* A creator caches what several envs of one command share (interpreters, wheels). */
int vv_creator_new(struct vv_store *st, const struct vv_config *cfg,
		   const struct vv_create_opts *o, struct vv_creator **out);

/* Make or update env `name`: 0, or -errno with a message naming the env and why
 * (-EEXIST: exists and no --clear/--upgrade/--upgrade-deps given). */
int vv_creator_run(struct vv_creator *cr, const char *name);

/* After vv_creator_run failed on unmet requirement lines: every such line (one per
 * line, see vv_pkg_resolve), else NULL. Valid until the next run. */
const char *vv_creator_report(const struct vv_creator *cr);

void vv_creator_free(struct vv_creator *cr);

#endif
