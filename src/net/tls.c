/*  anchord - net/tls.c: TLS as a layer over a byte stream (GnuTLS).
 *
 *  The pattern of Knot Resolver's daemon/tls.c: GnuTLS runs non-blocking
 *  with its own pull and push functions. Pull hands it the bytes libuv just
 *  read and says EAGAIN when they are used up; push gives ciphertext to the
 *  stream below, which writes it at once or queues a copy. GnuTLS keeps a
 *  partial record itself, so nothing here is buffered between reads.
 *
 *  Priorities are appended to the system default, so the OS crypto policy
 *  still applies (RFC 8310 section 9), with TLS below 1.2 removed. Session
 *  tickets (TLS 1.3) are encrypted with keys GnuTLS derives and rotates from
 *  one 64-byte secret: every worker, and a restarted daemon with the same
 *  state directory, can resume every other's sessions. TLS 1.2 tickets are
 *  off, since they would undo forward secrecy.
 *
 *  A client authenticates its server by SPKI pins, by PKIX and a name, or
 *  by DANE (RFC 6698, 7671): TLSA records the caller found secure with its
 *  own validator and set before connecting.
 */
#include "net/internal.h"
#include "pki/pki.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* X25519 first among the key-exchange groups. GnuTLS's default puts
 * SECP256R1 first, and with server precedence every OpenSSL or BoringSSL
 * client (stubby, Android, curl, browsers), which sends a key share for
 * X25519 only, got a HelloRetryRequest: one more round trip on every full
 * handshake. X25519 is also the cheaper group for both ends. */
#define PRIORITY_GROUPS "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:" \
			"+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448:" \
			"+GROUP-FFDHE2048:+GROUP-FFDHE3072:+GROUP-FFDHE4096:" \
			"+GROUP-FFDHE6144:+GROUP-FFDHE8192"
#define PRIORITY_APPEND "%SERVER_PRECEDENCE:-VERS-SSL3.0:-VERS-TLS1.0:" \
			"-VERS-TLS1.1:-VERS-DTLS-ALL:" PRIORITY_GROUPS
#define PRIORITY_CLIENT_APPEND "-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1:" \
			       "-VERS-DTLS-ALL"
#define PLAINTEXT_BUF (16 * 1024 + 256)

struct net_tls_server {
	atomic_uint refs;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	gnutls_datum_t ticket;
	uint8_t ticket_buf[64];
	enum net_client_cert_mode client_certs;
	uint64_t handshake_timeout_ms;
	bool any_client_issuer;
};

struct net_tls_client {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	char *server_name;
	uint8_t pins[NET_MAX_PINS][NET_PIN_LEN];
	size_t n_pins;
	bool dane, opportunistic;
	struct net_dane_record *tlsa;	/* DANE: the records to match */
	size_t n_tlsa;
	char alpn[32];
	gnutls_datum_t session;		/* for resumption */
};

struct tls_conn {
	gnutls_session_t s;
	const struct tls_io *io;
	void *ctx;
	struct net_tls_server *server;
	struct net_tls_client *client;
	const uint8_t *in;
	size_t in_len;
	bool ready, failed, session_saved;
	enum net_client_cert_mode client_certs;
	struct net_peer_cert peer;
};

static _Thread_local uint8_t plaintext[PLAINTEXT_BUF];

/* ------------------------------------------------------------------ transport functions */

static ssize_t pull(gnutls_transport_ptr_t ptr, void *buf, size_t size)
{
	struct tls_conn *t = ptr;
	if (t->in_len == 0) {
		gnutls_transport_set_errno(t->s, EAGAIN);
		return -1;
	}
	size_t n = MIN(size, t->in_len);
	memcpy(buf, t->in, n);
	t->in += n;
	t->in_len -= n;
	return (ssize_t)n;
}

static ssize_t vec_push(gnutls_transport_ptr_t ptr, const giovec_t *iov,
			int iovcnt)
{
	struct tls_conn *t = ptr;
	ssize_t total = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (t->io->push(t->ctx, iov[i].iov_base, iov[i].iov_len) != 0) {
			t->failed = true;
			gnutls_transport_set_errno(t->s, EIO);
			return -1;
		}
		total += (ssize_t)iov[i].iov_len;
	}
	return total;
}

