/*  anchord - unit tests of store/: schema, tokens, certificates, pending
 *  approvals, the append-only audit log, and sharing the file with other
 *  processes. Each test uses a real SQLite file of its own. */
#include "test.h"

#include "store/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64], path[96];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/anchord-store-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
	return util_mkdir_p(dir, 0700);
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* A fresh file per test. */
static struct store *fresh(void)
{
	char wal[128], shm[128];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	unlink(path);
	unlink(wal);
	unlink(shm);
	struct store *s;
	char err[256];
	assert_int_equal(store_open(path, &s, err, sizeof(err)), 0);
	return s;
}

static void raw_exec(const char *sql, int expect)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), expect);
	sqlite3_close(db);
}

static void file_is_private_and_versioned(void **state)
{
	struct store *s = fresh();
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	store_close(s);
	/* opening again migrates nothing and loses nothing */
	char err[256];
	assert_int_equal(store_open(path, &s, err, sizeof(err)), 0);
	store_close(s);
	/* a store from a newer anchord is refused, not damaged */
	raw_exec("PRAGMA user_version = 99", SQLITE_OK);
	assert_int_equal(store_open(path, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "newer"));
}

static void token(uint8_t h[32], uint8_t fill)
{
	memset(h, fill, 32);
}

static void tokens_are_used_once(void **state)
{
	struct store *s = fresh();
	uint8_t h[32], other[32];
	token(h, 1);
	token(other, 2);
	struct store_token t = { .purpose = "est", .profile = "iot",
				 .device = "cam", .expires = 2000 }, got;
	assert_int_equal(store_token_add(s, h, &t), 0);
	assert_int_equal(store_token_peek(s, other, 1000, &got), 1);
	assert_int_equal(store_token_peek(s, h, 2000, &got), 1); /* expired */
	assert_int_equal(store_token_peek(s, h, 1000, &got), 0);
	assert_string_equal(got.profile, "iot");
	assert_string_equal(got.device, "cam");
	/* a use that is rolled back did not happen */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_token_use(s, h, 1000, &got), 0);
	store_rollback(s);
	assert_int_equal(store_token_use(s, h, 1000, &got), 0);
	assert_int_equal(store_token_use(s, h, 1000, &got), 1);
	assert_int_equal(store_token_peek(s, h, 1000, &got), 1);
	store_close(s);
}

static struct store_cert cert(const char *serial, const char *identity)
{
	struct store_cert c = { .not_before = 100, .not_after = 200,
				.issued_at = 100 };
	snprintf(c.serial, sizeof(c.serial), "%s", serial);
	snprintf(c.identity, sizeof(c.identity), "%s", identity);
	snprintf(c.subject, sizeof(c.subject), "CN=%s", identity);
	memset(c.spki, 'a', 64);
	return c;
}

static int count_cert(void *ctx, const struct store_cert *c)
{
	(*(int *)ctx)++;
	return 0;
}

