/*
 * standalone.c - replay a fuzz corpus without libFuzzer, so compilers that lack it
 * still run every saved input through a target's LLVMFuzzerTestOneInput.
 *
 * Usage: fuzz-replay-NAME DIR|FILE...  Directories are read one level deep (entries
 * in sorted order, dot files skipped). Exits non-zero if an argument cannot be read or
 * nothing at all was replayed; a failing input aborts inside the target.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	struct stat s;
	if (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode)) {
		fprintf(stderr, "cannot replay '%s': not a regular file\n", path);
		close(fd);
		return -1;
	}
	size_t cap = (size_t)s.st_size, len = 0;
	/* Exactly-sized heap buffer so the sanitizers see reads past the end. */
	uint8_t *buf = malloc(cap ? cap : 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "cannot open '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (!nn) {
				r = -1;
				break;
			}
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name))) {
			r = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		size_t plen = strlen(dir) + strlen(names[i]) + 2;
		char *p = malloc(plen);
		if (!p) {
			r = -1;
		} else {
			snprintf(p, plen, "%s/%s", dir, names[i]);
			struct stat s;
			if (stat(p, &s) == 0 && S_ISDIR(s.st_mode)) {
				/* one level only */
			} else if (replay_file(p) == 0) {
				(*count)++;
			} else {
				r = -1;
			}
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int bad = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat s;
		if (stat(argv[i], &s) < 0) {
			fprintf(stderr, "cannot stat '%s': %s\n", argv[i], strerror(errno));
			bad = 1;
		} else if (S_ISDIR(s.st_mode)) {
			if (replay_dir(argv[i], &count) < 0)
				bad = 1;
		} else if (replay_file(argv[i]) == 0) {
			count++;
		} else {
			bad = 1;
		}
	}
	fprintf(stderr, "replayed %zu inputs\n", count);
	if (count == 0) {
		fprintf(stderr, "no inputs replayed\n");
		return 1;
	}
	return bad;
}
