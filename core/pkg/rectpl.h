/*
 * rectpl.h - the shared stored form of a .dist-info/RECORD that pip wrote into an env.
 *
 * pip's RECORD lists every installed file with its sha256 and size. The console
 * scripts in bin/ start with the env's own interpreter path, so their lines differ
 * between two envs that installed the same distribution, and so would the whole
 * RECORD object (moto's is 290 KB, sympy's 245 KB). The scripts themselves are stored
 * once in a neutral form (a "#!python" first line) and shown with the env's path; the
 * RECORD is stored the same way: a *template* that leaves out the hash and size of
 * each line naming such a script, and names the script's neutral object instead.
 * Reading renders each left-out field from the script as this env shows it, so the
 * RECORD and the scripts agree under any env path, and under the path pip wrote them
 * at the rendering is the very bytes pip wrote.
 *
 * Template bytes (outside input: parsed strictly):
 *   "VVREC1\n"
 *   u32 K                              little-endian, K >= 1
 *   K x { u32 OFF, u32 NSIZE }         OFF: where in TEXT the left-out field goes
 *                                      (strictly increasing, <= TEXT's length)
 *   K scripts, NSIZE bytes each        the stored (neutral) script each line names,
 *                                      so a template needs no other object
 *   TEXT                               the RECORD without each "sha256=HASH,SIZE" field
 * Rendering puts "sha256=" + base64url(sha256(script as shown)) + "," + its size at
 * each OFF (python/script.h shows a script). A tree entry of kind 'r' carries K and the
 * smallest and largest NSIZE, so a stat needs no read when the shown sizes all have
 * the same number of digits.
 */
#ifndef VV_RECTPL_H
#define VV_RECTPL_H

#include <stddef.h>
#include <stdint.h>

#include "store/tree.h"

#define VV_RECTPL_MAX (64u << 20) /* a RECORD bigger than this is stored as it is */

/* For a RECORD path (as written, relative to the .dist-info's parent): 1 with the
 * stored bytes (malloc'd) of the console script it names, 0 when it names none, or
 * -errno. */
typedef int (*vv_rectpl_script_fn)(void *ctx, const char *path, size_t pathlen, char **script,
				   size_t *len);

/* The template of rec, pip's RECORD in the env at envpath (1, *out malloc'd, *ent its
 * entry values), when at least one of its lines names a stored script with the hash
 * and size of that script as shown there; 0 when none does (store it as it is);
 * -errno. */
int vv_rectpl_make(const char *rec, size_t len, const char *envpath, vv_rectpl_script_fn fn,
		   void *ctx, char **out, size_t *outlen, struct vv_recent *ent);

/* The RECORD a template shows in the env at envpath. -EUCLEAN when tpl is not a
 * template that ent (when not NULL) describes. */
int vv_rectpl_render(const char *tpl, size_t len, const struct vv_recent *ent,
		     const char *envpath, char **out, size_t *outlen);

/* The size of that rendering from the template's size and ent alone, or UINT64_MAX
 * when it depends on each script's size (render to know). */
uint64_t vv_rectpl_size(uint64_t tsize, const struct vv_recent *ent, const char *envpath);

/* The text of the RECORD entry e (kind 'f', or 'r': rendered under "/", which keeps
 * every path) for tools that read its paths. At most max bytes are read. */
struct vv_store;
int vv_rectpl_read(struct vv_store *st, const struct vv_tree_ent *e, size_t max, char **out,
		   size_t *len);

/* The RECORD text of a template as it is (left-out fields missing): enough to read
 * its paths. *text points into tpl. */
int vv_rectpl_text(const char *tpl, size_t len, const char **text, size_t *textlen);

#endif
