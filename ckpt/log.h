/* log.h: the engine's one error-reporting idiom.
 * Messages name the process, the object and the syscall; pr_perror adds errno. */
#pragma once
#include <errno.h>
#include <stdarg.h>

enum log_level { LOG_ERROR = 1, LOG_WARN = 2, LOG_INFO = 3, LOG_DEBUG = 4 };

/* The log sink is process-wide on purpose: forked helpers of a restore keep
 * writing to the same place. Everything else in ckpt/ hangs off a context. */
void log_set_level(int level);
int  log_get_level(void);
/* Sends messages to fd (default 2). The fd is not closed by the engine. */
void log_set_fd(int fd);
int  log_get_fd(void);
/* A prefix such as "restore[init]" shown before each message (may be NULL). */
void log_set_prefix(const char *prefix);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap);

#define pr_err(fmt, ...)   log_msg(LOG_ERROR, "error: " fmt "\n", ##__VA_ARGS__)
#define pr_warn(fmt, ...)  log_msg(LOG_WARN, "warning: " fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...)  log_msg(LOG_INFO, fmt "\n", ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_msg(LOG_DEBUG, fmt "\n", ##__VA_ARGS__)
/* Like pr_err, with ": strerror(errno)" appended; errno is preserved. */
#define pr_perror(fmt, ...) do { int __e = errno; \
		log_msg(LOG_ERROR, "error: " fmt ": %s\n", ##__VA_ARGS__, strerror(__e)); \
		errno = __e; } while (0)
