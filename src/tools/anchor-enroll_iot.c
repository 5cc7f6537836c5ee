/*  anchord - tools/anchor-enroll_iot.c: an IoT device's side of BRSKI
 *  (RFC 8995), "anchor-enroll iot".
 *
 *  The device has its factory IDevID and key, and trusts one thing: its
 *  manufacturer's MASA (--masa-anchor). It opens TLS to the registrar
 *  with the IDevID as client certificate, trusting the server only
 *  provisionally, and asks for a voucher: a voucher-request signed with
 *  the IDevID key, naming the server certificate it saw and a fresh
 *  nonce. The voucher must verify against the MASA anchor, name this
 *  device and nonce, and pin a domain certificate the provisional TLS
 *  server chains to. Only then is the connection trusted: /cacerts becomes
 *  the explicit trust anchor store, EST issues the LDevID, the DNS
 *  server's certificate from /eecerts is checked against that store, and
 *  a DoT query with the LDevID as client certificate proves the channel.
 *  The registrar hears how the voucher and the enrollment went
 *  (voucher_status, enrollstatus), failures included.
 */
#include "tools/anchor-enroll.h"
#include "brski/brski.h"
#include "pki/pki.h"

#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VOUCHER_WAIT_S 60		/* 202 and Retry-After, at most so long */
#define NONCE_BYTES 16

struct pledge {
	const struct opts *o;
	struct conn c;
	gnutls_x509_crt_t idevid;
	gnutls_privkey_t key;
	char serial[128];
	uint8_t nonce[NONCE_BYTES];
	struct brski_voucher voucher;	/* verified */
	struct state_files f;		/* trust store, LDevID, voucher */
	struct state_files id;		/* cert and key: the IDevID */
	char base[400];			/* https://host:port */
	char why[400];			/* what failed, for the status report */
};

/* ------------------------------------------------------------------ setup */

static int load_idevid(struct pledge *p)
{
	gnutls_datum_t pem = { NULL, 0 }, kpem = { NULL, 0 };
	int ret = gnutls_load_file(p->o->idevid, &pem);
	if (ret >= 0 && (ret = gnutls_x509_crt_init(&p->idevid)) >= 0)
		ret = gnutls_x509_crt_import(p->idevid, &pem,
					     GNUTLS_X509_FMT_PEM);
	gnutls_free(pem.data);
	if (ret < 0)
		return fail("%s: %s", p->o->idevid, gnutls_strerror(ret));
	ret = gnutls_load_file(p->o->idevid_key, &kpem);
	if (ret >= 0 && (ret = gnutls_privkey_init(&p->key)) >= 0)
		ret = gnutls_privkey_import_x509_raw(p->key, &kpem,
			GNUTLS_X509_FMT_PEM, NULL, 0);
	if (kpem.data)
		gnutls_memset(kpem.data, 0, kpem.size);
	gnutls_free(kpem.data);
	if (ret < 0)
		return fail("%s: %s", p->o->idevid_key, gnutls_strerror(ret));
	if (brski_cert_serial_number(p->idevid, p->serial,
				     sizeof(p->serial)) != 0)
		return fail("%s has no serialNumber in its subject (802.1AR)",
			    p->o->idevid);
	return 0;
}

static void pledge_free(struct pledge *p)
{
	conn_close(&p->c);
	if (p->idevid)
		gnutls_x509_crt_deinit(p->idevid);
	if (p->key)
		gnutls_privkey_deinit(p->key);
	brski_voucher_free(&p->voucher);
}

/* ------------------------------------------------------------------ status */

/* RFC 8995 5.7 and 5.9.4: telemetry, failures included; best effort. */
static void send_status(struct pledge *p, const char *what, bool ok,
			const char *reason)
{
	json_t *j = json_pack("{s:i, s:b, s:s}", "version", 1, "status", ok,
			      "reason", reason);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	char url[700];
	struct reply r;
	json_decref(j);
	if (!body)
		die_oom();
	snprintf(url, sizeof(url), "%s%s/%s", p->base, BRSKI_PREFIX, what);
	if (request(&p->c, url, "Content-Type: application/json", body, NULL,
		    &r) == 0 && r.status != 200)
		fprintf(stderr, "anchor-enroll: %s: HTTP %ld\n", what,
			r.status);
	reply_free(&r);
	free(body);
}

