/*  anchord - tools/anchor-enroll.c: the device's side of enrollment.
 *
 *  anchor-enroll starts with no trust anchor. It opens TLS 1.3 to the
 *  enrollment URL, accepts the server's certificate provisionally, and runs
 *  a PAKE (CPace with a one-time code, or OPAQUE with the user's password)
 *  whose inputs include the connection's tls-exporter: a man in the middle
 *  holds two TLS sessions, so the PAKE fails for him. Only after the
 *  server's key confirmation does it open the sealed bundle and trust what
 *  it says (pins, CA, endpoints, an EST token). Then it enrolls a device
 *  key through EST, checks DoT and DoH against the pins with real queries,
 *  and writes the configurations asked for (doc: ENROLLMENT.md,
 *  anchor-enroll(1)).
 */
#include "tools/anchor-enroll.h"
#include "enroll/enroll.h"
#include "pki/pki.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

bool trace;

void die_oom(void)
{
	fprintf(stderr, "anchor-enroll: out of memory\n");
	exit(1);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: anchor-enroll enroll URI [options]\n"
		"       anchor-enroll enroll --server https://HOST[:PORT]\n"
		"                     (--code CODE | --user NAME) [options]\n"
		"       anchor-enroll iot --server https://HOST[:PORT] --idevid CERT\n"
		"                     --key KEY --masa-anchor PEM [--dot-port N]\n"
		"       anchor-enroll renew [--state DIR] [--resolve H:P:A]\n"
		"       anchor-enroll status [--state DIR]\n"
		"\n"
		"  --password-file F     the password (first line) instead of "
		"a prompt\n"
		"  --device NAME         the device name to ask for\n"
		"  --write LIST          stubby,resolved,firefox,chrome,"
		"mobileconfig,\n"
		"                        anchord,json\n"
		"  --out DIR             where configurations go (default .)\n"
		"  --state DIR           key, certificate, CA, bundle (default\n"
		"                        $XDG_STATE_HOME/anchor-enroll)\n"
		"  --stub-listen A@P     stubby/anchord listen address "
		"(127.0.0.1@53)\n"
		"  --resolve HOST:PORT:ADDR  connect there for HOST:PORT (also "
		"for DoT)\n"
		"  --register-user NAME  with a registration code: register an\n"
		"                        OPAQUE password for NAME\n"
		"  --trace               print the enrollment messages on "
		"stderr\n");
}

/* ------------------------------------------------------------------ small helpers */

int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("anchor-enroll: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return -1;
}

void state_files_init(struct state_files *f, const char *dir)
{
	snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", dir);
	snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", dir);
	snprintf(f->key, sizeof(f->key), "%s/key.pem", dir);
	snprintf(f->bundle, sizeof(f->bundle), "%s/bundle.json", dir);
}

int write_file(const char *path, const void *data, size_t len,
		      unsigned mode)
{
	int rc = util_write_file_atomic(path, data, len, mode);
	return rc ? fail("%s: %s", path, strerror(-rc)) : 0;
}

static char *read_text(const char *path)
{
	uint8_t *data = NULL;
	size_t len;
	int rc = util_read_file(path, MAX_BODY, &data, &len);
	if (rc != 0) {
		fail("%s: %s", path, strerror(-rc));
		return NULL;
	}
	return (char *)data;
}

/* Standard base64 as EST sends it: padding, line breaks anywhere. */
int unbase64_std(const char *text, size_t len, gnutls_datum_t *out)
{
	size_t cap = len / 4 * 3 + 3, n;
	out->data = gnutls_malloc(cap);
	if (!out->data)
		return -1;
	if (sodium_base642bin(out->data, cap, text, len, " \t\r\n", &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0) {
		gnutls_free(out->data);
		out->data = NULL;
		return -1;
	}
	out->size = (unsigned)n;
	return 0;
}

char *base64_std(const uint8_t *data, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len,
					       sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);
	if (!s)
		die_oom();
	return sodium_bin2base64(s, cap, data, len,
				 sodium_base64_VARIANT_ORIGINAL);
}

/* ------------------------------------------------------------------ password */

