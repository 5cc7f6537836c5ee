/*  anchord - est/registrar.c: the BRSKI registrar (RFC 8995) under
 *  /.well-known/brski.
 *
 *  A pledge (an IoT device with an IDevID) asks for a voucher: a statement
 *  signed by its manufacturer's MASA that this domain's CA may be its
 *  trust anchor. The pledge signs a voucher-request with its IDevID key
 *  over TLS authenticated by the same IDevID (admitted like an EST
 *  enrollment: est.manufacturer-trust and the allow-list), naming the TLS
 *  certificate it saw (proximity-registrar-cert). The registrar checks all
 *  of that, wraps the request into its own, signed with a certificate
 *  that says id-kp-cmcRA and carries the domain CA the MASA will pin,
 *  posts it to the MASA the IDevID names (id-pe-masa-url) with libcurl on
 *  the loop, and hands the voucher back once it has checked it as the
 *  pledge will: signed by a MASA it trusts (est.masa-ca, else the system
 *  store), for this device and nonce, pinning this domain's CA. A voucher
 *  that fails is not passed on, and the pledge is told why.
 *
 *  A MASA may take its time: the pledge's request is held for HOLD_MS,
 *  then answered 202 with Retry-After; the voucher waits for the same
 *  request (by its SHA-256) to come back, for KEEP_MS. Pending requests
 *  are per worker: a retry on another worker's connection asks the MASA
 *  once more, which costs a round trip and nothing else.
 *
 *  voucher_status and enrollstatus (RFC 8995 5.7, 5.9.4) go to the audit
 *  log.
 */
#include "est/internal.h"
#include "brski/brski.h"
#include "pki/pki.h"
#include "policy/policy.h"
#include "store/store.h"

#include <gnutls/abstract.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HOLD_MS 2000			/* then 202 and Retry-After */
#define RETRY_AFTER "1"
#define KEEP_MS 60000			/* an unclaimed voucher or refusal */
#define TICK_MS 250
#define MASA_TIMEOUT_MS 30000
#define MAX_VOUCHER 65536
#define MAX_PENDING 256			/* per worker */
#define MASA_PATH "/.well-known/brski/requestvoucher"

enum state { ASKING, DONE, FAILED };

struct pending {
	struct util_list node;
	struct est_registrar *reg;
	uint8_t id[32];			/* SHA-256 of the pledge's CMS */
	enum state state;
	char serial[128];
	char masa[300];
	struct net_http_exchange *ex;	/* a pledge waiting, or NULL */
	uint64_t held_ms, finished_ms;
	struct brski_blob voucher;
	struct brski_blob nonce;	/* the pledge's, the voucher's too */
	unsigned status;
	char reason[320];
};

struct est_registrar {
	uv_loop_t *loop;
	struct store *store;
	const struct est_manufacturers *manufacturers;
	struct policy_fetcher *fetcher;
	gnutls_x509_crt_t signer, ca;
	gnutls_privkey_t key;
	gnutls_datum_t tls_cert;	/* what proximity-registrar-cert is */
	gnutls_datum_t ca_der;		/* what pinned-domain-cert must be */
	gnutls_x509_trust_list_t masa_trust;	/* voucher signers */
	uv_timer_t tick;
	bool tick_open;
	struct util_list pending;
	unsigned n_pending;
};

/* ------------------------------------------------------------------ pending */

static struct pending *find_pending(struct est_registrar *reg,
				    const uint8_t id[32])
{
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &reg->pending) {
		struct pending *p = container_of(pos, struct pending, node);
		if (memcmp(p->id, id, 32) == 0)
			return p;
	}
	return NULL;
}

static void pending_free(struct pending *p)
{
	util_list_remove(&p->node);
	p->reg->n_pending--;
	brski_blob_free(&p->voucher);
	brski_blob_free(&p->nonce);
	free(p);
}

static void on_gone(void *arg)
{
	struct pending *p = arg;
	p->ex = NULL;
}

/* The voucher, or why there is none, to the pledge waiting for it. */
static void deliver(struct pending *p)
{
	struct net_http_exchange *ex = p->ex;
	p->ex = NULL;
	if (p->state == DONE)
		net_http_respond(ex, 200, BRSKI_MEDIA_TYPE, NULL, 0,
				 p->voucher.data, p->voucher.len);
	else
		net_http_respond_error(ex, p->status, p->reason);
	pending_free(p);
}

