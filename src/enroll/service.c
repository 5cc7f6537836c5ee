/*  anchord - enroll/service.c: the enrollment endpoints.
 *
 *  /.well-known/anchor/v1/{cpace,opaque/login,opaque/register}/{start,finish}
 *  as doc/ENROLLMENT.md fixes them. A start leaves a pending session with
 *  the exporter of its TLS connection; the finish must come over the same
 *  connection (same exporter) within ENROLL_SESSION_TTL_S, and consumes
 *  the session whatever its outcome, so a replayed finish finds nothing.
 *
 *  The PAKE work is a few scalar multiplications (the client pays for
 *  Argon2id), so it runs on the loop; the store is written in one short
 *  transaction per successful enrollment.
 */
#include "enroll/enroll.h"
#include "pki/pki.h"
#include "store/store.h"
#include "util/util.h"

#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SESSIONS 1024		/* pending per worker */
/* Back-off in milliseconds: a block of one second must not end at the
 * next tick of a seconds clock. */
#define BACKOFF_BASE_MS 1000
#define BACKOFF_FORGET_MS (3600 * 1000)
#define BACKOFF_MAX_MS (900 * 1000)
#define SESSION_ID_BYTES 16
#define MAX_LOGINS_PER_ADDRESS 8	/* pending OPAQUE logins */

enum session_kind { S_CPACE, S_OPAQUE, S_REGISTER };

struct session {
	struct util_list link;
	enum session_kind kind;
	char id[32];			/* base64url of 16 random bytes */
	uint8_t exporter[ENROLL_EXPORTER_BYTES];
	uint64_t expires_ms;
	bool known;			/* the code or user exists */
	char name[ENROLL_MAX_USER + 1];	/* code id or user */
	char addr[64];			/* the client's address */
	uint8_t token[32];		/* register: the token's hash */
	struct pake_cpace_state cpace;
	uint8_t sid[ENROLL_SID_BYTES];
	struct pake_opaque_server_login opaque;
};

#define MAX_ADDRESSES 8

struct enroll_service {
	struct enroll_conf conf;	/* its strings below, or the config's */
	char addresses[MAX_ADDRESSES][64];
	const char *address_list[MAX_ADDRESSES];
	struct store *store;
	struct pake_opaque_server_keys keys;
	uint8_t codes_key[ENROLL_KEY_BYTES];
	char adb[512];
	size_t adb_len;
	char pins[2][PKI_PIN_LEN];
	size_t n_pins;
	char *ca_pem;
	char base_url[320];		/* https://adn[:port] */
	struct util_list sessions;
	unsigned n_sessions;
};

/* What one request brings. */
struct call {
	struct enroll_service *svc;
	struct net_http_exchange *ex;
	json_t *body;
	uint8_t exporter[ENROLL_EXPORTER_BYTES];
	char addr[64];
};

/* ------------------------------------------------------------------ responses */

static void respond_json(struct net_http_exchange *ex, unsigned status,
			 json_t *obj, const struct net_http_header *h, size_t n)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!text) {
		net_http_respond_error(ex, 503, "out of memory");
		return;
	}
	net_http_respond(ex, status, "application/json", h, n,
			 (const uint8_t *)text, strlen(text));
	free(text);
}

static void respond_error(struct net_http_exchange *ex, unsigned status,
			  const char *why)
{
	respond_json(ex, status, json_pack("{s:s}", "error", why), NULL, 0);
}

/* Wall-clock milliseconds: back-off is shared with other processes. */
static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void respond_retry(struct net_http_exchange *ex, int64_t until_ms)
{
	char after[24];
	int64_t wait = (until_ms - wall_ms() + 999) / 1000;
	snprintf(after, sizeof(after), "%lld", (long long)(wait > 0 ? wait : 1));
	struct net_http_header h[] = { { "Retry-After", after } };
	respond_json(ex, 429, json_pack("{s:s}", "error", "too many failures; "
					"try again later"), h, 1);
}

/* ------------------------------------------------------------------ request fields */

/* A string member, or NULL (missing or not a string). */
static const char *member(const struct call *c, const char *name)
{
	return json_string_value(json_object_get(c->body, name));
}

/* A base64url member of exactly len bytes. */
static bool member_bytes(const struct call *c, const char *name, uint8_t *out,
			 size_t len)
{
	const char *text = member(c, name);
	uint8_t buf[512];
	if (!text || len > sizeof(buf))
		return false;
	long n = enroll_unb64(text, buf, sizeof(buf));
	if (n != (long)len)
		return false;
	memcpy(out, buf, len);
	return true;
}

static json_t *b64_value(const uint8_t *data, size_t len)
{
	char *s = enroll_b64(data, len);
	json_t *v = s ? json_string(s) : NULL;
	free(s);
	return v;
}

/* ------------------------------------------------------------------ sessions */

static void session_free(struct enroll_service *svc, struct session *s)
{
	util_list_remove(&s->link);
	svc->n_sessions--;
	sodium_memzero(s, sizeof(*s));
	free(s);
}

