/* status: object states, fault conditions and counters; persisted to the store for the
 * console and the CLI. Used from the event loop thread only. */
#include "status/status.h"

#include "db/db.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on what the registry keeps in memory; the engine creates objects per connection,
 * so the cap is generous, and past it new objects are counted but not tracked. */
#define STATUS_OBJECTS_MAX  65536
#define STATUS_COUNTERS_MAX 256
#define STATUS_FAULTS_MAX   1024

struct status_object {
	struct db_status rec;
	bool dirty;
	bool removed;
};

struct status_counter {
	char name[64];
	int64_t value;
};

struct status_fault {
	struct db_fault rec;
	bool active;
};

static struct {
	struct db *db;
	struct status_object *objects;
	size_t nobjects, capobjects;
	struct status_counter counters[STATUS_COUNTERS_MAX];
	size_t ncounters;
	bool counters_dirty;
	struct status_fault *faults;
	size_t nfaults, capfaults;
	int64_t now_ms; /* last time passed in by status_init/status_flush */
} reg;

static int64_t status_clock(void)
{
	/* Objects and faults are stamped with wall time: the console shows dates. */
	return fg_now_ms();
}

static struct status_object *object_find(const char *id)
{
	for (size_t i = 0; i < reg.nobjects; i++)
		if (strcmp(reg.objects[i].rec.id, id) == 0)
			return &reg.objects[i];
	return NULL;
}

static struct status_fault *fault_find(const char *id)
{
	for (size_t i = 0; i < reg.nfaults; i++)
		if (strcmp(reg.faults[i].rec.id, id) == 0)
			return &reg.faults[i];
	return NULL;
}

struct fault_write_ctx {
	const struct db_fault *fault;
};

static enum fg_err fault_write_fn(struct db_txn *txn, void *ctx)
{
	const struct fault_write_ctx *c = ctx;
	return db_fault_put(txn, c->fault);
}

static void fault_persist(const struct db_fault *f)
{
	if (!reg.db)
		return;
	struct fault_write_ctx c = {f};
	enum fg_err err = db_write(reg.db, fault_write_fn, &c);
	if (err)
		fg_log(FG_LOG_ERR, "core", "could not record fault %s: %s", f->id,
		       fg_strerror(err));
}

static enum fg_err init_clear_fn(struct db_txn *txn, void *ctx)
{
	int64_t now = *(const int64_t *)ctx;
	enum fg_err err = db_status_clear_all(txn);
	if (err)
		return err;
	/* Faults still marked active belong to a previous run: the engine raises again what
	 * still holds, within seconds of starting. */
	struct db_fault *faults = NULL;
	size_t n = 0;
	err = db_fault_list(txn, &faults, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n && !err; i++) {
		if (faults[i].cleared_ms == 0) {
			faults[i].cleared_ms = now;
			err = db_fault_put(txn, &faults[i]);
		}
	}
	db_fault_list_free(faults, n);
	if (!err)
		err = db_fault_prune(txn, now - DB_FAULT_CLEARED_KEEP_MS);
	return err;
}

void status_init(struct db *db, int64_t now_ms)
{
	status_shutdown();
	reg.db = db;
	reg.now_ms = now_ms;
	if (db) {
		enum fg_err err = db_write(db, init_clear_fn, &now_ms);
		if (err)
			fg_log(FG_LOG_ERR, "core", "could not reset stored status: %s",
			       fg_strerror(err));
	}
}

void status_shutdown(void)
{
	free(reg.objects);
	free(reg.faults);
	memset(&reg, 0, sizeof reg);
}