static void hold(struct pending *p, struct net_http_exchange *ex)
{
	if (p->ex)	/* the same request again: the newer one waits */
		net_http_respond_error(p->ex, 409, "asked again meanwhile");
	p->ex = ex;
	p->held_ms = uv_now(p->reg->loop);
	net_http_on_cancel(ex, on_gone, p);
	if (p->state != ASKING)
		deliver(p);
}

static void answer_later(struct pending *p)
{
	struct net_http_header h[] = { { "Retry-After", RETRY_AFTER } };
	static const char text[] = "202 Accepted: the MASA has not answered "
				   "yet\n";
	net_http_respond(p->ex, 202, "text/plain", h, 1,
			 (const uint8_t *)text, sizeof(text) - 1);
	p->ex = NULL;
}

/* 202 for pledges held long enough; forget what nobody came back for. */
static void on_tick(uv_timer_t *t)
{
	struct est_registrar *reg = t->data;
	uint64_t now = uv_now(reg->loop);
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &reg->pending) {
		struct pending *p = container_of(pos, struct pending, node);
		if (p->ex && now - p->held_ms >= HOLD_MS)
			answer_later(p);
		else if (!p->ex && p->state != ASKING &&
			 now - p->finished_ms >= KEEP_MS)
			pending_free(p);
	}
	if (util_list_empty(&reg->pending))
		uv_timer_stop(t);
}

/* ------------------------------------------------------------------ the MASA */

static void finish(struct pending *p, enum state state, unsigned status,
		   const char *reason)
{
	struct est_registrar *reg = p->reg;
	char detail[sizeof(p->serial) + sizeof(p->masa) +
		    sizeof(p->reason) + 32];
	p->state = state;
	p->status = status;
	p->finished_ms = uv_now(reg->loop);
	snprintf(p->reason, sizeof(p->reason), "%s", reason ? reason : "");
	snprintf(detail, sizeof(detail), "device %s, MASA %s: %s", p->serial,
		 p->masa, state == DONE ? "voucher" : p->reason);
	store_audit(reg->store, "brski", state == DONE ? "voucher"
						       : "voucher-refused",
		    detail);
	log_info("brski", "%s", detail);
	if (p->ex)
		deliver(p);
}

static bool same_blob(const struct brski_blob *a, const uint8_t *data,
		      size_t len)
{
	return a->len == len && (len == 0 || memcmp(a->data, data, len) == 0);
}

/* What the pledge will check, checked first: a voucher that would fail
 * there is not passed on, and the log says why. */
static int check_voucher(struct pending *p, const uint8_t *der, size_t len,
			 char *why, size_t whylen)
{
	struct est_registrar *reg = p->reg;
	struct brski_cms_trust trust = { .anchors = reg->masa_trust };
	struct brski_cms_result cms;
	struct brski_voucher v;
	char reason[240];
	if (brski_cms_verify(der, len, &trust, &cms, reason,
			     sizeof(reason)) != 0) {
		snprintf(why, whylen, "the MASA's voucher does not verify: %s",
			 reason);
		return -1;
	}
	int ret = brski_voucher_parse(cms.json.data, cms.json.len, &v, reason,
				      sizeof(reason));
	brski_cms_result_free(&cms);
	if (ret != 0) {
		snprintf(why, whylen, "the MASA's voucher: %s", reason);
		return -1;
	}
	const char *bad = v.kind != BRSKI_VOUCHER ? "not a voucher"
		: !v.serial_number || strcmp(v.serial_number, p->serial)
			? "it is for another serial-number"
		: !same_blob(&v.nonce, p->nonce.data, p->nonce.len)
			? "its nonce is not the pledge's"
		: !same_blob(&v.pinned_domain_cert, reg->ca_der.data,
			     reg->ca_der.size)
			? "it pins another domain CA than this registrar's"
		: NULL;
	brski_voucher_free(&v);
	if (bad)
		snprintf(why, whylen, "the MASA's voucher is refused: %s", bad);
	return bad ? -1 : 0;
}