static int session_common(struct tls_conn *t, gnutls_priority_t prio,
			  gnutls_certificate_credentials_t cred,
			  const char *const *alpn, size_t n_alpn)
{
	int ret = gnutls_priority_set(t->s, prio);
	if (ret >= 0)
		ret = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_datum_t protos[4];
	n_alpn = MIN(n_alpn, ARRAY_SIZE(protos));
	for (size_t i = 0; i < n_alpn; i++)
		protos[i] = (gnutls_datum_t){ (unsigned char *)alpn[i],
					      (unsigned)strlen(alpn[i]) };
	if (ret >= 0 && n_alpn)
		ret = gnutls_alpn_set_protocols(t->s, protos, (unsigned)n_alpn,
						GNUTLS_ALPN_SERVER_PRECEDENCE);
	gnutls_transport_set_ptr(t->s, t);
	gnutls_transport_set_pull_function(t->s, pull);
	gnutls_transport_set_vec_push_function(t->s, vec_push);
	return ret;
}

/* ------------------------------------------------------------------ servers */

static int priority(gnutls_priority_t *prio, const char *append, char *err,
		    size_t errlen)
{
	const char *pos;
	int ret = gnutls_priority_init2(prio, append, &pos,
					GNUTLS_PRIORITY_INIT_DEF_APPEND);
	if (ret < 0)
		snprintf(err, errlen, "TLS priorities: %s", gnutls_strerror(ret));
	return ret < 0 ? -1 : 0;
}

/* Client certificates must come from the issuing CA, the file's first
 * certificate. The rest is its chain to a root, and trusting that root
 * would admit what every other CA under it issued. */
static int trust_issuing_ca(gnutls_certificate_credentials_t cred,
			    const char *file)
{
	gnutls_datum_t pem;
	int ret = gnutls_load_file(file, &pem);
	if (ret < 0)
		return ret;
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0;
	ret = gnutls_x509_crt_list_import2(&crts, &n, &pem, GNUTLS_X509_FMT_PEM,
					   0);
	gnutls_free(pem.data);
	if (ret >= 0 && n == 0)
		ret = GNUTLS_E_NO_CERTIFICATE_FOUND;
	if (ret >= 0)
		ret = gnutls_certificate_set_x509_trust(cred, crts, 1);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	return ret;
}

