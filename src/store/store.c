/*  anchord - store/store.c: the SQLite store.
 *
 *  WAL journal with synchronous=FULL: a committed transaction survives
 *  the process being killed at any moment (it sits in the WAL, which the
 *  next open replays) and, the WAL being synced at each commit, the loss
 *  of power too: a certificate is answered only after its commit, and one
 *  the store forgot could never be revoked. Writers do not block readers. Several anchord
 *  workers and anchorctl use the file at once; the busy timeout makes them
 *  queue for the write lock instead of failing.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
#define CACHED_STATEMENTS 96

/* Statements are prepared once per connection and reset after each use:
 * parsing SQL cost an enrollment more than running it. They are keyed by
 * the address of their text, which is always a literal here. */
struct cached {
	const char *sql;
	sqlite3_stmt *st;
};

struct store {
	sqlite3 *db;
	struct cached cache[CACHED_STATEMENTS];
	char err[256];
};

/* ------------------------------------------------------------------ schema */

/* Each step brings the schema from version i to i + 1; never edit one
 * that has shipped, add the next. */
static const char *const migrations[] = {
	/* 1: certificates, tokens, EST users, pending approvals, audit */
	"CREATE TABLE certificates ("
	"  serial TEXT PRIMARY KEY,"
	"  subject TEXT NOT NULL,"
	"  spki TEXT NOT NULL,"
	"  identity TEXT NOT NULL,"
	"  profile TEXT NOT NULL DEFAULT '',"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  issued_at INTEGER NOT NULL,"
	"  revoked_at INTEGER NOT NULL DEFAULT 0,"
	"  reason INTEGER NOT NULL DEFAULT 0,"
	"  der BLOB NOT NULL);"
	"CREATE INDEX certificates_spki ON certificates(spki);"
	"CREATE TABLE tokens ("
	"  hash BLOB PRIMARY KEY,"
	"  purpose TEXT NOT NULL,"
	"  profile TEXT NOT NULL DEFAULT '',"
	"  device TEXT NOT NULL DEFAULT '',"
	"  expires INTEGER NOT NULL,"
	"  used_at INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE est_users ("
	"  name TEXT PRIMARY KEY,"
	"  hash TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE pending ("
	"  id INTEGER PRIMARY KEY,"
	"  identity TEXT NOT NULL,"
	"  spki TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  requested_at INTEGER NOT NULL,"
	"  approved_at INTEGER NOT NULL DEFAULT 0,"
	"  denied_at INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (identity, spki));"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  detail TEXT NOT NULL);"
	/* Append-only means append-only, whoever holds the file. */
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
	/* 2: enrollment: OPAQUE users, one-time codes, devices, back-off */
	"CREATE TABLE users ("
	"  name TEXT PRIMARY KEY,"
	"  record BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE codes ("
	"  id TEXT PRIMARY KEY,"
	"  secret BLOB NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  profile TEXT NOT NULL DEFAULT '',"
	"  device TEXT NOT NULL DEFAULT '',"
	"  user TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  used_at INTEGER NOT NULL DEFAULT 0,"
	"  revoked_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE devices ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  profile TEXT NOT NULL DEFAULT '',"
	"  owner TEXT NOT NULL,"
	"  address TEXT NOT NULL DEFAULT '',"
	"  enrolled_at INTEGER NOT NULL,"
	"  revoked_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE backoff ("
	"  key TEXT PRIMARY KEY,"
	"  failures INTEGER NOT NULL,"
	"  last_at INTEGER NOT NULL,"
	"  until INTEGER NOT NULL);",
	/* 3: MUD: which address has which MUD URL, the last good files */
	"CREATE TABLE mud_bindings ("
	"  address TEXT PRIMARY KEY,"
	"  url TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE mud_files ("
	"  url TEXT PRIMARY KEY,"
	"  body BLOB NOT NULL,"
	"  signature BLOB,"
	"  signer TEXT NOT NULL DEFAULT '',"
	"  fetched_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL);"
	"CREATE TABLE mud_changes (n INTEGER NOT NULL);"
	"INSERT INTO mud_changes VALUES (0);"
	"CREATE TRIGGER mud_bind_add AFTER INSERT ON mud_bindings "
	"  BEGIN UPDATE mud_changes SET n = n + 1; END;"
	"CREATE TRIGGER mud_bind_set AFTER UPDATE ON mud_bindings "
	"  BEGIN UPDATE mud_changes SET n = n + 1; END;"
	"CREATE TRIGGER mud_bind_del AFTER DELETE ON mud_bindings "
	"  BEGIN UPDATE mud_changes SET n = n + 1; END;",
	/* 4: which IDevIDs (802.1AR) may enroll: by issuer, serial, pattern */
	"CREATE TABLE iot_allow ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  issuer TEXT NOT NULL,"
	"  serial TEXT NOT NULL,"
	"  pattern INTEGER NOT NULL,"
	"  profile TEXT NOT NULL,"
	"  added_at INTEGER NOT NULL);",
};

int store_schema_version(void)
{
	return (int)ARRAY_SIZE(migrations);
}

/* Which step of SQLite's I/O failed: "disk I/O error" alone does not
 * tell a full, read-only or broken disk apart. */