static void masa_answered(void *ctx, const struct policy_fetch_result *r)
{
	struct pending *p = ctx;
	char why[300];
	if (r->http_status == 200 && !r->error) {
		if (check_voucher(p, r->body, r->len, why, sizeof(why)) != 0) {
			finish(p, FAILED, 502, why);
			return;
		}
		p->voucher.data = malloc(r->len ? r->len : 1);
		if (!p->voucher.data) {
			finish(p, FAILED, 503, "out of memory");
			return;
		}
		memcpy(p->voucher.data, r->body, r->len);
		p->voucher.len = r->len;
		finish(p, DONE, 200, NULL);
		return;
	}
	/* A MASA that refuses says why in its body; pass that on. */
	if (r->http_status >= 400 && r->http_status < 500)
		snprintf(why, sizeof(why), "the MASA refused (HTTP %ld): %.*s",
			 r->http_status, (int)strcspn((const char *)r->body,
						       "\r\n"),
			 (const char *)r->body);
	else
		snprintf(why, sizeof(why), "the MASA did not answer: %s",
			 r->error ? r->error : "no voucher");
	finish(p, FAILED, r->http_status >= 400 && r->http_status < 500
			  ? 403 : 502, why);
}

/* id-pe-masa-url is the MASA's base URI (RFC 8995 2.3.2): https:// may be
 * left out, the well-known path is added. */
static int masa_endpoint(const char *masa_url, char *out, size_t cap)
{
	size_t n = strlen(masa_url);
	while (n && masa_url[n - 1] == '/')
		n--;
	bool scheme = strncasecmp(masa_url, "https://", 8) == 0;
	int len = snprintf(out, cap, "%s%.*s%s", scheme ? "" : "https://",
			   (int)n, masa_url, MASA_PATH);
	return len > 0 && (size_t)len < cap ? 0 : -1;
}

/* ------------------------------------------------------------------ requests */

/* The pledge's request: signed by the IDevID of this session, about this
 * device, made for this registrar. */
static int check_pledge_request(struct est_registrar *reg,
				const uint8_t *body, size_t len,
				const struct net_der *leaf,
				const struct est_idevid *dev,
				struct brski_voucher *v, char *why,
				size_t whylen)
{
	struct brski_cms_trust trust = { .signer_der = leaf->data,
					 .signer_der_len = leaf->len };
	struct brski_cms_result cms;
	if (brski_cms_verify(body, len, &trust, &cms, why, whylen) != 0)
		return -1;
	int ret = brski_voucher_parse(cms.json.data, cms.json.len, v, why,
				      whylen);
	brski_cms_result_free(&cms);
	if (ret != 0)
		return -1;
	const char *bad = NULL;
	if (v->kind != BRSKI_VOUCHER_REQUEST)
		bad = "this is a voucher, not a voucher-request";
	else if (!v->serial_number || strcmp(v->serial_number, dev->serial))
		bad = "the voucher-request names another serial-number than "
		      "the IDevID";
	else if (v->proximity_registrar_cert.len != reg->tls_cert.size ||
		 memcmp(v->proximity_registrar_cert.data, reg->tls_cert.data,
			reg->tls_cert.size) != 0)
		bad = "proximity-registrar-cert is not this registrar's TLS "
		      "certificate";
	if (bad) {
		snprintf(why, whylen, "%s", bad);
		brski_voucher_free(v);
		return -1;
	}
	return 0;
}

/* RFC 8995 5.5: the registrar's own request wraps the pledge's. */
static int registrar_request(struct est_registrar *reg,
			     const struct brski_voucher *pledge,
			     const uint8_t *body, size_t len,
			     const struct net_der *leaf,
			     struct brski_blob *out, char *why, size_t whylen)
{
	gnutls_x509_crt_t idevid;
	gnutls_datum_t d = { (unsigned char *)leaf->data, (unsigned)leaf->len };
	struct brski_blob aki = { NULL, 0 };
	if (gnutls_x509_crt_init(&idevid) < 0)
		return -1;
	if (gnutls_x509_crt_import(idevid, &d, GNUTLS_X509_FMT_DER) >= 0)
		brski_cert_authority_key_id(idevid, &aki);
	gnutls_x509_crt_deinit(idevid);
	struct brski_voucher v = {
		.kind = BRSKI_VOUCHER_REQUEST,
		.created_on = time(NULL),
		.assertion = BRSKI_ASSERTION_PROXIMITY,
		.serial_number = pledge->serial_number,
		.idevid_issuer = aki,
		.nonce = pledge->nonce,
		.prior_signed_voucher_request = { (uint8_t *)body, len },
	};
	char *json = NULL;
	size_t jlen;
	int ret = brski_voucher_build(&v, &json, &jlen);
	brski_blob_free(&aki);
	if (ret == 0)
		ret = brski_cms_sign((const uint8_t *)json, jlen, reg->signer,
				     reg->key, &reg->ca, 1, out, why, whylen);
	else
		snprintf(why, whylen, "cannot write the voucher-request");
	free(json);
	return ret;
}

