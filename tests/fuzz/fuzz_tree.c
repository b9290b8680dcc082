/*
 * fuzz_tree.c - fuzz target for the tree parser, which reads store bytes (outside
 * input). Beyond "no crash", it checks the canonical-form promise: whatever parses
 * must serialize back to exactly the same bytes (with its times section; a format 1
 * tree comes back as format 2, the same entry bytes under the new header), every entry
 * must be findable and numbered as tree.h says, and a section decodes or is refused.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "store/times.h"
#include "store/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_tree *t = NULL;
	if (vv_tree_parse((const char *)data, size, &t) < 0) {
		if (t)
			abort();
		return 0;
	}
	if (t->version != 1 && t->version != 2)
		abort();
	if (!t->times != !t->timeslen || (t->times && t->version != 2))
		abort();
	char *buf = NULL;
	size_t len = 0;
	if (vv_tree_serialize(t->ents, t->n, t->times, t->timeslen, &buf, &len) < 0)
		abort();
	/* the header is the one thing a format 1 tree changes: both are 14 bytes */
	size_t hl = sizeof("venvfs-tree 2\n") - 1;
	if (len != size || len < hl || memcmp(buf, "venvfs-tree 2\n", hl) != 0)
		abort();
	if (t->version == 2 ? memcmp(buf, data, size) != 0 :
			      memcmp(buf + hl, data + hl, size - hl) != 0)
		abort();
	free(buf);
	if (t->times) {
		struct vv_times *tm = NULL;
		int r = vv_times_of(t, &tm);
		if ((r < 0) != !tm || (r < 0 && r != -EUCLEAN))
			abort();
		vv_times_unref(tm);
	}
	uint64_t pos = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct vv_tree_ent *e = &t->ents[i];
		if (e->pos != pos)
			abort();
		pos += 1 + (e->kind == VV_DIR ? e->size : 0);
		if (e->kind == VV_DIR && t->version == 1 && e->size != 0)
			abort();
		if (vv_tree_find(t, e->name, e->namelen) != e)
			abort();
		if (vv_name_check(e->name, e->namelen) < 0)
			abort();
		if (e->kind == VV_LNK && (!e->target || strlen(e->target) != e->size))
			abort();
	}
	if (t->count != pos)
		abort();
	vv_tree_unref(t);
	return 0;
}
