/*
 * fuzz_journal.c - fuzz target for the journal format, whose parser reads what a
 * crashed daemon left behind. Every input must parse, report "incomplete" or be
 * rejected, and a parsed record must lie within the input. Each parsed record is also
 * written back with the journal's writers, which must give a record that parses to the
 * same values: what the parser accepts, the writers can say.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "env/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A record's strings as C strings (the parser refuses NULs in them). */
static char *str(const char *s, size_t len)
{
	char *p = strndup(s, len);
	if (!p)
		abort();
	return p;
}

/* Write j back with the writer for its op into fd (emptied first), parse it again and
 * compare. */
static void roundtrip(int fd, const struct vv_jrec *j)
{
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	char *a = j->a ? str(j->a, j->alen) : NULL, *b = j->b ? str(j->b, j->blen) : NULL;
	vv_oid oid;
	int r = -1;
	switch (j->op) {
	case 'c':
		if (vv_oid_from_hex(&oid, j->oidhex, VV_OID_HEX) < 0)
			abort(); /* the parser checked it */
		r = vv_journal_put(fd, a, j->kind, j->mode, j->size, j->mtime_ns, &oid, &j->pyc, &j->rec);
		break;
	case 'w': r = vv_journal_stage(fd, a, j->mode, j->stage); break;
	case 'd': r = vv_journal_mkdir(fd, a, j->mode, j->mtime_ns); break;
	case 'n': r = vv_journal_mknod(fd, a, j->kind, j->mode, j->mtime_ns); break;
	case 'l': r = vv_journal_symlink(fd, b, a, j->mtime_ns); break;
	case 'u': r = vv_journal_remove(fd, a); break;
	case 'r': r = vv_journal_rename(fd, a, b, j->flags); break;
	case 'a': r = vv_journal_attr(fd, a, j->mode, j->mtime_ns); break;
	case 's':
		if (vv_oid_from_hex(&oid, j->oidhex, VV_OID_HEX) < 0)
			abort();
		r = vv_journal_sealed(fd, j->stage, j->size, &oid);
		break;
	case 'f': r = vv_journal_synced(fd, j->stage); break;
	case 'b': /* written only with this machine's boot id: the text by hand */
		r = dprintf(fd, "b %s\n", j->boot) > 0 ? 0 : -1;
		break;
	}
	if (r < 0)
		abort();
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf = malloc((size_t)len + 1);
	if (!buf || pread(fd, buf, (size_t)len, 0) != len)
		abort();
	struct vv_jrec k;
	if (vv_journal_parse(buf, (size_t)len, &k) != (int)len)
		abort();
	if (k.op != j->op || k.kind != j->kind || k.mode != j->mode || k.size != j->size ||
	    k.mtime_ns != j->mtime_ns || k.flags != j->flags ||
	    strcasecmp(k.oidhex, j->oidhex) || strcmp(k.stage, j->stage) ||
	    strcmp(k.boot, j->boot) ||
	    k.alen != j->alen || k.blen != j->blen ||
	    (a && memcmp(k.a, a, k.alen)) || (b && memcmp(k.b, b, k.blen)))
		abort();
	free(buf);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0 && (fd = memfd_create("journal", MFD_CLOEXEC)) < 0)
		abort();
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
		roundtrip(fd, &j);
		off += (size_t)n;
	}
	return 0;
}