static struct pending *pending_new(struct est_registrar *reg,
				   const uint8_t id[32],
				   const struct est_idevid *dev)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->reg = reg;
	memcpy(p->id, id, 32);
	snprintf(p->serial, sizeof(p->serial), "%s", dev->serial);
	util_list_push(&reg->pending, &p->node);
	reg->n_pending++;
	if (!uv_is_active((uv_handle_t *)&reg->tick))
		uv_timer_start(&reg->tick, on_tick, TICK_MS, TICK_MS);
	return p;
}

/* Check the pledge's request, sign ours, ask the MASA. */
static void ask_masa(struct est_registrar *reg, struct net_http_exchange *ex,
		     const uint8_t id[32], const struct net_der *leaf,
		     const struct est_idevid *dev)
{
	const struct net_http_request *r = net_http_exchange_request(ex);
	struct brski_voucher pledge;
	struct brski_blob cms = { NULL, 0 };
	char why[300], url[300];
	if (!dev->masa_url[0] ||
	    masa_endpoint(dev->masa_url, url, sizeof(url)) != 0) {
		net_http_respond_error(ex, 403, "the IDevID names no usable "
				       "MASA (id-pe-masa-url)");
		return;
	}
	if (check_pledge_request(reg, r->body, r->body_len, leaf, dev,
				 &pledge, why, sizeof(why)) != 0) {
		log_info("brski", "voucher-request of %s refused: %s",
			 dev->serial, why);
		net_http_respond_error(ex, 400, why);
		return;
	}
	int ret = registrar_request(reg, &pledge, r->body, r->body_len, leaf,
				    &cms, why, sizeof(why));
	struct pending *p = ret == 0 ? pending_new(reg, id, dev) : NULL;
	if (p) {
		snprintf(p->masa, sizeof(p->masa), "%s", url);
		p->nonce = pledge.nonce;	/* taken over */
		pledge.nonce = (struct brski_blob){ NULL, 0 };
	}
	brski_voucher_free(&pledge);
	if (!p || policy_fetch_post(reg->fetcher, url, BRSKI_MEDIA_TYPE,
				    BRSKI_MEDIA_TYPE, cms.data, cms.len,
				    masa_answered, p) != 0) {
		log_error("brski", "voucher-request of %s: %s", dev->serial,
			  ret ? why : "cannot ask the MASA");
		if (p)
			pending_free(p);
		net_http_respond_error(ex, 503, NULL);
	} else {
		log_info("brski", "asking %s for a voucher for %s", url,
			 dev->serial);
		hold(p, ex);
	}
	brski_blob_free(&cms);
}

static bool admitted(struct est_registrar *reg, struct net_http_exchange *ex,
		     struct net_der *leaf, struct est_idevid *dev)
{
	struct net_der chain[8];
	unsigned n = net_conn_peer_chain(net_http_exchange_conn(ex), chain, 8);
	char why[640];
	if (n == 0) {
		net_http_respond_error(ex, 401, "a pledge authenticates with "
				       "its IDevID as TLS client certificate");
		return false;
	}
	enum est_idevid_result r = est_idevid_check(reg->manufacturers,
		reg->store, chain, n, dev, why, sizeof(why));
	if (r != EST_IDEVID_OK) {
		net_http_respond_error(ex, est_idevid_refused(reg->store, r,
							      why), why);
		return false;
	}
	*leaf = chain[0];
	return true;
}

static void request_voucher(struct est_registrar *reg,
			    struct net_http_exchange *ex)
{
	const struct net_http_request *r = net_http_exchange_request(ex);
	struct est_idevid dev;
	struct net_der leaf;
	uint8_t id[32];
	if (!est_media_type_is(r->content_type, BRSKI_MEDIA_TYPE)) {
		net_http_respond_error(ex, 415, "expected " BRSKI_MEDIA_TYPE);
		return;
	}
	if (!admitted(reg, ex, &leaf, &dev))
		return;
	crypto_hash_sha256(id, r->body, r->body_len);
	struct pending *p = find_pending(reg, id);
	if (p)
		hold(p, ex);
	else if (reg->n_pending >= MAX_PENDING)
		net_http_respond_error(ex, 503, "too many voucher requests");
	else
		ask_masa(reg, ex, id, &leaf, &dev);
}

