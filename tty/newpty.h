/* newpty.h: a new pseudo-terminal for a job thawed where there is none
 * (--new-pty), relayed to our standard input and output. */
#pragma once
#include <sys/types.h>

/* Returns the terminal side for the job, and starts the relay process. */
int pty_relay_start(pid_t *relay);
/* Waits for the relay to copy what is left (the job has ended). */
void pty_relay_finish(pid_t relay);