static void backoff_count(struct enroll_service *svc, const char *user,
			  const char *addr);

/* An OPAQUE login that never finishes is a failure: the client learns
 * whether the password was right from KE2 alone, so a guesser would
 * simply never send KE3. */
static void session_abandoned(struct enroll_service *svc, struct session *s)
{
	if (s->kind == S_OPAQUE)
		backoff_count(svc, s->name, s->addr);
	session_free(svc, s);
}

static void sessions_expire(struct enroll_service *svc, uint64_t now)
{
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &svc->sessions) {
		struct session *s = container_of(pos, struct session, link);
		if (s->expires_ms <= now)
			session_abandoned(svc, s);
	}
}

/* Before a new login: the user's unfinished one counts as failed, and an
 * address may not keep many open. Returns false when it has too many. */
static bool settle_logins(struct enroll_service *svc, const char *user,
			  const char *addr)
{
	struct util_list *pos, *tmp;
	unsigned from_addr = 0;
	sessions_expire(svc, util_now_ms());
	util_list_for_each_safe(pos, tmp, &svc->sessions) {
		struct session *s = container_of(pos, struct session, link);
		if (s->kind != S_OPAQUE)
			continue;
		if (strcmp(s->name, user) == 0)
			session_abandoned(svc, s);
		else if (strcmp(s->addr, addr) == 0)
			from_addr++;
	}
	return from_addr < MAX_LOGINS_PER_ADDRESS;
}

static struct session *session_new(struct call *c, enum session_kind kind)
{
	struct enroll_service *svc = c->svc;
	uint64_t now = util_now_ms();
	sessions_expire(svc, now);
	if (svc->n_sessions >= MAX_SESSIONS)
		return NULL;
	struct session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	uint8_t id[SESSION_ID_BYTES];
	randombytes_buf(id, sizeof(id));
	char *text = enroll_b64(id, sizeof(id));
	if (!text) {
		free(s);
		return NULL;
	}
	snprintf(s->id, sizeof(s->id), "%s", text);
	free(text);
	s->kind = kind;
	snprintf(s->addr, sizeof(s->addr), "%s", c->addr);
	memcpy(s->exporter, c->exporter, sizeof(s->exporter));
	s->expires_ms = now + ENROLL_SESSION_TTL_S * 1000;
	util_list_push(&svc->sessions, &s->link);
	svc->n_sessions++;
	return s;
}

/* The session a finish names; the caller owns it from here on (it is off
 * the list: whatever happens next, it cannot be used again). */
static struct session *session_take(struct call *c, enum session_kind kind,
				    const char *id, const uint8_t *token)
{
	sessions_expire(c->svc, util_now_ms());
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &c->svc->sessions) {
		struct session *s = container_of(pos, struct session, link);
		bool match = id ? strcmp(s->id, id) == 0
				: sodium_memcmp(s->token, token, 32) == 0;
		if (s->kind == kind && match) {
			util_list_remove(&s->link);
			util_list_init(&s->link);
			c->svc->n_sessions--;
			return s;
		}
	}
	return NULL;
}

static void session_drop(struct session *s)
{
	sodium_memzero(s, sizeof(*s));
	free(s);
}

static bool same_connection(const struct call *c, const struct session *s)
{
	return sodium_memcmp(c->exporter, s->exporter,
			     ENROLL_EXPORTER_BYTES) == 0;
}

/* ------------------------------------------------------------------ the bundle */

/* A one-time EST token (purpose est or register): the text goes into the
 * bundle, its hash into the store. */
static char *new_token(struct enroll_service *svc, const char *purpose,
		       const char *profile, const char *device)
{
	uint8_t raw[32], hash[32];
	randombytes_buf(raw, sizeof(raw));
	char *text = enroll_b64(raw, sizeof(raw));
	if (!text)
		return NULL;
	crypto_hash_sha256(hash, (const uint8_t *)text, strlen(text));
	struct store_token t = { .expires = time(NULL) + ENROLL_TOKEN_TTL_S };
	snprintf(t.purpose, sizeof(t.purpose), "%s", purpose);
	snprintf(t.profile, sizeof(t.profile), "%s", profile);
	snprintf(t.device, sizeof(t.device), "%s", device);
	if (store_token_add(svc->store, hash, &t) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static json_t *bundle_addresses(const struct enroll_conf *conf)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < conf->n_addresses; i++)
		json_array_append_new(a, json_string(conf->addresses[i]));
	return a;
}

static json_t *bundle_pins(const struct enroll_service *svc)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < svc->n_pins; i++)
		json_array_append_new(a, json_string(svc->pins[i]));
	return a;
}

/* What the device learns once the PAKE has authenticated us. */
struct grant {
	const char *device, *profile;
	char *est_token, *register_token;
};

