/*
 * fuzz_journal.c - fuzz target for the journal record parser, which reads what a
 * crashed daemon left behind. Every input must parse, report "incomplete" or be
 * rejected, and a parsed record must lie within the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "env/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t off = 0;
	while (off < size) {
		struct vv_jrec j;
		int n = vv_journal_parse(p + off, size - off, &j);
		if (n <= 0)
			break;
		if ((size_t)n > size - off)
			abort();
		if (j.a && (j.a < p + off || j.a + j.alen > p + off + (size_t)n))
			abort();
		if (j.b && (j.b < p + off || j.b + j.blen > p + off + (size_t)n))
			abort();
		off += (size_t)n;
	}
	return 0;
}