struct net_tls_server *net_tls_server_new(const struct net_tls_server_conf *c,
					  char *err, size_t errlen)
{
	struct net_tls_server *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	atomic_init(&t->refs, 1);
	t->client_certs = c->client_certs;
	t->handshake_timeout_ms = c->handshake_timeout_ms;
	t->any_client_issuer = c->any_client_issuer;
	if (c->ticket_secret) {
		memcpy(t->ticket_buf, c->ticket_secret, sizeof(t->ticket_buf));
		t->ticket.data = t->ticket_buf;
		t->ticket.size = sizeof(t->ticket_buf);
	}
	int ret = gnutls_certificate_allocate_credentials(&t->cred);
	if (ret >= 0)
		ret = gnutls_certificate_set_x509_key_file2(t->cred, c->cert_file,
			c->key_file, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (ret < 0) {
		snprintf(err, errlen, "%s, %s: %s", c->cert_file, c->key_file,
			 gnutls_strerror(ret));
	} else if (c->client_ca_file &&	/* listeners may ask even if "none" */
		   (ret = trust_issuing_ca(t->cred, c->client_ca_file)) < 0) {
		snprintf(err, errlen, "%s: %s", c->client_ca_file,
			 gnutls_strerror(ret));
	} else if (c->crl && (ret = gnutls_certificate_set_x509_crl_mem(t->cred,
			&(gnutls_datum_t){ (unsigned char *)c->crl,
					   (unsigned)c->crl_len },
			GNUTLS_X509_FMT_DER)) < 0) {
		/* revoked client certificates then fail verification */
		snprintf(err, errlen, "CRL: %s", gnutls_strerror(ret));
	} else if (priority(&t->prio, PRIORITY_APPEND, err, errlen) != 0) {
		ret = -1;
	}
	if (ret < 0) {
		net_tls_server_unref(t);
		return NULL;
	}
	return t;
}

void net_tls_server_ref(struct net_tls_server *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void net_tls_server_unref(struct net_tls_server *t)
{
	if (!t || atomic_fetch_sub_explicit(&t->refs, 1,
					    memory_order_acq_rel) != 1)
		return;
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	if (t->prio)
		gnutls_priority_deinit(t->prio);
	sodium_memzero(t->ticket_buf, sizeof(t->ticket_buf));
	free(t);
}

struct tls_conn *tls_conn_server(struct net_tls_server *srv,
				 const char *const *alpn, size_t n_alpn,
				 int client_certs, const struct tls_io *io,
				 void *ctx)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->io = io;
	t->ctx = ctx;
	unsigned flags = GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL |
			 GNUTLS_NO_TICKETS_TLS12;
	if (gnutls_init(&t->s, flags) < 0) {
		free(t);
		return NULL;
	}
	net_tls_server_ref(srv);
	t->server = srv;
	int ret = session_common(t, srv->prio, srv->cred, alpn, n_alpn);
	static const gnutls_certificate_request_t modes[] = {
		[NET_CLIENT_CERT_NONE] = GNUTLS_CERT_IGNORE,
		[NET_CLIENT_CERT_REQUEST] = GNUTLS_CERT_REQUEST,
		[NET_CLIENT_CERT_REQUIRE] = GNUTLS_CERT_REQUIRE,
	};
	t->client_certs = client_certs >= 0
		? (enum net_client_cert_mode)client_certs : srv->client_certs;
	gnutls_certificate_server_set_request(t->s, modes[t->client_certs]);
	if (srv->any_client_issuer)
		gnutls_certificate_send_x509_rdn_sequence(t->s, 1);
	if (ret >= 0 && srv->ticket.size)
		ret = gnutls_session_ticket_enable_server(t->s, &srv->ticket);
	if (ret < 0) {
		tls_conn_free(t);
		return NULL;
	}
	return t;
}

#define OID_MUD_SIGNER "1.3.6.1.5.5.7.1.30"

/* id-pe-mudsigner is a Name: kept as DER, compared as DER with the MUD
 * file signer's subject. One that does not fit is ignored, with a note. */
static void read_mud_signer(gnutls_x509_crt_t crt, struct net_peer_cert *p)
{
	size_t len = sizeof(p->mud_signer);
	unsigned critical;
	p->mud_signer_len = 0;
	int rc = gnutls_x509_crt_get_extension_by_oid(crt, OID_MUD_SIGNER, 0,
						      p->mud_signer, &len,
						      &critical);
	if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
		log_warning("tls", "client certificate: mudsigner longer than "
			    "%d bytes, ignored", NET_MUD_SIGNER_MAX);
	else if (rc >= 0 && len >= 2 && p->mud_signer[0] == 0x30)
		p->mud_signer_len = (uint8_t)len;
}

/* The client's certificate: who it is, and whether our CA vouches. */
static int check_client_cert(struct tls_conn *t)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->s, &n);
	if (certs && n > 0) {
		unsigned status = 1;
		t->peer.present = true;
		t->peer.verified =
			gnutls_certificate_verify_peers2(t->s, &status) >= 0 &&
			status == 0;
		pki_spki_sha256(&certs[0], t->peer.spki_sha256);
		gnutls_x509_crt_t crt;
		if (gnutls_x509_crt_init(&crt) >= 0) {
			size_t len = sizeof(t->peer.subject_cn);
			uint8_t serial[20];
			size_t slen = sizeof(serial);
			if (gnutls_x509_crt_import(crt, &certs[0],
						   GNUTLS_X509_FMT_DER) < 0 ||
			    gnutls_x509_crt_get_dn_by_oid(crt,
				GNUTLS_OID_X520_COMMON_NAME, 0, 0,
				t->peer.subject_cn, &len) < 0)
				t->peer.subject_cn[0] = '\0';
			if (gnutls_x509_crt_get_serial(crt, serial, &slen) >= 0)
				sodium_bin2hex(t->peer.serial,
					       sizeof(t->peer.serial), serial,
					       slen);
			len = sizeof(t->peer.device_serial);
			if (gnutls_x509_crt_get_dn_by_oid(crt,
				PKI_OID_SERIAL_NUMBER, 0, 0,
				t->peer.device_serial, &len) < 0)
				t->peer.device_serial[0] = '\0';
			pki_crt_ia5_extension(crt, PKI_OID_MUD_URL,
					      t->peer.mud_url,
					      sizeof(t->peer.mud_url));
			read_mud_signer(crt, &t->peer);
			gnutls_x509_crt_deinit(crt);
		}
	}
	if (t->peer.present)
		log_debug("tls", "client certificate CN=%s %s",
			  t->peer.subject_cn,
			  t->peer.verified ? "verified" : "not verified");
	if (t->client_certs == NET_CLIENT_CERT_REQUIRE &&
	    !t->peer.verified) {
		log_debug("tls", "client certificate required, none verified");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ clients */

struct net_tls_client *net_tls_client_new(const struct net_tls_client_conf *c,
					  char *err, size_t errlen)
{
	struct net_tls_client *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->n_pins = MIN(c->n_pins, (size_t)NET_MAX_PINS);
	if (t->n_pins)
		memcpy(t->pins, c->pins, t->n_pins * NET_PIN_LEN);
	snprintf(t->alpn, sizeof(t->alpn), "%s", c->alpn ? c->alpn : "");
	t->server_name = c->server_name ? strdup(c->server_name) : NULL;
	t->dane = c->dane;
	t->opportunistic = c->opportunistic;
	int ret = gnutls_certificate_allocate_credentials(&t->cred);
	if (ret >= 0 && !t->n_pins && !t->dane && !t->opportunistic) {
		/* No pin: the server must chain to a trust anchor. */
		ret = c->ca_file ? gnutls_certificate_set_x509_trust_file(t->cred,
					c->ca_file, GNUTLS_X509_FMT_PEM)
				 : gnutls_certificate_set_x509_system_trust(t->cred);
		if (ret == 0)
			ret = GNUTLS_E_NO_CERTIFICATE_FOUND;
	}
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", c->ca_file ? c->ca_file :
			 "system trust store", gnutls_strerror(ret));
	} else if (priority(&t->prio, PRIORITY_CLIENT_APPEND, err, errlen) != 0) {
		ret = -1;
	}
	if (ret < 0) {
		net_tls_client_free(t);
		return NULL;
	}
	return t;
}