static json_t *bundle_json(const struct enroll_service *svc,
			   const struct grant *g)
{
	const struct enroll_conf *conf = &svc->conf;
	char doh[512], est[512], expires[32];
	snprintf(doh, sizeof(doh), "%s%s{?dns}", svc->base_url, conf->doh_path);
	snprintf(est, sizeof(est), "%s/.well-known/est", svc->base_url);
	time_t end = time(NULL) + conf->cert_validity_s;
	struct tm tm;
	gmtime_r(&end, &tm);
	strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *b = json_pack("{s:i, s:s, s:o, s:{s:s}, s:o, s:s, s:{s:s, s:s},"
			      " s:{s:s}, s:s, s:s}",
			      "v", 1, "adn", conf->adn,
			      "addresses", bundle_addresses(conf),
			      "doh", "template", doh,
			      "spki_pins", bundle_pins(svc),
			      "ca_pem", svc->ca_pem,
			      "est", "base", est, "token", g->est_token,
			      "policy", "profile",
			      g->profile[0] ? g->profile : "default",
			      "device", g->device, "expires", expires);
	if (b && conf->dot_port)
		json_object_set_new(b, "dot", json_pack("{s:i}", "port",
							(int)conf->dot_port));
	if (b && g->register_token)
		json_object_set_new(b, "register", json_pack(
			"{s:s}", "token", g->register_token));
	return b;
}

/* Seal the bundle under a key from the PAKE's output. */
static json_t *sealed_bundle(const struct call *c, const struct grant *g,
			     const uint8_t *ikm, size_t ikm_len)
{
	json_t *b = bundle_json(c->svc, g);
	char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (!text)
		return NULL;
	uint8_t key[ENROLL_KEY_BYTES], *box = NULL;
	size_t box_len = 0;
	enroll_bundle_key(key, ikm, ikm_len);
	int rc = enroll_seal(&box, &box_len, key, c->exporter,
			     (const uint8_t *)text, strlen(text));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(text, strlen(text));
	free(text);
	json_t *v = rc == 0 ? b64_value(box, box_len) : NULL;
	free(box);
	return v;
}

/* A device name nobody has: the wanted one, else with a random suffix. */
static int add_device(struct enroll_service *svc, const char *want,
		      const char *profile, const char *owner,
		      const char *address, struct store_device *d)
{
	*d = (struct store_device){ .enrolled_at = time(NULL) };
	snprintf(d->profile, sizeof(d->profile), "%s", profile);
	snprintf(d->owner, sizeof(d->owner), "%s", owner);
	snprintf(d->address, sizeof(d->address), "%s", address);
	snprintf(d->name, sizeof(d->name), "%s", want);
	for (int tries = 0; tries < 8; tries++) {
		int rc = store_device_add(svc->store, d);
		if (rc <= 0)
			return rc;
		uint8_t r[3];
		char hex[7];
		randombytes_buf(r, sizeof(r));
		sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
		snprintf(d->name, sizeof(d->name), "%.*s-%s",
			 ENROLL_MAX_DEVICE - 7, want, hex);
	}
	return -1;
}

/* The device the client asks for, if it names one we can use. */
static const char *wanted_device(const struct call *c)
{
	const char *d = member(c, "device");
	return d && enroll_device_name_valid(d) ? d : NULL;
}

/* Record the device and mint its tokens in one transaction. */
static int grant_device(struct call *c, const char *want, const char *profile,
			const char *owner, bool registration,
			const char *register_user, struct grant *g,
			struct store_device *d)
{
	struct store *st = c->svc->store;
	if (add_device(c->svc, want, profile, owner, c->addr, d) != 0)
		return -1;
	g->device = d->name;
	g->profile = profile;
	g->est_token = new_token(c->svc, "est", profile, d->name);
	if (registration)
		g->register_token = new_token(c->svc, "register", "",
					      register_user);
	if (!g->est_token || (registration && !g->register_token))
		return -1;
	char detail[256];
	snprintf(detail, sizeof(detail), "device %s (%s) from %s, profile %s",
		 d->name, owner, c->addr, profile[0] ? profile : "-");
	return store_audit(st, owner, "enroll", detail);
}

/* Tell the daemon, which attributes connections to devices. */
static void enrolled(const struct call *c, const struct store_device *d)
{
	if (c->svc->conf.on_enrolled)
		c->svc->conf.on_enrolled(c->svc->conf.ctx, d->name, d->address);
}

static void grant_free(struct grant *g)
{
	if (g->est_token)
		sodium_memzero(g->est_token, strlen(g->est_token));
	if (g->register_token)
		sodium_memzero(g->register_token, strlen(g->register_token));
	free(g->est_token);
	free(g->register_token);
}

/* ------------------------------------------------------------------ CPace */

