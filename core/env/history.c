/*
 * history.c - per-env history of committed roots, rollback targets and snapshots
 * (history.h).
 *
 * history/NAME is small (the policy keeps it to tens of entries), so every change reads
 * it whole, edits it in memory and replaces it with vv_write_file_atomic() while holding
 * an flock of history/ on a private open file description (so it also excludes other
 * threads of the daemon). Parsing is strict: the file is written by us, anything
 * unexpected is reported with its line, never guessed at.
 */
#include "env/history.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/config.h"
#include "env/env.h"
#include "util/error.h"
#include "util/clock.h"
#include "util/vec.h"
#include "util/fsutil.h"
#include "store/store.h"
#include "store/tree.h"

#define HIST_MAGIC "venvfs-history 1 "
#define HIST_MAX_SIZE (4u << 20)
#define NS 1000000000LL


void vv_history_release(struct vv_history *h)
{
	free(h->ents);
	free(h->snaps);
	memset(h, 0, sizeof(*h));
}

int vv_history_tag_check(const char *tag)
{
	size_t n = strlen(tag);
	if (n == 0)
		return vv_err(-EINVAL, "bad snapshot tag '': empty");
	if (n > VV_HIST_TAG_MAX)
		return vv_err(-EINVAL, "bad snapshot tag '%.40s...': longer than %d bytes", tag,
			      VV_HIST_TAG_MAX);
	if (!isalpha((unsigned char)tag[0]) || (unsigned char)tag[0] >= 0x80)
		return vv_err(-EINVAL, "bad snapshot tag '%s': must start with a letter", tag);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tag[i];
		if (c >= 0x80 || !(isalnum(c) || c == '.' || c == '_' || c == '+' || c == '-'))
			return vv_err(-EINVAL, "bad snapshot tag '%s': only letters, digits and "
				      "'._+-' are allowed", tag);
	}
	return 0;
}

static int source_check(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > VV_HIST_SOURCE_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return -1;
	return 0;
}

/* ---- the text ---- */

