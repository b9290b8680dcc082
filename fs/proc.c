/*
 * proc.c - facts about the process behind a FUSE request, from /proc. The kernel gives
 * the caller's thread id; its process (thread group), parent, start time (a reused id
 * names another process) and command name are read here, for the rules that depend on
 * who asks: who makes an env (unborn.c) and who holds a file open (a tool's commit
 * request, ops.c).
 */
#include "fs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t read_proc(int pid, const char *file, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* Thread group (process) and parent process of thread tid; -1 when it is gone. */
int vv_fs_proc_ids(int tid, int *tgid, int *ppid)
{
	char buf[2048];
	if (read_proc(tid, "status", buf, sizeof(buf)) < 0)
		return -1;
	const char *t = strstr(buf, "\nTgid:"), *p = strstr(buf, "\nPPid:");
	if (!t || !p)
		return -1;
	*tgid = atoi(t + 6);
	*ppid = atoi(p + 6);
	return 0;
}

/* Start time of process pid (clock ticks since boot); 0 if it is gone or a zombie. */
uint64_t vv_fs_proc_start(int pid)
{
	char buf[1024];
	if (read_proc(pid, "stat", buf, sizeof(buf)) < 0)
		return 0;
	const char *p = strrchr(buf, ')'); /* the command name may hold anything */
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	/* fields after the name: state is the 3rd field of the line, starttime the 22nd */
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return 0;
		p++;
	}
	return strtoull(p, NULL, 10);
}

void vv_fs_proc_comm(int pid, char *buf, size_t cap)
{
	if (read_proc(pid, "comm", buf, cap) <= 0)
		snprintf(buf, cap, "?");
	buf[strcspn(buf, "\n")] = 0;
}