static const char *io_step(int extended)
{
	switch (extended) {
	case SQLITE_IOERR_READ: case SQLITE_IOERR_SHORT_READ: return "read";
	case SQLITE_IOERR_WRITE: return "write";
	case SQLITE_IOERR_FSYNC: case SQLITE_IOERR_DIR_FSYNC: return "fsync";
	case SQLITE_IOERR_TRUNCATE: return "truncate";
	case SQLITE_IOERR_SHMOPEN: case SQLITE_IOERR_SHMSIZE:
	case SQLITE_IOERR_SHMMAP: case SQLITE_IOERR_SHMLOCK:
		return "shared-memory index";
	default: return NULL;
	}
}

/* SQLite's message, with what the system said when it is known. */
static void describe(sqlite3 *db, char *out, size_t cap)
{
	int ext = sqlite3_extended_errcode(db), sys = sqlite3_system_errno(db);
	int code = ext & 0xff;
	const char *step = code == SQLITE_IOERR ? io_step(ext) : NULL;
	bool os = code == SQLITE_IOERR || code == SQLITE_FULL ||
		  code == SQLITE_READONLY;
	snprintf(out, cap, "%s%s%s%s%s%s", sqlite3_errmsg(db),
		 step || (os && sys > 0) ? " (" : "", step ? step : "",
		 step && os && sys > 0 ? ": " : "",
		 os && sys > 0 ? strerror(sys) : "",
		 step || (os && sys > 0) ? ")" : "");
}

static int fail(struct store *s, const char *what)
{
	char why[192];
	describe(s->db, why, sizeof(why));
	snprintf(s->err, sizeof(s->err), "%s: %s", what, why);
	return -1;
}

const char *store_error(const struct store *s)
{
	return s->err;
}

static int exec(struct store *s, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	sqlite3_free(msg);	/* the connection's message says as much */
	describe(s->db, s->err, sizeof(s->err));
	return -1;
}

static int user_version(struct store *s, int *v)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL))
		return fail(s, "schema version");
	int ret = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
	*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return ret == 0 ? 0 : fail(s, "schema version");
}

static int migrate(struct store *s)
{
	int v;
	if (exec(s, "BEGIN IMMEDIATE") != 0)
		return -1;
	if (user_version(s, &v) != 0)
		goto rollback;
	if (v > store_schema_version()) {
		snprintf(s->err, sizeof(s->err), "the store has schema %d, "
			 "newer than this anchord knows (%d)", v,
			 store_schema_version());
		goto rollback;
	}
	for (; v < store_schema_version(); v++) {
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
			 v + 1);
		if (exec(s, migrations[v]) != 0 || exec(s, pragma) != 0)
			goto rollback;
	}
	return exec(s, "COMMIT");
rollback:
	exec(s, "ROLLBACK");
	return -1;
}

/* Create the file 0600 ourselves: SQLite would honour the umask, and the
 * WAL and shared-memory files copy the database file's mode.
 *
 * Only ever open and close a file that did not exist: closing any
 * descriptor of a file drops every POSIX lock this process holds on it,
 * including the shared lock by which another connection of ours tells
 * SQLite it is still in use. Without that lock the next outside process
 * to close the database thinks it is the last, checkpoints and deletes
 * the WAL, and our later commits go to a deleted file. */
static int create_private(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* SQLite quietly opens a file it may not write read-only; the store
 * would then fail later, on its first change, and less clearly. */
static int check_writable(struct store *s, const char *path)
{
	if (sqlite3_db_readonly(s->db, "main") != 1)
		return 0;
	snprintf(s->err, sizeof(s->err), "cannot write it (%s)",
		 access(path, W_OK) != 0 ? strerror(errno) : "read-only");
	return -1;
}

int store_open(const char *path, struct store **out, char *err,
	       size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (create_private(path, err, errlen) != 0) {
		free(s);
		return -1;
	}
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK ||
	    check_writable(s, path) != 0 ||
	    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK ||
	    /* temporary tables in memory: anchord's sandbox lets it write
	     * in the state directory only, not in /tmp */
	    exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
		    "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;") != 0 ||
	    migrate(s) != 0) {
		if (!s->err[0] && s->db)
			describe(s->db, s->err, sizeof(s->err));
		snprintf(err, errlen, "%s: %s", path,
			 s->err[0] ? s->err : "out of memory");
		store_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < CACHED_STATEMENTS; i++)
		sqlite3_finalize(s->cache[i].st);
	sqlite3_close_v2(s->db);
	free(s);
}

static sqlite3_stmt *prepare(struct store *s, const char *sql,
			     const char *types, ...);
static int run(struct store *s, sqlite3_stmt *st, const char *what);

int store_begin(struct store *s)
{
	return run(s, prepare(s, "BEGIN IMMEDIATE", ""), "begin");
}

int store_commit(struct store *s)
{
	return run(s, prepare(s, "COMMIT", ""), "commit");
}

bool store_in_transaction(struct store *s)
{
	return !sqlite3_get_autocommit(s->db);
}

/* Cleanup after a failure: it keeps the error that caused it (a ROLLBACK
 * after SQLITE_FULL would otherwise report "no transaction is active"),
 * and does nothing when SQLite already rolled the transaction back, as it
 * may on SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM. */
static void undo_quietly(struct store *s, const char *const *sql, size_t n)
{
	if (!store_in_transaction(s))
		return;
	char cause[sizeof(s->err)];
	memcpy(cause, s->err, sizeof(cause));
	for (size_t i = 0; i < n; i++)
		run(s, prepare(s, sql[i], ""), "rollback");
	memcpy(s->err, cause, sizeof(cause));
}