void status_set(const char *id, const char *kind, const char *name, const char *state,
                const char *reason)
{
	struct status_object *o = object_find(id);
	if (!o) {
		if (reg.nobjects >= STATUS_OBJECTS_MAX)
			return;
		if (reg.nobjects == reg.capobjects) {
			size_t cap = reg.capobjects ? reg.capobjects * 2 : 32;
			struct status_object *p = realloc(reg.objects, cap * sizeof *p);
			if (!p)
				return;
			reg.objects = p;
			reg.capobjects = cap;
		}
		o = &reg.objects[reg.nobjects++];
		memset(o, 0, sizeof *o);
		fg_strlcpy(o->rec.id, id, sizeof o->rec.id);
	}
	bool changed = o->removed || strcmp(o->rec.state, state) != 0;
	o->removed = false;
	fg_strlcpy(o->rec.kind, kind, sizeof o->rec.kind);
	fg_strlcpy(o->rec.name, name, sizeof o->rec.name);
	if (changed) {
		fg_strlcpy(o->rec.state, state, sizeof o->rec.state);
		o->rec.since_ms = status_clock();
	}
	fg_strlcpy(o->rec.reason, reason ? reason : "", sizeof o->rec.reason);
	o->dirty = true;
}

void status_set_extra(const char *id, const char *json_object_text)
{
	struct status_object *o = object_find(id);
	if (!o)
		return;
	fg_strlcpy(o->rec.extra, json_object_text ? json_object_text : "", sizeof o->rec.extra);
	o->dirty = true;
}

void status_remove(const char *id)
{
	struct status_object *o = object_find(id);
	if (o) {
		o->removed = true;
		o->dirty = true;
	}
}

const char *status_state(const char *id)
{
	struct status_object *o = object_find(id);
	return o && !o->removed ? o->rec.state : NULL;
}

void status_fault_raise(const char *id, const struct status_fault_desc *desc)
{
	struct status_fault *f = fault_find(id);
	if (!f) {
		if (reg.nfaults >= STATUS_FAULTS_MAX)
			return;
		if (reg.nfaults == reg.capfaults) {
			size_t cap = reg.capfaults ? reg.capfaults * 2 : 16;
			struct status_fault *p = realloc(reg.faults, cap * sizeof *p);
			if (!p)
				return;
			reg.faults = p;
			reg.capfaults = cap;
		}
		f = &reg.faults[reg.nfaults++];
		memset(f, 0, sizeof *f);
		fg_strlcpy(f->rec.id, id, sizeof f->rec.id);
	}
	bool was_active = f->active;
	bool same = was_active && strcmp(f->rec.cause, desc->cause) == 0 &&
	            strcmp(f->rec.condition, desc->condition) == 0;
	fg_strlcpy(f->rec.object, desc->object ? desc->object : "", sizeof f->rec.object);
	fg_strlcpy(f->rec.condition, desc->condition, sizeof f->rec.condition);
	fg_strlcpy(f->rec.cause, desc->cause, sizeof f->rec.cause);
	fg_strlcpy(f->rec.fix, desc->fix ? desc->fix : "", sizeof f->rec.fix);
	fg_strlcpy(f->rec.detail, desc->detail ? desc->detail : "", sizeof f->rec.detail);
	f->rec.severity = desc->severity;
	if (!was_active) {
		f->rec.raised_ms = status_clock();
		f->rec.cleared_ms = 0;
		f->active = true;
	}
	if (same)
		return;
	/* Causes are sentences; add the full stop only where the text has none. */
	size_t clen = strlen(f->rec.cause);
	bool stop = clen > 0 && f->rec.cause[clen - 1] != '.';
	fg_log(desc->severity, "fault", "%s: %s%s Fix: %s", f->rec.condition, f->rec.cause,
	       stop ? "." : "", f->rec.fix);
	fault_persist(&f->rec);
}

void status_fault_clear(const char *id)
{
	struct status_fault *f = fault_find(id);
	if (!f || !f->active)
		return;
	f->active = false;
	f->rec.cleared_ms = status_clock();
	fg_log(FG_LOG_NOTICE, "fault", "cleared: %s (%s)", f->rec.condition, f->rec.object);
	fault_persist(&f->rec);
}

