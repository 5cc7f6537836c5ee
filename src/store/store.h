/*  anchord - store/store.h: the interface of the store.
 *
 *  One SQLite file in the state directory (mode 0600, WAL) that the daemon
 *  and anchorctl share: issued certificates, one-time tokens, EST users,
 *  enrollments waiting for approval, OPAQUE users, one-time enrollment
 *  codes, enrolled devices, back-off counters, and an append-only audit
 *  log. Every
 *  change is a transaction, so a crash at any point leaves the file
 *  consistent; the schema is versioned and migrated on open. One struct
 *  store per thread (a connection is not shared between threads).
 *
 *  Functions return 0 on success, 1 for "not found" or "not allowed now",
 *  and -1 on an error that store_error() describes.
 */
#pragma once

#include "util/util.h"

#include <stdint.h>

#define STORE_FILE "store.sqlite"

struct store;

int store_open(const char *path, struct store **out, char *err,
	       size_t errlen);
void store_close(struct store *s);
const char *store_error(const struct store *s);
/** The schema version this build writes. */
int store_schema_version(void);

/** Group several changes into one transaction (BEGIN IMMEDIATE). */
int store_begin(struct store *s);
int store_commit(struct store *s);
/** Keeps store_error() as the failure that led here left it. */
void store_rollback(struct store *s);
/** False once SQLite has rolled a transaction back by itself, as it may
 *  when the disk is full or failing: later changes would then be made
 *  outside any transaction, each on its own. */
bool store_in_transaction(struct store *s);
/** Inside a transaction, changes that stand or fall together while the
 *  transaction goes on (SAVEPOINT): undo them with store_undo, or keep
 *  them with store_keep. Not nested. */
int store_savepoint(struct store *s);
int store_keep(struct store *s);
void store_undo(struct store *s);

/* ------------------------------------------------------------------ certificates */

struct store_cert {
	char serial[41];		/**< hex */
	char subject[256];
	char spki[65];			/**< hex SHA-256 of the SubjectPublicKeyInfo */
	char identity[160];		/**< who it was issued to */
	char profile[64];
	int64_t not_before, not_after, issued_at;
	int64_t revoked_at;		/**< 0: not revoked */
	int reason;			/**< CRL reason code */
};

int store_cert_add(struct store *s, const struct store_cert *c,
		   const uint8_t *der, size_t len);
/** der (may be NULL) is malloc'ed for the caller. */
int store_cert_get(struct store *s, const char *serial, struct store_cert *c,
		   uint8_t **der, size_t *len);
/** 1 when unknown or already revoked. */
int store_cert_revoke(struct store *s, const char *serial, int reason,
		      int64_t now);
typedef int (*store_cert_fn)(void *ctx, const struct store_cert *c);
/** Every certificate (or only the revoked ones), newest first. */
int store_cert_each(struct store *s, bool revoked_only, store_cert_fn fn,
		    void *ctx);
/** Changes whenever a certificate is revoked: cheap to poll. */
int store_revocation_mark(struct store *s, int64_t *mark);

/* ------------------------------------------------------------------ one-time tokens */

struct store_token {
	char purpose[16];		/**< "est" */
	char profile[64];
	char device[128];
	int64_t expires;
};

/** Tokens are stored as their SHA-256: a stolen store gives none away. */
int store_token_add(struct store *s, const uint8_t hash[32],
		    const struct store_token *t);
/** Look without using: 0 and its details if it is valid now, else 1. */
int store_token_peek(struct store *s, const uint8_t hash[32], int64_t now,
		     struct store_token *out);
/** Use a token: 0 and its details if it existed, was unused and not
 *  expired (it is used up now), else 1. */
int store_token_use(struct store *s, const uint8_t hash[32], int64_t now,
		    struct store_token *out);

/* ------------------------------------------------------------------ EST users (HTTP Basic) */