static int parse_u64(const char *s, uint64_t *out)
{
	if (!*s || strlen(s) > 19)
		return -1;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (s[0] == '0' && s[1])
		return -1;
	*out = v;
	return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
	uint64_t v;
	if (parse_u64(s, &v) < 0 || v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* Exactly 64 lower-case hex digits: the one spelling vv_history_format writes. */
static int parse_oid(const char *s, vv_oid *out)
{
	if (strlen(s) != VV_OID_HEX)
		return -1;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return -1;
	return vv_oid_from_hex(out, s, VV_OID_HEX);
}

/* Split line (modified in place) at single blanks into at most max fields. */
static size_t split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;
	while (n < max) {
		f[n++] = p;
		char *sp = strchr(p, ' ');
		if (!sp)
			break;
		*sp = 0;
		p = sp + 1;
	}
	return n;
}

int vv_history_parse(const char *buf, size_t len, const char *name, struct vv_history *out)
{
	memset(out, 0, sizeof(*out));
	if (memchr(buf, 0, len))
		return vv_err(-EUCLEAN, "history/%s: NUL byte in file", name);
	char *text = malloc(len + 1);
	if (!text)
		return vv_err(-ENOMEM, "out of memory");
	memcpy(text, buf, len);
	text[len] = 0;
	int r = 0, lineno = 0;
	size_t ecap = 0, scap = 0;
	const char *why = NULL;
	char *p = text;
	while (*p && r == 0) {
		char *nl = strchr(p, '\n');
		lineno++;
		if (!nl) {
			why = "last line is not terminated (torn write?)";
			break;
		}
		*nl = 0;
		char *f[10];
		size_t nf = split(p, f, 10);
		if (lineno == 1) {
			if (nf != 3 || strcmp(f[0], "venvfs-history") || strcmp(f[1], "1") ||
			    parse_u64(f[2], &out->next_id) < 0) {
				why = "no valid 'venvfs-history 1 NEXTID' header";
				break;
			}
		} else if (!strcmp(f[0], "e")) {
			struct vv_hist_entry e = {0};
			uint64_t open;
			if (nf != 8 || parse_u64(f[1], &e.id) < 0 || parse_i64(f[2], &e.start_ns) < 0 ||
			    parse_i64(f[3], &e.end_ns) < 0 || parse_u64(f[4], &open) < 0 || open > 1 ||
			    parse_oid(f[5], &e.old_root) < 0 || parse_oid(f[6], &e.new_root) < 0 ||
			    source_check(f[7]) < 0) {
				why = "malformed entry (expected 'e ID START END OPEN OLD NEW SOURCE')";
				break;
			}
			if (out->nsnaps) {
				why = "entry after a snapshot (entries come first)";
				break;
			}
			if (e.id >= out->next_id || (out->n && e.id <= out->ents[out->n - 1].id)) {
				why = "entry ids out of order";
				break;
			}
			e.open = open;
			snprintf(e.source, sizeof(e.source), "%s", f[7]);
			if ((r = VV_GROW(out->ents, out->n, ecap, 16)) < 0)
				break;
			out->ents[out->n++] = e;
		} else if (!strcmp(f[0], "s")) {
			struct vv_hist_snap s = {0};
			if (nf != 4 || parse_i64(f[1], &s.time_ns) < 0 || parse_oid(f[2], &s.root) < 0) {
				why = "malformed snapshot (expected 's TIME ROOT TAG')";
				break;
			}
			if (vv_history_tag_check(f[3]) < 0) {
				why = "bad snapshot tag";
				break;
			}
			if (out->nsnaps && strcmp(out->snaps[out->nsnaps - 1].tag, f[3]) >= 0) {
				why = "snapshots not sorted or duplicated";
				break;
			}
			snprintf(s.tag, sizeof(s.tag), "%s", f[3]);
			if ((r = VV_GROW(out->snaps, out->nsnaps, scap, 16)) < 0)
				break;
			out->snaps[out->nsnaps++] = s;
		} else {
			why = "unknown record";
			break;
		}
		p = nl + 1;
	}
	if (r == 0 && !why && lineno == 0)
		why = "empty file (no header)";
	free(text);
	if (why)
		r = vv_err(-EUCLEAN, "history/%s:%d: %s", name, lineno, why);
	if (r < 0)
		vv_history_release(out);
	return r;
}

int vv_history_format(const struct vv_history *h, char **out, size_t *len)
{
	*out = NULL;
	/* an entry line is at most 2 + 3 * 20 + 2 + 2 * 65 + 16 + 4 bytes, a snapshot line
	 * 2 + 20 + 65 + 65 + 1: 256 bytes each is room enough */
	size_t cap = 64 + (h->n + h->nsnaps) * 256, n = 0;
	char *b = malloc(cap);
	if (!b)
		return vv_err(-ENOMEM, "out of memory");
	n += (size_t)snprintf(b + n, cap - n, HIST_MAGIC "%llu\n",
			      (unsigned long long)h->next_id);
	for (size_t i = 0; i < h->n; i++) {
		const struct vv_hist_entry *e = &h->ents[i];
		char o[VV_OID_HEX + 1], w[VV_OID_HEX + 1];
		vv_oid_hex(&e->old_root, o);
		vv_oid_hex(&e->new_root, w);
		n += (size_t)snprintf(b + n, cap - n, "e %llu %lld %lld %d %s %s %s\n",
				      (unsigned long long)e->id, (long long)e->start_ns,
				      (long long)e->end_ns, e->open ? 1 : 0, o, w, e->source);
	}
	for (size_t i = 0; i < h->nsnaps; i++) {
		const struct vv_hist_snap *s = &h->snaps[i];
		char hx[VV_OID_HEX + 1];
		vv_oid_hex(&s->root, hx);
		n += (size_t)snprintf(b + n, cap - n, "s %lld %s %s\n", (long long)s->time_ns, hx,
				      s->tag);
	}
	*out = b;
	if (len)
		*len = n;
	return 0;
}

/* Read history/NAME; *raw (may be NULL) keeps the bytes (NULL when there is none). */
static int load_raw(struct vv_store *st, const char *name, struct vv_history *out, char **raw,
		    size_t *rawlen)
{
	memset(out, 0, sizeof(*out));
	if (raw)
		*raw = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r = vv_read_file_at(st->historyfd, name, HIST_MAX_SIZE, &buf, &len);
	if (r == -ENOENT) {
		out->next_id = 1;
		return 0;
	}
	if (r < 0)
		return vv_err_prefix(r, "reading history/%s", name);
	r = vv_history_parse(buf, len, name, out);
	if (r == 0 && raw) {
		*raw = buf;
		*rawlen = len;
	} else {
		free(buf);
	}
	return r;
}

int vv_history_load(struct vv_store *st, const char *name, struct vv_history *out)
{
	int r = vv_env_name_ok(name, strlen(name));
	return r < 0 ? r : load_raw(st, name, out, NULL, NULL);
}

static int save(struct vv_store *st, const char *name, const struct vv_history *h)
{
	char *text;
	size_t len;
	int r = vv_history_format(h, &text, &len);
	if (r < 0)
		return r;
	r = vv_write_file_atomic(st->historyfd, name, text, len, 0644);
	free(text);
	return r < 0 ? vv_err_prefix(r, "writing history/%s", name) : 0;
}

/* An exclusive lock on history/ through a private open file description. */
static int lock_history(struct vv_store *st)
{
	int fd = openat(st->historyfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return vv_err_sys(-errno, "cannot open history/");
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return vv_err_sys(-e, "cannot lock history/");
		}
	}
	return fd;
}