void store_rollback(struct store *s)
{
	static const char *const sql[] = { "ROLLBACK" };
	undo_quietly(s, sql, ARRAY_SIZE(sql));
}

int store_savepoint(struct store *s)
{
	return run(s, prepare(s, "SAVEPOINT part", ""), "savepoint");
}

int store_keep(struct store *s)
{
	return run(s, prepare(s, "RELEASE part", ""), "savepoint");
}

void store_undo(struct store *s)
{
	/* back to the savepoint, which the release then ends */
	static const char *const sql[] = { "ROLLBACK TO part", "RELEASE part" };
	undo_quietly(s, sql, ARRAY_SIZE(sql));
}

/* ------------------------------------------------------------------ statements */

/* Prepare, bind by a format of 's' (text), 'i' (int64), 'b' (blob: pointer
 * and size_t), 'h' (32-byte blob). */
/* Back to the cache, bindings cleared (a statement that is not cached,
 * for want of room, is finalized). */
static void release(struct store *s, sqlite3_stmt *st)
{
	for (size_t i = 0; i < CACHED_STATEMENTS; i++)
		if (s->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);
}

static sqlite3_stmt *cached_statement(struct store *s, const char *sql)
{
	size_t i = 0;
	for (; i < CACHED_STATEMENTS && s->cache[i].sql; i++)
		if (s->cache[i].sql == sql)
			return s->cache[i].st;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
			       NULL) != SQLITE_OK) {
		fail(s, "prepare");
		return NULL;
	}
	if (i < CACHED_STATEMENTS)
		s->cache[i] = (struct cached){ sql, st };
	return st;
}

static sqlite3_stmt *prepare(struct store *s, const char *sql,
			     const char *types, ...)
{
	sqlite3_stmt *st = cached_statement(s, sql);
	if (!st)
		return NULL;
	va_list ap;
	va_start(ap, types);
	int rc = SQLITE_OK;
	for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
		if (types[i] == 's') {
			rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *),
					       -1, SQLITE_TRANSIENT);
		} else if (types[i] == 'i') {
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		} else if (types[i] == 'h') {
			rc = sqlite3_bind_blob(st, i + 1, va_arg(ap, const void *),
					       32, SQLITE_TRANSIENT);
		} else {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			rc = sqlite3_bind_blob(st, i + 1, p, (int)n,
					       SQLITE_TRANSIENT);
		}
	}
	va_end(ap);
	if (rc != SQLITE_OK) {
		fail(s, "bind");
		release(s, st);
		return NULL;
	}
	return st;
}

