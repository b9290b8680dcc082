/*
 * ini.h - the strict INI reader every venvfs INI file goes through: venvfs.ini
 * (config.h), envs/NAME (env.h), packages/RECORD (pkg.h) and pythons/KEY (python.h).
 *
 * Two levels. vv_ini_parse hands every [section] header and every key to callbacks,
 * with line numbers. vv_ini_parse_table is for the files that are one section with a
 * fixed set of keys (all but pythons/): it rejects other sections, keys outside the
 * section, unknown keys and keys set twice, so its caller only interprets values.
 *
 * Every error is reported as "FNAME:LINE: why" and its negative errno returned.
 */
#ifndef VV_INI_H
#define VV_INI_H

#include <stdbool.h>
#include <stddef.h>

/* Callbacks of vv_ini_parse. Each key is handed to `key` with its line number;
 * `section` (may be NULL) is called for every [section] header, including empty ones.
 * Callbacks return 0 or a negative errno after vv_err("why"). */
struct vv_ini_cb {
	int (*section)(void *user, const char *section, int lineno);
	int (*key)(void *user, const char *section, const char *key, const char *value,
		   int lineno);
	void *user;
};

/* Read buf (len bytes; NUL bytes are errors, not the end) on top of inih. Lines longer
 * than inih's limit, NUL bytes and indented continuation lines are errors; a UTF-8 BOM
 * at the start is skipped. The first error is reported as "FNAME:LINE: why" and its
 * code returned; inih syntax errors ("bad section header", "syntax error (expected key
 * = value)") give -EINVAL. */
int vv_ini_parse(const char *buf, size_t len, const char *fname, const struct vv_ini_cb *cb);

/* The most keys a vv_ini_table may have. */
#define VV_INI_MAX_KEYS 32

/* A file of one section with known keys, each set at most once. */
struct vv_ini_table {
	const char *section;        /* the one section allowed */
	const char *const *keys;    /* its keys; at most VV_INI_MAX_KEYS */
	size_t nkeys;
	/* One known key (index into keys), seen for the first time: 0, or a negative
	 * errno after vv_err("why") (the line is added). */
	int (*value)(void *user, int key, const char *value, int lineno);
	void *user;
	/* Optional: a second section whose keys are free (any name, repeats allowed, in
	 * file order), each handed to `extra` (0, or a negative errno after vv_err). */
	const char *extra_section;
	int (*extra)(void *user, const char *key, const char *value, int lineno);
};

/* vv_ini_parse for a vv_ini_table (and its extra section, if any). On top of the reader's own errors, -EINVAL with
 *   "FNAME:LINE: unknown section [X] (expected [S])"      (also for an empty [X])
 *   "FNAME:LINE: key 'K' outside a section (start with [S])"
 *   "FNAME:LINE: unknown key 'K' in [S] (known: a, b, c)"
 *   "FNAME:LINE: duplicate key 'K' (first set on line N)"
 * lines (nkeys of them, may be NULL) gets the line each key was set on, 0 for keys the
 * file does not set: required keys are the caller's to check. An empty file is fine. */
int vv_ini_parse_table(const char *buf, size_t len, const char *fname,
		       const struct vv_ini_table *t, int *lines);

/* Can value be written as `key = value` on one line and read back unchanged by
 * vv_ini_parse? (no newline, no surrounding blanks, no " ;" inline comment, fits in a
 * line). 0 or -EINVAL / -ENAMETOOLONG with a message naming `what`. */
int vv_ini_value_check(const char *key, const char *value, const char *what);

/* Parse a boolean the way every venvfs INI file does: true/false/yes/no/on/off/1/0,
 * any case. 0, or -EINVAL "bad boolean 'S' (use true or false)". */
int vv_parse_bool(const char *s, bool *out);

#endif
