/* inotify: watches the directory ./watched (and ./, after a watch it
 * removed, so watch numbers have a gap), then 20 times, every 100 ms,
 * creates a file in ./watched, writes and closes it, removes the previous
 * one, and prints the events it reads back: they must keep coming, with
 * the same watch numbers, after a thaw. */
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
	if (in < 0 || w1 < 0 || w3 < 0) {
		perror("inotify");
		return 1;
	}
	char ign[256];
	ssize_t n = read(in, ign, sizeof(ign));	/* the IN_IGNORED of the removed watch */
	printf("watches %d and %d (%zd bytes ignored)\n", w1, w3, n);
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
	rmdir("watched");
	expect(IN_DELETE, "watched");
	return 0;
}
