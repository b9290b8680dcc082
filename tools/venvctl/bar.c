/*
 * bar.c - a one-line progress bar on stderr for long venvctl commands. Only on a
 * terminal: a pipe or a file gets nothing, so output stays stable for scripts. The
 * line is redrawn at most ten times a second and erased when the command finishes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bar.h"
#include "util/clock.h"

static void bar_cb(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	vc_bar_update(arg, phase, done, total);
}

void vc_bar_init(struct vc_bar *b, const char *what)
{
	const char *term = getenv("TERM");
	memset(b, 0, sizeof(*b));
	b->cb.fn = bar_cb;
	b->cb.arg = b;
	b->what = what;
	b->on = isatty(STDERR_FILENO) && !(term && !strcmp(term, "dumb"));
}

void vc_bar_update(struct vc_bar *b, const char *phase, uint64_t done, uint64_t total)
{
	if (!b->on)
		return;
	uint64_t t = (uint64_t)vv_mono_ns();
	bool last = total && done >= total;
	if (b->drawn && !last && t - b->last_ns < 100000000u)
		return;
	b->last_ns = t;
	b->drawn = true;
	if (total) {
		enum { W = 30 };
		uint64_t d = done > total ? total : done;
		int fill = (int)(d * W / total);
		char bar[W + 1];
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(W - fill));
		bar[W] = '\0';
		fprintf(stderr, "\r\033[K%s %s [%s] %3d%% %llu/%llu", b->what, phase, bar,
			(int)(d * 100 / total), (unsigned long long)done,
			(unsigned long long)total);
	} else {
		fprintf(stderr, "\r\033[K%s %s %llu", b->what, phase, (unsigned long long)done);
	}
	fflush(stderr);
}

void vc_bar_done(struct vc_bar *b)
{
	if (b->on && b->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	b->drawn = false;
}