void status_fault_clear_prefix(const char *prefix, const char *const *keep, size_t nkeep)
{
	size_t plen = strlen(prefix);
	for (size_t i = 0; i < reg.nfaults; i++) {
		struct status_fault *f = &reg.faults[i];
		if (!f->active || strncmp(f->rec.id, prefix, plen) != 0)
			continue;
		bool kept = false;
		for (size_t k = 0; k < nkeep && !kept; k++)
			kept = strcmp(f->rec.id, keep[k]) == 0;
		if (!kept)
			status_fault_clear(f->rec.id);
	}
}

bool status_fault_active(const char *id)
{
	struct status_fault *f = fault_find(id);
	return f && f->active;
}

size_t status_fault_active_count(void)
{
	size_t n = 0;
	for (size_t i = 0; i < reg.nfaults; i++)
		n += reg.faults[i].active;
	return n;
}

void status_counter_add(const char *name, int64_t delta)
{
	for (size_t i = 0; i < reg.ncounters; i++) {
		if (strcmp(reg.counters[i].name, name) == 0) {
			reg.counters[i].value += delta;
			reg.counters_dirty = true;
			return;
		}
	}
	if (reg.ncounters >= STATUS_COUNTERS_MAX)
		return;
	struct status_counter *c = &reg.counters[reg.ncounters++];
	fg_strlcpy(c->name, name, sizeof c->name);
	c->value = delta;
	reg.counters_dirty = true;
}

int64_t status_counter_get(const char *name)
{
	for (size_t i = 0; i < reg.ncounters; i++)
		if (strcmp(reg.counters[i].name, name) == 0)
			return reg.counters[i].value;
	return 0;
}

static enum fg_err flush_fn(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	enum fg_err err = FG_OK;
	for (size_t i = 0; i < reg.nobjects && !err; i++) {
		struct status_object *o = &reg.objects[i];
		if (!o->dirty)
			continue;
		if (o->removed) {
			err = db_status_del(txn, o->rec.id);
			if (err == FG_ERR_NOTFOUND)
				err = FG_OK;
		} else {
			err = db_status_put(txn, &o->rec);
		}
	}
	if (!err && reg.counters_dirty) {
		json_t *obj = json_object();
		for (size_t i = 0; i < reg.ncounters; i++)
			json_object_set_new(obj, reg.counters[i].name,
			                    json_integer(reg.counters[i].value));
		char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(obj);
		struct db_status st = {0};
		fg_strlcpy(st.id, "counters", sizeof st.id);
		fg_strlcpy(st.kind, "counters", sizeof st.kind);
		fg_strlcpy(st.name, "counters", sizeof st.name);
		fg_strlcpy(st.state, "running", sizeof st.state);
		st.since_ms = reg.now_ms;
		if (text && !fg_strlcpy(st.extra, text, sizeof st.extra))
			fg_strlcpy(st.extra, "{}", sizeof st.extra); /* too many to fit: drop */
		free(text);
		err = db_status_put(txn, &st);
	}
	return err;
}

void status_flush(int64_t now_ms)
{
	reg.now_ms = now_ms;
	if (!reg.db)
		return;
	bool any = reg.counters_dirty;
	for (size_t i = 0; i < reg.nobjects && !any; i++)
		any = reg.objects[i].dirty;
	if (!any)
		return;
	enum fg_err err = db_write(reg.db, flush_fn, NULL);
	if (err) {
		fg_log(FG_LOG_ERR, "core", "could not write status to the store: %s",
		       fg_strerror(err));
		return;
	}
	/* Compact: drop removed objects, mark the rest clean. */
	size_t w = 0;
	for (size_t i = 0; i < reg.nobjects; i++) {
		if (reg.objects[i].removed)
			continue;
		reg.objects[i].dirty = false;
		reg.objects[w++] = reg.objects[i];
	}
	reg.nobjects = w;
	reg.counters_dirty = false;
}
