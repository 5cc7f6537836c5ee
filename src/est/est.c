/*  anchord - est/est.c: the EST server (RFC 7030, RFC 8951, RFC 8295).
 *
 *  Bodies are base64 of DER; whitespace in them is tolerated and
 *  Content-Transfer-Encoding ignored (RFC 8951). Enrollment needs a one-time
 *  bearer token, a certificate of this CA (the only way to re-enroll), or an
 *  EST user's password (HTTP Basic, Argon2id, checked on libuv's thread
 *  pool so the loop never waits). A CSR that carries challengePassword must
 *  carry the TLS channel binding of this very connection (RFC 7030 3.5: tls-
 *  unique, or tls-exporter under TLS 1.3). An IoT device may instead
 *  present its factory IDevID (est/idevid.c): its certificate (the
 *  LDevID) then carries the IDevID's serialNumber and MUD URL, and so does
 *  every renewal. Issuing, using the token and
 *  recording the certificate are one store transaction: a client never
 *  receives a certificate the store does not have.
 */
#include "est/est.h"
#include "est/internal.h"
#include "brski/brski.h"
#include "pki/pki.h"
#include "store/store.h"

#include <gnutls/gnutls.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_BODY 65535
#define CRL_LIFETIME 86400		/* nextUpdate; remade on revocation */

enum est_op {
	OP_NONE,
	OP_CACERTS,
	OP_CSRATTRS,
	OP_SIMPLEENROLL,
	OP_SIMPLEREENROLL,
	OP_SERVERKEYGEN,
	OP_EECERTS,
	OP_CRLS,
};

struct est_service {
	uv_loop_t *loop;
	struct est_conf conf;
	struct pki_ca *ca;
	struct store *store;
	char *cacerts;			/* base64 certs-only of the CA */
	char *crls;			/* base64 crls-only, remade on change */
	int64_t crl_mark, crl_made;
	/* Certificates issued in one turn of the loop are recorded in one
	 * transaction, each enrollment in a savepoint of its own. */
	uv_check_t recorder;
	bool recorder_open;
	unsigned basic_inflight;	/* Argon2id checks on the pool */
	struct job *batch, **batch_tail;
	struct est_manufacturers *manufacturers;	/* or NULL: no IoT */
	struct est_registrar *registrar;	/* with manufacturers */
};

/* ------------------------------------------------------------------ base64 */

/* Base64 in lines of 64 characters, as EST examples and clients expect.
 * Lines end in LF, which base64 -d and openssl accept alike (coreutils
 * rejects CR); MIME parts (serverkeygen) use CRLF like the rest of a
 * multipart body. */
