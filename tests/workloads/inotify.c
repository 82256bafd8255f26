/* inotify: watches the directory ./watched (and ./, after a watch it
 * removed, so watch numbers have a gap, and ./tree/a/b/c, a directory it
 * holds no fd of, deep below), then 20 times, every 100 ms, creates a
 * file in ./watched, writes and closes it, removes the previous one, and
 * prints the events it reads back; then makes a file in tree/a/b/c. The
 * events must keep coming, with the same watch numbers, after a thaw. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static int in;

/* Reads events until one with mask WANT on NAME; prints each. */
static int expect(uint32_t want, const char *name)
{
	char buf[4096] __attribute__((aligned(8)));

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			printf("wd %d: %s%s%s%s %s\n", e->wd, e->mask & IN_CREATE ? "create" : "",
			       e->mask & IN_CLOSE_WRITE ? "close-write" : "",
			       e->mask & IN_DELETE ? "delete" : "", e->mask & IN_ISDIR ? " (dir)" : "",
			       e->len ? e->name : "");
			if ((e->mask & want) && e->len && !strcmp(e->name, name))
				return 0;
			p += sizeof(*e) + e->len;
		}
	}
}

int main(void)
{
	char name[32], prev[32] = "", path[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	mkdir("watched", 0700);
	mkdir("gone", 0700);
	in = inotify_init1(IN_CLOEXEC);
	int w1 = inotify_add_watch(in, "watched", IN_CREATE | IN_CLOSE_WRITE | IN_DELETE);
	int w2 = inotify_add_watch(in, "gone", IN_CREATE);
	inotify_rm_watch(in, w2);
	rmdir("gone");
	int w3 = inotify_add_watch(in, ".", IN_CREATE | IN_DELETE | IN_ONLYDIR);
	mkdir("tree", 0700);
	mkdir("tree/a", 0700);
	mkdir("tree/a/b", 0700);
	mkdir("tree/a/b/c", 0700);
	int w4 = inotify_add_watch(in, "tree/a/b/c", IN_CREATE);
	if (in < 0 || w1 < 0 || w3 < 0 || w4 < 0) {
		perror("inotify");
		return 1;
	}
	char ign[256];
	ssize_t n = read(in, ign, sizeof(ign));	/* the IN_IGNORED of the removed watch */
	printf("watches %d, %d and %d (%zd bytes ignored)\n", w1, w3, w4, n);
	for (int i = 1; i <= 20; i++) {
		usleep(100000);
		snprintf(name, sizeof(name), "file%02d", i);
		snprintf(path, sizeof(path), "watched/%s", name);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, name, strlen(name)) < 0 || close(fd) < 0 ||
		    expect(IN_CLOSE_WRITE, name) < 0)
			return 1;
		if (prev[0]) {
			snprintf(path, sizeof(path), "watched/%s", prev);
			if (unlink(path) < 0 || expect(IN_DELETE, prev) < 0)
				return 1;
		}
		strcpy(prev, name);
	}
	snprintf(path, sizeof(path), "watched/%s", prev);
	unlink(path);
	expect(IN_DELETE, prev);
	int fd = open("tree/a/b/c/last", O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || close(fd) < 0 || expect(IN_CREATE, "last") < 0)
		return 1;
	unlink("tree/a/b/c/last");
	rmdir("tree/a/b/c");
	rmdir("tree/a/b");
	rmdir("tree/a");
	rmdir("tree");
	rmdir("watched");
	expect(IN_DELETE, "watched");
	return 0;
}