void net_tls_client_free(struct net_tls_client *t)
{
	if (!t)
		return;
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	if (t->prio)
		gnutls_priority_deinit(t->prio);
	gnutls_free(t->session.data);
	free(t->server_name);
	free(t->tlsa);
	free(t);
}

void net_tls_client_set_dane(struct net_tls_client *t,
			     const struct net_dane_record *r, size_t n)
{
	n = MIN(n, (size_t)NET_MAX_DANE);
	struct net_dane_record *copy = n ? malloc(n * sizeof(*copy)) : NULL;
	if (n && !copy)
		n = 0;		/* no records: nothing matches */
	if (copy)
		memcpy(copy, r, n * sizeof(*copy));
	free(t->tlsa);
	t->tlsa = copy;
	t->n_tlsa = n;
}

struct tls_conn *tls_conn_client(struct net_tls_client *cli,
				 const struct tls_io *io, void *ctx)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->io = io;
	t->ctx = ctx;
	t->client = cli;
	if (gnutls_init(&t->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
				       GNUTLS_NO_SIGNAL) < 0) {
		free(t);
		return NULL;
	}
	const char *alpn = cli->alpn;
	int ret = session_common(t, cli->prio, cli->cred, &alpn,
				 cli->alpn[0] ? 1 : 0);
	if (ret >= 0 && cli->server_name)
		ret = gnutls_server_name_set(t->s, GNUTLS_NAME_DNS,
					     cli->server_name,
					     strlen(cli->server_name));
	if (ret >= 0 && !cli->n_pins && !cli->dane && !cli->opportunistic)
		gnutls_session_set_verify_cert(t->s, cli->server_name, 0);
	if (ret >= 0 && cli->session.size)
		gnutls_session_set_data(t->s, cli->session.data,
					cli->session.size);
	if (ret < 0) {
		tls_conn_free(t);
		return NULL;
	}
	return t;
}

/* ------------------------------------------------------------------ DANE */