static char *base64_lines(const uint8_t *der, size_t len, bool crlf,
			  size_t *out_len)
{
	size_t b64 = sodium_base64_encoded_len(len,
					       sodium_base64_VARIANT_ORIGINAL);
	char *flat = malloc(b64);
	char *out = malloc(b64 + (b64 / 64 + 2) * 2);
	if (!flat || !out) {
		free(flat);
		free(out);
		return NULL;
	}
	sodium_bin2base64(flat, b64, der, len, sodium_base64_VARIANT_ORIGINAL);
	size_t n = strlen(flat), o = 0;
	for (size_t i = 0; i < n; i += 64) {
		size_t chunk = MIN(64, n - i);
		memcpy(out + o, flat + i, chunk);
		o += chunk;
		if (crlf)
			out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
	free(flat);
	*out_len = o;
	return out;
}

/* RFC 8951: whitespace may appear anywhere in the base64. */
static int base64_decode(const uint8_t *in, size_t len, uint8_t *out,
			 size_t cap, size_t *out_len)
{
	const char *end;
	return sodium_base642bin(out, cap, (const char *)in, len, " \t\r\n",
				 out_len, &end,
				 sodium_base64_VARIANT_ORIGINAL) == 0 &&
	       end == (const char *)in + len ? 0 : -1;
}

/* The DER of an enrollment body, malloc'ed; NULL with a reason. */
static uint8_t *decode_body(const uint8_t *body, size_t len, size_t *der_len,
			    char *why, size_t whylen)
{
	if (len == 0) {
		snprintf(why, whylen, "the request has no body (expected a "
			 "base64 PKCS#10 request)");
		return NULL;
	}
	uint8_t *der = malloc(len);	/* base64 only ever shrinks */
	if (der && base64_decode(body, len, der, len, der_len) == 0)
		return der;
	snprintf(why, whylen, der ? "the body is not base64" : "out of memory");
	free(der);
	return NULL;
}

int est_decode_csr(const uint8_t *body, size_t len, struct pki_csr *out,
		   char *why, size_t whylen)
{
	size_t n;
	uint8_t *der = decode_body(body, len, &n, why, whylen);
	if (!der)
		return -1;
	int ret = pki_csr_parse(der, n, out, why, whylen);
	free(der);
	return ret;
}

bool est_media_type_is(const char *header, const char *type)
{
	size_t n = strlen(type);
	return header && strncasecmp(header, type, n) == 0 &&
	       (header[n] == '\0' || header[n] == ';' || header[n] == ' ');
}

static void respond_b64(struct net_http_exchange *ex, const char *type,
			const char *b64)
{
	struct net_http_header h[] = {
		{ "Content-Transfer-Encoding", "base64" },
	};
	net_http_respond(ex, 200, type, h, 1, (const uint8_t *)b64,
			 strlen(b64));
}

static void respond_der(struct net_http_exchange *ex, const char *type,
			const gnutls_datum_t *der)
{
	size_t len;
	char *b64 = base64_lines(der->data, der->size, false, &len);
	if (!b64) {
		net_http_respond_error(ex, 503, NULL);
		return;
	}
	respond_b64(ex, type, b64);
	free(b64);
}

#define CERTS_ONLY "application/pkcs7-mime; smime-type=certs-only"

/* ------------------------------------------------------------------ distribution */

static void op_cacerts(struct est_service *est, struct net_http_exchange *ex)
{
	respond_b64(ex, CERTS_ONLY, est->cacerts);
}

/* CsrAttrs (RFC 7030 4.5.2): challengePassword (POP linking), an ECDSA
 * P-256 key, signed with ecdsa-with-SHA256. */
static const uint8_t csr_attrs[] = {
	0x30, 0x2c,
	0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07,
	0x30, 0x15, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x31, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
};

static void op_csrattrs(struct est_service *est, struct net_http_exchange *ex)
{
	gnutls_datum_t d = { (unsigned char *)csr_attrs, sizeof(csr_attrs) };
	respond_der(ex, "application/csrattrs", &d);
}

/* RFC 8295 /eecerts: the certificates of the DNS server itself, which
 * carry the SRV-ID _domain-s.<name>; clients check them against the CA. */
static void op_eecerts(struct est_service *est, struct net_http_exchange *ex)
{
	gnutls_datum_t *certs = NULL, p7 = { NULL, 0 };
	size_t n = 0;
	if (!est->conf.server_cert ||
	    pki_pem_certs(est->conf.server_cert, &certs, &n) != 0 || n == 0 ||
	    pki_certs_only(certs, 1, &p7) != 0)	/* the leaf; CA: /cacerts */
		net_http_respond_error(ex, 404, "no server certificate");
	else
		respond_der(ex, CERTS_ONLY, &p7);
	for (size_t i = 0; i < n; i++)
		gnutls_free(certs[i].data);
	free(certs);
	gnutls_free(p7.data);
}

struct revoked_list {
	struct pki_revoked *items;
	size_t n, cap;
};

static int collect_revoked(void *ctx, const struct store_cert *c)
{
	struct revoked_list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct pki_revoked *p = realloc(l->items, cap * sizeof(*p));
		if (!p)
			return -1;
		l->items = p;
		l->cap = cap;
	}
	snprintf(l->items[l->n].serial, sizeof(l->items[0].serial), "%s",
		 c->serial);
	l->items[l->n++].at = c->revoked_at;
	return 0;
}

int est_make_crl(struct pki_ca *ca, struct store *s, int64_t lifetime,
		 gnutls_datum_t *crl)
{
	struct revoked_list l = { 0 };
	int ret = store_cert_each(s, true, collect_revoked, &l);
	if (ret == 0)
		ret = pki_crl(ca, l.items, l.n, (uint64_t)time(NULL), lifetime,
			      crl);
	free(l.items);
	return ret;
}

/* The CRL is remade when a revocation happened or half its life passed. */
static int refresh_crl(struct est_service *est)
{
	int64_t mark, now = time(NULL);
	if (store_revocation_mark(est->store, &mark) != 0)
		return -1;
	if (est->crls && mark == est->crl_mark &&
	    now - est->crl_made < CRL_LIFETIME / 2)
		return 0;
	gnutls_datum_t crl = { NULL, 0 }, p7 = { NULL, 0 };
	int ret = est_make_crl(est->ca, est->store, CRL_LIFETIME, &crl);
	if (ret == 0)
		ret = pki_crls_only(&crl, &p7);
	size_t len;
	char *b64 = ret == 0 ? base64_lines(p7.data, p7.size, false, &len) : NULL;
	if (b64) {
		free(est->crls);
		est->crls = b64;
		est->crl_mark = mark;
		est->crl_made = now;
	}
	gnutls_free(crl.data);
	gnutls_free(p7.data);
	return b64 ? 0 : -1;
}

static void op_crls(struct est_service *est, struct net_http_exchange *ex)
{
	if (refresh_crl(est) != 0) {
		net_http_respond_error(ex, 503, "cannot make the CRL");
		return;
	}
	respond_b64(ex, "application/pkcs7-mime; smime-type=crls-only",
		    est->crls);
}

/* ------------------------------------------------------------------ enrollment jobs */

enum auth_kind { AUTH_NONE, AUTH_TOKEN, AUTH_CERT, AUTH_BASIC, AUTH_IDEVID };

/* An enrollment request. The CPU-heavy steps (checking the request's
 * signature, issuing) run on libuv's thread pool so that DNS on this
 * worker's loop never waits for them; the store is only touched on the
 * loop, which owns its connection. */
