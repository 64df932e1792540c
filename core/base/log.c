/* base: the logging API; records fan out to registered sinks (stderr, the store). */
#include "base.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LOG_SINKS_MAX 8

struct log_sink {
	fg_log_sink_cb cb;
	void *ctx;
	enum fg_log_level min_level;
};

static struct log_sink sinks[LOG_SINKS_MAX];
static pthread_mutex_t sinks_lock = PTHREAD_MUTEX_INITIALIZER;
/* A sink that logs (e.g. the store failing while writing a log record) must not recurse. */
static _Thread_local bool in_log;

static const char *const level_names[] = {"debug", "info", "notice", "warning", "error"};

const char *fg_log_level_name(enum fg_log_level level)
{
	if ((unsigned)level > FG_LOG_ERR)
		return "unknown";
	return level_names[level];
}

bool fg_log_level_parse(const char *s, enum fg_log_level *out)
{
	static const struct {
		const char *name;
		enum fg_log_level level;
	} names[] = {
	    {"debug", FG_LOG_DEBUG},  {"info", FG_LOG_INFO}, {"notice", FG_LOG_NOTICE},
	    {"warning", FG_LOG_WARN}, {"warn", FG_LOG_WARN}, {"error", FG_LOG_ERR},
	    {"err", FG_LOG_ERR},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return true;
		}
	}
	return false;
}

int fg_log_add_sink(fg_log_sink_cb cb, void *ctx, enum fg_log_level min_level)
{
	int handle = -1;
	pthread_mutex_lock(&sinks_lock);
	for (int i = 0; i < LOG_SINKS_MAX; i++) {
		if (!sinks[i].cb) {
			sinks[i] = (struct log_sink){cb, ctx, min_level};
			handle = i;
			break;
		}
	}
	pthread_mutex_unlock(&sinks_lock);
	return handle;
}

void fg_log_remove_sink(int handle)
{
	if (handle < 0 || handle >= LOG_SINKS_MAX)
		return;
	pthread_mutex_lock(&sinks_lock);
	sinks[handle] = (struct log_sink){0};
	pthread_mutex_unlock(&sinks_lock);
}

void fg_log_stderr_sink(void *ctx, const struct fg_log_record *rec)
{
	(void)ctx;
	/* journald reads "<N>" syslog priorities from a service's stderr. */
	static const int prio[] = {7, 6, 5, 4, 3};
	if (isatty(STDERR_FILENO)) {
		char when[32];
		fg_format_utc(when, sizeof when, rec->time_ms);
		fprintf(stderr, "%s %-7s %s: %s\n", when, fg_log_level_name(rec->level),
		        rec->subsys, rec->msg);
	} else {
		fprintf(stderr, "<%d>%s: %s\n", prio[rec->level], rec->subsys, rec->msg);
	}
}

void fg_logv(enum fg_log_level level, const char *subsys, const char *fmt, va_list ap)
{
	if (in_log)
		return;
	char msg[FG_LOG_MSG_MAX];
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* Keep one record on one line: control characters from peers never split a line. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	struct fg_log_record rec = {fg_now_ms(), level, subsys, msg};
	struct log_sink copy[LOG_SINKS_MAX];
	pthread_mutex_lock(&sinks_lock);
	memcpy(copy, sinks, sizeof copy);
	pthread_mutex_unlock(&sinks_lock);
	in_log = true;
	for (int i = 0; i < LOG_SINKS_MAX; i++)
		if (copy[i].cb && level >= copy[i].min_level)
			copy[i].cb(copy[i].ctx, &rec);
	in_log = false;
}

void fg_log(enum fg_log_level level, const char *subsys, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fg_logv(level, subsys, fmt, ap);
	va_end(ap);
}
