/*
 * progress.h - how long-running core operations (gc, fsck, du, ingesting wheels,
 * importing a venv) report how far they are, without knowing who listens.
 *
 * A core function that can take long takes a `const struct vv_progress *` (NULL: no
 * report) and calls vv_progress_report() now and then. The callback may be called
 * often; the listener decides how often to draw. venvctl draws a bar on a terminal
 * (tools/venvctl/bar.c); the daemon and tests pass NULL.
 */
#ifndef VV_PROGRESS_H
#define VV_PROGRESS_H

#include <stdint.h>

struct vv_progress {
	/* phase: a short word ("hashing", "sweeping"); done of total units (total 0 when
	 * unknown). */
	void (*fn)(void *arg, const char *phase, uint64_t done, uint64_t total);
	void *arg;
};

static inline void vv_progress_report(const struct vv_progress *p, const char *phase,
				      uint64_t done, uint64_t total)
{
	if (p && p->fn)
		p->fn(p->arg, phase, done, total);
}

#endif
