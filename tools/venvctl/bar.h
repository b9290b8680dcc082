/*
 * bar.h - venvctl's progress bar: drawn on stderr when it is a terminal (and TERM
 * is not "dumb"), silent otherwise, so that scripts and logs see only the result.
 */
#ifndef VC_BAR_H
#define VC_BAR_H

#include <stdbool.h>
#include <stdint.h>

#include "util/progress.h"

struct vc_bar {
	struct vv_progress cb; /* hand &bar.cb to core functions */
	const char *what;      /* "gc", "fsck", ... shown first */
	bool on;               /* stderr is a terminal */
	bool drawn;            /* a line is on screen */
	uint64_t last_ns;      /* last redraw */
};

/* Set up a bar for `what`; cb reports into it. */
void vc_bar_init(struct vc_bar *b, const char *what);
/* Draw now (rate-limited to 10 redraws a second, except the final one). */
void vc_bar_update(struct vc_bar *b, const char *phase, uint64_t done, uint64_t total);
/* Erase the line so that the command's result is printed on a clean one. */
void vc_bar_done(struct vc_bar *b);

#endif
