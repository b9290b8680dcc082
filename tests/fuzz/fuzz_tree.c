/*
 * fuzz_tree.c - fuzz target for the tree parser, which reads store bytes (outside
 * input). Beyond "no crash", it checks the canonical-form promise: whatever parses
 * must serialize back to exactly the same bytes, and every entry must be findable.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
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
	char *buf = NULL;
	size_t len = 0;
	if (vv_tree_serialize(t->ents, t->n, &buf, &len) < 0)
		abort();
	if (len != size || memcmp(buf, data, size) != 0)
		abort();
	free(buf);
	for (size_t i = 0; i < t->n; i++) {
		const struct vv_tree_ent *e = &t->ents[i];
		if (vv_tree_find(t, e->name, e->namelen) != e)
			abort();
		if (vv_name_check(e->name, e->namelen) < 0)
			abort();
		if (e->kind == VV_LNK && (!e->target || strlen(e->target) != e->size))
			abort();
	}
	vv_tree_unref(t);
	return 0;
}