struct job {
	struct est_service *est;
	struct job *next;		/* in est->batch */
	struct net_http_exchange *ex;	/* NULL once the client is gone */
	enum est_op op;
	enum auth_kind auth;
	uint8_t *der;			/* the request, decoded */
	size_t der_len;
	char why[256];			/* what the thread pool refused */
	int work_ret;
	struct pki_csr csr;
	void *key;			/* serverkeygen */
	struct pki_issued out;
	gnutls_datum_t p7;		/* the certificate, certs-only */
	char *body;			/* serverkeygen: the multipart answer */
	size_t body_len;
	char type[96];
	int64_t pending_id;
	char identity[160];		/* "token:...", "user:...", "cert:..." */
	char common_name[128];
	char profile[64];
	char device_serial[128];	/* the subject serialNumber to issue */
	char mud_url[256];		/* the MUD URL extension to issue */
	uint8_t token[32];		/* SHA-256 of the bearer token */
	char user[128];
	char password[256];
	char pwhash[256];
	bool password_ok, busy;
	uv_work_t work;
	uint8_t binding[64];		/* this connection's channel binding */
	int binding_len;
	bool binding_tls13;
	uint8_t current_spki[PKI_DIGEST_LEN];	/* re-enrollment */
};

static void job_free(struct job *j)
{
	pki_csr_free(&j->csr);
	pki_key_free(j->key);
	pki_issued_free(&j->out);
	gnutls_free(j->p7.data);
	if (j->body)
		sodium_memzero(j->body, j->body_len);	/* it holds a key */
	free(j->body);
	free(j->der);
	sodium_memzero(j->password, sizeof(j->password));
	free(j);
}

static void job_cancel(void *arg)
{
	struct job *j = arg;
	j->ex = NULL;
	if (!j->busy)	/* a thread still holds it otherwise */
		job_free(j);
}

static void job_error(struct job *j, unsigned status, const char *why)
{
	if (j->ex)
		net_http_respond_error(j->ex, status, why);
	job_free(j);
}

/* Run work on the thread pool, then done on the loop. */
static void job_queue(struct job *j, uv_work_cb work, uv_after_work_cb done)
{
	j->work.data = j;
	j->busy = true;
	if (uv_queue_work(j->est->loop, &j->work, work, done) != 0) {
		j->busy = false;
		job_error(j, 503, NULL);
	}
}

/* Back on the loop: false (and the job freed) when the client left. */
static bool job_back(struct job *j)
{
	j->busy = false;
	if (j->ex)
		return true;
	job_free(j);
	return false;
}

/* 401 with the schemes anchord accepts; never says what was wrong. */
static void job_unauthorized(struct job *j)
{
	static const char text[] = "401 Unauthorized\n";
	if (j->ex) {
		struct net_http_header h[] = {
			{ "WWW-Authenticate",
			  j->est->conf.basic_auth
				  ? "Basic realm=\"anchord EST\", Bearer"
				  : "Bearer realm=\"anchord EST\"" },
		};
		net_http_respond(j->ex, 401, "text/plain", h, 1,
				 (const uint8_t *)text, sizeof(text) - 1);
	}
	job_free(j);
}

static void issue_and_answer(struct job *j);

/* ------------------------------------------------------------------ checks */

/* RFC 7030 3.5: challengePassword = base64 of this session's tls-unique
 * (tls-exporter under TLS 1.3, anchord's profile; TLS 1.3 has no
 * tls-unique). */
static const char *check_pop_linking(struct job *j)
{
	if (!j->csr.has_challenge)
		return j->est->conf.require_pop_linking
			? "the request must carry the TLS channel binding as "
			  "challengePassword (POP linking)" : NULL;
	if (j->binding_len <= 0)
		return "no TLS channel binding on this connection";
	char expect[128];
	sodium_bin2base64(expect, sizeof(expect), j->binding,
			  (size_t)j->binding_len,
			  sodium_base64_VARIANT_ORIGINAL);
	if (strlen(expect) != strlen(j->csr.challenge) ||
	    sodium_memcmp(expect, j->csr.challenge, strlen(expect)) != 0)
		return j->binding_tls13
			? "challengePassword is not this TLS session's "
			  "tls-exporter (POP linking)"
			: "challengePassword is not this TLS session's "
			  "tls-unique (POP linking)";
	return NULL;
}

static bool name_allowed(const struct est_conf *c, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < c->n_allowed_domains; i++) {
		const char *d = c->allowed_domains[i];
		size_t dl = strlen(d);
		if (n > dl && name[n - dl - 1] == '.' &&
		    strcasecmp(name + n - dl, d) == 0)
			return true;
	}
	return false;
}

static const char *check_names(struct job *j)
{
	if (j->csr.other_sans)
		return "only DNS names may be requested as subjectAltName";
	for (size_t i = 0; i < j->csr.n_dns_sans; i++)
		if (!name_allowed(&j->est->conf, j->csr.dns_sans[i]))
			return "a requested DNS name is not in an allowed "
			       "domain (est.allowed-domains)";
	return NULL;
}

/* ------------------------------------------------------------------ approval */

/* Manual approval: the first request waits (202), the same identity and
 * key asking again after anchorctl cert approve gets its certificate. */