static int password_from_file(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return fail("%s: %s", path, strerror(errno));
	bool ok = fgets(out, (int)cap, f) != NULL;
	fclose(f);
	if (!ok)
		return fail("%s: empty", path);
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

/* A prompt on the terminal itself with echo off, so that neither the
 * screen nor a redirected stdin sees the password. */
static int password_from_tty(const char *prompt, char *out, size_t cap)
{
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		return fail("no terminal for the password prompt; use "
			    "--password-file");
	struct termios old, quiet;
	int fd = fileno(tty);
	bool restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	fputs(prompt, tty);
	fflush(tty);
	bool ok = fgets(out, (int)cap, tty) != NULL;
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	if (!ok)
		return fail("no password read");
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

static int read_password(const struct opts *o, const char *prompt, char *out,
			 size_t cap)
{
	int rc = o->password_file ? password_from_file(o->password_file, out,
						       cap)
				  : password_from_tty(prompt, out, cap);
	if (rc == 0 && out[0] == '\0')
		return fail("empty password");
	return rc;
}

/* ------------------------------------------------------------------ TLS facts */

static void free_peer_chain(struct conn *c)
{
	for (unsigned i = 0; i < c->n_peer; i++)
		gnutls_free(c->peer[i].data);
	c->n_peer = 0;
}

/* The server's chain as it sent it (a pledge checks it against its
 * voucher once it has one). */
static int keep_peer_chain(struct conn *c, gnutls_session_t s)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	free_peer_chain(c);
	for (unsigned i = 0; certs && i < n && i < 4; i++) {
		c->peer[i].data = gnutls_malloc(certs[i].size);
		if (!c->peer[i].data)
			die_oom();
		memcpy(c->peer[i].data, certs[i].data, certs[i].size);
		c->peer[i].size = certs[i].size;
		c->n_peer = i + 1;
	}
	return c->n_peer ? 0 : fail("the server sent no certificate");
}

/* The exporter and SPKI of the connection a curl handle last used. */
static int conn_tls_facts(struct conn *c, uint8_t exporter[32],
			  uint8_t spki[32])
{
	struct curl_tlssessioninfo *info = NULL;
	if (curl_easy_getinfo(c->h, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK ||
	    !info || info->backend != CURLSSLBACKEND_GNUTLS || !info->internals)
		return fail("cannot reach the TLS session (libcurl must use "
			    "GnuTLS)");
	gnutls_session_t s = info->internals;
	if (gnutls_protocol_get_version(s) != GNUTLS_TLS1_3)
		return fail("the server did not speak TLS 1.3");
	gnutls_datum_t cb = { NULL, 0 };
	if (gnutls_session_channel_binding(s, GNUTLS_CB_TLS_EXPORTER, &cb) < 0 ||
	    cb.size != ENROLL_EXPORTER_BYTES) {
		gnutls_free(cb.data);
		return fail("no tls-exporter on this connection");
	}
	memcpy(exporter, cb.data, ENROLL_EXPORTER_BYTES);
	gnutls_free(cb.data);
	if (enroll_peer_spki(s, spki) != 0)
		return fail("the server sent no certificate");
	return c->keep_peer ? keep_peer_chain(c, s) : 0;
}

/* Start and finish of one PAKE must run on one TLS connection: the first
 * request records its exporter, every later one must see the same (and
 * curl must not have opened another connection). */
int conn_check_same(struct conn *c, const struct reply *r)
{
	const uint8_t *exporter = r->exporter, *spki = r->spki;
	long connects = 0;
	if (r->tls != 1)
		return -1;
	if (!c->have_tls) {
		memcpy(c->exporter, exporter, ENROLL_EXPORTER_BYTES);
		memcpy(c->spki, spki, 32);
		c->have_tls = true;
		return 0;
	}
	curl_easy_getinfo(c->h, CURLINFO_NUM_CONNECTS, &connects);
	if (connects != 0 || sodium_memcmp(exporter, c->exporter, 32) != 0 ||
	    sodium_memcmp(spki, c->spki, 32) != 0)
		return fail("the TLS connection changed in the middle of the "
			    "exchange; aborting");
	return 0;
}

/* ------------------------------------------------------------------ HTTP */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	if (r->len + len > MAX_BODY)
		return 0;
	char *b = realloc(r->body, r->len + len + 1);
	if (!b)
		return 0;
	memcpy(b + r->len, data, len);
	r->body = b;
	r->len += len;
	b[r->len] = '\0';
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	/* libcurl lends out the TLS session during the transfer only */
	if (r->tls == 0)
		r->tls = conn_tls_facts(r->conn, r->exporter, r->spki) == 0
			 ? 1 : -1;
	if (len > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0)
		snprintf(r->retry_after, sizeof(r->retry_after), "%.*s",
			 (int)strcspn(data + sizeof(name) - 1, "\r\n"),
			 data + sizeof(name) - 1);
	return len;
}

void reply_free(struct reply *r)
{
	if (r->body)
		sodium_memzero(r->body, r->len);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Settings every handle shares: TLS 1.3, timeouts, --resolve. */
CURL *new_handle(const struct opts *o, char *errbuf)
{
	CURL *h = curl_easy_init();
	if (!h)
		die_oom();
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "anchor-enroll/" ANCHORD_VERSION);
	if (o->resolve)
		curl_easy_setopt(h, CURLOPT_RESOLVE, o->resolve);
	return h;
}

/* "sha256//A;sha256//B" for CURLOPT_PINNEDPUBLICKEY. */
static void pin_list(const struct enroll_bundle *b, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; i < b->n_pins; i++)
		snprintf(out + strlen(out), cap - strlen(out), "%ssha256//%s",
			 i ? ";" : "", b->pins[i]);
}

/* Verified from now on: the CA of the bundle AND one of its pins. The CA
 * goes by its stored file: libcurl's GnuTLS backend ignores
 * CURLOPT_CAINFO_BLOB before 8.x. */
static void trust_bundle(CURL *h, const struct enroll_bundle *b,
			 const struct state_files *f)
{
	char pins[ENROLL_MAX_PINS * (ENROLL_PIN_TEXT + 10)];
	pin_list(b, pins, sizeof(pins));
	curl_easy_setopt(h, CURLOPT_CAINFO, f->ca);
	curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, pins);
}

void present_identity(CURL *h, const struct state_files *f)
{
	curl_easy_setopt(h, CURLOPT_SSLCERT, f->cert);
	curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(h, CURLOPT_SSLKEY, f->key);
	curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
}

/* One request; a transport failure is reported here, the status is the
 * caller's to judge. */
int request(struct conn *c, const char *url, const char *header,
	    const char *body, const char *bearer, struct reply *r)
{
	return request_bin(c, url, header, body, body ? strlen(body) : 0,
			   bearer, r);
}

int request_bin(struct conn *c, const char *url, const char *header,
		const void *body, size_t len, const char *bearer,
		struct reply *r)
{
	struct curl_slist *hdrs = NULL;
	char auth[400];
	memset(r, 0, sizeof(*r));
	r->conn = c;
	if (header)
		hdrs = curl_slist_append(hdrs, header);
	if (bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
		hdrs = curl_slist_append(hdrs, auth);
	}
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, r);
	if (body) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)len);
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	}
	c->errbuf[0] = '\0';
	CURLcode rc = curl_easy_perform(c->h);
	sodium_memzero(auth, sizeof(auth));
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		reply_free(r);
		return fail("%s: %s", url, c->errbuf[0] ? c->errbuf
						       : curl_easy_strerror(rc));
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
	return 0;
}

/* A failed enrollment request in words (ENROLLMENT.md's error codes). */
static void report_status(const struct reply *r, const char *auth_failed)
{
	const char *what;
	switch (r->status) {
	case 400: what = "the server found the request malformed"; break;
	case 403: what = auth_failed; break;
	case 404: what = "the server does not know this session (it expires "
			 "after 60 s)"; break;
	case 410: what = "the code is used up or expired"; break;
	case 426: what = "the server requires TLS 1.3"; break;
	case 429: what = "too many attempts, rate limited"; break;
	default: what = "unexpected answer"; break;
	}
	json_t *j = r->body ? json_loads(r->body, 0, NULL) : NULL;
	const char *detail = json_string_value(json_object_get(j, "error"));
	fail("HTTP %ld: %s%s%s", r->status, what, detail ? ": " : "",
	     detail ? detail : "");
	if (r->status == 429 && r->retry_after[0])
		fprintf(stderr, "anchor-enroll: try again in %s seconds "
			"(Retry-After)\n", r->retry_after);
	json_decref(j);
}