static void cpace_start(struct call *c)
{
	const char *code_id = member(c, "code_id");
	if (!code_id || !enroll_code_id_valid(code_id)) {
		respond_error(c->ex, 400, "code_id: four Crockford base32 "
			      "characters expected");
		return;
	}
	struct session *s = session_new(c, S_CPACE);
	if (!s) {
		respond_error(c->ex, 503, "too many enrollments in progress");
		return;
	}
	/* An unknown code id gets an answer of the same shape from a random
	 * secret: nobody can tell ids apart before the finish. */
	struct store_code row;
	struct enroll_code code = { .id = "" };
	snprintf(code.id, sizeof(code.id), "%s", code_id);
	s->known = store_code_get(c->svc->store, code_id, &row) == 0 &&
		   enroll_code_unseal(&code, c->svc->codes_key, row.secret,
				      row.secret_len) == 0;
	if (!s->known) {
		struct enroll_code fake;
		enroll_code_generate(&fake);
		memcpy(code.secret, fake.secret, sizeof(code.secret));
		sodium_memzero(&fake, sizeof(fake));
	}
	snprintf(s->name, sizeof(s->name), "%s", code_id);
	randombytes_buf(s->sid, sizeof(s->sid));
	uint8_t ci[128];
	size_t ci_len = enroll_cpace_ci(ci, sizeof(ci), c->exporter);
	struct pake_cpace_inputs in = {
		.prs = PAKE_STR(code.secret, ENROLL_CODE_SECRET_LEN),
		.ci = PAKE_STR(ci, ci_len),
		.sid = PAKE_STR(s->sid, sizeof(s->sid)),
	};
	struct pake_cpace_message yb;
	int rc = pake_cpace_start(&s->cpace, PAKE_CPACE_RESPONDER, &in, &yb);
	sodium_memzero(&code, sizeof(code));
	sodium_memzero(&row, sizeof(row));
	if (rc != PAKE_OK) {
		session_free(c->svc, s);
		respond_error(c->ex, 503, "could not start");
		return;
	}
	respond_json(c->ex, 200, json_pack("{s:s, s:o, s:o, s:o}",
		"session", s->id, "sid", b64_value(s->sid, sizeof(s->sid)),
		"yb", b64_value(yb.bytes, sizeof(yb.bytes)),
		"adb", b64_value((const uint8_t *)c->svc->adb, c->svc->adb_len)),
		NULL, 0);
}

/* A failed attempt on a code; it dies at max-failures. */
static void code_failed(struct call *c, const char *code_id)
{
	int failures = 0;
	if (store_code_fail(c->svc->store, code_id, &failures) != 0)
		return;
	char detail[160];
	snprintf(detail, sizeof(detail), "code %s from %s: failure %d of %u",
		 code_id, c->addr, failures, c->svc->conf.max_failures);
	store_audit(c->svc->store, "enroll", "code.failure", detail);
	log_info("enroll", "%s", detail);
}

/* Why a known code cannot be used now: 0 when it can. */
static int code_unusable(struct call *c, const char *code_id,
			 struct store_code *row)
{
	if (store_code_get(c->svc->store, code_id, row) != 0)
		return 403;
	if (row->used_at || row->revoked_at || row->expires <= time(NULL) ||
	    row->failures >= (int)c->svc->conf.max_failures)
		return 410;
	return 0;
}

struct cpace_finish_msg {
	struct pake_cpace_message ya;
	struct pake_cpace_tag ta;
	uint8_t ada[256];
	size_t ada_len;
};

static bool cpace_finish_parse(struct call *c, struct cpace_finish_msg *m)
{
	const char *ada = member(c, "ada");
	long n = ada ? enroll_unb64(ada, m->ada, sizeof(m->ada)) : -1;
	if (n < 0)
		return false;
	m->ada_len = (size_t)n;
	return member_bytes(c, "ya", m->ya.bytes, sizeof(m->ya.bytes)) &&
	       member_bytes(c, "ta", m->ta.bytes, sizeof(m->ta.bytes));
}

/* Consume the code, record the device and answer with Tb and the bundle. */
static void cpace_grant(struct call *c, struct session *s,
			const struct store_code *row,
			const struct pake_cpace_keys *keys)
{
	struct store *st = c->svc->store;
	char owner[80], fallback[80];
	snprintf(owner, sizeof(owner), "code:%s", s->name);
	snprintf(fallback, sizeof(fallback), "code-%s", s->name);
	const char *want = row->device[0] ? row->device
			   : wanted_device(c) ? wanted_device(c) : fallback;
	struct grant g = { 0 };
	struct store_device d;
	bool reg = strcmp(row->purpose, "register") == 0;
	if (store_begin(st) != 0) {
		/* busy beyond the timeout, or a full or read-only disk */
		log_error("enroll", "enrolling with code %s: %s", s->name,
			  store_error(st));
		respond_error(c->ex, 503, "could not record the enrollment");
		return;
	}
	int rc = store_code_use(st, s->name, time(NULL),
				(int)c->svc->conf.max_failures);
	if (rc == 0)
		rc = grant_device(c, want, row->profile, owner, reg, row->user,
				  &g, &d);
	json_t *bundle = rc == 0 ? sealed_bundle(c, &g, keys->isk,
						 sizeof(keys->isk)) : NULL;
	if (rc == 1) {
		store_rollback(st);
		respond_error(c->ex, 410, "this code is used up or expired");
	} else if (!bundle || store_commit(st) != 0) {
		store_rollback(st);
		json_decref(bundle);
		log_error("enroll", "enrolling with code %s: %s", s->name,
			  store_error(st));
		respond_error(c->ex, 503, "could not record the enrollment");
	} else {
		log_info("enroll", "device %s enrolled with code %s from %s",
			 d.name, s->name, c->addr);
		enrolled(c, &d);
		respond_json(c->ex, 200, json_pack("{s:o, s:o}", "tb",
			b64_value(keys->tag.bytes, sizeof(keys->tag.bytes)),
			"bundle", bundle), NULL, 0);
	}
	grant_free(&g);
}

