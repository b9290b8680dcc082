/*
 * live.h - what the files of the live model (core/live/) share with each other and
 * nobody else: fs/, tools/ and the tests use mtree.h only.
 *
 * The files, lowest first; each calls only files listed before it (no circles):
 *   node.c     fd refs, making and freeing nodes, kids arrays, stat, paths, forget
 *   dir.c      directories: clean listings, materializing, synthesized entries, lookup
 *   envs.c     env objects of a set and an env's writer lock (env_writable)
 *   record.c   journal records of changes (paths computed here)
 *   commit.c   writing trees and committing an env
 *   content.c  stages, reading, publishing, vv_node_put
 *   ns.c       create, mkdir, mknod, symlink, unlink, rmdir, setattr, rm -r
 *   pyvenv.c   edits of synthesized files (pyvenv.cfg: venv policy)
 *   rename.c   rename, also saving over a synthesized file
 *   replay.c   applying a journal to a loaded root
 *   envset.c   loading an env (with replay) and operations on whole envs
 */
#ifndef VV_LIVE_H
#define VV_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "live/mtree.h"
#include "python/synth.h"

/* Slots of env->syn: the three interpreter links and lib64, then one per synthesized
 * file of synth.h. */
enum { SYN_LIB64, SYN_PY, SYN_PY3, SYN_PYX, SYN_FILES, SYN_COUNT = SYN_FILES + VV_SYNTH_NFILES };
_Static_assert(SYN_COUNT <= 16, "env->syn is too small");

static inline bool vv_live_is_dir(const struct vv_node *n)
{
	return n->kind == VV_DIR;
}

static inline bool vv_live_is_synth(const struct vv_node *n)
{
	return n->kind == VV_SYN_FILE || n->kind == VV_SYN_LINK;
}

/* Is n its env's root node? */
static inline bool vv_live_is_root(const struct vv_node *n)
{
	return n->env && n->env->root == n;
}

/* Is dir the env's top-level bin/ directory? */
static inline bool vv_live_is_env_bin(const struct vv_node *dir)
{
	return dir->parent && vv_live_is_root(dir->parent) && !strcmp(dir->name, "bin");
}

/* ---- node.c ---- */
struct vv_node *vv_live_node_new(struct vv_env *env, const char *name, size_t len,
				 uint8_t kind);
void vv_live_node_free(struct vv_node *n);
/* A node for tree entry e (its name, kind, mode, size, mtime, oid, target). */
struct vv_node *vv_live_node_from_ent(struct vv_env *env, const struct vv_tree_ent *e);
/* The same for entry number idx of times (NULL: e says everything): its mtime and
 * header word from there when it has them; *found tells. */
struct vv_node *vv_live_node_from_tent(struct vv_env *env, const struct vv_tree_ent *e,
				       struct vv_times *times, uint64_t idx, bool *found);
void vv_live_drop_dead_stage(struct vv_node *n);
/* n's content is stage s from now on (the caller's reference; NULL: none): a named
 * stage joins env->staged, the one n had is dropped (retired if named). */
void vv_live_stage_set(struct vv_node *n, struct vv_fdref *s);
void vv_live_stage_clear(struct vv_node *n);
/* Drop n's stage and remove its name at once (its space comes back now): only once the
 * journal no longer needs it (the file was removed, or a later record replaced it). */
void vv_live_stage_discard(struct vv_node *n);
/* Is n's stage sealed and still its content (the commit links it)? */
bool vv_live_sealed(const struct vv_node *n);
/* Link n's sealed stage, whose bytes are durable, as its object and drop the stage. */
int vv_live_link_sealed(struct vv_node *n);
/* n is no longer reachable: free it and what is below it unless still referenced. */
void vv_live_node_drop(struct vv_node *n);
/* The sorted kids of a directory. */
int vv_live_kid_cmp(const char *a, size_t alen, const char *b);
struct vv_node *vv_live_kid_find(struct vv_node *dir, const char *name, size_t len,
				 size_t *idx);