static void unlock_history(int fd)
{
	if (fd >= 0)
		close(fd);
}

void vv_history_policy(struct vv_store *st, const struct vv_config *cfg)
{
	if (cfg->history_set & VV_CFG_HISTORY_KEEP)
		st->hist_keep = cfg->history_keep;
	if (cfg->history_set & VV_CFG_HISTORY_MAX_AGE)
		st->hist_max_age_s = cfg->history_max_age_days * 86400;
	if (cfg->history_set & VV_CFG_HISTORY_COALESCE)
		st->hist_coalesce_s = cfg->history_coalesce_s;
}

/* Drop entries beyond the policy: older than the max age, then the oldest beyond keep. */
static void prune(struct vv_store *st, struct vv_history *h, int64_t now)
{
	size_t drop = 0;
	if (st->hist_max_age_s > 0)
		while (drop < h->n && now - h->ents[drop].end_ns > st->hist_max_age_s * NS)
			drop++;
	size_t keep = st->hist_keep < 0 ? 0 : (size_t)st->hist_keep;
	if (h->n - drop > keep)
		drop = h->n - keep;
	memmove(h->ents, h->ents + drop, (h->n - drop) * sizeof(*h->ents));
	h->n -= drop;
}

int vv_history_record(struct vv_store *st, const char *name, const vv_oid *old_root,
		      const vv_oid *new_root, const char *source, unsigned flags,
		      int64_t now, char **undo, size_t *undo_len)
{
	if (undo) {
		*undo = NULL;
		*undo_len = 0;
	}
	if (vv_oid_eq(old_root, new_root))
		return 0;
	if (source_check(source) < 0)
		return vv_err(-EINVAL, "bad history source '%s'", source);
	if (!now)
		now = vv_now_ns();
	int lk = lock_history(st);
	if (lk < 0)
		return lk;
	struct vv_history h;
	char *raw = NULL;
	size_t rawlen = 0;
	int r = load_raw(st, name, &h, &raw, &rawlen);
	if (r < 0) {
		unlock_history(lk);
		return r;
	}
	if (st->hist_keep <= 0 && h.n == 0) {
		/* history off and nothing to drop: no file to write */
		free(raw);
		vv_history_release(&h);
		unlock_history(lk);
		return 0;
	}
	struct vv_hist_entry *last = h.n ? &h.ents[h.n - 1] : NULL;
	if (last && (flags & VV_HIST_COALESCE) && last->open && !strcmp(last->source, source) &&
	    vv_oid_eq(&last->new_root, old_root) &&
	    now - last->end_ns <= st->hist_coalesce_s * NS && now >= last->end_ns) {
		last->new_root = *new_root;
		last->end_ns = now;
		last->open = (flags & VV_HIST_OPEN) != 0;
		if (vv_oid_eq(&last->old_root, &last->new_root))
			h.n--; /* the batch came back to where it started: no change */
	} else if (st->hist_keep > 0) {
		size_t cap = h.n;
		if ((r = VV_GROW(h.ents, h.n, cap, 16)) == 0) {
			struct vv_hist_entry *e = &h.ents[h.n++];
			memset(e, 0, sizeof(*e));
			e->id = h.next_id++;
			e->start_ns = e->end_ns = now;
			e->open = (flags & VV_HIST_OPEN) != 0;
			e->old_root = *old_root;
			e->new_root = *new_root;
			snprintf(e->source, sizeof(e->source), "%s", source);
		}
	}
	if (r == 0) {
		prune(st, &h, now);
		r = save(st, name, &h);
	}
	vv_history_release(&h);
	unlock_history(lk);
	if (r == 0 && undo) {
		*undo = raw;
		*undo_len = rawlen;
	} else {
		free(raw);
	}
	return r;
}