/* POST JSON to ENROLL_PREFIX path on the PAKE connection; the answer's
 * object, or NULL (reported). */
static json_t *post_json(struct conn *c, const char *path, json_t *req,
			 long want, const char *auth_failed)
{
	char url[800];
	struct reply r;
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!body)
		die_oom();
	snprintf(url, sizeof(url), "%s" ENROLL_PREFIX "%s", c->base, path);
	if (trace)
		fprintf(stderr, "> POST " ENROLL_PREFIX "%s %s\n", path, body);
	int rc = request(c, url, "Content-Type: application/json", body, NULL,
			 &r);
	if (trace && rc == 0)
		fprintf(stderr, "< %ld %s\n", r.status, r.body ? r.body : "");
	sodium_memzero(body, strlen(body));
	free(body);
	if (rc != 0 || conn_check_same(c, &r) != 0) {
		reply_free(&r);
		return NULL;
	}
	if (r.status != want) {
		report_status(&r, auth_failed);
		reply_free(&r);
		return NULL;
	}
	json_t *j = r.body ? json_loads(r.body, 0, NULL) : json_object();
	reply_free(&r);
	if (!json_is_object(j)) {
		json_decref(j);
		fail("%s: the answer is not a JSON object", path);
		return NULL;
	}
	return j;
}

/* A base64url member of exactly len bytes (len 0: up to cap). */
static long get_b64(json_t *j, const char *key, uint8_t *out, size_t cap,
		    size_t len)
{
	const char *s = json_string_value(json_object_get(j, key));
	long n = s ? enroll_unb64(s, out, cap) : -1;
	if (n < 0 || (len && (size_t)n != len))
		return fail("the server's \"%s\" is missing or malformed", key);
	return n;
}

static char *b64(const void *data, size_t len)
{
	char *s = enroll_b64(data, len);
	if (!s)
		die_oom();
	return s;
}

/* ------------------------------------------------------------------ the PAKE connection */

/* https://HOST:PORT for a URI's host (IPv6 in brackets). */
static void base_of_uri(const struct enroll_uri *u, char *out, size_t cap)
{
	bool v6 = strchr(u->host, ':') != NULL;
	snprintf(out, cap, "https://%s%s%s:%u", v6 ? "[" : "", u->host,
		 v6 ? "]" : "", u->port);
}

/* No trust anchor yet: the certificate is accepted provisionally (RFC 7030
 * 4.1.1) and authenticated by the PAKE; a pin from the URI is checked by
 * curl before any request goes out. */
static void conn_open_pake(struct conn *c, const struct opts *o,
			   const char *base, const uint8_t *pin)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->base, sizeof(c->base), "%s", base);
	c->base[strcspn(c->base, "?#")] = '\0';
	size_t n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->h = new_handle(o, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 0L);
	if (pin) {
		char pinned[80], std[PKI_PIN_LEN];
		pki_pin_to_base64(pin, std);
		snprintf(pinned, sizeof(pinned), "sha256//%s", std);
		curl_easy_setopt(c->h, CURLOPT_PINNEDPUBLICKEY, pinned);
	}
}

void conn_close(struct conn *c)
{
	if (c->h)
		curl_easy_cleanup(c->h);
	c->h = NULL;
	free_peer_chain(c);
	sodium_memzero(c->exporter, sizeof(c->exporter));
}

/* Decode and open the sealed bundle with the PAKE's key. */
static char *open_bundle(struct conn *c, json_t *answer, const uint8_t *ikm,
			 size_t ikm_len)
{
	const char *text = json_string_value(json_object_get(answer, "bundle"));
	if (!text || strlen(text) > MAX_BODY) {
		fail("the server's answer carries no bundle");
		return NULL;
	}
	size_t cap = strlen(text);
	uint8_t *sealed = malloc(cap + 1), key[ENROLL_KEY_BYTES];
	if (!sealed)
		die_oom();
	long n = enroll_unb64(text, sealed, cap + 1);
	char *plain = NULL;
	size_t plain_len;
	enroll_bundle_key(key, ikm, ikm_len);
	if (n < 0 || enroll_open(&plain, &plain_len, key, c->exporter, sealed,
				 (size_t)n) != 0)
		fail("the bundle does not open (altered, or another "
		     "connection)");
	sodium_memzero(key, sizeof(key));
	free(sealed);
	return plain;
}

/* ------------------------------------------------------------------ CPace */

struct cpace_start {
	json_t *session;
	uint8_t sid[ENROLL_SID_BYTES];
	struct pake_cpace_message yb;
	uint8_t adb[512];
	size_t adb_len;
};

static int cpace_read_start(json_t *j, struct cpace_start *s)
{
	uint8_t yb[64];
	static const char prefix[] = ENROLL_LABEL " server ";
	s->session = json_object_get(j, "session");
	long n;
	if (!json_is_string(s->session) ||
	    get_b64(j, "sid", s->sid, sizeof(s->sid), ENROLL_SID_BYTES) < 0 ||
	    (n = get_b64(j, "yb", yb, sizeof(yb), 0)) < 0 ||
	    pake_cpace_message_from_bytes(&s->yb, yb, (size_t)n) != PAKE_OK)
		return fail("malformed answer to cpace/start");
	n = get_b64(j, "adb", s->adb, sizeof(s->adb) - 1, 0);
	if (n < (long)sizeof(prefix) ||
	    memcmp(s->adb, prefix, sizeof(prefix) - 1) != 0)
		return fail("the server's ADb is not \"" ENROLL_LABEL
			    " server <name>\"");
	s->adb_len = (size_t)n;
	s->adb[n] = '\0';
	return 0;
}

static json_t *cpace_finish_request(const struct cpace_start *s,
				    const struct pake_cpace_message *ya,
				    const struct pake_cpace_keys *keys,
				    const char *device)
{
	char *ya64 = b64(ya->bytes, sizeof(ya->bytes));
	char *ada64 = b64(ENROLL_CPACE_ADA, sizeof(ENROLL_CPACE_ADA) - 1);
	char *ta64 = b64(keys->tag.bytes, sizeof(keys->tag.bytes));
	json_t *req = json_pack("{s:O,s:s,s:s,s:s}", "session", s->session,
				"ya", ya64, "ada", ada64, "ta", ta64);
	if (req && device)
		json_object_set_new(req, "device", json_string(device));
	free(ya64);
	free(ada64);
	free(ta64);
	if (!req)
		die_oom();
	return req;
}