int vv_live_kid_insert(struct vv_node *dir, size_t idx, struct vv_node *n);
void vv_live_kid_remove(struct vv_node *dir, struct vv_node *n);
/* Shown first line(s) of a stored script read from fd (*skip: stored bytes hidden). */
int vv_live_script_prefix(struct vv_node *n, int fd, char **out, size_t *len, size_t *skip);
/* Generate (or reuse) n->synth, the content of a synthesized file. */
int vv_live_synth_content(struct vv_node *n);
/* The kernel's entry dir/name is stale (the FUSE layer's callback). */
void vv_live_inval_entry(struct vv_node *dir, const char *name);

/* ---- dir.c ---- */
int vv_live_dir_materialize(struct vv_node *dir);
/* A change is about to happen in dir: materialize it and its ancestors, mark dirty. */
int vv_live_dir_touch(struct vv_node *dir, bool stamp);
/* Empty as far as the tree is concerned (synthesized entries do not count). */
bool vv_live_dir_empty(struct vv_node *d);
/* The synthesized entry of dir named name; unhide: also one the user unlinked. */
struct vv_node *vv_live_syn_lookup(struct vv_node *dir, const char *name, size_t len,
				   bool unhide);
/* 0 if name may be made in dir, else -ENOTDIR, -ENOENT, -EEXIST, a bad name... */
int vv_live_check_new_name(struct vv_node *dir, const char *name);
/* Insert new node n into dir (touched first). */
int vv_live_add_new(struct vv_node *dir, struct vv_node *n);
/* vv_env_walk on an env whose root is loaded. */
int vv_live_walk(struct vv_env *env, const char *relpath, struct vv_node **out);
/* Make the synthesized entries of a venv (envset.c). */
int vv_live_make_syn(struct vv_env *env);
/* Apply pyvenv.cfg text buf as an edit (pyvenv.c). */
int vv_live_pyvenv_apply(struct vv_env *env, const char *buf, size_t len);

/* ---- envs.c ---- */
int vv_live_env_new(struct vv_envset *set, const char *name, struct vv_env **out);
void vv_live_env_free(struct vv_env *env);
/* Keep a detached env alive until the envset closes. */
void vv_live_env_bury(struct vv_envset *set, struct vv_env *env);
int vv_live_envs_insert(struct vv_envset *set, struct vv_env *env);
void vv_live_envs_remove(struct vv_envset *set, struct vv_env *env);
bool vv_live_cfg_equal(const struct vv_envcfg *a, const struct vv_envcfg *b);
/* Every change to an env starts here: 0, or -EROFS, -ESTALE, -EBUSY (see envs.c). */
int vv_live_env_writable(struct vv_env *env);

/* ---- record.c: journal the change just made (nothing while replaying) ---- */
int vv_live_record_put(struct vv_node *n);
int vv_live_record_stage(struct vv_node *n);
int vv_live_record_sealed(struct vv_node *n);
int vv_live_record_synced(struct vv_node *n);
int vv_live_record_mkdir(struct vv_node *n);
int vv_live_record_mknod(struct vv_node *n);
int vv_live_record_symlink(struct vv_node *n);
int vv_live_record_remove(struct vv_node *n);
int vv_live_record_rename(struct vv_env *env, const char *from, const char *to,
			  unsigned flags);
int vv_live_record_attr(struct vv_node *n);

/* ---- commit.c ---- */
/* Save cfg as the env's config with its committed root (outside a commit). */
int vv_live_save_cfg(struct vv_env *env, const struct vv_envcfg *cfg);

/* ---- content.c ---- */
/* A new, empty stage: named (stage/, for the journal) or a private temp file (edits
 * of synthesized files, which are never journaled). */
int vv_live_new_stage(struct vv_env *env, bool named, struct vv_fdref **out);

/* ---- ns.c ---- */
/* rm -r of dir/name through the model (journaled like any removal). */
int vv_live_rm_r(struct vv_node *dir, const char *name);

/* ---- pyvenv.c ---- */
/* Apply the content of fd (size bytes) as an edit of synthesized file n. */
int vv_live_synth_edit(struct vv_node *n, int fd, uint64_t size);

/* ---- replay.c ---- */
/* Replay journal/NAME over the env's freshly loaded root. Returns the number of
 * records applied, or -errno. Records that cannot be applied are skipped with a
 * warning on stderr. */
int vv_live_replay(struct vv_env *env);

#endif