static bool awaiting_approval(struct job *j, int64_t *pending_id)
{
	struct store *s = j->est->store;
	struct store_pending p;
	char spki[65];
	sodium_bin2hex(spki, sizeof(spki), j->csr.spki_sha256, PKI_DIGEST_LEN);
	*pending_id = 0;
	int ret = store_pending_find(s, j->identity, spki, &p);
	if (ret == 0 && p.approved_at) {
		*pending_id = p.id;
		return false;
	}
	if (ret == 0 && p.denied_at) {
		job_error(j, 403, "the administrator denied this request");
		return true;
	}
	if (ret == 1) {
		p = (struct store_pending){ .requested_at = time(NULL) };
		snprintf(p.identity, sizeof(p.identity), "%s", j->identity);
		snprintf(p.spki, sizeof(p.spki), "%s", spki);
		snprintf(p.subject, sizeof(p.subject), "CN=%s", j->common_name);
		if (store_pending_add(s, &p) == 0) {
			char detail[512];
			snprintf(detail, sizeof(detail), "request %lld from %s "
				 "for key %.16s", (long long)p.id, j->identity,
				 spki);
			store_audit(s, "est", "pending", detail);
		}
	}
	if (j->ex) {
		char after[16];
		snprintf(after, sizeof(after), "%u", j->est->conf.retry_after_s);
		struct net_http_header h[] = { { "Retry-After", after } };
		static const char text[] = "202 Accepted: waiting for approval\n";
		net_http_respond(j->ex, 202, "text/plain", h, 1,
				 (const uint8_t *)text, sizeof(text) - 1);
	}
	job_free(j);
	return true;
}

/* ------------------------------------------------------------------ issuing */

static int record(struct job *j)
{
	struct store *s = j->est->store;
	const struct pki_issued *out = &j->out;
	struct store_cert c = { .not_before = out->not_before,
				.not_after = out->not_after,
				.issued_at = time(NULL) };
	snprintf(c.serial, sizeof(c.serial), "%s", out->serial);
	snprintf(c.subject, sizeof(c.subject), "%s", out->subject);
	sodium_bin2hex(c.spki, sizeof(c.spki), out->spki_sha256, PKI_DIGEST_LEN);
	snprintf(c.identity, sizeof(c.identity), "%s", j->identity);
	snprintf(c.profile, sizeof(c.profile), "%s", j->profile);
	struct store_token tok;
	bool renewal = j->op == OP_SIMPLEREENROLL &&
		       sodium_memcmp(j->current_spki, out->spki_sha256,
				     PKI_DIGEST_LEN) == 0;
	char detail[512];
	snprintf(detail, sizeof(detail), "serial %s for %s (%s)", c.serial,
		 j->identity, j->op == OP_SIMPLEREENROLL
			? (renewal ? "renewal, same key" : "re-key")
			: j->op == OP_SERVERKEYGEN ? "server-generated key"
						   : "enrollment");
	if (store_savepoint(s) != 0)
		return -1;
	/* The token is used up only if all of this is kept. */
	int ret = j->auth == AUTH_TOKEN
		? store_token_use(s, j->token, time(NULL), &tok) : 0;
	if (ret == 0)
		ret = store_cert_add(s, &c, out->der.data, out->der.size);
	if (ret == 0 && j->pending_id)
		ret = store_pending_remove(s, j->pending_id);
	if (ret == 0)
		ret = store_audit(s, "est", "issued", detail);
	if (ret == 0)
		ret = store_keep(s);
	if (ret != 0)
		store_undo(s);
	return ret;
}

/* RFC 7030 4.4.2: the key (PKCS#8) and the certificate in one
 * multipart/mixed body; TLS protects the key in transit. */
static int multipart(struct job *j)
{
	gnutls_datum_t pkcs8 = { NULL, 0 };
	if (pki_key_pkcs8(j->key, &pkcs8) != 0)
		return -1;
	size_t klen, clen;
	char *k = base64_lines(pkcs8.data, pkcs8.size, true, &klen);
	char *c = base64_lines(j->p7.data, j->p7.size, true, &clen);
	gnutls_memset(pkcs8.data, 0, pkcs8.size);
	gnutls_free(pkcs8.data);
	uint8_t rnd[12];
	char boundary[32];
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(boundary, sizeof(boundary), "est-");
	sodium_bin2hex(boundary + 4, sizeof(boundary) - 4, rnd, sizeof(rnd));
	size_t cap = klen + clen + 512;
	j->body = k && c ? malloc(cap) : NULL;
	if (j->body) {
		int n = snprintf(j->body, cap,
			"--%s\r\nContent-Type: application/pkcs8\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n%s"
			"--%s\r\nContent-Type: " CERTS_ONLY "\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n%s--%s--\r\n",
			boundary, k, boundary, c, boundary);
		j->body_len = (size_t)n;
		snprintf(j->type, sizeof(j->type),
			 "multipart/mixed; boundary=%s", boundary);
	}
	if (k)
		sodium_memzero(k, klen);
	free(k);
	free(c);
	return j->body ? 0 : -1;
}