/* Runs CPace as the initiator; the opened bundle text, or NULL. */
static char *cpace_enroll(struct conn *c, const struct enroll_code *code,
			  const char *device)
{
	struct cpace_start s;
	json_t *j = post_json(c, "/cpace/start",
			      json_pack("{s:s}", "code_id", code->id), 200,
			      "refused");
	if (!j || cpace_read_start(j, &s) != 0) {
		json_decref(j);
		return NULL;
	}
	snprintf(c->pake_adn, sizeof(c->pake_adn), "%s",
		 (char *)s.adb + sizeof(ENROLL_LABEL " server ") - 1);
	printf("server %s says it is %s (the PAKE will tell)\n", c->base,
	       c->pake_adn);
	uint8_t ci[128];
	size_t ci_len = enroll_cpace_ci(ci, sizeof(ci), c->exporter);
	struct pake_cpace_inputs in = {
		.prs = PAKE_STR(code->secret, ENROLL_CODE_SECRET_LEN),
		.ci = PAKE_STR(ci, ci_len), .sid = PAKE_STR(s.sid, sizeof(s.sid)) };
	struct pake_cpace_state st;
	struct pake_cpace_message ya;
	struct pake_cpace_keys keys;
	if (pake_cpace_start(&st, PAKE_CPACE_INITIATOR, &in, &ya) != PAKE_OK ||
	    pake_cpace_finish(&st, in.sid, PAKE_STR(ENROLL_CPACE_ADA,
						    sizeof(ENROLL_CPACE_ADA) - 1),
			      &s.yb, PAKE_STR(s.adb, s.adb_len),
			      &keys) != PAKE_OK) {
		sodium_memzero(&st, sizeof(st));
		json_decref(j);
		fail("the server's CPace message is invalid");
		return NULL;
	}
	json_t *req = cpace_finish_request(&s, &ya, &keys, device);
	json_decref(j);
	j = post_json(c, "/cpace/finish", req, 200,
		      "wrong code (or the server is not who it claims)");
	uint8_t tb[PAKE_CPACE_TAG_BYTES];
	struct pake_cpace_tag tag;
	char *bundle = NULL;
	if (!j || get_b64(j, "tb", tb, sizeof(tb), sizeof(tb)) < 0 ||
	    pake_cpace_tag_from_bytes(&tag, tb, sizeof(tb)) != PAKE_OK)
		sodium_memzero(&st, sizeof(st));
	/* the server's confirmation before anything it sent is trusted */
	else if (pake_cpace_verify(&st, &tag) != PAKE_OK)
		fail("the server failed key confirmation: it does not know the "
		     "code, or someone sits between us");
	else
		bundle = open_bundle(c, j, keys.isk, sizeof(keys.isk));
	sodium_memzero(&keys, sizeof(keys));
	json_decref(j);
	return bundle;
}

/* ------------------------------------------------------------------ OPAQUE */

static json_t *opaque_start(struct conn *c, const char *user,
			    const char *password,
			    struct pake_opaque_client_login *st)
{
	struct pake_opaque_ke1 ke1;
	if (pake_opaque_client_login_start(st, PAKE_STR(password,
						       strlen(password)),
					   &ke1) != PAKE_OK) {
		fail("unusable password");
		return NULL;
	}
	char *ke1_64 = b64(ke1.bytes, sizeof(ke1.bytes));
	json_t *j = post_json(c, "/opaque/login/start",
			      json_pack("{s:s,s:s}", "user", user, "ke1",
					ke1_64), 200, "refused");
	free(ke1_64);
	return j;
}

static char *opaque_enroll(struct conn *c, const char *user,
			   const char *password, const char *device)
{
	struct pake_opaque_client_login st;
	struct pake_opaque_ke2 ke2;
	struct pake_opaque_ke3 ke3;
	uint8_t raw[PAKE_OPAQUE_KE2_BYTES], session_key[64], export_key[64];
	uint8_t context[ENROLL_OPAQUE_CONTEXT_BYTES];
	json_t *j = opaque_start(c, user, password, &st);
	if (!j || get_b64(j, "ke2", raw, sizeof(raw), sizeof(raw)) < 0 ||
	    pake_opaque_ke2_from_bytes(&ke2, raw, sizeof(raw)) != PAKE_OK) {
		sodium_memzero(&st, sizeof(st));
		json_decref(j);
		return NULL;
	}
	struct pake_opaque_params params = enroll_opaque_params(
		context, c->exporter, PAKE_KSF_ARGON2ID);
	int rc = pake_opaque_client_login_finish(&st, &params, &ke2, &ke3,
						 session_key, export_key);
	sodium_memzero(export_key, sizeof(export_key));
	if (rc != PAKE_OK) {
		json_decref(j);
		fail("%s", rc == PAKE_ERR_AUTH
			   ? "wrong user name or password (or the server is not "
			     "who it claims)" : pake_strerror(rc));
		return NULL;
	}
	char *ke3_64 = b64(ke3.bytes, sizeof(ke3.bytes));
	json_t *req = json_pack("{s:O,s:s}", "session",
				json_object_get(j, "session"), "ke3", ke3_64);
	free(ke3_64);
	json_decref(j);
	if (!req)
		die_oom();
	if (device)
		json_object_set_new(req, "device", json_string(device));
	j = post_json(c, "/opaque/login/finish", req, 200,
		      "wrong user name or password");
	char *bundle = j ? open_bundle(c, j, session_key, sizeof(session_key))
			 : NULL;
	sodium_memzero(session_key, sizeof(session_key));
	json_decref(j);
	return bundle;
}

/* Self-registration with the bundle's token (a --purpose register code):
 * the connection is authenticated by now. */