/* Run a statement that returns no rows. */
static int run(struct store *s, sqlite3_stmt *st, const char *what)
{
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE ? 0 : fail(s, what);
	release(s, st);
	return ret;
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* Step through a query's rows, handing each to visit until it returns
 * non-zero (which is returned). */
typedef int (*row_fn)(void *arg, sqlite3_stmt *st);

static int each_row(struct store *s, sqlite3_stmt *st, row_fn visit,
		    void *arg, const char *what)
{
	if (!st)
		return -1;
	int rc = SQLITE_DONE, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ret = visit(arg, st);
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(s, what);
	release(s, st);
	return ret;
}

/* A typed callback and its context, for the row visitors below. */
struct visit {
	union {
		store_mud_binding_fn binding;
		store_mud_file_fn mud_file;
		store_user_fn user;
		store_code_fn code;
		store_device_fn device;
		store_pending_fn pending;
		store_iot_allow_fn iot_allow;
	} fn;
	void *ctx;
};

/* ------------------------------------------------------------------ certificates */

int store_cert_add(struct store *s, const struct store_cert *c,
		   const uint8_t *der, size_t len)
{
	sqlite3_stmt *st = prepare(s,
		"INSERT INTO certificates (serial, subject, spki, identity, "
		"profile, not_before, not_after, issued_at, der) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", "sssssiiib", c->serial,
		c->subject, c->spki, c->identity, c->profile, c->not_before,
		c->not_after, c->issued_at, der, len);
	return run(s, st, "recording a certificate");
}

static void read_cert(sqlite3_stmt *st, struct store_cert *c)
{
	copy_text(c->serial, sizeof(c->serial), st, 0);
	copy_text(c->subject, sizeof(c->subject), st, 1);
	copy_text(c->spki, sizeof(c->spki), st, 2);
	copy_text(c->identity, sizeof(c->identity), st, 3);
	copy_text(c->profile, sizeof(c->profile), st, 4);
	c->not_before = sqlite3_column_int64(st, 5);
	c->not_after = sqlite3_column_int64(st, 6);
	c->issued_at = sqlite3_column_int64(st, 7);
	c->revoked_at = sqlite3_column_int64(st, 8);
	c->reason = sqlite3_column_int(st, 9);
}

#define CERT_COLUMNS "serial, subject, spki, identity, profile, not_before, " \
		     "not_after, issued_at, revoked_at, reason, der"

int store_cert_get(struct store *s, const char *serial, struct store_cert *c,
		   uint8_t **der, size_t *len)
{
	sqlite3_stmt *st = prepare(s, "SELECT " CERT_COLUMNS " FROM "
				   "certificates WHERE serial = ?", "s", serial);
	if (!st)
		return -1;
	int rc = sqlite3_step(st), ret = 1;
	if (rc == SQLITE_ROW) {
		read_cert(st, c);
		ret = 0;
		if (der) {
			int n = sqlite3_column_bytes(st, 10);
			*der = malloc((size_t)n + 1);
			if (*der)
				memcpy(*der, sqlite3_column_blob(st, 10),
				       (size_t)n);
			*len = (size_t)n;
			ret = *der ? 0 : -1;
		}
	} else if (rc != SQLITE_DONE) {
		ret = fail(s, "looking up a certificate");
	}
	release(s, st);
	return ret;
}

int store_cert_revoke(struct store *s, const char *serial, int reason,
		      int64_t now)
{
	sqlite3_stmt *st = prepare(s, "UPDATE certificates SET revoked_at = ?, "
				   "reason = ? WHERE serial = ? AND "
				   "revoked_at = 0", "iis", now,
				   (int64_t)reason, serial);
	if (run(s, st, "revoking a certificate") != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

int store_cert_each(struct store *s, bool revoked_only, store_cert_fn fn,
		    void *ctx)
{
	sqlite3_stmt *st = prepare(s, revoked_only
		? "SELECT " CERT_COLUMNS " FROM certificates WHERE "
		  "revoked_at != 0 ORDER BY issued_at DESC"
		: "SELECT " CERT_COLUMNS " FROM certificates "
		  "ORDER BY issued_at DESC", "");
	if (!st)
		return -1;
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_cert c;
		read_cert(st, &c);
		ret = fn(ctx, &c);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(s, "listing certificates");
	release(s, st);
	return ret;
}

int store_revocation_mark(struct store *s, int64_t *mark)
{
	sqlite3_stmt *st = prepare(s, "SELECT COUNT(*) * 1000003 + "
				   "COALESCE(MAX(revoked_at), 0) FROM "
				   "certificates WHERE revoked_at != 0", "");
	if (!st)
		return -1;
	int ret = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
	*mark = sqlite3_column_int64(st, 0);
	release(s, st);
	return ret == 0 ? 0 : fail(s, "revocations");
}

/* ------------------------------------------------------------------ tokens */

int store_token_add(struct store *s, const uint8_t hash[32],
		    const struct store_token *t)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO tokens (hash, purpose, "
				   "profile, device, expires, created_at) "
				   "VALUES (?, ?, ?, ?, ?, ?)", "hsssii", hash,
				   t->purpose, t->profile, t->device, t->expires,
				   (int64_t)time(NULL));
	return run(s, st, "storing a token");
}

static int read_token_row(struct store *s, sqlite3_stmt *st,
			  struct store_token *out, const char *what)
{
	if (!st)
		return -1;
	int rc = sqlite3_step(st), ret = 1;
	if (rc == SQLITE_ROW) {
		copy_text(out->purpose, sizeof(out->purpose), st, 0);
		copy_text(out->profile, sizeof(out->profile), st, 1);
		copy_text(out->device, sizeof(out->device), st, 2);
		out->expires = sqlite3_column_int64(st, 3);
		ret = 0;
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		ret = fail(s, what);
	release(s, st);
	return ret;
}

int store_token_peek(struct store *s, const uint8_t hash[32], int64_t now,
		     struct store_token *out)
{
	sqlite3_stmt *st = prepare(s, "SELECT purpose, profile, device, "
				   "expires FROM tokens WHERE hash = ? AND "
				   "used_at = 0 AND expires > ?", "hi", hash,
				   now);
	return read_token_row(s, st, out, "looking up a token");
}

int store_token_use(struct store *s, const uint8_t hash[32], int64_t now,
		    struct store_token *out)
{
	/* One statement: two requests racing for the same token cannot
	 * both win. */
	sqlite3_stmt *st = prepare(s, "UPDATE tokens SET used_at = ? WHERE "
				   "hash = ? AND used_at = 0 AND expires > ? "
				   "RETURNING purpose, profile, device, expires",
				   "ihi", now, hash, now);
	return read_token_row(s, st, out, "using a token");
}

/* ------------------------------------------------------------------ EST users */

int store_est_user_set(struct store *s, const char *name, const char *hash)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO est_users (name, hash, "
				   "created_at) VALUES (?, ?, ?) ON CONFLICT "
				   "(name) DO UPDATE SET hash = excluded.hash",
				   "ssi", name, hash, (int64_t)time(NULL));
	return run(s, st, "storing an EST user");
}

int store_est_user_get(struct store *s, const char *name, char *hash,
		       size_t cap)
{
	sqlite3_stmt *st = prepare(s, "SELECT hash FROM est_users WHERE "
				   "name = ?", "s", name);
	if (!st)
		return -1;
	int rc = sqlite3_step(st), ret = 1;
	if (rc == SQLITE_ROW) {
		copy_text(hash, cap, st, 0);
		ret = 0;
	} else if (rc != SQLITE_DONE) {
		ret = fail(s, "looking up an EST user");
	}
	release(s, st);
	return ret;
}

int store_est_user_del(struct store *s, const char *name)
{
	sqlite3_stmt *st = prepare(s, "DELETE FROM est_users WHERE name = ?",
				   "s", name);
	if (run(s, st, "removing an EST user") != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

int store_est_user_each(struct store *s, store_name_fn fn, void *ctx)
{
	sqlite3_stmt *st = prepare(s, "SELECT name FROM est_users ORDER BY "
				   "name", "");
	if (!st)
		return -1;
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ret = fn(ctx, (const char *)sqlite3_column_text(st, 0));
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(s, "listing EST users");
	release(s, st);
	return ret;
}

/* ------------------------------------------------------------------ pending */

static void read_pending(sqlite3_stmt *st, struct store_pending *p)
{
	p->id = sqlite3_column_int64(st, 0);
	copy_text(p->identity, sizeof(p->identity), st, 1);
	copy_text(p->spki, sizeof(p->spki), st, 2);
	copy_text(p->subject, sizeof(p->subject), st, 3);
	p->requested_at = sqlite3_column_int64(st, 4);
	p->approved_at = sqlite3_column_int64(st, 5);
	p->denied_at = sqlite3_column_int64(st, 6);
}

#define PENDING_COLUMNS "id, identity, spki, subject, requested_at, " \
			"approved_at, denied_at"

int store_pending_find(struct store *s, const char *identity,
		       const char *spki, struct store_pending *out)
{
	sqlite3_stmt *st = prepare(s, "SELECT " PENDING_COLUMNS " FROM pending "
				   "WHERE identity = ? AND spki = ?", "ss",
				   identity, spki);
	if (!st)
		return -1;
	int rc = sqlite3_step(st), ret = 1;
	if (rc == SQLITE_ROW) {
		read_pending(st, out);
		ret = 0;
	} else if (rc != SQLITE_DONE) {
		ret = fail(s, "looking up a pending request");
	}
	release(s, st);
	return ret;
}

int store_pending_add(struct store *s, struct store_pending *p)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO pending (identity, spki, "
				   "subject, requested_at) VALUES (?, ?, ?, ?)",
				   "sssi", p->identity, p->spki, p->subject,
				   p->requested_at);
	if (run(s, st, "recording a pending request") != 0)
		return -1;
	p->id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_pending_decide(struct store *s, int64_t id, bool approve,
			 int64_t now)
{
	sqlite3_stmt *st = prepare(s, approve
		? "UPDATE pending SET approved_at = ? WHERE id = ? AND "
		  "approved_at = 0 AND denied_at = 0"
		: "UPDATE pending SET denied_at = ? WHERE id = ? AND "
		  "approved_at = 0 AND denied_at = 0", "ii", now, id);
	if (run(s, st, "deciding a pending request") != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

int store_pending_remove(struct store *s, int64_t id)
{
	sqlite3_stmt *st = prepare(s, "DELETE FROM pending WHERE id = ?", "i",
				   id);
	return run(s, st, "removing a pending request");
}

static int visit_pending(void *arg, sqlite3_stmt *st)
{
	const struct visit *v = arg;
	struct store_pending p;
	read_pending(st, &p);
	return v->fn.pending(v->ctx, &p);
}

int store_pending_each(struct store *s, store_pending_fn fn, void *ctx)
{
	struct visit v = { .fn.pending = fn, .ctx = ctx };
	return each_row(s, prepare(s, "SELECT " PENDING_COLUMNS " FROM pending "
				   "ORDER BY id", ""),
			visit_pending, &v, "listing pending requests");
}

/* ------------------------------------------------------------------ audit */

int store_audit(struct store *s, const char *actor, const char *action,
		const char *detail)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO audit (at, actor, action, "
				   "detail) VALUES (?, ?, ?, ?)", "isss",
				   (int64_t)time(NULL), actor, action, detail);
	return run(s, st, "writing the audit log");
}

int store_audit_each(struct store *s, int64_t after_id, store_audit_fn fn,
		     void *ctx)
{
	sqlite3_stmt *st = prepare(s, "SELECT id, at, actor, action, detail "
				   "FROM audit WHERE id > ? ORDER BY id", "i",
				   after_id);
	if (!st)
		return -1;
	int rc, ret = 0;
	while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_audit_entry e;
		e.id = sqlite3_column_int64(st, 0);
		e.at = sqlite3_column_int64(st, 1);
		copy_text(e.actor, sizeof(e.actor), st, 2);
		copy_text(e.action, sizeof(e.action), st, 3);
		copy_text(e.detail, sizeof(e.detail), st, 4);
		ret = fn(ctx, &e);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fail(s, "reading the audit log");
	release(s, st);
	return ret;
}

/* ------------------------------------------------------------------ OPAQUE users */

int store_user_set(struct store *s, const char *name,
		   const uint8_t record[STORE_RECORD_BYTES], bool replace)
{
	int64_t now = time(NULL);
	sqlite3_stmt *st = prepare(s, replace
		? "INSERT INTO users (name, record, created_at, updated_at) "
		  "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
		  "record = excluded.record, updated_at = excluded.updated_at"
		: "INSERT INTO users (name, record, created_at, updated_at) "
		  "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
		"sbii", name, record, (size_t)STORE_RECORD_BYTES, now, now);
	if (run(s, st, "storing a user") != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

int store_user_get(struct store *s, const char *name,
		   uint8_t record[STORE_RECORD_BYTES])
{
	sqlite3_stmt *st = prepare(s, "SELECT record FROM users WHERE name = ?",
				   "s", name);
	if (!st)
		return -1;
	int rc = sqlite3_step(st), ret = 1;
	if (rc == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == STORE_RECORD_BYTES) {
		memcpy(record, sqlite3_column_blob(st, 0), STORE_RECORD_BYTES);
		ret = 0;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = fail(s, "looking up a user");
	}
	release(s, st);
	return ret;
}

int store_user_del(struct store *s, const char *name)
{
	sqlite3_stmt *st = prepare(s, "DELETE FROM users WHERE name = ?", "s",
				   name);
	if (run(s, st, "removing a user") != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

static int visit_user(void *arg, sqlite3_stmt *st)
{
	const struct visit *v = arg;
	struct store_user u;
	copy_text(u.name, sizeof(u.name), st, 0);
	u.created_at = sqlite3_column_int64(st, 1);
	u.updated_at = sqlite3_column_int64(st, 2);
	return v->fn.user(v->ctx, &u);
}

int store_user_each(struct store *s, store_user_fn fn, void *ctx)
{
	struct visit v = { .fn.user = fn, .ctx = ctx };
	return each_row(s, prepare(s, "SELECT name, created_at, updated_at "
				   "FROM users ORDER BY name", ""),
			visit_user, &v, "listing users");
}

/* ------------------------------------------------------------------ codes */

#define CODE_COLUMNS "id, secret, purpose, profile, device, user, " \
		     "created_at, expires, failures, used_at, revoked_at"

static void read_code(sqlite3_stmt *st, struct store_code *c)
{
	copy_text(c->id, sizeof(c->id), st, 0);
	int n = sqlite3_column_bytes(st, 1);
	c->secret_len = n > 0 && (size_t)n <= sizeof(c->secret) ? (size_t)n : 0;
	if (c->secret_len)
		memcpy(c->secret, sqlite3_column_blob(st, 1), c->secret_len);
	copy_text(c->purpose, sizeof(c->purpose), st, 2);
	copy_text(c->profile, sizeof(c->profile), st, 3);
	copy_text(c->device, sizeof(c->device), st, 4);
	copy_text(c->user, sizeof(c->user), st, 5);
	c->created_at = sqlite3_column_int64(st, 6);
	c->expires = sqlite3_column_int64(st, 7);
	c->failures = sqlite3_column_int(st, 8);
	c->used_at = sqlite3_column_int64(st, 9);
	c->revoked_at = sqlite3_column_int64(st, 10);
}

int store_code_add(struct store *s, const struct store_code *c)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO codes (id, secret, purpose, "
				   "profile, device, user, created_at, expires) "
				   "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
				   "(id) DO NOTHING", "sbssssii", c->id,
				   c->secret, c->secret_len, c->purpose,
				   c->profile, c->device, c->user,
				   c->created_at, c->expires);
	if (run(s, st, "storing a code") != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

int store_code_get(struct store *s, const char *id, struct store_code *out)
{
	sqlite3_stmt *st = prepare(s, "SELECT " CODE_COLUMNS " FROM codes "
				   "WHERE id = ?", "s", id);
	if (!st)
		return -1;
	int rc = sqlite3_step(st), ret = 1;
	if (rc == SQLITE_ROW) {
		read_code(st, out);
		ret = 0;
	} else if (rc != SQLITE_DONE) {
		ret = fail(s, "looking up a code");
	}
	release(s, st);
	return ret;
}

static int returning_int(struct store *s, sqlite3_stmt *st, int *out,
			 const char *what)
{
	if (!st)
		return -1;
	int rc = sqlite3_step(st), ret = 1;
	if (rc == SQLITE_ROW) {
		if (out)
			*out = sqlite3_column_int(st, 0);
		ret = 0;
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		ret = fail(s, what);
	release(s, st);
	return ret;
}

int store_code_fail(struct store *s, const char *id, int *failures)
{
	sqlite3_stmt *st = prepare(s, "UPDATE codes SET failures = failures + 1 "
				   "WHERE id = ? RETURNING failures", "s", id);
	return returning_int(s, st, failures, "counting a failure");
}

int store_code_use(struct store *s, const char *id, int64_t now,
		   int max_failures)
{
	/* One statement: two finishes racing for one code cannot both win. */
	sqlite3_stmt *st = prepare(s, "UPDATE codes SET used_at = ? WHERE "
				   "id = ? AND used_at = 0 AND revoked_at = 0 "
				   "AND expires > ? AND failures < ? "
				   "RETURNING failures", "isii", now, id, now,
				   (int64_t)max_failures);
	return returning_int(s, st, NULL, "using a code");
}

int store_code_revoke(struct store *s, const char *id, int64_t now)
{
	sqlite3_stmt *st = prepare(s, "UPDATE codes SET revoked_at = ? WHERE "
				   "id = ? AND revoked_at = 0 AND used_at = 0",
				   "is", now, id);
	if (run(s, st, "revoking a code") != 0)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : 1;
}

static int visit_code(void *arg, sqlite3_stmt *st)
{
	const struct visit *v = arg;
	struct store_code c;
	read_code(st, &c);
	int ret = v->fn.code(v->ctx, &c);
	sodium_memzero(&c, sizeof(c));
	return ret;
}

int store_code_each(struct store *s, store_code_fn fn, void *ctx)
{
	struct visit v = { .fn.code = fn, .ctx = ctx };
	return each_row(s, prepare(s, "SELECT " CODE_COLUMNS " FROM codes "
				   "ORDER BY created_at, id", ""),
			visit_code, &v, "listing codes");
}

/* ------------------------------------------------------------------ devices */

#define DEVICE_COLUMNS "id, name, profile, owner, enrolled_at, " \
		       "revoked_at, address"

static void read_device(sqlite3_stmt *st, struct store_device *d)
{
	d->id = sqlite3_column_int64(st, 0);
	copy_text(d->name, sizeof(d->name), st, 1);
	copy_text(d->profile, sizeof(d->profile), st, 2);
	copy_text(d->owner, sizeof(d->owner), st, 3);
	d->enrolled_at = sqlite3_column_int64(st, 4);
	d->revoked_at = sqlite3_column_int64(st, 5);
	copy_text(d->address, sizeof(d->address), st, 6);
}

int store_device_add(struct store *s, struct store_device *d)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO devices (name, profile, "
				   "owner, address, enrolled_at) VALUES (?, ?, "
				   "?, ?, ?) ON CONFLICT (name) DO NOTHING",
				   "ssssi", d->name, d->profile, d->owner,
				   d->address, d->enrolled_at);
	if (run(s, st, "recording a device") != 0)
		return -1;
	if (sqlite3_changes(s->db) != 1)
		return 1;
	d->id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_device_get(struct store *s, const char *name,
		     struct store_device *out)
{
	sqlite3_stmt *st = prepare(s, "SELECT " DEVICE_COLUMNS " FROM devices "
				   "WHERE name = ?", "s", name);
	if (!st)
		return -1;
	int rc = sqlite3_step(st), ret = 1;
	if (rc == SQLITE_ROW) {
		read_device(st, out);
		ret = 0;
	} else if (rc != SQLITE_DONE) {
		ret = fail(s, "looking up a device");
	}
	release(s, st);
	return ret;
}

int store_device_revoke(struct store *s, const char *name, int64_t now,
			int *certs)
{
	sqlite3_stmt *st = prepare(s, "UPDATE devices SET revoked_at = ? WHERE "
				   "name = ? AND revoked_at = 0", "is", now,
				   name);
	if (run(s, st, "revoking a device") != 0)
		return -1;
	if (sqlite3_changes(s->db) != 1)
		return 1;
	/* Its certificates were issued to the token made for it, and
	 * renewed by themselves (EST identities token:NAME and cert:NAME);
	 * reason 0 is unspecified. */
	st = prepare(s, "UPDATE certificates SET revoked_at = ?, reason = 0 "
		     "WHERE revoked_at = 0 AND identity IN ('token:' || ?, "
		     "'cert:' || ?)", "iss", now, name, name);
	if (run(s, st, "revoking a device's certificates") != 0)
		return -1;
	*certs = sqlite3_changes(s->db);
	return 0;
}

int store_device_mark(struct store *s, int64_t *mark)
{
	sqlite3_stmt *st = prepare(s, "SELECT COALESCE(MAX(id), 0) * 1000003 + "
				   "COALESCE(MAX(revoked_at), 0) FROM devices",
				   "");
	if (!st)
		return -1;
	int ret = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
	*mark = sqlite3_column_int64(st, 0);
	release(s, st);
	return ret == 0 ? 0 : fail(s, "devices");
}

static int visit_device(void *arg, sqlite3_stmt *st)
{
	const struct visit *v = arg;
	struct store_device d;
	read_device(st, &d);
	return v->fn.device(v->ctx, &d);
}

int store_device_each(struct store *s, store_device_fn fn, void *ctx)
{
	struct visit v = { .fn.device = fn, .ctx = ctx };
	return each_row(s, prepare(s, "SELECT " DEVICE_COLUMNS " FROM devices "
				   "ORDER BY id", ""),
			visit_device, &v, "listing devices");
}

/* ------------------------------------------------------------------ back-off */

int store_backoff_check(struct store *s, const char *key, int64_t now,
			int64_t *until)
{
	sqlite3_stmt *st = prepare(s, "SELECT until FROM backoff WHERE key = ? "
				   "AND until > ?", "si", key, now);
	if (!st)
		return -1;
	int rc = sqlite3_step(st), ret = 0;
	if (rc == SQLITE_ROW) {
		*until = sqlite3_column_int64(st, 0);
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = fail(s, "checking a back-off");
	}
	release(s, st);
	return ret;
}

int store_backoff_fail(struct store *s, const char *key, int64_t now,
		       int64_t forget_after, int64_t base_delay,
		       int64_t max_delay, int *failures)
{
	/* The n-th failure in a row blocks the key for base_delay *
	 * 2^(n-1), at most max_delay; a key quiet for forget_after starts
	 * again at 1. */
	sqlite3_stmt *st = prepare(s,
		"INSERT INTO backoff (key, failures, last_at, until) "
		"VALUES (?1, 1, ?2, ?2 + MIN(?4, ?5)) ON CONFLICT (key) DO UPDATE SET "
		"failures = CASE WHEN last_at < ?2 - ?3 THEN 1 "
		"  ELSE failures + 1 END, "
		"until = ?2 + MIN(?5, ?4 << MIN(30, CASE WHEN last_at < ?2 - ?3 "
		"  THEN 0 ELSE failures END)), "
		"last_at = ?2 RETURNING failures", "siiii", key, now,
		forget_after, base_delay, max_delay);
	return returning_int(s, st, failures, "recording a failure");
}

int store_backoff_clear(struct store *s, const char *key)
{
	sqlite3_stmt *st = prepare(s, "DELETE FROM backoff WHERE key = ?", "s",
				   key);
	return run(s, st, "clearing a back-off");
}

/* ------------------------------------------------------------------ MUD */

int store_mud_bind(struct store *s, const char *address, const char *url,
		   const char *source, int64_t now)
{
	return run(s, prepare(s, "INSERT INTO mud_bindings (address, url, "
			      "source, updated_at) VALUES (?, ?, ?, ?) "
			      "ON CONFLICT (address) DO UPDATE SET "
			      "url = excluded.url, source = excluded.source, "
			      "updated_at = excluded.updated_at",
			      "sssi", address, url, source, now),
		   "binding a MUD URL");
}

int store_mud_unbind(struct store *s, const char *address)
{
	if (run(s, prepare(s, "DELETE FROM mud_bindings WHERE address = ?",
			   "s", address), "unbinding a MUD URL") != 0)
		return -1;
	return sqlite3_changes(s->db) ? 0 : 1;
}

int store_mud_mark(struct store *s, int64_t *mark)
{
	sqlite3_stmt *st = prepare(s, "SELECT n FROM mud_changes", "");
	if (!st)
		return -1;
	int ret = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
	*mark = sqlite3_column_int64(st, 0);
	release(s, st);
	return ret == 0 ? 0 : fail(s, "mud_changes");
}

static int visit_binding(void *arg, sqlite3_stmt *st)
{
	const struct visit *v = arg;
	struct store_mud_binding b = {
		.updated_at = sqlite3_column_int64(st, 3),
	};
	copy_text(b.address, sizeof(b.address), st, 0);
	copy_text(b.url, sizeof(b.url), st, 1);
	copy_text(b.source, sizeof(b.source), st, 2);
	return v->fn.binding(v->ctx, &b);
}

int store_mud_binding_each(struct store *s, store_mud_binding_fn fn,
			   void *ctx)
{
	struct visit v = { .fn.binding = fn, .ctx = ctx };
	return each_row(s, prepare(s, "SELECT address, url, source, updated_at "
				   "FROM mud_bindings ORDER BY address", ""),
			visit_binding, &v, "listing MUD bindings");
}

int store_mud_file_put(struct store *s, const struct store_mud_file *f)
{
	return run(s, prepare(s, "INSERT OR REPLACE INTO mud_files (url, body, "
			      "signature, signer, fetched_at, expires_at) "
			      "VALUES (?, ?, ?, ?, ?, ?)", "sbbsii", f->url,
			      f->body, f->body_len, f->signature,
			      f->signature_len, f->signer, f->fetched_at,
			      f->expires_at),
		   "saving a MUD file");
}

static int visit_mud_file(void *arg, sqlite3_stmt *st)
{
	const struct visit *v = arg;
	struct store_mud_file f = {
		.url = (const char *)sqlite3_column_text(st, 0),
		.body = sqlite3_column_blob(st, 1),
		.body_len = (size_t)sqlite3_column_bytes(st, 1),
		.signature = sqlite3_column_blob(st, 2),
		.signature_len = (size_t)sqlite3_column_bytes(st, 2),
		.signer = (const char *)sqlite3_column_text(st, 3),
		.fetched_at = sqlite3_column_int64(st, 4),
		.expires_at = sqlite3_column_int64(st, 5),
	};
	if (!f.url || !f.body || !f.signer)
		return 0;	/* not a row this version wrote */
	return v->fn.mud_file(v->ctx, &f);
}

int store_mud_file_each(struct store *s, store_mud_file_fn fn, void *ctx)
{
	struct visit v = { .fn.mud_file = fn, .ctx = ctx };
	return each_row(s, prepare(s, "SELECT url, body, signature, signer, "
				   "fetched_at, expires_at FROM mud_files "
				   "ORDER BY url", ""),
			visit_mud_file, &v, "listing MUD files");
}

/* ------------------------------------------------------------------ IoT */

int store_iot_allow_add(struct store *s, struct store_iot_allow *a)
{
	if (run(s, prepare(s, "INSERT INTO iot_allow (issuer, serial, "
			   "pattern, profile, added_at) VALUES (?, ?, ?, ?, ?)",
			   "ssisi", a->issuer, a->serial, (int64_t)a->pattern,
			   a->profile, a->added_at), "allowing IDevIDs") != 0)
		return -1;
	a->id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_iot_allow_del(struct store *s, int64_t id)
{
	if (run(s, prepare(s, "DELETE FROM iot_allow WHERE id = ?", "i", id),
		"removing an IDevID rule") != 0)
		return -1;
	return sqlite3_changes(s->db) ? 0 : 1;
}

static int visit_iot_allow(void *arg, sqlite3_stmt *st)
{
	const struct visit *v = arg;
	struct store_iot_allow a = {
		.id = sqlite3_column_int64(st, 0),
		.pattern = sqlite3_column_int(st, 3) != 0,
		.added_at = sqlite3_column_int64(st, 5),
	};
	copy_text(a.issuer, sizeof(a.issuer), st, 1);
	copy_text(a.serial, sizeof(a.serial), st, 2);
	copy_text(a.profile, sizeof(a.profile), st, 4);
	return v->fn.iot_allow(v->ctx, &a);
}

int store_iot_allow_each(struct store *s, store_iot_allow_fn fn, void *ctx)
{
	struct visit v = { .fn.iot_allow = fn, .ctx = ctx };
	return each_row(s, prepare(s, "SELECT id, issuer, serial, pattern, "
				   "profile, added_at FROM iot_allow "
				   "ORDER BY id", ""),
			visit_iot_allow, &v, "listing IDevID rules");
}
