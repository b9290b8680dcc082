/*
 * error.h - the one error convention of venvfs.
 *
 * Every fallible function returns int: 0 (or a non-negative count) on success, a
 * negative errno value on failure. There are no project-private codes: conditions of
 * our own map onto errno values so that fs/ can hand them to the kernel unchanged:
 *
 *   -EUCLEAN   store data is corrupt (bad tree bytes, object hash mismatch)
 *   -EINVAL    bad input (a config line, a name, a wheel member)
 *   -ENOENT    not found, -EEXIST already exists, -ENOMEM out of memory
 *
 * A failing function also leaves a one-line, lower-case message without a trailing
 * period in thread-local storage, naming what failed first ("cannot open '%s': ...").
 * vv_err() sets the message and returns the code, so call sites read
 *     return vv_err(-EINVAL, "bad env name '%s'", name);
 * A caller that adds context calls vv_err_prefix(). Messages are never required for
 * control flow; only the code is.
 */
#ifndef VV_ERROR_H
#define VV_ERROR_H

#include <errno.h>

/* Set the thread's message (printf format) and return code (a negative errno). */
int vv_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like vv_err(), appending ": strerror(-code)". */
int vv_err_sys(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepend context to the current message ("loading env 'x': <old message>"); returns code. */
int vv_err_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The thread's last message; never NULL (falls back to strerror of the last code). */
const char *vv_errmsg(void);

void vv_err_clear(void);

#endif