static int opaque_register(struct conn *c, const char *token,
			   const char *user, const char *password)
{
	struct pake_opaque_client_registration st;
	struct pake_opaque_registration_request rq;
	struct pake_opaque_registration_response rs;
	struct pake_opaque_registration_record record;
	uint8_t raw[PAKE_OPAQUE_RESPONSE_BYTES], export_key[64];
	if (pake_opaque_client_register_start(
		    &st, PAKE_STR(password, strlen(password)), &rq) != PAKE_OK)
		return fail("unusable password");
	char *rq64 = b64(rq.bytes, sizeof(rq.bytes));
	json_t *j = post_json(c, "/opaque/register/start",
			      json_pack("{s:s,s:s,s:s}", "token", token, "user",
					user, "request", rq64), 200,
			      "the registration token was refused");
	free(rq64);
	struct pake_opaque_params params = { .ksf = PAKE_KSF_ARGON2ID };
	if (!j || get_b64(j, "response", raw, sizeof(raw), sizeof(raw)) < 0 ||
	    pake_opaque_registration_response_from_bytes(&rs, raw, sizeof(raw)) ||
	    pake_opaque_client_register_finish(&st, &params, &rs, &record,
					       export_key) != PAKE_OK) {
		sodium_memzero(&st, sizeof(st));
		json_decref(j);
		return fail("registration failed");
	}
	json_decref(j);
	sodium_memzero(export_key, sizeof(export_key));
	char *rec64 = b64(record.bytes, sizeof(record.bytes));
	j = post_json(c, "/opaque/register/finish",
		      json_pack("{s:s,s:s}", "token", token, "record", rec64),
		      201, "the registration token was refused");
	free(rec64);
	if (!j)
		return -1;
	json_decref(j);
	printf("registered a password for user %s\n", user);
	return 0;
}

/* ------------------------------------------------------------------ EST */

int est_open(struct conn *c, const struct opts *o,
		    const struct enroll_bundle *b, const struct state_files *f,
		    bool with_identity)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->base, sizeof(c->base), "%s", b->est_base);
	size_t n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->h = new_handle(o, c->errbuf);
	trust_bundle(c->h, b, f);
	if (with_identity)
		present_identity(c->h, f);
	/* the CSR carries this connection's exporter: learn it first */
	char url[700];
	struct reply r;
	snprintf(url, sizeof(url), "%s/cacerts", c->base);
	if (request(c, url, NULL, NULL, NULL, &r) != 0)
		return -1;
	int rc = conn_check_same(c, &r);
	reply_free(&r);
	return rc;
}

/* The certificates of a base64 certs-only PKCS#7 (DER each; free with
 * free_certs). */
int certs_only(const struct reply *r, gnutls_datum_t **certs,
		      unsigned *n)
{
	gnutls_datum_t der;
	gnutls_pkcs7_t p7;
	*certs = NULL;
	*n = 0;
	if (!r->body || unbase64_std(r->body, r->len, &der) != 0)
		return fail("the EST answer is not base64");
	int ret = gnutls_pkcs7_init(&p7);
	if (ret >= 0)
		ret = gnutls_pkcs7_import(p7, &der, GNUTLS_X509_FMT_DER);
	int count = ret >= 0 ? gnutls_pkcs7_get_crt_count(p7) : 0;
	if (count > 0 && (*certs = calloc((size_t)count, sizeof(**certs))))
		for (int i = 0; i < count && ret >= 0; i++, (*n)++)
			ret = gnutls_pkcs7_get_crt_raw2(p7, (unsigned)i,
							&(*certs)[i]);
	gnutls_pkcs7_deinit(p7);
	gnutls_free(der.data);
	if (ret < 0 || count <= 0)
		return fail("the EST answer is not a certs-only PKCS#7");
	return 0;
}

void free_certs(gnutls_datum_t *certs, unsigned n)
{
	for (unsigned i = 0; certs && i < n; i++)
		gnutls_free(certs[i].data);
	free(certs);
}

/* Of the returned certificates, ours: our key, chained to the CA. */
static int pick_our_cert(gnutls_datum_t *certs, unsigned n,
			 const struct enroll_identity *id, const char *ca_pem,
			 gnutls_x509_crt_t *out)
{
	gnutls_x509_crt_t ca;
	gnutls_datum_t ca_d = { (unsigned char *)ca_pem,
				(unsigned)strlen(ca_pem) };
	*out = NULL;
	if (gnutls_x509_crt_init(&ca) < 0 ||
	    gnutls_x509_crt_import(ca, &ca_d, GNUTLS_X509_FMT_PEM) < 0)
		return fail("the stored CA does not load");
	for (unsigned i = 0; i < n && !*out; i++) {
		uint8_t d[32];
		unsigned status = 1;
		gnutls_x509_crt_t crt;
		if (pki_spki_sha256(&certs[i], d) != 0 ||
		    sodium_memcmp(d, id->spki, 32) != 0 ||
		    gnutls_x509_crt_init(&crt) < 0)
			continue;
		if (gnutls_x509_crt_import(crt, &certs[i], GNUTLS_X509_FMT_DER) >= 0 &&
		    gnutls_x509_crt_verify(crt, &ca, 1, 0, &status) >= 0 &&
		    status == 0)
			*out = crt;
		else
			gnutls_x509_crt_deinit(crt);
	}
	gnutls_x509_crt_deinit(ca);
	return *out ? 0 : fail("the EST answer holds no certificate for our "
			       "key issued by the CA");
}

static int store_identity(const struct state_files *f,
			  const struct enroll_identity *id, gnutls_x509_crt_t crt)
{
	gnutls_datum_t key = { NULL, 0 }, cert = { NULL, 0 };
	int rc = -1;
	if (gnutls_x509_privkey_export2_pkcs8(id->key, GNUTLS_X509_FMT_PEM,
					      NULL, GNUTLS_PKCS_PLAIN, &key) >= 0 &&
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cert) >= 0 &&
	    write_file(f->key, key.data, key.size, 0600) == 0 &&
	    write_file(f->cert, cert.data, cert.size, 0644) == 0)
		rc = 0;
	if (key.data)
		gnutls_memset(key.data, 0, key.size);
	gnutls_free(key.data);
	gnutls_free(cert.data);
	return rc;
}

static void print_enrolled(gnutls_x509_crt_t crt, const char *device)
{
	uint8_t serial[40];
	size_t n = sizeof(serial);
	char hex[81] = "?";
	if (gnutls_x509_crt_get_serial(crt, serial, &n) >= 0)
		sodium_bin2hex(hex, sizeof(hex), serial, n);
	time_t until = gnutls_x509_crt_get_expiration_time(crt);
	char when[32] = "?";
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&until));
	printf("enrolled device %s, certificate %s (valid until %s)\n", device,
	       hex, when);
}