int vv_history_close_batch(struct vv_store *st, const char *name)
{
	struct stat sb;
	if (fstatat(st->historyfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return 0;
	int lk = lock_history(st);
	if (lk < 0)
		return lk;
	struct vv_history h;
	int r = load_raw(st, name, &h, NULL, NULL);
	if (r == -EUCLEAN)
		r = 0; /* damaged: reported by gc and fsck, not by every sync */
	else if (r == 0 && h.n && h.ents[h.n - 1].open) {
		h.ents[h.n - 1].open = false;
		r = save(st, name, &h);
	}
	vv_history_release(&h);
	unlock_history(lk);
	return r;
}

int vv_history_restore(struct vv_store *st, const char *name, const char *undo, size_t len)
{
	int lk = lock_history(st);
	if (lk < 0)
		return lk;
	int r;
	if (undo) {
		r = vv_write_file_atomic(st->historyfd, name, undo, len, 0644);
	} else {
		r = unlinkat(st->historyfd, name, 0) < 0 && errno != ENOENT
			    ? vv_err_sys(-errno, "cannot remove history/%s", name) : 0;
	}
	unlock_history(lk);
	return r;
}

int vv_history_rename(struct vv_store *st, const char *from, const char *to)
{
	int lk = lock_history(st);
	if (lk < 0)
		return lk;
	int r = 0;
	/* envs/to did not exist, so any history/to is a leftover: replace or remove it */
	if (renameat(st->historyfd, from, st->historyfd, to) < 0) {
		if (errno != ENOENT)
			r = vv_err_sys(-errno, "moving history/%s to history/%s", from, to);
		else if (unlinkat(st->historyfd, to, 0) < 0 && errno != ENOENT)
			r = vv_err_sys(-errno, "removing leftover history/%s", to);
	}
	if (r == 0)
		r = vv_fsync_dir_at(st->historyfd, ".");
	unlock_history(lk);
	return r;
}

int vv_history_remove(struct vv_store *st, const char *name)
{
	int lk = lock_history(st);
	if (lk < 0)
		return lk;
	int r = 0;
	if (unlinkat(st->historyfd, name, 0) < 0) {
		if (errno != ENOENT)
			r = vv_err_sys(-errno, "removing history/%s", name);
	} else {
		r = vv_fsync_dir_at(st->historyfd, ".");
	}
	unlock_history(lk);
	return r;
}

/* ---- snapshots ---- */

int vv_history_snapshot_add(struct vv_store *st, const char *name, const char *tag,
			     const vv_oid *root)
{
	int r = vv_history_tag_check(tag);
	if (r < 0)
		return r;
	int lk = lock_history(st);
	if (lk < 0)
		return lk;
	struct vv_history h;
	if ((r = load_raw(st, name, &h, NULL, NULL)) < 0) {
		unlock_history(lk);
		return r;
	}
	size_t i = 0;
	while (i < h.nsnaps && strcmp(h.snaps[i].tag, tag) < 0)
		i++;
	if (i < h.nsnaps && !strcmp(h.snaps[i].tag, tag)) {
		r = vv_err(-EEXIST, "env '%s' already has a snapshot '%s' (delete it first)", name,
			   tag);
	} else {
		size_t cap = h.nsnaps;
		if ((r = VV_GROW(h.snaps, h.nsnaps, cap, 16)) == 0) {
			memmove(h.snaps + i + 1, h.snaps + i, (h.nsnaps - i) * sizeof(*h.snaps));
			struct vv_hist_snap *s = &h.snaps[i];
			memset(s, 0, sizeof(*s));
			snprintf(s->tag, sizeof(s->tag), "%s", tag);
			s->time_ns = vv_now_ns();
			s->root = *root;
			h.nsnaps++;
			r = save(st, name, &h);
		}
	}
	vv_history_release(&h);
	unlock_history(lk);
	return r;
}

int vv_history_snapshot_delete(struct vv_store *st, const char *name, const char *tag)
{
	int r = vv_env_name_ok(name, strlen(name));
	if (r < 0)
		return r;
	int lk = lock_history(st);
	if (lk < 0)
		return lk;
	struct vv_history h;
	if ((r = load_raw(st, name, &h, NULL, NULL)) < 0) {
		unlock_history(lk);
		return r;
	}
	size_t i = 0;
	while (i < h.nsnaps && strcmp(h.snaps[i].tag, tag))
		i++;
	if (i == h.nsnaps) {
		r = vv_err(-ENOENT, "env '%s' has no snapshot '%s'", name, tag);
	} else {
		memmove(h.snaps + i, h.snaps + i + 1, (h.nsnaps - i - 1) * sizeof(*h.snaps));
		h.nsnaps--;
		r = save(st, name, &h);
	}
	vv_history_release(&h);
	unlock_history(lk);
	return r;
}

/* ---- rollback targets ---- */

int vv_history_target(struct vv_store *st, const char *name, const char *target, vv_oid *to,
		      char *desc, size_t descsize)
{
	struct vv_history h;
	int r = vv_history_load(st, name, &h);
	if (r < 0)
		return r;
	uint64_t id = 0;
	if (!target) {
		if (!h.n)
			r = vv_err(-ENOENT, "env '%s' has no history to roll back", name);
		else
			*to = h.ents[h.n - 1].old_root, id = h.ents[h.n - 1].id;
	} else if (parse_u64(target, &id) == 0) {
		size_t i = 0;
		while (i < h.n && h.ents[i].id != id)
			i++;
		if (i == h.n)
			r = vv_err(-ENOENT, "env '%s' has no history entry %s (see `venvctl history "
				   "%s`)", name, target, name);
		else
			*to = h.ents[i].old_root;
	} else {
		size_t i = 0;
		while (i < h.nsnaps && strcmp(h.snaps[i].tag, target))
			i++;
		if (i == h.nsnaps)
			r = vv_err(-ENOENT, "env '%s' has no history entry or snapshot '%s'", name,
				   target);
		else
			*to = h.snaps[i].root;
	}
	vv_history_release(&h);
	if (!target || id)
		snprintf(desc, descsize, "the state before entry %llu", (unsigned long long)id);
	else
		snprintf(desc, descsize, "snapshot '%s'", target);
	return r;
}

/* ---- what changed ---- */

struct dist {
	char canon[256];
	char name[256];
	char version[128];
};

/* "Name-1.0.dist-info" -> name and version; -1 if it is not one. */
static int parse_dist(const char *dn, struct dist *d)
{
	size_t n = strlen(dn), sl = strlen(".dist-info");
	if (n <= sl || strcmp(dn + n - sl, ".dist-info"))
		return -1;
	n -= sl;
	const char *dash = NULL;
	for (size_t i = 0; i < n; i++)
		if (dn[i] == '-')
			dash = dn + i;
	if (!dash || dash == dn || (size_t)(dash - dn) >= sizeof(d->name) ||
	    n - (size_t)(dash - dn) - 1 >= sizeof(d->version) || (size_t)(dash - dn) + 1 == n)
		return -1;
	size_t nl = (size_t)(dash - dn);
	memcpy(d->name, dn, nl);
	d->name[nl] = 0;
	memcpy(d->version, dash + 1, n - nl - 1);
	d->version[n - nl - 1] = 0;
	/* PEP 503: lower case, runs of -_. become one '-' */
	size_t c = 0;
	for (size_t i = 0; i < nl; i++) {
		char ch = (char)tolower((unsigned char)d->name[i]);
		if (ch == '-' || ch == '_' || ch == '.') {
			if (c && d->canon[c - 1] == '-')
				continue;
			ch = '-';
		}
		d->canon[c++] = ch;
	}
	d->canon[c] = 0;
	return 0;
}

static int dist_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dist *)a)->canon, ((const struct dist *)b)->canon);
}