/* On the thread pool: make the key (serverkeygen), sign, encode. */
static void issue_work(uv_work_t *w)
{
	struct job *j = w->data;
	struct est_service *est = j->est;
	j->work_ret = -1;
	if (j->op == OP_SERVERKEYGEN && pki_new_key(&j->key) != 0) {
		snprintf(j->why, sizeof(j->why), "cannot make a key");
		return;
	}
	const char *san_ptrs[PKI_MAX_SANS];
	for (size_t i = 0; i < j->csr.n_dns_sans; i++)
		san_ptrs[i] = j->csr.dns_sans[i];
	struct pki_issue req = {
		.csr = &j->csr, .key = j->key, .common_name = j->common_name,
		.dns_sans = j->csr.n_dns_sans ? san_ptrs : NULL,
		.n_dns_sans = j->csr.n_dns_sans,
		.validity_days = est->conf.validity_days, .client_auth = true,
		.serial_number = j->device_serial, .mud_url = j->mud_url,
	};
	if (pki_issue(est->ca, &req, &j->out, j->why, sizeof(j->why)) != 0)
		return;
	if (pki_certs_only(&j->out.der, 1, &j->p7) != 0 ||
	    (j->op == OP_SERVERKEYGEN && multipart(j) != 0)) {
		snprintf(j->why, sizeof(j->why),
			 "cannot encode the certificate");
		return;
	}
	j->work_ret = 0;
}

/* After the batch's transaction: answer, or say why not. */
static void answer_recorded(struct job *j, int ret, const char *store_err)
{
	if (ret != 0) {
		/* a racing request used the token, or the disk failed */
		bool token_gone = j->auth == AUTH_TOKEN && ret == 1;
		log_error("est", "recording %s: %s", j->out.serial,
			  token_gone ? "the token was used meanwhile"
				     : store_err);
		job_error(j, token_gone ? 401 : 503,
			  "the certificate could not be recorded");
		return;
	}
	log_info("est", "issued %s to %s", j->out.serial, j->identity);
	if (j->body)
		net_http_respond(j->ex, 200, j->type, NULL, 0,
				 (const uint8_t *)j->body, j->body_len);
	else
		respond_der(j->ex, CERTS_ONLY, &j->p7);
	job_free(j);
}

/* Record the batch's jobs inside the open transaction; 0 when the
 * transaction is still there to commit, else -1 and the first error in
 * err. SQLite may roll the whole transaction back by itself on a full or
 * failing disk: what follows must then not be recorded outside it, each
 * change committing on its own, nor those before be answered. */
static int record_all(struct est_service *est, struct job *list, char *err,
		      size_t errlen)
{
	for (struct job *j = list; j; j = j->next) {
		if (j->work_ret == -2)
			continue;	/* the client left */
		j->work_ret = record(j);
		if (j->work_ret < 0 && !err[0])
			snprintf(err, errlen, "%s", store_error(est->store));
		if (!store_in_transaction(est->store))
			return -1;
	}
	return 0;
}

/* Record what this turn of the loop issued, in one transaction, and
 * answer only once it committed. A client that left gets nothing
 * recorded, and its token stays good. */
static void record_batch(uv_check_t *c)
{
	struct est_service *est = c->data;
	struct job *list = est->batch;
	est->batch = NULL;
	est->batch_tail = &est->batch;
	uv_check_stop(c);
	for (struct job *j = list; j; j = j->next) {
		j->busy = false;
		j->work_ret = j->ex ? -1 : -2;
	}
	char err[256] = "";
	int committed = store_begin(est->store);
	if (committed != 0)
		snprintf(err, sizeof(err), "%s", store_error(est->store));
	else if (record_all(est, list, err, sizeof(err)) != 0)
		committed = -1;
	else if ((committed = store_commit(est->store)) != 0)
		snprintf(err, sizeof(err), "%s", store_error(est->store));
	if (committed != 0)
		store_rollback(est->store);
	for (struct job *j = list, *next; j; j = next) {
		next = j->next;
		if (j->work_ret == -2)
			job_free(j);
		else
			answer_recorded(j, committed != 0 ? -1 : j->work_ret,
					err);
	}
}

static void issue_done(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct est_service *est = j->est;
	if (!job_back(j))
		return;
	if (status != 0 || j->work_ret != 0) {
		job_error(j, status ? 503 : 500, status ? NULL : j->why);
		return;
	}
	j->busy = true;		/* until recorded: a cancel must not free it */
	j->next = NULL;
	*est->batch_tail = j;
	est->batch_tail = &j->next;
	if (est->batch == j)
		uv_check_start(&est->recorder, record_batch);
}

static void issue_and_answer(struct job *j)
{
	const char *why = check_pop_linking(j);
	if (!why)
		why = check_names(j);
	if (why) {
		job_error(j, 400, why);
		return;
	}
	if (j->est->conf.manual_approval &&
	    awaiting_approval(j, &j->pending_id))
		return;
	job_queue(j, issue_work, issue_done);
}

/* ------------------------------------------------------------------ authentication */

/* Argon2id takes tens of milliseconds by design: it runs on libuv's
 * thread pool, never on the loop. */
static void basic_work(uv_work_t *w)
{
	struct job *j = w->data;
	j->password_ok = crypto_pwhash_str_verify(j->pwhash, j->password,
						  strlen(j->password)) == 0;
	sodium_memzero(j->password, sizeof(j->password));
}

static void authenticated(struct job *j);

static void basic_done(uv_work_t *w, int status)
{
	struct job *j = w->data;
	j->est->basic_inflight--;
	if (!job_back(j))
		return;		/* cancelled while hashing */
	if (status != 0 || !j->password_ok) {
		log_info("est", "wrong password for EST user %s", j->user);
		job_unauthorized(j);
		return;
	}
	authenticated(j);
}