/* The bytes a selector picks from a certificate: all of it, or its
 * SubjectPublicKeyInfo. The caller frees *out with gnutls_free when
 * *owned says so. */
static int dane_select(uint8_t selector, const struct net_der *cert,
		       gnutls_datum_t *out, bool *owned)
{
	*owned = false;
	if (selector == 0) {
		out->data = (unsigned char *)cert->data;
		out->size = (unsigned)cert->len;
		return 0;
	}
	if (selector != 1)
		return -1;
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t key;
	gnutls_datum_t der = { (unsigned char *)cert->data,
			       (unsigned)cert->len };
	int ret = -1;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -1;
	if (gnutls_pubkey_init(&key) >= 0) {
		if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) >= 0 &&
		    gnutls_pubkey_import_x509(key, crt, 0) >= 0 &&
		    gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, out) >= 0) {
			*owned = true;
			ret = 0;
		}
		gnutls_pubkey_deinit(key);
	}
	gnutls_x509_crt_deinit(crt);
	return ret;
}

static bool dane_matches(const struct net_dane_record *r,
			 const struct net_der *cert)
{
	gnutls_datum_t sel;
	bool owned, match = false;
	if (dane_select(r->selector, cert, &sel, &owned) != 0)
		return false;
	uint8_t digest[64];
	switch (r->mtype) {
	case 0:
		match = sel.size == r->len && sodium_memcmp(sel.data, r->data,
							    r->len) == 0;
		break;
	case 1:
		match = r->len == 32 &&
			gnutls_hash_fast(GNUTLS_DIG_SHA256, sel.data, sel.size,
					 digest) == 0 &&
			sodium_memcmp(digest, r->data, 32) == 0;
		break;
	case 2:
		match = r->len == 64 &&
			gnutls_hash_fast(GNUTLS_DIG_SHA512, sel.data, sel.size,
					 digest) == 0 &&
			sodium_memcmp(digest, r->data, 64) == 0;
		break;
	default:
		break;
	}
	if (owned)
		gnutls_free(sel.data);
	return match;
}

/* DANE-TA: the chain up to the matched certificate at index ta must
 * verify with that certificate as the only trust anchor, and name the
 * server (RFC 7671 5.2.2). */
static bool dane_ta_chain_ok(const struct net_der *chain, unsigned ta,
			     const char *hostname)
{
	gnutls_x509_trust_list_t tl;
	gnutls_x509_crt_t certs[16], anchor;
	unsigned n = 0, status = 1;
	bool ok = false;
	char host[256];
	/* Certificates name hosts without the root's trailing dot. */
	size_t hlen = hostname ? strlen(hostname) : 0;
	if (hlen && hostname[hlen - 1] == '.')
		hlen--;
	if (!hlen || hlen >= sizeof(host) || ta == 0 || ta > ARRAY_SIZE(certs) ||
	    gnutls_x509_trust_list_init(&tl, 0) < 0)
		return false;
	memcpy(host, hostname, hlen);
	host[hlen] = '\0';
	for (; n < ta; n++) {
		gnutls_datum_t d = { (unsigned char *)chain[n].data,
				     (unsigned)chain[n].len };
		if (gnutls_x509_crt_init(&certs[n]) < 0)
			break;
		if (gnutls_x509_crt_import(certs[n], &d, GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(certs[n]);
			break;
		}
	}
	gnutls_datum_t d = { (unsigned char *)chain[ta].data,
			     (unsigned)chain[ta].len };
	if (n == ta && gnutls_x509_crt_init(&anchor) >= 0) {
		if (gnutls_x509_crt_import(anchor, &d, GNUTLS_X509_FMT_DER) >= 0 &&
		    gnutls_x509_trust_list_add_cas(tl, &anchor, 1, 0) == 1) {
			gnutls_typed_vdata_st name = {
				.type = GNUTLS_DT_DNS_HOSTNAME,
				.data = (unsigned char *)host,
			};
			ok = gnutls_x509_trust_list_verify_crt2(
				     tl, certs, n, &name, 1, 0, &status,
				     NULL) >= 0 && status == 0;
		} else {
			gnutls_x509_crt_deinit(anchor);
		}
	}
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(certs[i]);
	gnutls_x509_trust_list_deinit(tl, 1);
	return ok;
}

int net_dane_verify(const struct net_dane_record *r, size_t n,
		    const struct net_der *chain, unsigned chain_len,
		    const char *hostname)
{
	for (size_t i = 0; chain_len && i < n; i++) {
		if (r[i].usage == 3 && dane_matches(&r[i], &chain[0]))
			return 0;
		if (r[i].usage != 2)
			continue;
		for (unsigned c = 1; c < chain_len; c++)
			if (dane_matches(&r[i], &chain[c]) &&
			    dane_ta_chain_ok(chain, c, hostname))
				return 0;
	}
	return -1;
}

static int check_server_dane(struct tls_conn *t)
{
	struct net_tls_client *c = t->client;
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->s, &n);
	struct net_der chain[16];
	n = certs ? MIN(n, (unsigned)ARRAY_SIZE(chain)) : 0;
	for (unsigned i = 0; i < n; i++)
		chain[i] = (struct net_der){ certs[i].data, certs[i].size };
	if (net_dane_verify(c->tlsa, c->n_tlsa, chain, n, c->server_name) == 0)
		return 0;
	log_warning("tls", "%s: the certificate matches none of %zu TLSA "
		    "records", c->server_name ? c->server_name : "upstream",
		    c->n_tlsa);
	return -1;
}