/* Every *.dist-info of every lib/python3.N/site-packages under root, sorted. */
static int list_dists(struct vv_store *st, const vv_oid *root, struct dist **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	struct vv_tree *t = NULL, *lib = NULL;
	int r = vv_tree_get(st, root, &t);
	if (r < 0)
		return r;
	const struct vv_tree_ent *le = vv_tree_find(t, "lib", 3);
	if (le && le->kind == VV_DIR)
		r = vv_tree_get(st, &le->oid, &lib);
	for (size_t i = 0; r == 0 && lib && i < lib->n; i++) {
		const struct vv_tree_ent *pe = &lib->ents[i];
		if (pe->kind != VV_DIR || strncmp(pe->name, "python", 6))
			continue;
		struct vv_tree *py = NULL, *site = NULL;
		if ((r = vv_tree_get(st, &pe->oid, &py)) < 0)
			break;
		const struct vv_tree_ent *se = vv_tree_find(py, "site-packages", 13);
		if (se && se->kind == VV_DIR && (r = vv_tree_get(st, &se->oid, &site)) == 0) {
			for (size_t j = 0; j < site->n && r == 0; j++) {
				struct dist d;
				if (site->ents[j].kind != VV_DIR || parse_dist(site->ents[j].name, &d) < 0)
					continue;
				if ((r = VV_GROW(*out, *n, cap, 16)) == 0)
					(*out)[(*n)++] = d;
			}
			vv_tree_unref(site);
		}
		vv_tree_unref(py);
	}
	if (lib)
		vv_tree_unref(lib);
	vv_tree_unref(t);
	if (r < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
		return r;
	}
	if (*n)
		qsort(*out, *n, sizeof(**out), dist_cmp);
	return 0;
}

