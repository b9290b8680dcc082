/*
 * seed.h - the skeleton every new env starts from: bin/, include/python3.X/,
 * lib/python3.X/site-packages/ and, unless without pip, the interpreter's bundled pip
 * unpacked once into the store. Built the first time an interpreter is used and cached
 * in its facts (python.h), so mkdir of an env is one small file write.
 */
#ifndef VV_SEED_H
#define VV_SEED_H

struct vv_store;
struct vv_python;

/* Make sure py->skel_pip and py->skel_nopip are built and cached (vv_python_save). */
int vv_seed_ensure(struct vv_store *st, struct vv_python *py);

/* Build both skeletons again even when cached, publishing every object and tree they
 * consist of (the same ids: seeding is deterministic). fsck --repair uses it to restore
 * damaged or missing skeleton objects. */
int vv_seed_rebuild(struct vv_store *st, struct vv_python *py);

#endif