/* With pins, the server's key must be one of them (RFC 7858 4.2); with
 * DANE, a TLSA record must match. */
static int check_server_pin(struct tls_conn *t)
{
	struct net_tls_client *c = t->client;
	if (c->dane)
		return check_server_dane(t);
	if (!c->n_pins)
		return 0;	/* PKIX and the name were checked in the handshake,
				 * or nothing is, for opportunistic lookups */
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(t->s, &n);
	uint8_t digest[NET_PIN_LEN];
	if (!certs || n == 0 || pki_spki_sha256(&certs[0], digest) != 0)
		return -1;
	for (size_t i = 0; i < c->n_pins; i++)
		if (sodium_memcmp(digest, c->pins[i], NET_PIN_LEN) == 0)
			return 0;
	char pin[PKI_PIN_LEN];
	pki_pin_to_base64(digest, pin);
	log_warning("tls", "%s presented key pin %s, which is not configured",
		    c->server_name ? c->server_name : "upstream", pin);
	return -1;
}

/* TLS 1.3 tickets come after the handshake: keep the session once one did. */
static void save_session(struct tls_conn *t)
{
	if (!t->client || t->session_saved ||
	    !(gnutls_session_get_flags(t->s) & GNUTLS_SFLAGS_SESSION_TICKET))
		return;
	gnutls_datum_t d;
	if (gnutls_session_get_data2(t->s, &d) < 0)
		return;
	gnutls_free(t->client->session.data);
	t->client->session = d;
	t->session_saved = true;
}

/* ------------------------------------------------------------------ sessions */

static int finish_handshake(struct tls_conn *t)
{
	int ret = t->server ? check_client_cert(t) : check_server_pin(t);
	if (ret != 0)
		return -1;
	log_debug("tls", "%s handshake complete: %s%s",
		  t->server ? "server" : "client",
		  gnutls_protocol_get_name(gnutls_protocol_get_version(t->s)),
		  gnutls_session_is_resumed(t->s) ? ", resumed" : "");
	t->ready = true;
	if (t->io->ready)
		t->io->ready(t->ctx);
	return 0;
}

/* GnuTLS says AGAIN after a message that produced nothing for the caller
 * (a TLS 1.3 NewSessionTicket, say) even when more input waits: only an
 * empty input means "wait for the network". Input it did not touch at all
 * would be lost, so that is an error. */
static int again(struct tls_conn *t, size_t before)
{
	if (t->in_len == 0)
		return 0;
	return t->in_len < before ? 1 : -1;
}

static int handshake(struct tls_conn *t)
{
	for (;;) {
		size_t before = t->in_len;
		int ret = gnutls_handshake(t->s);
		if (ret == GNUTLS_E_SUCCESS)
			return finish_handshake(t);
		if (ret == GNUTLS_E_AGAIN) {
			int more = again(t, before);
			if (more <= 0)
				return more;
			continue;
		}
		if (ret != GNUTLS_E_INTERRUPTED && gnutls_error_is_fatal(ret)) {
			log_debug("tls", "handshake: %s", gnutls_strerror(ret));
			return -1;
		}
	}
}