void vv_history_diff_free(struct vv_hist_change *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		free(c[i].old_version);
		free(c[i].new_version);
	}
	free(c);
}

static int add_change(struct vv_hist_change **v, size_t *n, size_t *cap, char kind,
		      const char *name, const char *ov, const char *nv)
{
	int r = VV_GROW(*v, *n, *cap, 16);
	if (r < 0)
		return r;
	struct vv_hist_change *c = &(*v)[*n];
	c->kind = kind;
	c->name = strdup(name);
	c->old_version = ov ? strdup(ov) : NULL;
	c->new_version = nv ? strdup(nv) : NULL;
	(*n)++;
	if (!c->name || (ov && !c->old_version) || (nv && !c->new_version))
		return vv_err(-ENOMEM, "out of memory");
	return 0;
}

int vv_history_diff(struct vv_store *st, const vv_oid *old_root, const vv_oid *new_root,
		    struct vv_hist_change **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	struct dist *a = NULL, *b = NULL;
	size_t na = 0, nb = 0, cap = 0;
	int r = list_dists(st, old_root, &a, &na);
	if (r == 0)
		r = list_dists(st, new_root, &b, &nb);
	size_t i = 0, j = 0;
	while (r == 0 && (i < na || j < nb)) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i].canon, b[j].canon);
		if (c < 0) {
			r = add_change(out, nout, &cap, '-', a[i].name, a[i].version, NULL);
			i++;
		} else if (c > 0) {
			r = add_change(out, nout, &cap, '+', b[j].name, NULL, b[j].version);
			j++;
		} else {
			if (strcmp(a[i].version, b[j].version))
				r = add_change(out, nout, &cap, '~', b[j].name, a[i].version,
					       b[j].version);
			i++;
			j++;
		}
	}
	free(a);
	free(b);
	if (r < 0) {
		vv_history_diff_free(*out, *nout);
		*out = NULL;
		*nout = 0;
	}
	return r;
}

int vv_history_roots(const struct vv_history *h, int (*fn)(void *arg, const vv_oid *root),
		     void *arg)
{
	int r = 0;
	for (size_t i = 0; i < h->n && r == 0; i++)
		if ((r = fn(arg, &h->ents[i].old_root)) == 0)
			r = fn(arg, &h->ents[i].new_root);
	for (size_t i = 0; i < h->nsnaps && r == 0; i++)
		r = fn(arg, &h->snaps[i].root);
	return r;
}