/* A failure after the voucher exchange began: the registrar hears it. */
static int refuse(struct pledge *p, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct pledge *p, const char *what, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
	send_status(p, what, false, p->why);
	return fail("%s", p->why);
}

/* ------------------------------------------------------------------ voucher */

/* TLS to the registrar, trusted for nothing yet; the IDevID shows who we
 * are. A first harmless GET learns the server's chain. */
static int open_provisional(struct pledge *p)
{
	char url[700];
	struct reply r;
	p->c.h = new_handle(p->o, p->c.errbuf);
	p->c.keep_peer = true;
	curl_easy_setopt(p->c.h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(p->c.h, CURLOPT_SSL_VERIFYHOST, 0L);
	present_identity(p->c.h, &p->id);
	snprintf(url, sizeof(url), "%s/.well-known/est/cacerts", p->base);
	if (request(&p->c, url, NULL, NULL, NULL, &r) != 0)
		return -1;
	int rc = conn_check_same(&p->c, &r);
	reply_free(&r);
	return rc;
}

static int signed_request(struct pledge *p, struct brski_blob *out)
{
	randombytes_buf(p->nonce, sizeof(p->nonce));
	struct brski_voucher v = {
		.kind = BRSKI_VOUCHER_REQUEST,
		.created_on = time(NULL),
		.assertion = BRSKI_ASSERTION_PROXIMITY,
		.serial_number = p->serial,
		.nonce = { p->nonce, sizeof(p->nonce) },
		.proximity_registrar_cert = { p->c.peer[0].data,
					      p->c.peer[0].size },
	};
	char *json = NULL, err[256];
	size_t len;
	if (brski_voucher_build(&v, &json, &len) != 0)
		return fail("cannot write the voucher-request");
	int rc = brski_cms_sign((const uint8_t *)json, len, p->idevid, p->key,
				NULL, 0, out, err, sizeof(err));
	free(json);
	return rc ? fail("signing the voucher-request: %s", err) : 0;
}

/* The same server as the first request, even over a new connection. */
static int same_server(struct pledge *p, const struct reply *r)
{
	return r->tls == 1 && sodium_memcmp(r->spki, p->c.spki, 32) == 0
		? 0 : fail("the registrar's certificate changed; aborting");
}

/* POST the request until a voucher (or a refusal) comes. */
static int ask_voucher(struct pledge *p, const struct brski_blob *req,
		       struct reply *r)
{
	char url[700];
	time_t until = time(NULL) + VOUCHER_WAIT_S;
	snprintf(url, sizeof(url), "%s%s/requestvoucher", p->base,
		 BRSKI_PREFIX);
	for (;;) {
		if (request_bin(&p->c, url, "Content-Type: " BRSKI_MEDIA_TYPE,
				req->data, req->len, NULL, r) != 0)
			return -1;
		if (same_server(p, r) != 0)
			return -1;
		if (r->status == 200)
			return 0;
		if (r->status != 202 || time(NULL) >= until) {
			fail("the registrar refused the voucher-request: HTTP "
			     "%ld%s%.*s", r->status, r->body ? ": " : "",
			     r->body ? (int)strcspn(r->body, "\n") : 0,
			     r->body ? r->body : "");
			return -1;
		}
		long wait = atol(r->retry_after);
		reply_free(r);
		sleep((unsigned)(wait < 1 ? 1 : wait > 10 ? 10 : wait));
	}
}

/* Signed by our MASA, for this device and this nonce, pinning a CA. */
static int check_voucher(struct pledge *p, const struct reply *r)
{
	gnutls_x509_trust_list_t anchors;
	struct brski_cms_result cms;
	char why[300];
	if (gnutls_x509_trust_list_init(&anchors, 0) < 0)
		die_oom();
	int n = gnutls_x509_trust_list_add_trust_file(anchors,
		p->o->masa_anchor, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
	struct brski_cms_trust trust = { .anchors = anchors };
	int rc = n > 0 ? brski_cms_verify((const uint8_t *)r->body, r->len,
					  &trust, &cms, why, sizeof(why))
		       : -1;
	gnutls_x509_trust_list_deinit(anchors, 1);
	if (n <= 0)
		return fail("%s: no MASA anchor in it", p->o->masa_anchor);
	if (rc != 0)
		return refuse(p, "voucher_status", "the voucher does not "
			      "verify against the MASA anchor: %s", why);
	rc = brski_voucher_parse(cms.json.data, cms.json.len, &p->voucher,
				 why, sizeof(why));
	brski_cms_result_free(&cms);
	if (rc != 0)
		return refuse(p, "voucher_status", "the voucher: %s", why);
	const struct brski_voucher *v = &p->voucher;
	const char *bad = v->kind != BRSKI_VOUCHER ? "not a voucher"
		: strcmp(v->serial_number, p->serial) ? "it names another device"
		: v->nonce.len != sizeof(p->nonce) ||
		  sodium_memcmp(v->nonce.data, p->nonce, sizeof(p->nonce))
			? "its nonce is not ours"
		: v->expires_on && v->expires_on < time(NULL) ? "it has expired"
		: NULL;
	return bad ? refuse(p, "voucher_status", "the voucher is refused: %s",
			    bad) : 0;
}

/* RFC 8995 5.6.2: the provisional server must chain to pinned-domain-cert
 * (or be it). */
static int check_pinned(struct pledge *p)
{
	gnutls_x509_trust_list_t tl;
	gnutls_x509_crt_t pinned, chain[4];
	gnutls_datum_t d = { p->voucher.pinned_domain_cert.data,
			     (unsigned)p->voucher.pinned_domain_cert.len };
	unsigned n = 0, status = 1;
	if (gnutls_x509_trust_list_init(&tl, 0) < 0 ||
	    gnutls_x509_crt_init(&pinned) < 0)
		die_oom();
	int ret = gnutls_x509_crt_import(pinned, &d, GNUTLS_X509_FMT_DER);
	if (ret >= 0 && gnutls_x509_trust_list_add_cas(tl, &pinned, 1, 0) == 1)
		for (; n < p->c.n_peer && ret >= 0; n++)
			if ((ret = gnutls_x509_crt_init(&chain[n])) >= 0 &&
			    (ret = gnutls_x509_crt_import(chain[n],
				&p->c.peer[n], GNUTLS_X509_FMT_DER)) < 0)
				gnutls_x509_crt_deinit(chain[n]);
	if (ret >= 0)
		ret = gnutls_x509_trust_list_verify_crt2(tl, chain, n, NULL, 0,
			GNUTLS_VERIFY_ALLOW_UNSORTED_CHAIN, &status, NULL);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(chain[i]);
	gnutls_x509_trust_list_deinit(tl, 1);	/* and pinned */
	if (ret < 0 || status != 0)
		return refuse(p, "voucher_status", "the registrar's TLS "
			      "certificate does not chain to the voucher's "
			      "pinned-domain-cert");
	return 0;
}

static int save_der_as_pem(const char *path, const struct brski_blob *der)
{
	gnutls_datum_t d = { der->data, (unsigned)der->len }, pem;
	if (gnutls_pem_base64_encode2("CERTIFICATE", &d, &pem) < 0)
		die_oom();
	int rc = write_file(path, pem.data, pem.size, 0644);
	gnutls_free(pem.data);
	return rc;
}

static int voucher_exchange(struct pledge *p)
{
	struct brski_blob req = { NULL, 0 };
	struct reply r = { 0 };
	char path[PATH_MAX + 16];
	int rc = open_provisional(p);
	if (rc == 0)
		rc = signed_request(p, &req);
	if (rc == 0)
		rc = ask_voucher(p, &req, &r);
	if (rc == 0)
		rc = check_voucher(p, &r);
	if (rc == 0)
		rc = check_pinned(p);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/voucher.cms", p->o->state);
		rc = write_file(path, r.body, r.len, 0644);
	}
	if (rc == 0)
		rc = save_der_as_pem(p->f.ca, &p->voucher.pinned_domain_cert);
	if (rc == 0) {
		send_status(p, "voucher_status", true, "Voucher successfully "
			    "processed");
		printf("voucher for %s verified (assertion %s); the registrar "
		       "is pinned\n", p->serial,
		       brski_assertion_name(p->voucher.assertion));
	}
	reply_free(&r);
	brski_blob_free(&req);
	return rc;
}

/* ------------------------------------------------------------------ enrollment */

static char *read_all(const char *path)
{
	uint8_t *data = NULL;
	size_t len;
	return util_read_file(path, MAX_BODY, &data, &len) == 0
		? (char *)data : NULL;
}

/* From now on the registrar is verified against the pinned domain CA
 * (not by name: the pledge knows it by its voucher). */
static int trust_pinned(struct pledge *p)
{
	curl_easy_setopt(p->c.h, CURLOPT_CAINFO, p->f.ca);
	curl_easy_setopt(p->c.h, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(p->c.h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(p->c.h, CURLOPT_SSL_VERIFYHOST, 0L);
	p->c.have_tls = false;		/* a new connection, a new exporter */
	return 0;
}

/* A certs-only EST resource (/cacerts, /eecerts) of the registrar. */
static int get_certs(struct pledge *p, const char *op, bool first,
		     gnutls_datum_t **certs, unsigned *n)
{
	char url[700];
	struct reply r;
	*certs = NULL;
	*n = 0;
	snprintf(url, sizeof(url), "%s/.well-known/est/%s", p->base, op);
	int rc = request(&p->c, url, NULL, NULL, NULL, &r);
	if (rc == 0 && first)	/* learns the exporter EST's CSR carries */
		rc = conn_check_same(&p->c, &r);
	if (rc == 0 && r.status != 200)
		rc = fail("/%s: HTTP %ld", op, r.status);
	if (rc == 0)
		rc = certs_only(&r, certs, n);
	reply_free(&r);
	return rc;
}

static void append_pem(char **store, const gnutls_datum_t *der)
{
	gnutls_datum_t pem;
	if (gnutls_pem_base64_encode2("CERTIFICATE", der, &pem) < 0)
		die_oom();
	size_t len = strlen(*store);
	char *grown = realloc(*store, len + pem.size + 1);
	if (!grown)
		die_oom();
	memcpy(grown + len, pem.data, pem.size);
	grown[len + pem.size] = '\0';
	*store = grown;
	gnutls_free(pem.data);
}

/* BRSKI 5.9.1: /cacerts, over the connection the voucher authenticated,
 * is the explicit trust anchor store: the pinned CA first, then the rest
 * of the set. */
static int fetch_cacerts(struct pledge *p)
{
	gnutls_datum_t *certs;
	unsigned n;
	if (get_certs(p, "cacerts", true, &certs, &n) != 0)
		return refuse(p, "enrollstatus", "no CA certificates from "
			      "/cacerts");
	char *store = read_all(p->f.ca);
	const struct brski_blob *pin = &p->voucher.pinned_domain_cert;
	for (unsigned i = 0; store && i < n; i++)
		if (certs[i].size != pin->len ||
		    memcmp(certs[i].data, pin->data, pin->len) != 0)
			append_pem(&store, &certs[i]);
	int rc = store ? write_file(p->f.ca, store, strlen(store), 0644) : -1;
	free(store);
	free_certs(certs, n);
	return rc;
}

/* Whether a DER certificate chains to the explicit trust anchors; its
 * first DNS name into adn. */
static int check_dns_cert(struct pledge *p, const gnutls_datum_t *der,
			  char *adn, size_t cap)
{
	gnutls_x509_trust_list_t tl;
	gnutls_x509_crt_t crt;
	unsigned status = 1;
	if (gnutls_x509_trust_list_init(&tl, 0) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0)
		die_oom();
	bool ok = gnutls_x509_trust_list_add_trust_file(tl, p->f.ca, NULL,
			GNUTLS_X509_FMT_PEM, 0, 0) > 0 &&
		gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) >= 0 &&
		gnutls_x509_trust_list_verify_crt2(tl, &crt, 1, NULL, 0, 0,
						   &status, NULL) >= 0 &&
		status == 0;
	bool named = ok && gnutls_x509_crt_get_subject_alt_name(crt, 0, adn,
				&cap, NULL) == GNUTLS_SAN_DNSNAME;
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_trust_list_deinit(tl, 1);
	if (!ok)
		return fail("the DNS server's certificate does not chain to "
			    "the trust anchors from the voucher");
	return named ? 0 : fail("the DNS server's certificate names no DNS "
				"name");
}

/* The DNS server's certificate (RFC 8295 /eecerts), checked against the
 * explicit trust anchors: its key and name are what DoT must show. */
static int fetch_dns_cert(struct pledge *p, struct enroll_bundle *b)
{
	gnutls_datum_t *certs;
	unsigned n;
	int rc = get_certs(p, "eecerts", false, &certs, &n);
	if (rc == 0)
		rc = check_dns_cert(p, &certs[0], b->adn, sizeof(b->adn));
	if (rc == 0 && pki_spki_sha256(&certs[0], b->pin_digests[0]) == 0) {
		pki_pin_to_base64(b->pin_digests[0], b->pins[0]);
		b->n_pins = 1;
	}
	free_certs(certs, n);
	return rc;
}

/* The host of https://HOST[:PORT], for DoT (an address: --resolve tells
 * it otherwise). */
static int dot_address(const struct opts *o, struct enroll_bundle *b)
{
	const char *h = o->server + strlen("https://");
	size_t n = h[0] == '[' ? strcspn(++h, "]") : strcspn(h, ":/");
	snprintf(b->addresses[0], sizeof(b->addresses[0]), "%.*s", (int)n, h);
	struct util_addr a;
	if (!o->resolve_addr[0] && util_addr_parse(b->addresses[0], 0, &a))
		return fail("--server names a host, not an address: give "
			    "--resolve HOST:PORT:ADDRESS for DoT");
	b->n_addresses = 1;
	b->dot_port = (uint16_t)(o->dot_port ? o->dot_port : 853);
	return 0;
}

/* EST with the IDevID: the LDevID, then what DoT must look like. */
static int enroll_ldevid(struct pledge *p, struct enroll_bundle *b)
{
	snprintf(b->device, sizeof(b->device), "%.*s",
		 (int)sizeof(b->device) - 1, p->serial);
	snprintf(b->est_base, sizeof(b->est_base), "%s/.well-known/est",
		 p->base);
	snprintf(p->c.base, sizeof(p->c.base), "%s", b->est_base);
	b->ca_pem = read_all(p->f.ca);
	if (!b->ca_pem)
		return fail("%s: cannot read it", p->f.ca);
	if (est_enroll(&p->c, "simpleenroll", NULL, b, &p->f) != 0)
		return refuse(p, "enrollstatus", "EST did not issue an LDevID");
	return fetch_dns_cert(p, b);
}

/* enrollstatus with the new LDevID, on a connection of its own. */
static void report_enrolled(struct pledge *p)
{
	conn_close(&p->c);
	p->c.h = new_handle(p->o, p->c.errbuf);
	curl_easy_setopt(p->c.h, CURLOPT_CAINFO, p->f.ca);
	curl_easy_setopt(p->c.h, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(p->c.h, CURLOPT_SSL_VERIFYHOST, 0L);
	present_identity(p->c.h, &p->f);
	send_status(p, "enrollstatus", true, "Enrollment successful");
}

static int check_options(const struct opts *o)
{
	if (!o->server || strncmp(o->server, "https://", 8) != 0)
		return fail("iot needs --server https://HOST[:PORT]");
	if (strlen(o->server) >= 400)
		return fail("--server: too long");
	if (!o->idevid || !o->idevid_key || !o->masa_anchor)
		return fail("iot needs --idevid CERT, --key KEY and "
			    "--masa-anchor PEM");
	return 0;
}

int cmd_iot(const struct opts *o)
{
	struct pledge p = { .o = o };
	struct enroll_bundle b = { 0 };
	if (check_options(o) != 0)
		return 2;
	if (util_mkdir_p(o->state, 0700) != 0)
		return fail("%s: cannot create it", o->state), 1;
	state_files_init(&p.f, o->state);
	snprintf(p.id.cert, sizeof(p.id.cert), "%s", o->idevid);
	snprintf(p.id.key, sizeof(p.id.key), "%s", o->idevid_key);
	snprintf(p.base, sizeof(p.base), "%s", o->server);
	size_t n = strlen(p.base);
	while (n && p.base[n - 1] == '/')
		p.base[--n] = '\0';
	int rc = dot_address(o, &b);
	if (rc == 0)
		rc = load_idevid(&p);
	if (rc == 0)
		rc = voucher_exchange(&p);
	if (rc == 0)
		rc = trust_pinned(&p);
	if (rc == 0)
		rc = fetch_cacerts(&p);
	if (rc == 0)
		rc = enroll_ldevid(&p, &b);
	if (rc == 0)
		report_enrolled(&p);
	if (rc == 0)
		rc = check_dot(o, &b, &p.f);
	enroll_bundle_free(&b);
	pledge_free(&p);
	return rc == 0 ? 0 : 1;
}
