/*
 * wheel.h - unpack a wheel (PEP 427) into a tree builder, the way pip installs it into
 * a venv: root, .data/purelib and .data/platlib into lib/python3.X/site-packages,
 * .data/scripts into bin (a "#!python" first line makes it a VV_SCRIPT), console and
 * GUI scripts generated from entry_points.txt (VV_SCRIPT, 0755), INSTALLER (and, when
 * asked, REQUESTED) written and RECORD rewritten to list what was installed.
 *
 * The wheel is outside input: member names are confined (no "..", absolute paths,
 * symlinks, devices, FIFOs or duplicates), sizes and compression ratios are bounded,
 * and every member must be listed in RECORD with a sha256 and a size that match.
 * Errors name the wheel, the member and the reason (-EINVAL).
 * Reading zips uses libzip.
 */
#ifndef VV_WHEEL_H
#define VV_WHEEL_H

#include <stddef.h>
#include <stdint.h>

struct vv_store;
struct vv_tb;
struct vv_python;

struct vv_wheel_info {
	char *name;    /* distribution name as in METADATA */
	char *version;
};

/* installer: the INSTALLER line ("pip" for seeded pip). */
int vv_wheel_install(struct vv_store *st, const char *wheel_path, const struct vv_python *py,
		     const char *installer, struct vv_tb *tb, struct vv_wheel_info *info);

/* The same with flags: VV_WHEEL_REQUESTED also writes an empty .dist-info/REQUESTED
 * (listed in RECORD), as pip does for a package the user asked for by name; a REQUESTED
 * member of the wheel itself is then left out. */
#define VV_WHEEL_REQUESTED 1u
int vv_wheel_install_ex(struct vv_store *st, const char *wheel_path, const struct vv_python *py,
			const char *installer, unsigned flags, struct vv_tb *tb,
			struct vv_wheel_info *info);

void vv_wheel_info_release(struct vv_wheel_info *info);

/* The newest member mtime of a wheel in ns (what vv_wheel_install stamps on the files
 * it generates); callers use it as a deterministic directory mtime. */
int vv_wheel_mtime(const char *wheel_path, int64_t *mtime_ns);

/* The Requires-Python header of a wheel's METADATA (malloc'd, trimmed), or NULL in *out
 * when it has none. Reads nothing but the zip directory and METADATA. */
int vv_wheel_requires_python(const char *wheel_path, char **out);

/* The value of header key (case-insensitive) in an email-style header block such as
 * METADATA or WHEEL (read up to the first empty line): malloc'd and trimmed into *out,
 * or NULL when absent. -ENOMEM. */
int vv_metadata_header(const char *text, const char *key, char **out);

/* One row of a RECORD file; fields are NUL-terminated, unquoted. */
struct vv_record_row {
	char *path;
	char *hash; /* "" or "ALGO=BASE64URL" */
	char *size; /* "" or decimal */
};

/* Strict CSV parser for RECORD: exactly three fields a row, RFC 4180 quoting, "\n" or
 * "\r\n" line ends, empty lines skipped, no NUL. -EINVAL "line N: why". Public for the
 * fuzz target. Free with vv_record_free(). */
int vv_record_parse(const char *buf, size_t len, struct vv_record_row **rows, size_t *n);
void vv_record_free(struct vv_record_row *rows, size_t n);

#endif
