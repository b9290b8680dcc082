/*
 * journal.h - the per-env log of changes made since the env's committed root.
 *
 * journal/NAME starts with "venvfs-journal 1 <root hex>\n" naming the root it applies
 * to, then one line per change, appended with a single write(2) while the change is
 * applied in memory (mtree.h). Paths are "LEN:BYTES", relative to the env root:
 *   c KIND MODE SIZE MTIME OID PATH   file content (kind 'f' or 's') published
 *   d MODE MTIME PATH                 mkdir
 *   l MTIME TARGET PATH               symlink
 *   u PATH                            unlink or rmdir
 *   r FLAGS FROM TO                   rename (FLAGS: RENAME_NOREPLACE/EXCHANGE bits)
 *   a MODE MTIME PATH                 chmod / utimens
 * Records only name objects that are already published and fsynced. A commit
 * (mtree.h) writes a new root and starts a new journal, so a journal whose root is not
 * the env's committed root is stale and ignored. On load the journal is replayed over
 * the committed root; a torn last line (power loss) ends the replay.
 *
 * A daemon killed at any moment thus loses at most the writes to files that were never
 * closed or fsynced. Appends are not fsynced (a killed process loses nothing that is
 * already in the page cache); fsync(2) through the mount fsyncs the journal.
 */
#ifndef VV_JOURNAL_H
#define VV_JOURNAL_H

#include <stddef.h>

struct vv_env;
struct vv_node;

/* Append records. Callers pass the node/paths after the change was applied. */
int vv_journal_put(struct vv_env *env, struct vv_node *n);
int vv_journal_mkdir(struct vv_env *env, struct vv_node *n);
int vv_journal_symlink(struct vv_env *env, struct vv_node *n);
int vv_journal_remove(struct vv_env *env, const char *relpath);
int vv_journal_rename(struct vv_env *env, const char *from, const char *to, unsigned flags);
int vv_journal_attr(struct vv_env *env, struct vv_node *n);

/* fdatasync the journal (fsync through the mount). */
int vv_journal_sync(struct vv_env *env);

/* Replay journal/NAME over the env's freshly loaded root. Returns the number of
 * records applied, or -errno. Records that cannot be applied are skipped with a
 * warning on stderr. */
int vv_journal_replay(struct vv_env *env);

/* Start a new, empty journal for the env's current committed root (after a commit). */
int vv_journal_reset(struct vv_env *env);

/* Close the journal fd. */
void vv_journal_close(struct vv_env *env);

/* Parse one record (exposed for the fuzz target and tests). Returns bytes consumed,
 * 0 if the buffer holds no complete record, -EUCLEAN if malformed. */
struct vv_jrec {
	char op;
	char kind;
	unsigned mode;
	unsigned long long size;
	long long mtime_ns;
	char oidhex[65];
	unsigned flags;
	const char *a; size_t alen;  /* path, or target for 'l', or from for 'r' */
	const char *b; size_t blen;  /* path for 'l', to for 'r' */
};
int vv_journal_parse(const char *buf, size_t len, struct vv_jrec *out);

#endif
