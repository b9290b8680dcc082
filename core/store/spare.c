/*
 * spare.c - stages made ahead of need (odb.h, "spare stages").
 *
 * A file created through the mount needs a stage at once: the journal names it before
 * the first byte is written. Creating a file is the slowest part of a CREATE request
 * (an inode allocation; on ext4 it checks candidate inodes for a recent deletion), so
 * the mount's stager thread keeps a few empty stages ready and a request only pops
 * one. The list is guarded by its own mutex: the stager fills it without the mount's
 * lock, requests take from it under theirs.
 */
#include "store/odb.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

int vv_odb_stage_new(struct vv_odb *odb, char name[VV_ODB_STAGE_SIZE])
{
	int fd = -1;
	pthread_mutex_lock(&odb->spare_lk);
	if (odb->nspare > 0) {
		int i = --odb->nspare;
		fd = odb->spare_fd[i];
		memcpy(name, odb->spare_name[i], VV_ODB_STAGE_SIZE);
	}
	pthread_mutex_unlock(&odb->spare_lk);
	return fd >= 0 ? fd : vv_odb_stage_make(odb, name);
}

int vv_odb_spare_count(struct vv_odb *odb)
{
	pthread_mutex_lock(&odb->spare_lk);
	int n = odb->nspare;
	pthread_mutex_unlock(&odb->spare_lk);
	return n;
}

int vv_odb_spare_fill(struct vv_odb *odb, int want)
{
	if (want > VV_ODB_SPARES)
		want = VV_ODB_SPARES;
	int made = 0;
	while (vv_odb_spare_count(odb) < want) {
		char name[VV_ODB_STAGE_SIZE];
		int fd = vv_odb_stage_make(odb, name); /* without the lock: this is the slow part */
		if (fd < 0)
			return fd;
		pthread_mutex_lock(&odb->spare_lk);
		bool room = odb->nspare < VV_ODB_SPARES;
		if (room) {
			odb->spare_fd[odb->nspare] = fd;
			memcpy(odb->spare_name[odb->nspare], name, VV_ODB_STAGE_SIZE);
			odb->nspare++;
		}
		pthread_mutex_unlock(&odb->spare_lk);
		if (!room) { /* another filler got there first */
			close(fd);
			unlinkat(odb->stagefd, name, 0);
			break;
		}
		made++;
	}
	return made;
}

void vv_odb_spare_drop(struct vv_odb *odb)
{
	if (odb->nspare == 0) /* also a store that failed to open: odb never set up */
		return;
	pthread_mutex_lock(&odb->spare_lk);
	for (int i = 0; i < odb->nspare; i++) {
		close(odb->spare_fd[i]);
		unlinkat(odb->stagefd, odb->spare_name[i], 0);
	}
	odb->nspare = 0;
	pthread_mutex_unlock(&odb->spare_lk);
}
