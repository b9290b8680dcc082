/*
 * error.c - thread-local error messages (see error.h for the convention).
 */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages longer than the buffer are cut on purpose. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

static _Thread_local char vv_msg[1024];
static _Thread_local int vv_code;

static int vv_vset(int code, int with_errno, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static int vv_vset(int code, int with_errno, const char *fmt, va_list ap)
{
	char tmp[sizeof(vv_msg)];
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (with_errno && code < 0)
		snprintf(vv_msg, sizeof(vv_msg), "%s: %s", tmp, strerror(-code));
	else
		snprintf(vv_msg, sizeof(vv_msg), "%s", tmp);
	vv_code = code;
	return code;
}

int vv_err(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vv_vset(code, 0, fmt, ap);
	va_end(ap);
	return code;
}

int vv_err_sys(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vv_vset(code, 1, fmt, ap);
	va_end(ap);
	return code;
}

int vv_err_prefix(int code, const char *fmt, ...)
{
	char head[512], old[sizeof(vv_msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	if (vv_msg[0])
		snprintf(old, sizeof(old), "%s", vv_msg);
	else
		snprintf(old, sizeof(old), "%s", strerror(code < 0 ? -code : code));
	snprintf(vv_msg, sizeof(vv_msg), "%s: %s", head, old);
	vv_code = code;
	return code;
}

const char *vv_errmsg(void)
{
	if (vv_msg[0])
		return vv_msg;
	return vv_code ? strerror(vv_code < 0 ? -vv_code : vv_code) : "no error";
}

void vv_err_clear(void)
{
	vv_msg[0] = 0;
	vv_code = 0;
}