/* POST the CSR to simpleenroll (token) or simplereenroll (certificate)
 * on the connection whose exporter it carries; store key and cert. */
int est_enroll(struct conn *c, const char *op, const char *token,
		      const struct enroll_bundle *b,
		      const struct state_files *f)
{
	struct enroll_identity id;
	struct reply r;
	char url[700], err[256];
	if (enroll_identity_new(&id, b->device, c->exporter, err,
				sizeof(err)) != 0)
		return fail("%s", err);
	char *body = base64_std(id.csr.data, id.csr.size);
	snprintf(url, sizeof(url), "%s/%s", c->base, op);
	int rc = request(c, url, "Content-Type: application/pkcs10", body,
			 token, &r);
	free(body);
	if (rc == 0 && conn_check_same(c, &r) != 0)
		rc = -1;
	if (rc == 0 && r.status != 200) {
		rc = fail("EST %s: HTTP %ld%s%.200s", op, r.status,
			  r.body ? ": " : "", r.body ? r.body : "");
		if (r.status == 202)
			fail("the request waits for approval; run "
			     "'anchor-enroll renew' later");
	}
	gnutls_datum_t *certs = NULL;
	unsigned n = 0;
	gnutls_x509_crt_t crt = NULL;
	if (rc == 0 && (certs_only(&r, &certs, &n) != 0 ||
			pick_our_cert(certs, n, &id, b->ca_pem, &crt) != 0 ||
			store_identity(f, &id, crt) != 0))
		rc = -1;
	if (rc == 0)
		print_enrolled(crt, b->device);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	free_certs(certs, n);
	reply_free(&r);
	enroll_identity_free(&id);
	return rc;
}

/* RFC 8295 eecerts: the DNS server's certificate should carry a pinned
 * key. Warn only: a server need not publish it. */
static void check_eecerts(struct conn *c, const struct enroll_bundle *b)
{
	struct reply r;
	char url[700];
	gnutls_datum_t *certs = NULL;
	unsigned n = 0, pinned = 0;
	snprintf(url, sizeof(url), "%s/eecerts", c->base);
	if (request(c, url, NULL, NULL, NULL, &r) != 0)
		return;
	if (r.status == 200 && certs_only(&r, &certs, &n) == 0)
		for (unsigned i = 0; i < n; i++) {
			uint8_t d[32];
			if (pki_spki_sha256(&certs[i], d) == 0 &&
			    enroll_bundle_pinned(b, d))
				pinned++;
		}
	if (pinned)
		printf("eecerts: the DNS server certificate matches the pins\n");
	else
		fprintf(stderr, "anchor-enroll: warning: eecerts (HTTP %ld) "
			"lists no certificate with a pinned key\n", r.status);
	free_certs(certs, n);
	reply_free(&r);
}

/* ------------------------------------------------------------------ DNS checks */

/* A real query over DoT with the pin checked and our certificate shown. */
int check_dot(const struct opts *o, const struct enroll_bundle *b,
		     const struct state_files *f)
{
	struct enroll_dot_target t = {
		.address = o->resolve_addr[0] ? o->resolve_addr
					      : b->addresses[0],
		.port = b->dot_port, .bundle = b, .cert_file = f->cert,
		.key_file = f->key, .timeout_s = (unsigned)TIMEOUT_S,
	};
	char summary[256];
	if (enroll_dot_check(&t, summary, sizeof(summary)) != 0)
		return fail("DoT: %s", summary);
	printf("DoT query OK (%s)\n", summary);
	return 0;
}

/* A GET of the DoH template with ?dns=, verified like EST, with our
 * certificate. */
static int check_doh(const struct opts *o, const struct enroll_bundle *b,
		     const struct state_files *f)
{
	uint8_t *wire = NULL;
	size_t len;
	uint16_t id;
	char base[ENROLL_MAX_URL], url[ENROLL_MAX_URL + 700];
	if (enroll_doh_url(b->doh_template, base, sizeof(base)) != 0 ||
	    enroll_dns_query(b->adn, false, &wire, &len, &id) != 0)
		return fail("DoH: cannot build a query for %s", b->adn);
	char *q = b64(wire, len);
	free(wire);
	snprintf(url, sizeof(url), "%s%cdns=%s", base,
		 strchr(base, '?') ? '&' : '?', q);
	free(q);
	struct conn c = { 0 };
	struct reply r;
	c.h = new_handle(o, c.errbuf);
	trust_bundle(c.h, b, f);
	present_identity(c.h, f);
	int rc = request(&c, url, "Accept: application/dns-message", NULL,
			 NULL, &r);
	if (rc == 0 && r.status != 200)
		rc = fail("DoH: HTTP %ld", r.status);
	char summary[256];
	if (rc == 0 && enroll_dns_check_answer((uint8_t *)r.body, r.len, id,
					       summary, sizeof(summary)) != 0)
		rc = fail("DoH: %s", summary);
	else if (rc == 0)
		printf("DoH query OK (%s)\n", summary);
	reply_free(&r);
	conn_close(&c);
	return rc;
}

/* ------------------------------------------------------------------ configurations */