/** hash is a libsodium crypto_pwhash_str (Argon2id) string. */
int store_est_user_set(struct store *s, const char *name, const char *hash);
int store_est_user_get(struct store *s, const char *name, char *hash,
		       size_t cap);
int store_est_user_del(struct store *s, const char *name);
typedef int (*store_name_fn)(void *ctx, const char *name);
int store_est_user_each(struct store *s, store_name_fn fn, void *ctx);

/* ------------------------------------------------------------------ enrollments waiting for approval */

struct store_pending {
	int64_t id;
	char identity[160];
	char spki[65];
	char subject[256];
	int64_t requested_at, approved_at, denied_at;
};

/** The request of this identity for this key, if any. */
int store_pending_find(struct store *s, const char *identity,
		       const char *spki, struct store_pending *out);
int store_pending_add(struct store *s, struct store_pending *p);
/** 1 when there is no such undecided request. */
int store_pending_decide(struct store *s, int64_t id, bool approve,
			 int64_t now);
int store_pending_remove(struct store *s, int64_t id);
typedef int (*store_pending_fn)(void *ctx, const struct store_pending *p);
int store_pending_each(struct store *s, store_pending_fn fn, void *ctx);

/* ------------------------------------------------------------------ audit log */

/** Append-only: there is no function to change or remove an entry. */
int store_audit(struct store *s, const char *actor, const char *action,
		const char *detail);
struct store_audit_entry {
	int64_t id, at;
	char actor[160];
	char action[64];
	char detail[512];
};
typedef int (*store_audit_fn)(void *ctx, const struct store_audit_entry *e);
int store_audit_each(struct store *s, int64_t after_id, store_audit_fn fn,
		     void *ctx);

/* ------------------------------------------------------------------ OPAQUE users */

#define STORE_RECORD_BYTES 192		/**< an OPAQUE registration record */

struct store_user {
	char name[72];			/**< the credential identifier */
	int64_t created_at, updated_at;
};

/** Store a user's record. Without replace, 1 when the name is taken. */
int store_user_set(struct store *s, const char *name,
		   const uint8_t record[STORE_RECORD_BYTES], bool replace);
int store_user_get(struct store *s, const char *name,
		   uint8_t record[STORE_RECORD_BYTES]);
int store_user_del(struct store *s, const char *name);
typedef int (*store_user_fn)(void *ctx, const struct store_user *u);
int store_user_each(struct store *s, store_user_fn fn, void *ctx);

/* ------------------------------------------------------------------ one-time codes */

struct store_code {
	char id[8];			/**< the public part, IIII */
	uint8_t secret[64];		/**< sealed (enroll_code_seal) */
	size_t secret_len;
	char purpose[16];		/**< "enroll" or "register" */
	char profile[64];
	char device[128];
	char user[72];			/**< register: the only name allowed */
	int64_t created_at, expires, used_at, revoked_at;
	int failures;
};

/** 1 when the id is taken. */
int store_code_add(struct store *s, const struct store_code *c);
int store_code_get(struct store *s, const char *id, struct store_code *out);
/** Count a failed attempt; failures is the new count. 1 when unknown. */
int store_code_fail(struct store *s, const char *id, int *failures);
/** Use a code: 0 if it was unused, not revoked, not expired and had fewer
 *  than max_failures failures (it is used up now), else 1. */
int store_code_use(struct store *s, const char *id, int64_t now,
		   int max_failures);
/** 1 when unknown, used or revoked already. */
int store_code_revoke(struct store *s, const char *id, int64_t now);
typedef int (*store_code_fn)(void *ctx, const struct store_code *c);
int store_code_each(struct store *s, store_code_fn fn, void *ctx);

/* ------------------------------------------------------------------ devices */

struct store_device {
	int64_t id;
	char name[64];			/**< unique; the certificate's CN */
	char profile[64];
	char owner[96];			/**< "user:NAME" or "code:IIII" */
	char address[64];		/**< where it enrolled from */
	int64_t enrolled_at, revoked_at;
};