static void certificates_and_revocation(void **state)
{
	struct store *s = fresh();
	struct store_cert a = cert("0a", "token:a"), b = cert("0b", "token:b");
	const uint8_t der[] = { 0x30, 0x00 };
	assert_int_equal(store_cert_add(s, &a, der, sizeof(der)), 0);
	assert_int_equal(store_cert_add(s, &b, der, sizeof(der)), 0);
	assert_int_equal(store_cert_add(s, &a, der, sizeof(der)), -1);
	struct store_cert got;
	uint8_t *back;
	size_t len;
	assert_int_equal(store_cert_get(s, "0a", &got, &back, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(back, der, 2);
	free(back);
	assert_string_equal(got.identity, "token:a");
	assert_int_equal(store_cert_get(s, "ff", &got, NULL, NULL), 1);

	int64_t m0, m1, m2;
	assert_int_equal(store_revocation_mark(s, &m0), 0);
	assert_int_equal(store_cert_revoke(s, "0a", 1, 150), 0);
	assert_int_equal(store_revocation_mark(s, &m1), 0);
	assert_true(m1 != m0);
	assert_int_equal(store_cert_revoke(s, "0a", 1, 160), 1); /* once */
	assert_int_equal(store_cert_revoke(s, "zz", 1, 160), 1);
	assert_int_equal(store_cert_revoke(s, "0b", 4, 150), 0);
	assert_int_equal(store_revocation_mark(s, &m2), 0);
	assert_true(m2 != m1);	/* even within the same second */
	int n = 0;
	assert_int_equal(store_cert_each(s, true, count_cert, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_cert_get(s, "0b", &got, NULL, NULL), 0);
	assert_int_equal(got.reason, 4);
	store_close(s);
}

static void pending_requests(void **state)
{
	struct store *s = fresh();
	struct store_pending p = { .requested_at = 10 }, got;
	snprintf(p.identity, sizeof(p.identity), "token:x");
	snprintf(p.spki, sizeof(p.spki), "%064d", 0);
	snprintf(p.subject, sizeof(p.subject), "CN=x");
	assert_int_equal(store_pending_add(s, &p), 0);
	assert_true(p.id > 0);
	assert_int_equal(store_pending_find(s, "token:x", p.spki, &got), 0);
	assert_int_equal(got.approved_at, 0);
	assert_int_equal(store_pending_find(s, "token:y", p.spki, &got), 1);
	assert_int_equal(store_pending_decide(s, p.id, true, 20), 0);
	assert_int_equal(store_pending_decide(s, p.id, false, 21), 1);
	assert_int_equal(store_pending_find(s, "token:x", p.spki, &got), 0);
	assert_int_equal(got.approved_at, 20);
	assert_int_equal(store_pending_remove(s, p.id), 0);
	assert_int_equal(store_pending_find(s, "token:x", p.spki, &got), 1);
	store_close(s);
}

/* One transaction, parts kept or undone: a batch of enrollments where
 * one fails records the others. */
static void savepoints_keep_or_undo_parts(void **state)
{
	struct store *s = fresh();
	const uint8_t der[] = { 0x30, 0x00 };
	struct store_cert a = cert("a1", "token:a"), b = cert("b1", "token:b");
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_savepoint(s), 0);
	assert_int_equal(store_cert_add(s, &a, der, sizeof(der)), 0);
	assert_int_equal(store_keep(s), 0);
	assert_int_equal(store_savepoint(s), 0);
	assert_int_equal(store_cert_add(s, &b, der, sizeof(der)), 0);
	store_undo(s);
	assert_int_equal(store_savepoint(s), 0);
	assert_int_equal(store_cert_add(s, &a, der, sizeof(der)), -1);
	store_undo(s);		/* a duplicate fails alone */
	assert_int_equal(store_commit(s), 0);
	struct store_cert got;
	assert_int_equal(store_cert_get(s, "a1", &got, NULL, NULL), 0);
	assert_int_equal(store_cert_get(s, "b1", &got, NULL, NULL), 1);
	store_close(s);
}

/* Cleanup keeps the failure that called for it, and knows when the
 * transaction is over already (SQLite may end it on a full disk). */
static void rollback_keeps_the_cause(void **state)
{
	struct store *s = fresh();
	const uint8_t der[] = { 0x30, 0x00 };
	struct store_cert a = cert("a1", "token:a");
	assert_false(store_in_transaction(s));
	assert_int_equal(store_cert_add(s, &a, der, sizeof(der)), 0);
	assert_int_equal(store_begin(s), 0);
	assert_true(store_in_transaction(s));
	assert_int_equal(store_savepoint(s), 0);
	assert_int_equal(store_cert_add(s, &a, der, sizeof(der)), -1);
	char cause[256];
	snprintf(cause, sizeof(cause), "%s", store_error(s));
	assert_non_null(strstr(cause, "UNIQUE"));
	store_undo(s);
	assert_string_equal(store_error(s), cause);
	assert_true(store_in_transaction(s));
	store_rollback(s);
	assert_string_equal(store_error(s), cause);
	assert_false(store_in_transaction(s));
	store_rollback(s);		/* nothing left to roll back: quiet */
	store_undo(s);
	assert_string_equal(store_error(s), cause);
	store_close(s);
}

static int count_audit(void *ctx, const struct store_audit_entry *e)
{
	(*(int *)ctx)++;
	return 0;
}

static void audit_log_is_append_only(void **state)
{
	struct store *s = fresh();
	assert_int_equal(store_audit(s, "test", "one", "first"), 0);
	assert_int_equal(store_audit(s, "test", "two", "second"), 0);
	/* not even someone with the file and sqlite3 changes it */
	raw_exec("UPDATE audit SET detail = 'forged'", SQLITE_CONSTRAINT);
	raw_exec("DELETE FROM audit", SQLITE_CONSTRAINT);
	int n = 0;
	assert_int_equal(store_audit_each(s, 0, count_audit, &n), 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(store_audit_each(s, 1, count_audit, &n), 0);
	assert_int_equal(n, 1);
	store_close(s);
}

/* Another process opens the file, adds a token (anchorctl token new) or
 * looks for a certificate (anchorctl cert list), and closes it. */
static void visit_from_child(const char *expect_serial)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *c;
		char err[256];
		struct store_cert got;
		uint8_t h[32];
		struct store_token t = { .purpose = "est", .expires = 2000 };
		token(h, 7);
		int ok = store_open(path, &c, err, sizeof(err)) == 0 &&
			 (expect_serial
				? store_cert_get(c, expect_serial, &got, NULL,
						 NULL) == 0
				: store_token_add(c, h, &t) == 0);
		store_close(c);
		_exit(ok ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Whether another process sees this one's shared lock on the database
 * file (SQLite's SHARED byte range: from 2^30 + 2, 510 bytes). WAL mode
 * holds it as long as a connection is open; it is how a closing process
 * knows it is not the last. */
static bool lock_visible_to_others(void)
{
	pid_t parent = getpid(), pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
				    .l_start = 0x40000002, .l_len = 510 };
		bool held = fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0 &&
			    fl.l_type == F_RDLCK && fl.l_pid == parent;
		_exit(held ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The daemon holds two connections (main thread and a worker); anchorctl
 * comes and goes. Opening the second connection must not cost the first
 * its lock, or the visitor's close deletes the WAL under the daemon and
 * what it commits afterwards is lost to everyone else. */
static void commits_survive_visitors(void **state)
{
	struct store *a = fresh(), *b;
	char err[256];
	assert_true(lock_visible_to_others());
	assert_int_equal(store_open(path, &b, err, sizeof(err)), 0);
	assert_true(lock_visible_to_others());
	visit_from_child(NULL);
	uint8_t h[32];
	struct store_token t;
	token(h, 7);
	assert_int_equal(store_token_peek(a, h, 1000, &t), 0);
	struct store_cert c = cert("01", "token:after-visit");
	const uint8_t der[] = { 0x30, 0x00 };
	assert_int_equal(store_begin(a), 0);
	assert_int_equal(store_cert_add(a, &c, der, sizeof(der)), 0);
	assert_int_equal(store_commit(a), 0);
	visit_from_child("01");
	store_close(b);
	store_close(a);
}


static void users_and_records(void **state)
{
	struct store *s = fresh();
	uint8_t rec[STORE_RECORD_BYTES], back[STORE_RECORD_BYTES];
	memset(rec, 7, sizeof(rec));
	assert_int_equal(store_user_set(s, "alice", rec, false), 0);
	rec[0] = 8;
	assert_int_equal(store_user_set(s, "alice", rec, false), 1);
	assert_int_equal(store_user_get(s, "alice", back), 0);
	assert_int_equal(back[0], 7);		/* not replaced */
	assert_int_equal(store_user_set(s, "alice", rec, true), 0);
	assert_int_equal(store_user_get(s, "alice", back), 0);
	assert_int_equal(back[0], 8);
	assert_int_equal(store_user_get(s, "bob", back), 1);
	assert_int_equal(store_user_del(s, "alice"), 0);
	assert_int_equal(store_user_del(s, "alice"), 1);
	store_close(s);
}

static struct store_code sample_code(const char *id, int64_t expires)
{
	struct store_code c = { .created_at = 1, .expires = expires,
				.secret_len = 40 };
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.purpose, sizeof(c.purpose), "enroll");
	memset(c.secret, 1, c.secret_len);
	return c;
}

/* A code is used once; failures and expiry kill it. */
static void codes_die(void **state)
{
	struct store *s = fresh();
	int64_t now = time(NULL);
	struct store_code a = sample_code("AAAA", now + 60);
	struct store_code b = sample_code("BBBB", now + 60);
	struct store_code old = sample_code("CCCC", now - 1);
	assert_int_equal(store_code_add(s, &a), 0);
	assert_int_equal(store_code_add(s, &a), 1);	/* id taken */
	assert_int_equal(store_code_add(s, &b), 0);
	assert_int_equal(store_code_add(s, &old), 0);
	assert_int_equal(store_code_use(s, "AAAA", now, 3), 0);
	assert_int_equal(store_code_use(s, "AAAA", now, 3), 1);	/* replay */
	int f = 0;
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(store_code_fail(s, "BBBB", &f), 0);
		assert_int_equal(f, i);
	}
	assert_int_equal(store_code_use(s, "BBBB", now, 3), 1);	/* dead */
	assert_int_equal(store_code_use(s, "CCCC", now, 3), 1);	/* expired */
	assert_int_equal(store_code_fail(s, "ZZZZ", &f), 1);
	struct store_code back;
	assert_int_equal(store_code_get(s, "AAAA", &back), 0);
	assert_true(back.used_at > 0);
	assert_int_equal(back.secret_len, 40);
	assert_int_equal(store_code_revoke(s, "AAAA", now), 1);	/* used */
	store_close(s);
}

/* 1, 2, 4, ... seconds, capped; quiet keys start again. */
static void backoff_doubles(void **state)
{
	struct store *s = fresh();
	int64_t until = 0, t = 1000000;
	int f = 0;
	assert_int_equal(store_backoff_check(s, "user:x", t, &until), 0);
	for (int i = 1; i <= 12; i++) {
		assert_int_equal(store_backoff_fail(s, "user:x", t, 3600, 1, 900,
						    &f), 0);
		assert_int_equal(f, i);
		assert_int_equal(store_backoff_check(s, "user:x", t, &until), 1);
		int64_t want = (int64_t)1 << (i - 1);
		assert_int_equal(until - t, want < 900 ? want : 900);
	}
	assert_int_equal(store_backoff_check(s, "user:x", t + 901, &until), 0);
	assert_int_equal(store_backoff_fail(s, "user:x", t + 5000, 3600, 1, 900,
					    &f), 0);
	assert_int_equal(f, 1);
	assert_int_equal(store_backoff_clear(s, "user:x"), 0);
	assert_int_equal(store_backoff_check(s, "user:x", t + 5000, &until), 0);
	store_close(s);
}

/* Revoking a device revokes what was issued to it, nothing else. */
static void device_revocation(void **state)
{
	struct store *s = fresh();
	struct store_device d = { .enrolled_at = 5 };
	snprintf(d.name, sizeof(d.name), "laptop");
	snprintf(d.owner, sizeof(d.owner), "user:alice");
	assert_int_equal(store_device_add(s, &d), 0);
	assert_int_equal(store_device_add(s, &d), 1);	/* name taken */
	const char *ids[] = { "token:laptop", "cert:laptop", "token:other" };
	for (int i = 0; i < 3; i++) {
		struct store_cert c = { .not_before = 1, .not_after = 2,
					.issued_at = 1 };
		snprintf(c.serial, sizeof(c.serial), "0%d", i);
		snprintf(c.identity, sizeof(c.identity), "%s", ids[i]);
		assert_int_equal(store_cert_add(s, &c, (const uint8_t *)"x", 1),
				 0);
	}
	int64_t m1, m2;
	assert_int_equal(store_device_mark(s, &m1), 0);
	int n = 0;
	assert_int_equal(store_device_revoke(s, "laptop", 9, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_device_revoke(s, "laptop", 9, &n), 1);
	assert_int_equal(store_device_mark(s, &m2), 0);
	assert_true(m1 != m2);
	struct store_cert c;
	assert_int_equal(store_cert_get(s, "02", &c, NULL, NULL), 0);
	assert_int_equal(c.revoked_at, 0);
	store_close(s);
}

static int copy_binding(void *ctx, const struct store_mud_binding *b)
{
	struct store_mud_binding *out = ctx;
	out[out[0].updated_at == 0 ? 0 : 1] = *b;
	return 0;
}

static void mud_bindings(void **state)
{
	struct store *s = fresh();
	int64_t m0, m1, m2, m3;
	assert_int_equal(store_mud_mark(s, &m0), 0);
	assert_int_equal(store_mud_bind(s, "10.20.0.5", "https://a/x.json",
					"dhcp", 7), 0);
	assert_int_equal(store_mud_mark(s, &m1), 0);
	assert_true(m0 != m1);
	/* a rebind replaces: one row, the new URL */
	assert_int_equal(store_mud_bind(s, "10.20.0.5", "https://a/y.json",
					"manual", 8), 0);
	assert_int_equal(store_mud_mark(s, &m2), 0);
	assert_true(m2 != m1);
	struct store_mud_binding rows[2] = { 0 };
	assert_int_equal(store_mud_binding_each(s, copy_binding, rows), 0);
	assert_string_equal(rows[0].url, "https://a/y.json");
	assert_string_equal(rows[0].source, "manual");
	assert_int_equal(rows[1].updated_at, 0);
	assert_int_equal(store_mud_unbind(s, "10.20.0.5"), 0);
	assert_int_equal(store_mud_unbind(s, "10.20.0.5"), 1);
	assert_int_equal(store_mud_mark(s, &m3), 0);
	assert_true(m3 != m2);
	store_close(s);
}

static int check_file(void *ctx, const struct store_mud_file *f)
{
	int *seen = ctx;
	assert_string_equal(f->url, "https://a/x.json");
	assert_int_equal(f->body_len, 2);
	assert_memory_equal(f->body, "{}", 2);
	if (f->signature) {
		assert_int_equal(f->signature_len, 3);
		assert_string_equal(f->signer, "CN=signer");
	}
	(*seen)++;
	return 0;
}

static void mud_files_keep_the_last_good_copy(void **state)
{
	struct store *s = fresh();
	struct store_mud_file f = {
		.url = "https://a/x.json", .body = (const uint8_t *)"{}",
		.body_len = 2, .signer = "", .fetched_at = 1, .expires_at = 2,
	};
	assert_int_equal(store_mud_file_put(s, &f), 0);	/* unsigned */
	f.signature = (const uint8_t *)"sig";
	f.signature_len = 3;
	f.signer = "CN=signer";
	assert_int_equal(store_mud_file_put(s, &f), 0);	/* replaces */
	int seen = 0;
	assert_int_equal(store_mud_file_each(s, check_file, &seen), 0);
	assert_int_equal(seen, 1);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(file_is_private_and_versioned),
		cmocka_unit_test(tokens_are_used_once),
		cmocka_unit_test(certificates_and_revocation),
		cmocka_unit_test(pending_requests),
		cmocka_unit_test(savepoints_keep_or_undo_parts),
		cmocka_unit_test(rollback_keeps_the_cause),
		cmocka_unit_test(audit_log_is_append_only),
		cmocka_unit_test(commits_survive_visitors),
		cmocka_unit_test(users_and_records),
		cmocka_unit_test(codes_die),
		cmocka_unit_test(backoff_doubles),
		cmocka_unit_test(device_revocation),
		cmocka_unit_test(mud_bindings),
		cmocka_unit_test(mud_files_keep_the_last_good_copy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
