/*
 * testutil.h - shared helpers for the cmocka unit tests: temp directories and stores
 * that are removed afterwards, file helpers and small wheels built with libzip.
 */
#ifndef VV_TESTUTIL_H
#define VV_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/tree.h"

struct vv_store;

/* mkdtemp under $TMPDIR (or /tmp); malloc'd path. Fails the test on error. */
char *vt_tempdir(void);
/* rm -rf a path and free it. */
void vt_rmtree(char *path);

/* A fresh store in a temp dir. vt_store_free closes it and removes the directory. */
struct vv_store *vt_store_new(void);
void vt_store_free(struct vv_store *st);

/* The live model of st mounted at /mnt/envs (live/mtree.h); fails the test on error. */
struct vv_envset;
struct vv_node;
struct vv_envset *vt_envset_open(struct vv_store *st);
/* The whole content of a live node as users see it (malloc'd, NUL-terminated; *len
 * if len). */
char *vt_node_content(struct vv_node *n, size_t *len);

/* Write a file (creating parents), fail the test on error. */
void vt_write_file(const char *path, const void *data, size_t len);

/* Count regular files under dir (recursively). */
size_t vt_count_files(const char *dir);

/* First executable regular file `name` on $PATH (malloc'd), or NULL. */
char *vt_find_in_path(const char *name);

/* Does the file start with the ELF magic? */
int vt_is_elf(const char *path);

/* ---- wheels built from C with libzip (test_wheel, test_seed) ---- */
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

struct vt_member {
	const char *name;
	const void *data;  /* NULL with len 0: empty file */
	size_t len;        /* 0: strlen(data) */
	unsigned mode;     /* st_mode incl. file type bits; 0 means regular 0644 */
};

struct vt_wheel_opts {
	const char *name, *version; /* dist-info NAME-VERSION; default "demo", "1.0" */
	bool no_distinfo;           /* add no METADATA/WHEEL/RECORD at all */
	const char *unlisted;       /* member left out of RECORD */
	const char *bad_hash;       /* member given a wrong sha256 in RECORD */
	const char *bad_size;       /* member given a wrong size in RECORD */
	const char *no_hash;        /* member listed in RECORD without a hash */
	const char *other_hash;     /* member listed with an md5 instead of sha256 */
	bool store_only;            /* ZIP_CM_STORE instead of deflate */
	time_t mtime;               /* member mtime; 0: a fixed date in 2023 */
};

/* Build dir/fname from members plus METADATA, WHEEL and a correct RECORD (unless told
 * otherwise) and return the malloc'd path. Fails the test on error. */
char *vt_wheel_build(const char *dir, const char *fname, const struct vt_member *m, size_t n,
		     const struct vt_wheel_opts *opts);

/* Replace every occurrence of from by to (same length) in a file's bytes; returns the
 * number of replacements. */
size_t vt_patch_file(const char *path, const char *from, const char *to);

/* The first PREFIX*.whl in dir (by name), or NULL; malloc'd path. */
char *vt_find_wheel(const char *dir, const char *prefix);

/* Tree and env fixtures: publish bytes, make entries, write a tree (entries get sorted),
 * make envs/NAME for root with a placeholder interpreter. Fail the test on error. */
vv_oid vt_put(struct vv_store *st, const char *data);
struct vv_tree_ent vt_file_ent(const char *name, vv_oid oid, uint64_t size);
struct vv_tree_ent vt_dir_ent(const char *name, vv_oid oid);
struct vv_tree_ent vt_link_ent(const char *name, const char *target);
vv_oid vt_tree(struct vv_store *st, struct vv_tree_ent *ents, size_t n);
/* Drop every parsed tree from the store's cache (a test that removes one). */
void vt_forget_trees(struct vv_store *st);
/* Path of an object file in the store (buf holds cap bytes). */
void vt_obj_path(struct vv_store *st, const vv_oid *oid, char *buf, size_t cap);
/* Damage an object: replace its bytes (objects are 0444), or remove it. */
void vt_obj_clobber(struct vv_store *st, const vv_oid *oid, const char *data);
void vt_obj_drop(struct vv_store *st, const vv_oid *oid);

/* Two envs a and b share subtree "common" (files x, y) and file object z; a also has
 * "only-a" (file u), b has a duplicate of "common" under another name plus v; one
 * object nobody references (stats, fsck). */
struct vt_twoenvs {
	struct vv_store *st;
	vv_oid x, y, z, u, v, common, root_a, root_b, garbage;
};
void vt_twoenvs_build(struct vt_twoenvs *f);

struct vv_envcfg;
void vt_mkenv(struct vv_store *st, const char *name, vv_oid root);
/* Replace envs/NAME with cfg the way the mount commits (vv_txn_live: no lock taken,
 * no recheck, the journal left alone), recording history as `source`. */
/* The committed root of env name (fails the test if it cannot be loaded). */
vv_oid vt_env_root(struct vv_store *st, const char *name);
int vt_env_save(struct vv_store *st, const char *name, const struct vv_envcfg *cfg,
		const char *source, unsigned hflags);

/* Find '/'-separated path under tree root: 1 and *out filled (name and target cleared),
 * 0 if absent or a component on the way is not a directory. */
int vt_lookup(struct vv_store *st, const vv_oid *root, const char *path, struct vv_tree_ent *out);

#endif