/* ------------------------------------------------------------------ status */

/* RFC 8995 5.7 and 5.9.4: {"version":..., "status": bool, "reason":
 * "...", "reason-context": {...}}, into the audit log. */
static void report_status(struct est_registrar *reg,
			  struct net_http_exchange *ex, const char *what)
{
	const struct net_http_request *r = net_http_exchange_request(ex);
	const struct net_peer_cert *cert =
		net_conn_peer_cert(net_http_exchange_conn(ex));
	struct brski_status st;
	char why[128];
	if (!est_media_type_is(r->content_type, "application/json")) {
		net_http_respond_error(ex, 415, "expected application/json");
		return;
	}
	if (!cert->present) {
		net_http_respond_error(ex, 401, "a pledge authenticates with "
				       "its certificate");
		return;
	}
	if (brski_status_parse(r->body, r->body_len, &st, why,
			       sizeof(why)) != 0) {
		net_http_respond_error(ex, 400, why);
		return;
	}
	char detail[700];
	snprintf(detail, sizeof(detail), "device %s (%s): %s%s%s%s%s",
		 cert->device_serial[0] ? cert->device_serial
					: cert->subject_cn,
		 cert->verified ? "LDevID" : "IDevID",
		 st.ok ? "success" : "failure", st.reason[0] ? ": " : "",
		 st.reason, st.context ? " " : "",
		 st.context ? st.context : "");
	brski_status_free(&st);
	store_audit(reg->store, "brski", what, detail);
	log_info("brski", "%s %s", what, detail);
	net_http_respond(ex, 200, "text/plain", NULL, 0, NULL, 0);
}

/* ------------------------------------------------------------------ service */

void est_registrar_handle(struct est_registrar *reg,
			  struct net_http_exchange *ex, const char *op)
{
	if (net_http_exchange_request(ex)->method != NET_HTTP_POST) {
		net_http_respond_error(ex, 405, NULL);
		return;
	}
	if (strcmp(op, "/requestvoucher") == 0)
		request_voucher(reg, ex);
	else if (strcmp(op, "/voucher_status") == 0)
		report_status(reg, ex, "voucher-status");
	else if (strcmp(op, "/enrollstatus") == 0)
		report_status(reg, ex, "enroll-status");
	else
		net_http_respond_error(ex, 404, NULL);
}

static int load_signer(struct est_registrar *reg, const char *cert_file,
		       const char *key_file, char *err, size_t errlen)
{
	gnutls_datum_t pem = { NULL, 0 }, kpem = { NULL, 0 };
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;
	int ret = gnutls_load_file(cert_file, &pem);
	if (ret >= 0)
		ret = gnutls_x509_crt_list_import2(&list, &n, &pem,
						   GNUTLS_X509_FMT_PEM, 0);
	if (ret >= 0 && n < 2)
		ret = GNUTLS_E_CERTIFICATE_ERROR;	/* leaf and CA */
	if (ret >= 0 && (ret = gnutls_load_file(key_file, &kpem)) >= 0 &&
	    (ret = gnutls_privkey_init(&reg->key)) >= 0)
		ret = gnutls_privkey_import_x509_raw(reg->key, &kpem,
						     GNUTLS_X509_FMT_PEM, NULL,
						     0);
	for (unsigned i = 0; i < n; i++) {
		if (i == 0 && ret >= 0)
			reg->signer = list[i];
		else if (i == n - 1 && ret >= 0)
			reg->ca = list[i];
		else
			gnutls_x509_crt_deinit(list[i]);
	}
	gnutls_free(list);
	gnutls_free(pem.data);
	if (kpem.data)
		gnutls_memset(kpem.data, 0, kpem.size);
	gnutls_free(kpem.data);
	if (ret < 0)
		snprintf(err, errlen, "registrar certificate %s: %s", cert_file,
			 gnutls_strerror(ret));
	return ret < 0 ? -1 : 0;
}