static int write_configs(const struct opts *o, const struct enroll_bundle *b,
			 const struct state_files *f)
{
	char *cert = read_text(f->cert), *key = read_text(f->key);
	struct enroll_setup s = { .b = b, .ca_path = f->ca,
				  .cert_path = f->cert, .key_path = f->key,
				  .cert_pem = cert, .key_pem = key,
				  .stub_listen = o->stub_listen };
	char *list = strdup(o->write), *save = NULL, err[512], path[PATH_MAX];
	const char *out = o->out ? o->out : ".";
	int rc = cert && key && list ? 0 : -1;
	if (rc == 0 && util_mkdir_p(out, 0755) != 0)
		rc = fail("%s: cannot create it", out);
	for (char *name = rc ? NULL : strtok_r(list, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		int fmt = enroll_format_parse(name);
		if (fmt < 0)
			rc = fail("--write: unknown format %s", name);
		else if (enroll_write(fmt, &s, out, path, sizeof(path), err,
				      sizeof(err)) != 0)
			rc = fail("%s: %s", name, err);
		else
			printf("wrote %s: %s\n", name, path);
	}
	free(list);
	free(cert);
	if (key)
		sodium_memzero(key, strlen(key));
	free(key);
	return rc;
}

/* ------------------------------------------------------------------ enroll */

static int save_bundle(const struct state_files *f, const char *text,
		       const struct enroll_bundle *b)
{
	if (write_file(f->ca, b->ca_pem, strlen(b->ca_pem), 0644) != 0 ||
	    write_file(f->bundle, text, strlen(text), 0600) != 0)
		return -1;
	return 0;
}

/* The PAKE, by code or by password; the bundle's text, or NULL. */
static char *run_pake(struct conn *c, const struct opts *o)
{
	struct enroll_uri uri = { 0 };
	char why[256], password[PASSWORD_MAX], *bundle = NULL;
	if (o->uri) {
		if (enroll_uri_parse(o->uri, &uri, why, sizeof(why)) != 0) {
			fail("%s: %s", o->uri, why);
			return NULL;
		}
		char base[600];
		base_of_uri(&uri, base, sizeof(base));
		conn_open_pake(c, o, base, uri.has_pin ? uri.pin : NULL);
		bundle = cpace_enroll(c, &uri.code, o->device);
	} else if (o->code) {
		if (enroll_code_parse(o->code, &uri.code) != 0) {
			fail("--code: not a code of the form IIII-SSSS-SSSS-SSSS");
			return NULL;
		}
		conn_open_pake(c, o, o->server, NULL);
		bundle = cpace_enroll(c, &uri.code, o->device);
	} else if (read_password(o, "password: ", password,
				 sizeof(password)) == 0) {
		conn_open_pake(c, o, o->server, NULL);
		bundle = opaque_enroll(c, o->user, password, o->device);
	}
	sodium_memzero(password, sizeof(password));
	sodium_memzero(&uri, sizeof(uri));
	return bundle;
}

static int maybe_register(struct conn *c, const struct opts *o,
			  const struct enroll_bundle *b)
{
	char password[PASSWORD_MAX];
	if (!o->register_user)
		return 0;
	if (!b->has_register)
		return fail("--register-user: this code does not allow "
			    "registering a password");
	if (read_password(o, "new password: ", password, sizeof(password)) != 0)
		return -1;
	int rc = opaque_register(c, b->register_token, o->register_user,
				 password);
	sodium_memzero(password, sizeof(password));
	return rc;
}

/* Everything after the bundle: EST, the checks, the configurations. */
static int after_bundle(const struct opts *o, const struct enroll_bundle *b,
			const struct state_files *f)
{
	struct conn est;
	int rc = est_open(&est, o, b, f, false);
	if (rc == 0)
		rc = est_enroll(&est, "simpleenroll", b->est_token, b, f);
	if (rc == 0)
		check_eecerts(&est, b);
	conn_close(&est);
	if (rc == 0 && b->dot_port)
		rc = check_dot(o, b, f);
	if (rc == 0 && b->doh_template[0])
		rc = check_doh(o, b, f);
	if (rc == 0 && o->write)
		rc = write_configs(o, b, f);
	return rc;
}

static int cmd_enroll(const struct opts *o)
{
	struct conn c;
	struct state_files f;
	struct enroll_bundle b;
	char why[256];
	if (util_mkdir_p(o->state, 0700) != 0)
		return fail("%s: cannot create it", o->state);
	state_files_init(&f, o->state);
	char *text = run_pake(&c, o);
	if (!text) {
		conn_close(&c);
		return 1;
	}
	int rc = enroll_bundle_parse(text, &b, why, sizeof(why));
	if (rc != 0)
		fail("%s", why);
	/* the PAKE vouched for the bundle; the bundle must vouch for the
	 * certificate of the connection it came over */
	else if (!enroll_bundle_pinned(&b, c.spki))
		rc = fail("the certificate of this connection is not among the "
			  "bundle's pins; aborting");
	/* CPace authenticated the name in ADb: the bundle must agree */
	else if (c.pake_adn[0] && strcasecmp(c.pake_adn, b.adn) != 0)
		rc = fail("the bundle names %s but the PAKE named %s; aborting",
			  b.adn, c.pake_adn);
	if (rc == 0)
		rc = save_bundle(&f, text, &b);
	if (rc == 0)
		rc = maybe_register(&c, o, &b);
	conn_close(&c);
	if (rc == 0)
		rc = after_bundle(o, &b, &f);
	sodium_memzero(text, strlen(text));
	free(text);
	enroll_bundle_free(&b);
	return rc == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ renew, status */

static int load_state(const struct opts *o, struct state_files *f,
		      struct enroll_bundle *b)
{
	char why[256];
	state_files_init(f, o->state);
	char *text = read_text(f->bundle);
	if (!text)
		return fail("nothing enrolled in %s", o->state);
	int rc = enroll_bundle_parse(text, b, why, sizeof(why));
	sodium_memzero(text, strlen(text));
	free(text);
	return rc == 0 ? 0 : fail("%s: %s", f->bundle, why);
}

static int cmd_renew(const struct opts *o)
{
	struct state_files f;
	struct enroll_bundle b;
	struct conn est;
	if (load_state(o, &f, &b) != 0)
		return 1;
	int rc = est_open(&est, o, &b, &f, true);
	if (rc == 0)
		rc = est_enroll(&est, "simplereenroll", NULL, &b, &f);
	conn_close(&est);
	enroll_bundle_free(&b);
	return rc == 0 ? 0 : 1;
}

static void print_cert(const char *path)
{
	char *pem = read_text(path);
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)pem, pem ? (unsigned)strlen(pem) : 0 };
	if (!pem || gnutls_x509_crt_init(&crt) < 0)
		goto out;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0) {
		uint8_t serial[40];
		size_t n = sizeof(serial);
		char hex[81] = "?", when[32] = "?";
		if (gnutls_x509_crt_get_serial(crt, serial, &n) >= 0)
			sodium_bin2hex(hex, sizeof(hex), serial, n);
		time_t until = gnutls_x509_crt_get_expiration_time(crt);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime(&until));
		long days = (long)(until - time(NULL)) / 86400;
		printf("certificate: serial %s, expires %s (%s%ld days)\n", hex,
		       when, days < 0 ? "EXPIRED " : "in ", labs(days));
	}
	gnutls_x509_crt_deinit(crt);