static void cpace_finish(struct call *c)
{
	struct cpace_finish_msg m;
	const char *id = member(c, "session");
	if (!id || !cpace_finish_parse(c, &m)) {
		respond_error(c->ex, 400, "session, ya, ada and ta expected");
		return;
	}
	struct session *s = session_take(c, S_CPACE, id, NULL);
	if (!s) {
		respond_error(c->ex, 404, "no such session (expired?)");
		return;
	}
	struct store_code row;
	struct pake_cpace_keys keys;
	int status = !same_connection(c, s) ? 403
		     : !s->known ? 403 : code_unusable(c, s->name, &row);
	if (status == 0 &&
	    pake_cpace_finish(&s->cpace, PAKE_STR(s->sid, sizeof(s->sid)),
			      PAKE_STR(c->svc->adb, c->svc->adb_len), &m.ya,
			      PAKE_STR(m.ada, m.ada_len), &keys) != PAKE_OK)
		status = 400;
	else if (status == 0 && pake_cpace_verify(&s->cpace, &m.ta) != PAKE_OK)
		status = 403;
	if (status == 403 && s->known)
		code_failed(c, s->name);
	if (status == 0)
		cpace_grant(c, s, &row, &keys);
	else if (status == 400)
		respond_error(c->ex, 400, "ya is not a valid element");
	else if (status == 410)
		respond_error(c->ex, 410, "this code is used up or expired");
	else
		respond_error(c->ex, 403, "authentication failed");
	sodium_memzero(&keys, sizeof(keys));
	session_drop(s);
}

/* ------------------------------------------------------------------ OPAQUE login */

/* Back-off keys of a user and of the client's address. */
static void backoff_keys(const struct call *c, const char *user,
			 char ukey[96], char akey[96])
{
	snprintf(ukey, 96, "user:%s", user);
	snprintf(akey, 96, "addr:%s", c->addr);
}

static bool backed_off(struct call *c, const char *user)
{
	char ukey[96], akey[96];
	int64_t until = 0, now = wall_ms();
	backoff_keys(c, user, ukey, akey);
	if (store_backoff_check(c->svc->store, ukey, now, &until) == 1 ||
	    store_backoff_check(c->svc->store, akey, now, &until) == 1) {
		respond_retry(c->ex, until);
		return true;
	}
	return false;
}

static void backoff_count(struct enroll_service *svc, const char *user,
			  const char *addr)
{
	char ukey[96], akey[96], detail[200];
	int fu = 0, fa = 0;
	int64_t now = wall_ms();
	snprintf(ukey, sizeof(ukey), "user:%s", user);
	snprintf(akey, sizeof(akey), "addr:%s", addr);
	store_backoff_fail(svc->store, ukey, now, BACKOFF_FORGET_MS,
			   BACKOFF_BASE_MS, BACKOFF_MAX_MS, &fu);
	store_backoff_fail(svc->store, akey, now, BACKOFF_FORGET_MS,
			   BACKOFF_BASE_MS, BACKOFF_MAX_MS, &fa);
	snprintf(detail, sizeof(detail), "user %s from %s: failure %d in a "
		 "row (address: %d)", user, addr, fu, fa);
	store_audit(svc->store, "enroll", "login.failure", detail);
	log_info("enroll", "%s", detail);
}

static void login_failed(struct call *c, const char *user)
{
	backoff_count(c->svc, user, c->addr);
}

static void opaque_login_start(struct call *c)
{
	const char *name = member(c, "user");
	char user[ENROLL_MAX_USER + 1];
	struct pake_opaque_ke1 ke1;
	if (!name || enroll_user_fold(name, user, sizeof(user)) != 0 ||
	    !member_bytes(c, "ke1", ke1.bytes, sizeof(ke1.bytes))) {
		respond_error(c->ex, 400, "user and ke1 (96 bytes) expected");
		return;
	}
	if (!settle_logins(c->svc, user, c->addr)) {
		respond_retry(c->ex, wall_ms() + BACKOFF_BASE_MS);
		return;
	}
	if (backed_off(c, user))
		return;
	struct session *s = session_new(c, S_OPAQUE);
	if (!s) {
		respond_error(c->ex, 503, "too many enrollments in progress");
		return;
	}
	snprintf(s->name, sizeof(s->name), "%s", user);
	struct pake_opaque_registration_record record;
	int found = store_user_get(c->svc->store, user, record.bytes);
	s->known = found == 0;
	uint8_t context[ENROLL_OPAQUE_CONTEXT_BYTES];
	struct pake_opaque_params params = enroll_opaque_params(
		context, c->exporter, PAKE_KSF_ARGON2ID);
	struct pake_opaque_ke2 ke2;
	/* Without a record the library answers from a fake one, in the
	 * same time and shape (RFC 9807 10.9). */
	int rc = pake_opaque_server_login_start(
		&s->opaque, &c->svc->keys, &params,
		PAKE_STR(user, strlen(user)), s->known ? &record : NULL, &ke1,
		&ke2);
	sodium_memzero(&record, sizeof(record));
	if (rc != PAKE_OK || found < 0) {
		session_free(c->svc, s);
		if (rc == PAKE_ERR_MALFORMED)
			respond_error(c->ex, 400, "ke1 is not valid");
		else
			respond_error(c->ex, 503, "could not start");
		return;
	}
	respond_json(c->ex, 200, json_pack("{s:s, s:o}", "session", s->id,
		"ke2", b64_value(ke2.bytes, sizeof(ke2.bytes))), NULL, 0);
}

