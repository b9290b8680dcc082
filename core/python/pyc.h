/*
 * pyc.h - compiled Python files (.pyc) in a stored form that every env shares.
 *
 * A .pyc written in an env differs from the same file in another env in two places
 * only: bytes 8..11 of its header (the source's mtime, which pip sets to the install
 * time; the first word of the source hash in a hash-based pyc) and the code objects'
 * co_filename, which starts with the env's absolute path. The stored form (a
 * "template") drops both: the header word goes into the tree entry (struct vv_pycent)
 * and each co_filename that starts with the env's path keeps only its suffix
 * ("lib/python3.X/site-packages/..."); reading renders the file with the env's current
 * path, byte for byte what CPython wrote when the path is the one it was written
 * under. Identical sources compiled by the same interpreter are one object in every
 * env; renaming an env renders the new path; editing a source changes its mtime, so
 * that env's header no longer matches and CPython recompiles there only.
 *
 * Template bytes (numbers little-endian):
 *   "VVPYC1\n\0"                       8 bytes
 *   u32 NSUB
 *   NSUB x { u32 OFF, u8 TYPE, 3 zero bytes }   OFF: where in BODY the string starts,
 *                                      ascending; TYPE 'z' or 'Z' (interned), with
 *                                      marshal's FLAG_REF bit as written
 *   BODY: the pyc with bytes 8..11 zero and each substituted string's type, length
 *         and path prefix removed: its suffix (SUFL bytes) stays at OFF.
 * Only CPython 3.7-3.13 pycs whose marshal data walks cleanly are turned into
 * templates, and only if rendering the template back gives the very bytes written;
 * anything else is stored as it is.
 */
#ifndef VV_PYC_H
#define VV_PYC_H

#include <stddef.h>
#include <stdint.h>

#include "store/tree.h" /* struct vv_pycent: the per-entry values of a 'c' entry */

/* Largest pyc turned into a template (bigger ones are stored as they are). */
#define VV_PYC_MAX (16u << 20)

/* Is buf (len bytes, at least the first 4 needed) possibly a pyc of a known CPython? */
int vv_pyc_magic_ok(const char *buf, size_t len);

/* Make the template of pyc bytes buf compiled under env path envpath (absolute, no
 * trailing '/'). 1: *tmpl (malloc'd, *tlen bytes) and *ent are set; 0: not a pyc this
 * code can share (store it as it is); -ENOMEM. */
int vv_pyc_neutral(const char *buf, size_t len, const char *envpath, char **tmpl,
		   size_t *tlen, struct vv_pycent *ent);

/* Size of the file rendered from a template of tlen bytes under envpath. */
uint64_t vv_pyc_size(uint64_t tlen, const struct vv_pycent *ent, const char *envpath);

/* Render a template under envpath into *out (malloc'd, *outlen bytes). -EUCLEAN if the
 * template is malformed or does not agree with ent (never wrong bytes), -ENOMEM. */
int vv_pyc_render(const char *tmpl, size_t tlen, const struct vv_pycent *ent,
		  const char *envpath, char **out, size_t *outlen);

/* Walk the marshal data of a pyc (exposed for the fuzz target and tests): 0 if it
 * parses as a pyc this code knows, -EUCLEAN if not. */
int vv_pyc_check(const char *buf, size_t len);

#endif
