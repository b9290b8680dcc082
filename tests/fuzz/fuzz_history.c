/*
 * fuzz_history.c - fuzz target for the parser of history/NAME (env history and
 * snapshots), which gc, fsck and rollback read back from the store. Every input must
 * parse or be rejected with -EUCLEAN; what parses must format back to the same bytes
 * (the format has exactly one spelling of each record) and parse again.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "env/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_history h;
	int r = vv_history_parse((const char *)data, size, "fuzz", &h);
	if (r < 0) {
		if (r != -EUCLEAN && r != -ENOMEM)
			abort();
		return 0;
	}
	char *text;
	size_t len;
	if (vv_history_format(&h, &text, &len) == 0) {
		if (len != size || memcmp(text, data, size))
			abort();
		struct vv_history again;
		if (vv_history_parse(text, len, "fuzz", &again) < 0)
			abort();
		if (again.n != h.n || again.nsnaps != h.nsnaps || again.next_id != h.next_id)
			abort();
		vv_history_release(&again);
		free(text);
	}
	vv_history_release(&h);
	return 0;
}
