/* skplace.h: a place to bind a unix socket whose file was unlinked, when
 * its own place is gone (its directory removed) or not ours (a relative
 * name bound elsewhere than the job's directory now). */
#pragma once

/* Makes a place where NAME (a socket's path, relative or absolute) can be
 * bound: for a relative NAME, a new private directory with NAME's own
 * directories inside it, *CWD set to it (bind from there); for an
 * absolute NAME, the directories missing on its way, *CWD NULL. Returns
 * the topmost directory made (malloc'd), for skplace_remove; NULL on
 * failure, said, or when nothing can be made (errno EEXIST: NAME's
 * directory exists, so the place is not missing but refused). */
char *skplace_make(const char *name, char **cwd);
/* Removes the empty directories under TOP (made by skplace_make), TOP too */
void skplace_remove(const char *top);
