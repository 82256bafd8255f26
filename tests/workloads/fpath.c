/* fpath: places in the file tree a program holds. O_PATH fds (rsync keeps
 * them) on a file, a directory, a symlink itself (O_NOFOLLOW), a deleted
 * symlink, a named pipe; a working directory that was removed, and an fd
 * on it, which must stay one directory; an fd on a removed directory
 * whose parent was removed too. After the thaw each has its flags, its
 * kind, its target, its name with " (deleted)", and works as before. */
#include <sys/stat.h>
#include "fwait.h"

struct held {
	const char *name;
	int fd;
	char flags[64], link[4096];
	struct stat st;
};

static void look(struct held *h)
{
	char p[64], line[256];
	ssize_t n;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", h->fd);
	n = readlink(p, h->link, sizeof(h->link) - 1);
	h->link[n > 0 ? n : 0] = 0;
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", h->fd);
	f = fopen(p, "r");
	h->flags[0] = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags:", 6))
			snprintf(h->flags, sizeof(h->flags), "%.60s", line + 6);
	if (f)
		fclose(f);
	fstatat(h->fd, "", &h->st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}

int main(int argc, char **argv)
{
	struct held h[8], now;
	int nh = 0;
	char buf[4096], cwd1[4096];
	ssize_t n;

	fw_init(argc, argv);
	int fd = open(fw_path("file"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fw_need(fd >= 0 && write(fd, "contents", 8) == 8 && close(fd) == 0, "file");
	fw_need(mkdir(fw_path("dir"), 0755) == 0, "dir");
	fd = open(fw_path("dir/inside"), O_WRONLY | O_CREAT, 0644);
	fw_need(fd >= 0 && close(fd) == 0, "dir/inside");
	fw_need(symlink("file", fw_path("link")) == 0 && symlink("nowhere", fw_path("gone")) == 0, "links");
	fw_need(mkfifo(fw_path("fifo"), 0600) == 0, "fifo");

	h[nh++] = (struct held){ .name = "O_PATH file", .fd = open(fw_path("file"), O_PATH) };
	h[nh++] = (struct held){ .name = "O_PATH dir", .fd = open(fw_path("dir"), O_PATH | O_DIRECTORY) };
	h[nh++] = (struct held){ .name = "O_PATH symlink", .fd = open(fw_path("link"), O_PATH | O_NOFOLLOW) };
	h[nh++] = (struct held){ .name = "O_PATH deleted symlink", .fd = open(fw_path("gone"), O_PATH | O_NOFOLLOW) };
	h[nh++] = (struct held){ .name = "O_PATH fifo", .fd = open(fw_path("fifo"), O_PATH) };
	fw_need(unlink(fw_path("gone")) == 0, "unlink gone");

	/* a removed working directory, and an fd on it */
	fw_need(mkdir(fw_path("cwd"), 0750) == 0 && chdir(fw_path("cwd")) == 0, "cwd");
	h[nh++] = (struct held){ .name = "fd on the removed cwd", .fd = open(".", O_RDONLY | O_DIRECTORY) };
	fw_need(rmdir(fw_path("cwd")) == 0, "rmdir cwd");
	n = readlink("/proc/self/cwd", cwd1, sizeof(cwd1) - 1);
	cwd1[n > 0 ? n : 0] = 0;

	/* a removed directory in a removed directory */
	fw_need(mkdir(fw_path("outer"), 0700) == 0 && mkdir(fw_path("outer/sub"), 0700) == 0, "outer");
	h[nh++] = (struct held){ .name = "removed in removed", .fd = open(fw_path("outer/sub"), O_RDONLY | O_DIRECTORY) };
	fw_need(rmdir(fw_path("outer/sub")) == 0 && rmdir(fw_path("outer")) == 0, "rmdir outer");

	for (int i = 0; i < nh; i++) {
		fw_need(h[i].fd >= 0, h[i].name);
		look(&h[i]);
	}

	fw_ready_wait();

	for (int i = 0; i < nh; i++) {
		now = h[i];
		look(&now);
		fw_check(h[i].name, !strcmp(now.link, h[i].link) && !strcmp(now.flags, h[i].flags) &&
			 (now.st.st_mode & S_IFMT) == (h[i].st.st_mode & S_IFMT) &&
			 now.st.st_mode == h[i].st.st_mode && now.st.st_nlink == h[i].st.st_nlink &&
			 now.st.st_size == h[i].st.st_size,
			 "link %s flags %s mode %o nlink %ld; was %s flags %s mode %o nlink %ld", now.link,
			 now.flags, now.st.st_mode, (long)now.st.st_nlink, h[i].link, h[i].flags,
			 h[i].st.st_mode, (long)h[i].st.st_nlink);
	}
	n = readlinkat(h[2].fd, "", buf, sizeof(buf) - 1);
	fw_check("symlink target", n == 4 && !memcmp(buf, "file", 4), "reads %.*s", (int)n, buf);
	n = readlinkat(h[3].fd, "", buf, sizeof(buf) - 1);
	fw_check("deleted symlink target", n == 7 && !memcmp(buf, "nowhere", 7), "reads %.*s", (int)n, buf);
	fd = openat(h[1].fd, "inside", O_RDONLY);
	fw_check("openat in an O_PATH dir", fd >= 0, "%s", strerror(errno));
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", h[0].fd);
	fd = open(p, O_RDONLY);
	fw_check("O_PATH file opened again", fd >= 0 && read(fd, buf, 8) == 8 && !memcmp(buf, "contents", 8),
		 "cannot read it");
	n = readlink("/proc/self/cwd", buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	struct stat c, d;
	fw_check("removed cwd", !strcmp(buf, cwd1) && stat(".", &c) == 0 && fstat(h[5].fd, &d) == 0 &&
		 c.st_ino == d.st_ino && c.st_dev == d.st_dev && c.st_nlink == 0 && (c.st_mode & 0777) == 0750,
		 "cwd %s (was %s), the fd on it another directory, or not removed", buf, cwd1);
	fw_check("removed cwd stays empty", openat(AT_FDCWD, "x", O_CREAT | O_WRONLY, 0600) < 0 &&
		 errno == ENOENT, "a file could be made in it: %s", strerror(errno));
	return fw_done();
}
