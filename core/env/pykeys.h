/*
 * pykeys.h - the lines of pyvenv.cfg an env keeps for the tools that wrote them
 * (vv_envcfg.pykeys): virtualenv's `virtualenv`, `version_info`, `base-prefix`, ...,
 * a tool's own `command`, anything else a process wrote into ENV/pyvenv.cfg that
 * venvfs does not compute itself. They are stored in envs/NAME's [pyvenv.cfg] section
 * (env.h) and shown again after the keys venvfs generates (synth.h).
 *
 * In memory the kept lines are one text of "KEY = VALUE\n" lines in the order written:
 * KEY not empty, without '=', blanks at its ends or control characters; VALUE without
 * blanks at its ends or control characters other than a tab. Bounded so a tool cannot
 * grow envs/NAME without limit: at most VV_PYKEYS_MAX_LINES lines, VV_PYKEYS_MAX_SIZE
 * bytes in all, each line at most VV_PYKEYS_MAX_LINE bytes, each key at most
 * VV_PYKEYS_MAX_KEY.
 *
 * In envs/NAME each line is `KEY = VALUE` with bytes the INI reader would misread
 * written as %XX (in keys everything but letters, digits, '.', '_' and '-'; in values
 * '%', ';', control characters and blanks where a line would start or end), split over
 * `+ = MORE` lines when it would not fit one INI line.
 */
#ifndef VV_PYKEYS_H
#define VV_PYKEYS_H

#include <stddef.h>
#include <stdio.h>

#define VV_PYKEYS_MAX_LINES 64
#define VV_PYKEYS_MAX_SIZE 4096
#define VV_PYKEYS_MAX_LINE 1024
#define VV_PYKEYS_MAX_KEY 48

/* Is text (len bytes) a valid kept-lines text (above)? 0, or -EINVAL with a message
 * "WHAT: why" (the line's number and key where there is one). */
int vv_pykeys_check(const char *text, size_t len, const char *what);

/* Write the kept lines (already checked) to f as the body of [pyvenv.cfg]. */
void vv_pykeys_encode(FILE *f, const char *text);

/* Reading [pyvenv.cfg] back: feed each key/value of the section in file order, then
 * finish. -EINVAL with a message on a bad escape or a `+` line without a line before;
 * finish checks the result (vv_pykeys_check) and hands over the malloc'd text (NULL
 * when the section is empty). */
struct vv_pykeys_reader {
	char *text;     /* the decoded lines so far */
	size_t len, cap;
	char *val;      /* the current line's value, still encoded */
	size_t vlen, vcap;
	char *key;      /* the current line's key, decoded; NULL before the first */
};
int vv_pykeys_feed(struct vv_pykeys_reader *rd, const char *key, const char *value);
int vv_pykeys_finish(struct vv_pykeys_reader *rd, const char *what, char **out);
void vv_pykeys_reader_release(struct vv_pykeys_reader *rd);

#endif
