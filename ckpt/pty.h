/* pty.h: what pty.c, ptydata.c and pgrp.c share about the job's
 * pseudo-terminals: the kernel's termios2 (the speeds too, which glibc's
 * struct termios hides), and moving the bytes queued in a pty. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* struct termios2 of the kernel (asm-generic/termbits.h): what TCGETS2
 * reads and the image keeps. */
struct pty_termios {
	uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
	uint8_t c_line;
	uint8_t c_cc[19];
	uint32_t c_ispeed, c_ospeed;
};

/* A pty's number from a slave's device number (majors 136-143), or -1. */
long pty_index_of_rdev(dev_t rdev);
/* A device number as /proc/PID/stat (tty_nr) and TIOCGDEV give it. */
dev_t pty_decode_dev(unsigned v);
/* ptydata.c: the slave's termios, through the master M (a master's
 * TCGETS2 and TCSETS2 act on its slave); WHAT names the pty in messages. */
int pty_get_termios(int m, struct pty_termios *t, const char *what);
int pty_set_termios(int m, const struct pty_termios *t, const char *what);

/* ptydata.c, the queues. M is the master, S a slave description of our
 * own (opened with O_NONBLOCK), T the slave's termios as the job set it,
 * put back before returning. */
/* Takes what waits to be read from the master (the job's output), in
 * *BUF and *LEN; the master is in packet mode when PACKET. */
int pty_take_output(int m, bool packet, char **buf, size_t *len, const char *what);
/* Takes what waits to be read from the slave (the job's input). */
int pty_take_input(int m, int s, const struct pty_termios *t, char **buf, size_t *len,
		   const char *what);
/* Queues BUF again for the master to read, as the slave wrote it. */
int pty_put_output(int m, int s, const struct pty_termios *t, const char *buf, size_t len,
		   const char *what);
/* Queues BUF again for the slave to read, without echoing or interpreting
 * it a second time. */
int pty_put_input(int m, int s, const struct pty_termios *t, const char *in, size_t len,
		  const char *what);
