/*
 * live.h - what the files of the live model (core/live/) share with each other and
 * nobody else: fs/, tools/ and the ops layer use mtree.h only.
 */
#ifndef VV_LIVE_H
#define VV_LIVE_H

#include "live/mtree.h"

/* ---- replay.c ---- */
/* Replay journal/NAME over the env's freshly loaded root. Returns the number of
 * records applied, or -errno. Records that cannot be applied are skipped with a
 * warning on stderr. */
int vv_live_replay(struct vv_env *env);

#endif
