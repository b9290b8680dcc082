/*
 * envlock.h - the writer lock of one env, shared by every daemon and tool on a store.
 *
 * Several venvfs daemons (on one machine, or on hosts sharing the store over NFS) and
 * venvctl may use one store at once. Each env has one writer at a time: whoever
 * changes envs/NAME (a daemon with uncommitted changes, venvctl add, rollback, lock...)
 * holds an open file description lock (fcntl F_OFD_SETLK, a write lock on the whole
 * file) on locks/NAME. OFD locks belong to the open file, not to the process, so no
 * unrelated close() in the process drops them (classic POSIX locks would), a process
 * can refuse itself (two opens conflict), and the kernel drops them when the holder
 * dies; NFSv4 carries them as byte-range locks to the server.
 *
 * locks/NAME is created on demand and never needs to be removed; whoever removes one
 * (an env removed or renamed away, gc) does so while holding it, and a taker checks
 * after locking that the file it locked is still the one linked at locks/NAME (else
 * it locked an unlinked file and retries). The holder writes "PID HOST PROGRAM\n"
 * into it, so a refused writer can say who holds it.
 */
#ifndef VV_ENVLOCK_H
#define VV_ENVLOCK_H

struct vv_store;

/* Take env name's lock without waiting: 0 and *fd (keep it open to hold the lock), or
 * -EBUSY with "env 'NAME' is being changed by PROGRAM pid PID on host HOST (changes not
 * committed yet); try again when it has committed". -EROFS on a read-only store. */
int vv_envlock_take(struct vv_store *st, const char *name, int *fd);

/* The same for a tool about to replace an existing envs/NAME: -ENOENT "no env named
 * 'NAME'" (and no lock file left behind) if there is none. */
int vv_envlock_take_env(struct vv_store *st, const char *name, int *fd);

/* Release a lock taken by vv_envlock_take (fd < 0: nothing). */
void vv_envlock_release(int fd);

/* Remove locks/NAME, then release: for a holder whose env name went away (removed or
 * renamed). */
void vv_envlock_drop(struct vv_store *st, const char *name, int fd);

/* Does anybody hold env name's lock right now? 1 yes, 0 no (also: no lock file), or
 * -errno. Works on read-only stores (a read-only open and F_OFD_GETLK). An fd of the
 * caller's own that holds it counts as held. */
int vv_envlock_held(struct vv_store *st, const char *name);

/* Remove the lock files of names that have no env (each only while holding it, and only
 * if envs/NAME is still missing then). Returns how many were removed, or -errno. */
int vv_envlock_prune(struct vv_store *st);

#endif