int tls_conn_feed(struct tls_conn *t, const uint8_t *data, size_t n)
{
	t->in = data;
	t->in_len = n;
	if (!t->ready) {
		if (handshake(t) != 0 || t->failed)
			return -1;
		if (!t->ready)
			return 0;	/* the handshake wants more */
	}
	for (;;) {
		size_t before = t->in_len;
		ssize_t got = gnutls_record_recv(t->s, plaintext,
						 sizeof(plaintext));
		if (got > 0) {
			save_session(t);
			if (!t->io->plaintext(t->ctx, plaintext, (size_t)got))
				return 0;
			continue;
		}
		if (got == 0)
			return 1;	/* close_notify */
		if (got == GNUTLS_E_AGAIN) {
			int more = again(t, before);
			if (more <= 0 || t->failed)
				return t->failed ? -1 : more;
			continue;
		}
		if (got == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)got))
			continue;
		log_debug("tls", "record: %s", gnutls_strerror((int)got));
		return -1;
	}
}

int tls_conn_send(struct tls_conn *t, const uint8_t *data, size_t len)
{
	while (len > 0) {
		ssize_t n = gnutls_record_send(t->s, data, len);
		if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN)
			continue;
		if (n < 0 || t->failed)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

void tls_conn_cork(struct tls_conn *t)
{
	if (t->ready && !t->failed)
		gnutls_record_cork(t->s);
}

int tls_conn_uncork(struct tls_conn *t)
{
	if (!t->ready)
		return 0;
	for (;;) {
		int n = gnutls_record_uncork(t->s, GNUTLS_RECORD_WAIT);
		if (n >= 0 && !t->failed)
			return 0;
		if (t->failed || (n != GNUTLS_E_AGAIN &&
				  n != GNUTLS_E_INTERRUPTED))
			return -1;
	}
}

bool tls_conn_ready(const struct tls_conn *t)
{
	return t->ready;
}

bool tls_conn_resumed(const struct tls_conn *t)
{
	return t->ready && gnutls_session_is_resumed(t->s);
}

int tls_conn_channel_binding(const struct tls_conn *t, uint8_t *out,
			     size_t cap, bool *tls13)
{
	if (!t->ready)
		return -1;
	*tls13 = gnutls_protocol_get_version(t->s) == GNUTLS_TLS1_3;
	gnutls_datum_t cb;
	if (gnutls_session_channel_binding(t->s, *tls13 ? GNUTLS_CB_TLS_EXPORTER
						       : GNUTLS_CB_TLS_UNIQUE,
					   &cb) < 0)
		return -1;
	int n = cb.size <= cap ? (int)cb.size : -1;
	if (n > 0)
		memcpy(out, cb.data, cb.size);
	gnutls_free(cb.data);
	return n;
}

bool tls_conn_alpn_is(const struct tls_conn *t, const char *proto)
{
	gnutls_datum_t d;
	return gnutls_alpn_get_selected_protocol(t->s, &d) == 0 &&
	       d.size == strlen(proto) && memcmp(d.data, proto, d.size) == 0;
}

const struct net_peer_cert *tls_conn_peer(const struct tls_conn *t)
{
	return &t->peer;
}

unsigned tls_conn_peer_chain(const struct tls_conn *t,
			     struct net_der *chain, unsigned cap)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = t->ready
		? gnutls_certificate_get_peers(t->s, &n) : NULL;
	if (!certs)
		return 0;
	n = MIN(n, cap);
	for (unsigned i = 0; i < n; i++)
		chain[i] = (struct net_der){ certs[i].data, certs[i].size };
	return n;
}

uint64_t tls_conn_handshake_timeout(const struct tls_conn *t)
{
	return t->server ? t->server->handshake_timeout_ms : 10000;
}

void tls_conn_goodbye(struct tls_conn *t)
{
	if (t->ready && !t->failed)
		gnutls_bye(t->s, GNUTLS_SHUT_WR);	/* best effort */
}

void tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	gnutls_deinit(t->s);
	net_tls_server_unref(t->server);
	free(t);
}