static void opaque_grant(struct call *c, struct session *s,
			 const uint8_t session_key[PAKE_OPAQUE_KEY_BYTES])
{
	struct store *st = c->svc->store;
	char owner[96], want[ENROLL_MAX_DEVICE + 1], ukey[96], akey[96];
	snprintf(owner, sizeof(owner), "user:%s", s->name);
	const char *asked = wanted_device(c);
	uint8_t r[3];
	char hex[7];
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	/* user names may hold what a CN should not: keep the safe part */
	size_t k = 0;
	for (const char *p = s->name; *p && k < 24; p++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", *p))
			want[k++] = *p;
	snprintf(want + k, sizeof(want) - k, "%s%.*s", k ? "-" : "user-",
		 (int)(ENROLL_MAX_DEVICE - k - 6), asked ? asked : hex);
	struct grant g = { 0 };
	struct store_device d;
	backoff_keys(c, s->name, ukey, akey);
	int rc = store_begin(st) == 0 ? 0 : -1;
	if (rc == 0)
		rc = grant_device(c, want, "", owner, false, NULL, &g, &d);
	if (rc == 0)
		rc = store_backoff_clear(st, ukey);
	json_t *bundle = rc == 0 ? sealed_bundle(c, &g, session_key,
						 PAKE_OPAQUE_KEY_BYTES) : NULL;
	if (!bundle || store_commit(st) != 0) {
		store_rollback(st);
		json_decref(bundle);
		log_error("enroll", "enrolling user %s: %s", s->name,
			  store_error(st));
		respond_error(c->ex, 503, "could not record the enrollment");
	} else {
		log_info("enroll", "device %s enrolled by user %s from %s",
			 d.name, s->name, c->addr);
		enrolled(c, &d);
		respond_json(c->ex, 200, json_pack("{s:o}", "bundle", bundle),
			     NULL, 0);
	}
	grant_free(&g);
}

static void opaque_login_finish(struct call *c)
{
	const char *id = member(c, "session");
	struct pake_opaque_ke3 ke3;
	if (!id || !member_bytes(c, "ke3", ke3.bytes, sizeof(ke3.bytes))) {
		respond_error(c->ex, 400, "session and ke3 (64 bytes) expected");
		return;
	}
	struct session *s = session_take(c, S_OPAQUE, id, NULL);
	if (!s) {
		respond_error(c->ex, 404, "no such session (expired?)");
		return;
	}
	uint8_t key[PAKE_OPAQUE_KEY_BYTES];
	bool ok = same_connection(c, s) &&
		  pake_opaque_server_login_finish(&s->opaque, &ke3, key) ==
			  PAKE_OK &&
		  s->known;
	if (ok) {
		opaque_grant(c, s, key);
	} else {
		login_failed(c, s->name);
		respond_error(c->ex, 403, "authentication failed");
	}
	sodium_memzero(key, sizeof(key));
	session_drop(s);
}

/* ------------------------------------------------------------------ OPAQUE registration */

/* A registration token: 0 and who it is bound to ("" for anyone new). */
static int register_token(struct call *c, uint8_t hash[32],
			  struct store_token *t)
{
	const char *token = member(c, "token");
	if (!token)
		return -1;
	crypto_hash_sha256(hash, (const uint8_t *)token, strlen(token));
	if (store_token_peek(c->svc->store, hash, time(NULL), t) != 0 ||
	    strcmp(t->purpose, "register") != 0)
		return 1;
	return 0;
}

static void register_start(struct call *c)
{
	uint8_t hash[32];
	struct store_token t;
	const char *name = member(c, "user");
	char user[ENROLL_MAX_USER + 1];
	struct pake_opaque_registration_request req;
	int rc = register_token(c, hash, &t);
	if (rc < 0 || !name || enroll_user_fold(name, user, sizeof(user)) ||
	    !member_bytes(c, "request", req.bytes, sizeof(req.bytes))) {
		respond_error(c->ex, 400, "token, user and request expected");
		return;
	}
	if (rc != 0 || (t.device[0] && strcmp(t.device, user) != 0)) {
		respond_error(c->ex, 403, "this token cannot register that user");
		return;
	}
	uint8_t record[STORE_RECORD_BYTES];
	if (!t.device[0] && store_user_get(c->svc->store, user, record) == 0) {
		respond_error(c->ex, 409, "that user name is taken");
		return;
	}
	struct pake_opaque_registration_response resp;
	if (pake_opaque_server_register(&c->svc->keys,
					PAKE_STR(user, strlen(user)), &req,
					&resp) != PAKE_OK) {
		respond_error(c->ex, 400, "request is not a valid element");
		return;
	}
	struct session *old = session_take(c, S_REGISTER, NULL, hash);
	if (old)
		session_drop(old);
	struct session *s = session_new(c, S_REGISTER);
	if (!s) {
		respond_error(c->ex, 503, "too many enrollments in progress");
		return;
	}
	memcpy(s->token, hash, sizeof(hash));
	snprintf(s->name, sizeof(s->name), "%s", user);
	s->known = t.device[0] != '\0';	/* bound: may replace */
	respond_json(c->ex, 200, json_pack("{s:o}", "response",
		b64_value(resp.bytes, sizeof(resp.bytes))), NULL, 0);
}

static void register_store(struct call *c, struct session *s,
			   const struct pake_opaque_registration_record *rec)
{
	struct store *st = c->svc->store;
	struct store_token t;
	char detail[160];
	int rc = store_begin(st) == 0 ? 0 : -1;
	if (rc == 0)
		rc = store_token_use(st, s->token, time(NULL), &t);
	if (rc == 0)
		rc = store_user_set(st, s->name, rec->bytes, s->known);
	snprintf(detail, sizeof(detail), "user %s registered from %s", s->name,
		 c->addr);
	if (rc == 0)
		rc = store_audit(st, "enroll", "user.register", detail);
	if (rc == 0 && store_commit(st) == 0) {
		log_info("enroll", "%s", detail);
		respond_json(c->ex, 201, json_object(), NULL, 0);
		return;
	}
	store_rollback(st);
	if (rc == 1)
		respond_error(c->ex, 410, "the token is used up, or the name "
			      "was taken meanwhile");
	else
		respond_error(c->ex, 503, "could not record the user");
}

static void register_finish(struct call *c)
{
	uint8_t hash[32];
	struct store_token t;
	struct pake_opaque_registration_record rec;
	int rc = register_token(c, hash, &t);
	if (rc < 0 || !member_bytes(c, "record", rec.bytes, sizeof(rec.bytes))) {
		respond_error(c->ex, 400, "token and record expected");
		return;
	}
	struct session *s = session_take(c, S_REGISTER, NULL, hash);
	if (!s) {
		respond_error(c->ex, 404, "no registration started");
		return;
	}
	if (rc != 0 || !same_connection(c, s))
		respond_error(c->ex, 403, "authentication failed");
	else if (pake_opaque_record_check(&rec) != PAKE_OK)
		respond_error(c->ex, 400, "record is not valid");
	else
		register_store(c, s, &rec);
	session_drop(s);
}

/* ------------------------------------------------------------------ routing */

static const struct {
	const char *path;
	void (*fn)(struct call *c);
} routes[] = {
	{ "/cpace/start", cpace_start },
	{ "/cpace/finish", cpace_finish },
	{ "/opaque/login/start", opaque_login_start },
	{ "/opaque/login/finish", opaque_login_finish },
	{ "/opaque/register/start", register_start },
	{ "/opaque/register/finish", register_finish },
};

static bool is_json(const char *content_type)
{
	if (!content_type)
		return true;	/* the body must still parse as JSON */
	size_t n = strcspn(content_type, "; \t");
	return n == 16 && strncasecmp(content_type, "application/json", n) == 0;
}

/* The exporter of a TLS 1.3 connection, or an answer of 426. */
static bool tls13_exporter(struct call *c)
{
	bool tls13 = false;
	int n = net_conn_channel_binding(net_http_exchange_conn(c->ex),
					 c->exporter, sizeof(c->exporter),
					 &tls13);
	if (n == ENROLL_EXPORTER_BYTES && tls13)
		return true;
	/* HTTP/1.1 wants Upgrade with a 426; HTTP/2 forbids the field */
	struct net_http_header h[] = { { "Upgrade", "TLS/1.3" } };
	bool h1 = net_http_exchange_request(c->ex)->version == 1;
	respond_json(c->ex, 426, json_pack("{s:s}", "error",
		"enrollment needs TLS 1.3"), h, h1 ? 1 : 0);
	return false;
}

/* The client's address without its port: back-off is per host. */
static void client_address(struct net_http_exchange *ex, char *out,
			   size_t cap)
{
	const struct util_addr *a = net_conn_remote(net_http_exchange_conn(ex));
	util_addr_str((const struct sockaddr *)&a->ss, out, cap);
	out[strcspn(out, "#")] = '\0';
}

static void enroll_handle(void *ctx, struct net_http_exchange *ex)
{
	const struct net_http_request *req = net_http_exchange_request(ex);
	const char *sub = net_http_exchange_subpath(ex);
	struct call c = { .svc = ctx, .ex = ex };
	size_t i = 0;
	while (i < ARRAY_SIZE(routes) && strcmp(routes[i].path, sub) != 0)
		i++;
	if (i == ARRAY_SIZE(routes)) {
		respond_error(ex, 404, "no such endpoint");
		return;
	}
	if (req->method != NET_HTTP_POST) {
		struct net_http_header h[] = { { "Allow", "POST" } };
		respond_json(ex, 405, json_pack("{s:s}", "error", "POST only"),
			     h, 1);
		return;
	}
	if (!is_json(req->content_type)) {
		respond_error(ex, 415, "application/json expected");
		return;
	}
	if (!tls13_exporter(&c))
		return;
	json_error_t jerr;
	c.body = req->body_len <= ENROLL_MAX_BODY
		 ? json_loadb((const char *)req->body, req->body_len,
			      JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!json_is_object(c.body)) {
		json_decref(c.body);
		respond_error(ex, 400, "the body is not a JSON object");
		return;
	}
	client_address(ex, c.addr, sizeof(c.addr));
	routes[i].fn(&c);
	json_decref(c.body);
	sodium_memzero(c.exporter, sizeof(c.exporter));
}

/* ------------------------------------------------------------------ setup */

static int load_pins(struct enroll_service *svc, char *err, size_t errlen)
{
	uint8_t pin[PKI_DIGEST_LEN];
	if (pki_pin_of_file(svc->conf.server_cert, pin, err, errlen) != 0)
		return -1;
	pki_pin_to_base64(pin, svc->pins[0]);
	svc->n_pins = 1;
	if (svc->conf.backup_pin) {
		if (pki_pin_parse(svc->conf.backup_pin, pin) != 0) {
			snprintf(err, errlen, "enroll.backup-pin: not a base64 "
				 "SHA-256");
			return -1;
		}
		pki_pin_to_base64(pin, svc->pins[svc->n_pins++]);
	}
	return 0;
}

static int load_files(struct enroll_service *svc, char *err, size_t errlen)
{
	const struct enroll_conf *conf = &svc->conf;
	char path[PATH_MAX];
	size_t len;
	if (enroll_server_keys_load(conf->state_dir, &svc->keys, err,
				    errlen) != 0 ||
	    enroll_codes_key_load(conf->state_dir, svc->codes_key, err,
				  errlen) != 0 ||
	    load_pins(svc, err, errlen) != 0)
		return -1;
	if (util_read_file(conf->ca_cert, 1 << 20, (uint8_t **)&svc->ca_pem,
			   &len) != 0) {
		snprintf(err, errlen, "%s: cannot read the CA", conf->ca_cert);
		return -1;
	}
	if (util_path_join(path, sizeof(path), conf->state_dir, STORE_FILE) ||
	    store_open(path, &svc->store, err, errlen) != 0)
		return -1;
	return 0;
}

struct enroll_service *enroll_service_new(uv_loop_t *loop,
					  const struct enroll_conf *c,
					  char *err, size_t errlen)
{
	(void)loop;
	struct enroll_service *svc = calloc(1, sizeof(*svc));
	if (!svc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	svc->conf = *c;
	/* the caller's address texts may not outlive this call */
	svc->conf.n_addresses = MIN(c->n_addresses, MAX_ADDRESSES);
	for (size_t i = 0; i < svc->conf.n_addresses; i++) {
		snprintf(svc->addresses[i], sizeof(svc->addresses[i]), "%s",
			 c->addresses[i]);
		svc->address_list[i] = svc->addresses[i];
	}
	svc->conf.addresses = svc->address_list;
	util_list_init(&svc->sessions);
	svc->adb_len = enroll_cpace_adb(svc->adb, sizeof(svc->adb), c->adn);
	if (c->https_port != 443)
		snprintf(svc->base_url, sizeof(svc->base_url), "https://%s:%u",
			 c->adn, c->https_port);
	else
		snprintf(svc->base_url, sizeof(svc->base_url), "https://%s",
			 c->adn);
	if (svc->adb_len == 0 || load_files(svc, err, errlen) != 0) {
		enroll_service_free(svc);
		return NULL;
	}
	/* read once above; the caller's paths need not stay */
	svc->conf.server_cert = svc->conf.ca_cert = NULL;
	svc->conf.backup_pin = svc->conf.state_dir = NULL;
	return svc;
}

int enroll_service_route(struct enroll_service *svc, struct net_http_router *r)
{
	return net_http_router_add(r, ENROLL_PREFIX, enroll_handle, svc);
}

void enroll_service_free(struct enroll_service *svc)
{
	if (!svc)
		return;
	while (!util_list_empty(&svc->sessions))
		session_free(svc, container_of(svc->sessions.next,
						 struct session, link));
	store_close(svc->store);
	free(svc->ca_pem);
	sodium_memzero(svc, sizeof(*svc));
	free(svc);
}