out:
	free(pem);
}

static int cmd_status(const struct opts *o)
{
	struct state_files f;
	struct enroll_bundle b;
	if (load_state(o, &f, &b) != 0)
		return 1;
	printf("state:       %s\n", o->state);
	printf("server:      %s (EST %s)\n", b.adn, b.est_base);
	printf("device:      %s%s%s\n", b.device, b.profile[0] ? ", profile " : "",
	       b.profile);
	print_cert(f.cert);
	for (size_t i = 0; i < b.n_addresses; i++)
		printf("address:     %s\n", b.addresses[i]);
	if (b.dot_port)
		printf("dot:         port %u\n", b.dot_port);
	if (b.doh_template[0])
		printf("doh:         %s\n", b.doh_template);
	for (size_t i = 0; i < b.n_pins; i++)
		printf("pin-sha256:  %s\n", b.pins[i]);
	enroll_bundle_free(&b);
	return 0;
}

/* ------------------------------------------------------------------ options */

static int add_resolve(struct opts *o, const char *arg)
{
	/* HOST:PORT:ADDR, ADDR possibly [v6] */
	const char *first = strchr(arg, ':');
	const char *second = first ? strchr(first + 1, ':') : NULL;
	struct util_addr a;
	char addr[64];
	if (!second)
		return fail("--resolve: HOST:PORT:ADDR expected");
	const char *s = second + 1;
	size_t n = strlen(s);
	if (s[0] == '[' && n > 2 && s[n - 1] == ']')
		s++, n -= 2;
	if (n >= sizeof(addr))
		return fail("--resolve: bad address");
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (util_addr_parse(addr, 0, &a) != 0)
		return fail("--resolve: %s is not an IP address", addr);
	if (!o->resolve_addr[0])
		snprintf(o->resolve_addr, sizeof(o->resolve_addr), "%s", addr);
	o->resolve = curl_slist_append(o->resolve, arg);
	return o->resolve ? 0 : -1;
}

static void default_state(struct opts *o)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	if (xdg && xdg[0] == '/')
		snprintf(o->state, sizeof(o->state), "%s/anchor-enroll", xdg);
	else
		snprintf(o->state, sizeof(o->state),
			 "%s/.local/state/anchor-enroll", home ? home : ".");
}

static int parse_options(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "server", required_argument, NULL, 's' },
		{ "code", required_argument, NULL, 'C' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "write", required_argument, NULL, 'w' },
		{ "out", required_argument, NULL, 'o' },
		{ "state", required_argument, NULL, 'S' },
		{ "device", required_argument, NULL, 'd' },
		{ "stub-listen", required_argument, NULL, 'l' },
		{ "resolve", required_argument, NULL, 'r' },
		{ "register-user", required_argument, NULL, 'R' },
		{ "idevid", required_argument, NULL, 'I' },
		{ "key", required_argument, NULL, 'K' },
		{ "masa-anchor", required_argument, NULL, 'M' },
		{ "dot-port", required_argument, NULL, 'P' },
		{ "trace", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	default_state(o);
	while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (ch) {
		case 's': o->server = optarg; break;
		case 'C': o->code = optarg; break;
		case 'u': o->user = optarg; break;
		case 'p': o->password_file = optarg; break;
		case 'w': o->write = optarg; break;
		case 'o': o->out = optarg; break;
		case 'd': o->device = optarg; break;
		case 'l': o->stub_listen = optarg; break;
		case 'R': o->register_user = optarg; break;
		case 'I': o->idevid = optarg; break;
		case 'K': o->idevid_key = optarg; break;
		case 'M': o->masa_anchor = optarg; break;
		case 'P':
			o->dot_port = (unsigned)strtoul(optarg, NULL, 10);
			if (o->dot_port == 0 || o->dot_port > 65535)
				return fail("--dot-port: 1 to 65535");
			break;
		case 'T': trace = true; break;
		case 'S':
			snprintf(o->state, sizeof(o->state), "%s", optarg);
			break;
		case 'r':
			if (add_resolve(o, optarg) != 0)
				return -1;
			break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind >= argc)
		return fail("a command is needed: enroll, iot, renew or status");
	o->cmd = argv[optind++];
	if (optind < argc)
		o->uri = argv[optind++];
	if (optind < argc)
		return fail("unexpected argument %s", argv[optind]);
	return 0;
}

/* The combinations enroll accepts. */
static int check_enroll_options(const struct opts *o)
{
	char folded[ENROLL_MAX_USER + 1];
	if (o->uri && (o->server || o->code || o->user))
		return fail("give either a URI or --server with --code/--user");
	if (!o->uri && (!o->server || !o->code == !o->user))
		return fail("enroll needs a URI, or --server with exactly one "
			    "of --code and --user");
	if (o->server && strncmp(o->server, "https://", 8) != 0)
		return fail("--server must be an https:// URL");
	if (o->user && enroll_user_fold(o->user, folded, sizeof(folded)) != 0)
		return fail("--user: not a usable user name");
	if (o->register_user && enroll_user_fold(o->register_user, folded,
						 sizeof(folded)) != 0)
		return fail("--register-user: not a usable user name");
	if (o->register_user && o->user)
		return fail("--register-user goes with a registration code");
	if (o->device && !enroll_device_name_valid(o->device))
		return fail("--device: letters, digits, '.', '_' and '-' only");
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	if (sodium_init() < 0 || gnutls_global_init() < 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return fail("cannot initialise the crypto libraries"), 1;
	if (parse_options(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	int rc;
	if (strcmp(o.cmd, "enroll") == 0)
		rc = check_enroll_options(&o) ? 2 : cmd_enroll(&o);
	else if (strcmp(o.cmd, "renew") == 0)
		rc = cmd_renew(&o);
	else if (strcmp(o.cmd, "status") == 0)
		rc = cmd_status(&o);
	else if (strcmp(o.cmd, "iot") == 0)
		rc = cmd_iot(&o);
	else {
		usage(stderr);
		rc = 2;
	}
	curl_slist_free_all(o.resolve);
	curl_global_cleanup();
	gnutls_global_deinit();
	return rc;
}
