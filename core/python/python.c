/*
 * python.c - the facts about one interpreter as a value (python.h): releasing, naming
 * and copying a struct vv_python, freeing a list of them, the names and the form of
 * its marker values (shared by the probe and the cache). Where the facts come from is
 * the other files of this folder (python_int.h lists them).
 */
#include "python/python.h"
#include "python/python_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void vv_python_release(struct vv_python *py)
{
	free(py->exe);
	free(py->home);
	free(py->base_exe);
	free(py->version);
	free(py->pip_wheel);
	memset(py, 0, sizeof(*py));
}

void vv_python_name(const struct vv_python *py, char *buf)
{
	snprintf(buf, 32, "python%d.%d", py->major, py->minor);
}

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int vv_python_copy(const struct vv_python *from, struct vv_python *to)
{
	bool oom = false;
	*to = *from;
	to->exe = dup_or_null(from->exe, &oom);
	to->home = dup_or_null(from->home, &oom);
	to->base_exe = dup_or_null(from->base_exe, &oom);
	to->version = dup_or_null(from->version, &oom);
	to->pip_wheel = dup_or_null(from->pip_wheel, &oom);
	if (oom) {
		vv_python_release(to);
		return vv_err(-ENOMEM, "out of memory");
	}
	return 0;
}

void vv_python_list_free(struct vv_python *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vv_python_release(&list[i]);
	free(list);
}

const char *const python_plat_keys[PYPLAT_N] = {
	"python_full_version", "implementation_name", "implementation_version",
	"platform_python_implementation", "sys_platform", "os_name", "platform_system",
	"platform_machine",
};

char *python_plat_field(struct vv_pyplatform *p, int i)
{
	char *const f[PYPLAT_N] = {
		p->python_full_version, p->implementation_name, p->implementation_version,
		p->platform_python_implementation, p->sys_platform, p->os_name,
		p->platform_system, p->platform_machine,
	};
	return f[i];
}

bool python_plat_value_ok(const char *v)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				 "0123456789._+-";
	size_t n = strlen(v);
	return n < VV_PYPLAT_MAX && strspn(v, ok) == n;
}
