/*
 * marker_env.h - one fixed set of PEP 508 marker values (CPython 3.11 on Linux x86_64)
 * for the marker unit test and the fuzz targets that evaluate markers, so they agree
 * on what a marker means.
 */
#ifndef VT_MARKER_ENV_H
#define VT_MARKER_ENV_H

#include "pkg/marker.h"

static const struct vv_marker_env vt_marker_env = {
	.python_version = "3.11",
	.python_full_version = "3.11.7",
	.implementation_name = "cpython",
	.implementation_version = "3.11.7",
	.platform_python_implementation = "CPython",
	.sys_platform = "linux",
	.os_name = "posix",
	.platform_system = "Linux",
	.platform_machine = "x86_64",
	.platform_release = "6.1.0-18-amd64",
	.platform_version = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
};

#endif