/* "Basic base64(user:password)" */
static int parse_basic(struct job *j, const char *cred)
{
	uint8_t buf[512];
	size_t len;
	const char *end;
	if (sodium_base642bin(buf, sizeof(buf) - 1, cred, strlen(cred), " ",
			      &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	buf[len] = '\0';
	char *colon = strchr((char *)buf, ':');
	if (!colon || colon == (char *)buf ||
	    (size_t)(colon - (char *)buf) >= sizeof(j->user) ||
	    strlen(colon + 1) >= sizeof(j->password)) {
		sodium_memzero(buf, sizeof(buf));
		return -1;
	}
	size_t ulen = (size_t)(colon - (char *)buf), plen = strlen(colon + 1);
	memcpy(j->user, buf, ulen);		/* lengths checked above */
	j->user[ulen] = '\0';
	memcpy(j->password, colon + 1, plen + 1);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

/* Each check holds 64 MiB and a thread of the pool for tens of
 * milliseconds: a worker runs only a few at once, whoever asks. */
#define MAX_BASIC_CHECKS 2

static void auth_basic(struct job *j, const char *cred)
{
	struct est_service *est = j->est;
	if (!est->conf.basic_auth || parse_basic(j, cred) != 0) {
		job_unauthorized(j);
		return;
	}
	if (est->basic_inflight >= MAX_BASIC_CHECKS) {
		struct net_http_header h[] = { { "Retry-After", "1" } };
		static const char text[] = "503 Service Unavailable: too many "
					   "password checks at once\n";
		net_http_respond(j->ex, 503, "text/plain", h, 1,
				 (const uint8_t *)text, sizeof(text) - 1);
		job_free(j);
		return;
	}
	/* An unknown user costs the same Argon2id as a known one. */
	if (store_est_user_get(est->store, j->user, j->pwhash,
			       sizeof(j->pwhash)) != 0)
		snprintf(j->pwhash, sizeof(j->pwhash), "%s",
			 "$argon2id$v=19$m=65536,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
			 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	j->auth = AUTH_BASIC;
	snprintf(j->identity, sizeof(j->identity), "user:%s", j->user);
	snprintf(j->common_name, sizeof(j->common_name), "%s", j->user);
	est->basic_inflight++;
	j->busy = true;
	j->work.data = j;
	if (uv_queue_work(est->loop, &j->work, basic_work, basic_done) != 0) {
		est->basic_inflight--;
		j->busy = false;
		job_error(j, 503, NULL);
	}
}

static void auth_token(struct job *j, const char *token)
{
	struct store_token t;
	crypto_hash_sha256(j->token, (const unsigned char *)token,
			   strlen(token));
	if (store_token_peek(j->est->store, j->token, time(NULL), &t) != 0 ||
	    strcmp(t.purpose, "est") != 0) {
		job_unauthorized(j);
		return;
	}
	j->auth = AUTH_TOKEN;
	snprintf(j->profile, sizeof(j->profile), "%s", t.profile);
	/* The name the administrator gave the device; without one, the
	 * request names it (name_from_request). */
	char hex[17];
	sodium_bin2hex(hex, sizeof(hex), j->token, 8);
	snprintf(j->identity, sizeof(j->identity), "token:%s",
		 t.device[0] ? t.device : hex);
	snprintf(j->common_name, sizeof(j->common_name), "%s",
		 t.device[0] ? t.device : "");
	authenticated(j);
}

/* A token made without --device: the requested common name, else the
 * token's own short name. */
static void name_from_request(struct job *j)
{
	if (j->auth != AUTH_TOKEN || j->common_name[0])
		return;
	const char *p = strstr(j->csr.subject, "CN=");
	const char *cn = p ? p + 3 : j->identity + strlen("token:");
	snprintf(j->common_name, sizeof(j->common_name), "%.*s",
		 (int)strcspn(cn, ","), cn);
}

/* A certificate of this CA that the store has not revoked. */
static bool cert_usable(struct job *j, const struct net_peer_cert *cert)
{
	struct store_cert c;
	if (!cert->present || !cert->verified)
		return false;
	return store_cert_get(j->est->store, cert->serial, &c, NULL, NULL) == 0 &&
	       c.revoked_at == 0;
}

/* Re-enrollment keeps what the certificate says of the device: an
 * LDevID stays bound to its serial and its MUD file. */
static void auth_cert(struct job *j, const struct net_peer_cert *cert)
{
	j->auth = AUTH_CERT;
	memcpy(j->current_spki, cert->spki_sha256, PKI_DIGEST_LEN);
	snprintf(j->identity, sizeof(j->identity), "cert:%s", cert->subject_cn);
	snprintf(j->common_name, sizeof(j->common_name), "%s", cert->subject_cn);
	snprintf(j->device_serial, sizeof(j->device_serial), "%s",
		 cert->device_serial);
	snprintf(j->mud_url, sizeof(j->mud_url), "%s", cert->mud_url);
	authenticated(j);
}

/* An IoT device's factory certificate, from a trusted manufacturer and
 * admitted by the allow-list: its LDevID copies serial and MUD URL. */
static void auth_idevid(struct job *j, struct net_conn *conn)
{
	struct net_der chain[8];
	unsigned n = net_conn_peer_chain(conn, chain, 8);
	struct est_idevid dev;
	char why[640];
	enum est_idevid_result r = est_idevid_check(j->est->manufacturers,
		j->est->store, chain, n, &dev, why, sizeof(why));
	if (r != EST_IDEVID_OK) {
		job_error(j, est_idevid_refused(j->est->store, r, why), why);
		return;
	}
	j->auth = AUTH_IDEVID;
	snprintf(j->identity, sizeof(j->identity), "idevid:%s", dev.serial);
	snprintf(j->common_name, sizeof(j->common_name), "%s",
		 dev.common_name[0] ? dev.common_name : dev.serial);
	snprintf(j->profile, sizeof(j->profile), "%s", dev.profile);
	snprintf(j->device_serial, sizeof(j->device_serial), "%s", dev.serial);
	snprintf(j->mud_url, sizeof(j->mud_url), "%s", dev.mud_url);
	log_debug("est", "IDevID %s of \"%s\" admitted by rule %lld",
		  dev.serial, dev.issuer, (long long)dev.rule);
	authenticated(j);
}

static void authenticate(struct job *j)
{
	struct net_conn *conn = net_http_exchange_conn(j->ex);
	const struct net_peer_cert *cert = net_conn_peer_cert(conn);
	const char *auth = net_http_exchange_request(j->ex)->authorization;
	bool cert_ok = cert_usable(j, cert);
	if (j->op == OP_SIMPLEREENROLL) {
		/* re-enrollment is the current certificate's business */
		if (cert_ok)
			auth_cert(j, cert);
		else
			job_unauthorized(j);
	} else if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
		auth_token(j, auth + 7);
	} else if (auth && strncasecmp(auth, "Basic ", 6) == 0) {
		auth_basic(j, auth + 6);
	} else if (cert_ok) {
		auth_cert(j, cert);
	} else if (cert->present && !cert->verified && j->est->manufacturers) {
		auth_idevid(j, conn);
	} else {
		job_unauthorized(j);
	}
}

/* On the thread pool: the request's signature is the costly part, paid
 * only for clients that authenticated. */
static void parse_work(uv_work_t *w)
{
	struct job *j = w->data;
	j->work_ret = pki_csr_parse(j->der, j->der_len, &j->csr, j->why,
				    sizeof(j->why));
}

static void parse_done(uv_work_t *w, int status)
{
	struct job *j = w->data;
	if (!job_back(j))
		return;
	if (status != 0) {
		job_error(j, 503, NULL);
	} else if (j->work_ret != 0) {
		job_error(j, 400, j->why);
	} else {
		name_from_request(j);
		issue_and_answer(j);
	}
}

static void authenticated(struct job *j)
{
	job_queue(j, parse_work, parse_done);
}

static void op_enroll(struct est_service *est, struct net_http_exchange *ex,
		      enum est_op op)
{
	const struct net_http_request *r = net_http_exchange_request(ex);
	if (r->method != NET_HTTP_POST) {
		net_http_respond_error(ex, 405, NULL);
		return;
	}
	if (!est_media_type_is(r->content_type, "application/pkcs10")) {
		net_http_respond_error(ex, 415, "expected application/pkcs10");
		return;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		net_http_respond_error(ex, 503, NULL);
		return;
	}
	j->est = est;
	j->ex = ex;
	j->op = op;
	net_http_on_cancel(ex, job_cancel, j);
	j->der = decode_body(r->body, r->body_len, &j->der_len, j->why,
			     sizeof(j->why));
	if (!j->der) {
		job_error(j, 400, j->why);
		return;
	}
	j->binding_len = net_conn_channel_binding(net_http_exchange_conn(ex),
						  j->binding,
						  sizeof(j->binding),
						  &j->binding_tls13);
	authenticate(j);
}

/* ------------------------------------------------------------------ routing */

/* "/op" or "/label/op" (RFC 7030 3.2.2's optional CA label). */
static enum est_op operation(const char *subpath)
{
	static const struct { const char *name; enum est_op op; } ops[] = {
		{ "cacerts", OP_CACERTS }, { "csrattrs", OP_CSRATTRS },
		{ "simpleenroll", OP_SIMPLEENROLL },
		{ "simplereenroll", OP_SIMPLEREENROLL },
		{ "serverkeygen", OP_SERVERKEYGEN },
		{ "eecerts", OP_EECERTS }, { "crls", OP_CRLS },
	};
	if (subpath[0] != '/')
		return OP_NONE;
	const char *last = strrchr(subpath, '/') + 1;
	const char *second = strchr(subpath + 1, '/');
	if (second && second != last - 1)
		return OP_NONE;	/* more than one label segment */
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (strcmp(last, ops[i].name) == 0)
			return ops[i].op;
	return OP_NONE;
}

static void est_handle(void *ctx, struct net_http_exchange *ex)
{
	struct est_service *est = ctx;
	const struct net_http_request *r = net_http_exchange_request(ex);
	enum est_op op = operation(net_http_exchange_subpath(ex));
	bool get = r->method == NET_HTTP_GET || r->method == NET_HTTP_HEAD;
	switch (op) {
	case OP_CACERTS:
	case OP_CSRATTRS:
	case OP_EECERTS:
	case OP_CRLS:
		if (!get) {
			net_http_respond_error(ex, 405, NULL);
			return;
		}
		if (op == OP_CACERTS)
			op_cacerts(est, ex);
		else if (op == OP_CSRATTRS)
			op_csrattrs(est, ex);
		else if (op == OP_EECERTS)
			op_eecerts(est, ex);
		else
			op_crls(est, ex);
		return;
	case OP_SIMPLEENROLL:
	case OP_SIMPLEREENROLL:
	case OP_SERVERKEYGEN:
		op_enroll(est, ex, op);
		return;
	default:
		net_http_respond_error(ex, 404, NULL);
	}
}

/* ------------------------------------------------------------------ setup */

/* RFC 7030 4.1.3: the CA and whatever a client needs to chain it to the
 * root. An imported CA's file carries that chain after the CA itself. */
static int make_cacerts(struct est_service *est)
{
	gnutls_datum_t *certs = NULL, p7 = { NULL, 0 };
	size_t n = 0, len;
	int ret = est->conf.ca_cert
		? pki_pem_certs(est->conf.ca_cert, &certs, &n)
		: pki_certs_only(pki_ca_der(est->ca), 1, &p7);
	if (ret == 0 && certs)
		ret = n ? pki_certs_only(certs, n, &p7) : -1;
	if (ret == 0)
		est->cacerts = base64_lines(p7.data, p7.size, false, &len);
	for (size_t i = 0; i < n; i++)
		gnutls_free(certs[i].data);
	free(certs);
	gnutls_free(p7.data);
	return est->cacerts ? 0 : -1;
}

/* IDevIDs are accepted: devices may ask for vouchers too (RFC 8995). */
static int start_registrar(struct est_service *est, char *err, size_t errlen)
{
	char cert[PATH_MAX], key[PATH_MAX];
	if (util_path_join(cert, sizeof(cert), est->conf.state_dir,
			   "registrar.pem") ||
	    util_path_join(key, sizeof(key), est->conf.state_dir,
			   "registrar.key"))
		return util_fail(err, errlen, "state directory path too long");
	struct est_registrar_conf rc = {
		.store = est->store, .manufacturers = est->manufacturers,
		.signer_cert = cert, .signer_key = key,
		.tls_cert = est->conf.server_cert,
		.masa_ca = est->conf.masa_ca, .n_masa_ca = est->conf.n_masa_ca,
	};
	est->registrar = est_registrar_new(est->loop, &rc, err, errlen);
	return est->registrar ? 0 : -1;
}

static void brski_handle(void *ctx, struct net_http_exchange *ex)
{
	struct est_service *est = ctx;
	est_registrar_handle(est->registrar, ex,
			     net_http_exchange_subpath(ex));
}

struct est_service *est_service_new(uv_loop_t *loop, const struct est_conf *c,
				    char *err, size_t errlen)
{
	struct est_service *est = calloc(1, sizeof(*est));
	char path[PATH_MAX];
	if (!est) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	est->loop = loop;
	est->conf = *c;
	est->batch_tail = &est->batch;
	if (pki_ca_open(c->state_dir, c->ca_cert, c->ca_key, &est->ca, err,
			errlen) != 0 ||
	    util_path_join(path, sizeof(path), c->state_dir, STORE_FILE) != 0 ||
	    store_open(path, &est->store, err, errlen) != 0) {
		est_service_free(est);
		return NULL;
	}
	if (make_cacerts(est) != 0) {
		snprintf(err, errlen, "cannot encode the CA certificate");
		est_service_free(est);
		return NULL;
	}
	uv_check_init(loop, &est->recorder);
	est->recorder.data = est;
	est->recorder_open = true;
	if (c->n_manufacturer_trust &&
	    (!(est->manufacturers = est_manufacturers_load(
		       c->manufacturer_trust, c->n_manufacturer_trust, err,
		       errlen)) ||
	     start_registrar(est, err, errlen) != 0)) {
		est_service_free(est);
		return NULL;
	}
	return est;
}

int est_service_route(struct est_service *est, struct net_http_router *r)
{
	if (est->registrar &&
	    net_http_router_add(r, BRSKI_PREFIX, brski_handle, est) != 0)
		return -1;
	return net_http_router_add(r, EST_PREFIX, est_handle, est);
}

void est_service_close(struct est_service *est)
{
	if (!est || !est->recorder_open)
		return;
	if (est->batch)
		record_batch(&est->recorder);
	est_registrar_close(est->registrar);
	uv_close((uv_handle_t *)&est->recorder, NULL);
	est->recorder_open = false;
}

void est_service_free(struct est_service *est)
{
	if (!est)
		return;
	if (est->recorder_open) {
		/* never closed: setup failed before the loop ran, so running
		 * it here only completes the close */
		est_service_close(est);
		uv_run(est->loop, UV_RUN_NOWAIT);
	}
	pki_ca_free(est->ca);
	est_registrar_free(est->registrar);
	est_manufacturers_free(est->manufacturers);
	store_close(est->store);
	free(est->cacerts);
	free(est->crls);
	free(est);
}