/** 1 when the name is taken. */
int store_device_add(struct store *s, struct store_device *d);
int store_device_get(struct store *s, const char *name,
		     struct store_device *out);
/** Revoke a device and every certificate issued to it (*certs of them).
 *  1 when unknown or revoked already. */
int store_device_revoke(struct store *s, const char *name, int64_t now,
			int *certs);
/** Changes whenever a device is added or revoked: cheap to poll. */
int store_device_mark(struct store *s, int64_t *mark);
typedef int (*store_device_fn)(void *ctx, const struct store_device *d);
int store_device_each(struct store *s, store_device_fn fn, void *ctx);

/* ------------------------------------------------------------------ back-off */

/** 1 and *until when key is blocked now, else 0. */
int store_backoff_check(struct store *s, const char *key, int64_t now,
			int64_t *until);
/** Record a failure of key: the n-th in a row blocks it for
 *  base_delay * 2^(n-1) (at most max_delay); a key without failures for
 *  forget_after starts again. Times are in one unit of the caller's
 *  choosing, the same for every call on a key. */
int store_backoff_fail(struct store *s, const char *key, int64_t now,
		       int64_t forget_after, int64_t base_delay,
		       int64_t max_delay, int *failures);
int store_backoff_clear(struct store *s, const char *key);

/* ------------------------------------------------------------------ MUD */

/** A device's MUD URL, bound by address (anchorctl mud bind, from a DHCP
 *  hook: option 161/112). */
struct store_mud_binding {
	char address[64];		/**< IPv4 or IPv6, text */
	char url[256];
	char source[16];		/**< "dhcp", "manual", ... */
	int64_t updated_at;
};

/** Bind (or rebind) an address to a URL. */
int store_mud_bind(struct store *s, const char *address, const char *url,
		   const char *source, int64_t now);
/** 1 when the address had no binding. */
int store_mud_unbind(struct store *s, const char *address);
/** Changes whenever a binding is added, changed or removed. */
int store_mud_mark(struct store *s, int64_t *mark);
typedef int (*store_mud_binding_fn)(void *ctx,
				    const struct store_mud_binding *b);
int store_mud_binding_each(struct store *s, store_mud_binding_fn fn,
			   void *ctx);

/** The last good (verified) copy of a MUD file and its signature. The
 *  pointers are valid only during a store_mud_file_each callback. */
struct store_mud_file {
	const char *url;
	const uint8_t *body;
	size_t body_len;
	const uint8_t *signature;	/**< NULL when unsigned */
	size_t signature_len;
	const char *signer;		/**< "" when unsigned */
	int64_t fetched_at, expires_at;
};

int store_mud_file_put(struct store *s, const struct store_mud_file *f);
typedef int (*store_mud_file_fn)(void *ctx, const struct store_mud_file *f);
int store_mud_file_each(struct store *s, store_mud_file_fn fn, void *ctx);

/* ------------------------------------------------------------------ IoT */

/** A rule that lets devices with an 802.1AR IDevID enroll (anchorctl iot
 *  allow): from one manufacturer CA (its subject DN, RFC 4514; "" for any
 *  in est.manufacturer-trust), with one serial (subject serialNumber), a
 *  shell pattern of serials, or any ("" ), into a profile. */
struct store_iot_allow {
	int64_t id;
	char issuer[512];
	char serial[128];
	bool pattern;			/**< serial is an fnmatch(3) pattern */
	char profile[64];		/**< "" : the default rules decide */
	int64_t added_at;
};

/** Fills a->id. */
int store_iot_allow_add(struct store *s, struct store_iot_allow *a);
/** 1 when there was no such rule. */
int store_iot_allow_del(struct store *s, int64_t id);
typedef int (*store_iot_allow_fn)(void *ctx, const struct store_iot_allow *a);
int store_iot_allow_each(struct store *s, store_iot_allow_fn fn, void *ctx);
