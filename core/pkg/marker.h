/*
 * marker.h - PEP 508 environment markers, the `; python_version >= "3.8"` part of a
 * requirement line that `poetry export`, `pip-compile` and `uv export` write: parsed
 * strictly (it is outside input) and evaluated for one env's interpreter on this host,
 * so a requirements file can hold lines meant for other Pythons or platforms.
 *
 * Grammar (PEP 508): comparisons `VALUE OP VALUE` joined by `and` (binds tighter) and
 * `or`, grouped by parentheses. A VALUE is a marker variable or a string in '...' or
 * "..." (no escapes). OP is ==, !=, <, <=, >, >=, ~=, ===, `in` or `not in`. As the
 * packaging library does: when both sides are versions and OP is a version operator,
 * they compare as versions (the Requires-Python reading, python.h vv_version_spec_ok:
 * "3.10" > "3.9", "3.13.0rc1" is not < "3.13"; a local part "+x" on the left is left
 * out); `===` is string equality ignoring case; otherwise strings compare byte-wise
 * and `in` is substring ("6.1.0-18-amd64" >= "5" as strings). `~=` on something that
 * is not a version is an error. The old dotted names (`os.name`, `sys.platform`,
 * `platform.machine`, `platform.version`, `platform.python_implementation`,
 * `python_implementation`) are read as pip still reads them.
 */
#ifndef VV_MARKER_H
#define VV_MARKER_H

#include <stdbool.h>

#include "python/python.h"

#define VV_MARKER_MAX 4096 /* bytes of one marker */
#define VV_MARKER_DEPTH 32 /* nested parentheses */

/* The values of the marker variables for one interpreter on one machine. */
struct vv_marker_env {
	char python_version[16];                  /* "3.11" */
	char python_full_version[VV_PYPLAT_MAX];  /* "3.11.7" */
	char implementation_name[VV_PYPLAT_MAX];  /* "cpython" */
	char implementation_version[VV_PYPLAT_MAX];
	char platform_python_implementation[VV_PYPLAT_MAX]; /* "CPython" */
	char sys_platform[VV_PYPLAT_MAX];         /* "linux" */
	char os_name[VV_PYPLAT_MAX];              /* "posix" */
	char platform_system[65];                 /* "Linux" */
	char platform_machine[65];                /* "x86_64" */
	char platform_release[65];                /* uname(2) release */
	char platform_version[65];                /* uname(2) version */
};

/* The env of interpreter py on this host: python_version from its X.Y, the others as
 * its probe learned them (python.h struct vv_pyplatform), platform_release and
 * platform_version from uname(2) now (they are the kernel's). When py's facts are not
 * known (an interpreter that is gone, known by its X.Y only), what CPython of
 * py->version (else X.Y) says on this host. 0 or -errno. */
int vv_marker_env_init(struct vv_marker_env *env, const struct vv_python *py);

/* Parse the marker at s (the text after a requirement's ';'). It ends at the end of s
 * or where a blank and a '-' start the line's options; *end (may be NULL) gets that
 * point (the '-', or the NUL). With env: 1 when the marker holds, 0 when not; with env
 * NULL the marker is only checked: 0. -EINVAL with a message saying why (and where,
 * "at 'TEXT'") for a malformed marker, an unknown or unsupported variable, one longer
 * than VV_MARKER_MAX or nested deeper than VV_MARKER_DEPTH, and (only with env) `~=`
 * on something that is not a version. The variable `extra` is "" (no extras are
 * requested at the top level: `extra == "x"` is false). */
int vv_marker_eval(const char *s, const struct vv_marker_env *env, const char **end);

#endif