/* Voucher signers: the MASAs' anchors (est.masa-ca), else the system's. */
static int load_masa_trust(struct est_registrar *reg,
			   const struct est_registrar_conf *c, char *err,
			   size_t errlen)
{
	int ret = gnutls_x509_trust_list_init(&reg->masa_trust, 0);
	for (size_t i = 0; ret >= 0 && i < c->n_masa_ca; i++) {
		ret = gnutls_x509_trust_list_add_trust_file(reg->masa_trust,
			c->masa_ca[i], NULL, GNUTLS_X509_FMT_PEM, 0, 0);
		if (ret == 0)
			ret = GNUTLS_E_NO_CERTIFICATE_FOUND;
		if (ret < 0)
			snprintf(err, errlen, "est.masa-ca: %s: %s",
				 c->masa_ca[i], gnutls_strerror(ret));
	}
	if (ret >= 0 && c->n_masa_ca == 0 &&
	    gnutls_x509_trust_list_add_system_trust(reg->masa_trust, 0, 0) < 0)
		log_warning("brski", "no system trust store: vouchers need "
			    "est.masa-ca");
	if (ret >= 0 && (ret = gnutls_x509_crt_export2(reg->ca,
			GNUTLS_X509_FMT_DER, &reg->ca_der)) < 0)
		snprintf(err, errlen, "the domain CA: %s", gnutls_strerror(ret));
	return ret < 0 ? -1 : 0;
}

static int load_tls_cert(struct est_registrar *reg, const char *file,
			 char *err, size_t errlen)
{
	gnutls_datum_t *certs = NULL;
	size_t n = 0;
	int ret = pki_pem_certs(file, &certs, &n);
	if (ret == 0 && n > 0) {
		reg->tls_cert = certs[0];
		certs[0].data = NULL;
	}
	for (size_t i = 0; i < n; i++)
		gnutls_free(certs[i].data);
	free(certs);
	if (ret != 0 || n == 0)
		snprintf(err, errlen, "%s: no certificate", file);
	return ret == 0 && n > 0 ? 0 : -1;
}

struct est_registrar *est_registrar_new(uv_loop_t *loop,
					const struct est_registrar_conf *c,
					char *err, size_t errlen)
{
	struct est_registrar *reg = calloc(1, sizeof(*reg));
	if (!reg) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	reg->loop = loop;
	reg->store = c->store;
	reg->manufacturers = c->manufacturers;
	util_list_init(&reg->pending);
	struct policy_fetcher_conf fc = {
		.ca_files = c->masa_ca, .n_ca_files = c->n_masa_ca,
		.timeout_ms = MASA_TIMEOUT_MS, .max_size = MAX_VOUCHER,
	};
	if (load_signer(reg, c->signer_cert, c->signer_key, err, errlen) ||
	    load_masa_trust(reg, c, err, errlen) ||
	    load_tls_cert(reg, c->tls_cert, err, errlen) ||
	    !(reg->fetcher = policy_fetcher_new(loop, &fc, err, errlen))) {
		est_registrar_close(reg);
		est_registrar_free(reg);
		return NULL;
	}
	uv_timer_init(loop, &reg->tick);
	reg->tick.data = reg;
	reg->tick_open = true;
	return reg;
}

void est_registrar_close(struct est_registrar *reg)
{
	if (!reg)
		return;
	struct util_list *pos, *tmp;
	util_list_for_each_safe(pos, tmp, &reg->pending) {
		struct pending *p = container_of(pos, struct pending, node);
		if (p->ex)
			net_http_respond_error(p->ex, 503, "shutting down");
		pending_free(p);
	}
	policy_fetcher_close(reg->fetcher, NULL, NULL);	/* no callbacks */
	reg->fetcher = NULL;
	if (reg->tick_open)
		uv_close((uv_handle_t *)&reg->tick, NULL);
	reg->tick_open = false;
}

void est_registrar_free(struct est_registrar *reg)
{
	if (!reg)
		return;
	if (reg->signer)
		gnutls_x509_crt_deinit(reg->signer);
	if (reg->ca)
		gnutls_x509_crt_deinit(reg->ca);
	if (reg->key)
		gnutls_privkey_deinit(reg->key);
	if (reg->masa_trust)
		gnutls_x509_trust_list_deinit(reg->masa_trust, 1);
	gnutls_free(reg->ca_der.data);
	gnutls_free(reg->tls_cert.data);
	free(reg);
}
