/* status: the registry of object states, fault conditions and counters of the engine. */
#ifndef FEDGW_STATUS_H
#define FEDGW_STATUS_H

#include "base/base.h"

#include <stdint.h>

struct db;

/*
 * One registry per process, used from the event loop thread only. Every object
 * (listener, connection, configured domain) has a state, a reason and a since-time; a
 * fault has a condition, a plain-words cause, a fix, raised and cleared times. Objects
 * and counters live in memory and are written to the store by status_flush() (the daemon
 * calls it every second) so the CLI and the console read them from the store; faults are
 * written at once. With no store bound (unit tests) everything stays in memory.
 */

#define STATUS_ID_MAX 128

/* Binds the registry to a store (NULL: memory only) and forgets previous objects. */
void status_init(struct db *db, int64_t now_ms);
void status_shutdown(void);

/* Sets an object's state; since-time moves only when state changes. reason may be "". */
void status_set(const char *id, const char *kind, const char *name, const char *state,
                const char *reason);
/* Optional kind-specific JSON object text for the object (e.g. address, counters). */
void status_set_extra(const char *id, const char *json_object_text);
void status_remove(const char *id);
/* Current state of an object, or NULL if unknown. Borrowed until the next status_* call. */
const char *status_state(const char *id);

struct status_fault_desc {
	const char *object;         /* "console listener 10.0.0.5:8443" */
	const char *condition;      /* "Bind address not available" */
	const char *cause;          /* plain words */
	const char *fix;            /* what to do */
	const char *detail;         /* technical detail, may be NULL */
	enum fg_log_level severity; /* FG_LOG_WARN or FG_LOG_ERR */
};

/* Raises (or refreshes) a fault by stable id; logs it once when it becomes active. */
void status_fault_raise(const char *id, const struct status_fault_desc *desc);
/* Clears an active fault (no-op when not active); logs the clearing. */
void status_fault_clear(const char *id);
/* Clears every active fault whose id starts with prefix (e.g. "cert.expiry.") except the
 * nkeep ids in keep: what a periodic check found still true. */
void status_fault_clear_prefix(const char *prefix, const char *const *keep, size_t nkeep);
bool status_fault_active(const char *id);
size_t status_fault_active_count(void);

void status_counter_add(const char *name, int64_t delta);
int64_t status_counter_get(const char *name);

/* Writes dirty objects and counters to the store. */
void status_flush(int64_t now_ms);

#endif
