/*  anchord - enroll/check.c: the client's own key and its checks of the
 *  service it enrolled with: a P-256 key and its CSR bound to the EST
 *  connection, and a real query over DoT with the pin checked and the new
 *  client certificate shown. Blocking sockets: this is a command-line
 *  client, not the daemon.
 */
#include "enroll/enroll.h"
#include "pki/pki.h"
#include "util/util.h"

#include <errno.h>
#include <stdarg.h>
#include <ldns/ldns.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ key and CSR */

int enroll_peer_spki(gnutls_session_t s, uint8_t digest[32])
{
	unsigned n = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
	if (!certs || n == 0)
		return -1;
	return pki_spki_sha256(&certs[0], digest) == 0 ? 0 : -1;
}

void enroll_identity_free(struct enroll_identity *id)
{
	if (id->key)
		gnutls_x509_privkey_deinit(id->key);
	gnutls_free(id->csr.data);
	memset(id, 0, sizeof(*id));
}

/* The CSR proper: CN = the device, the challengePassword, signed. */
static int make_csr(struct enroll_identity *id, const char *device,
		    const char *challenge)
{
	gnutls_x509_crq_t crq = NULL;
	int ret = gnutls_x509_crq_init(&crq);
	if (ret >= 0)
		ret = gnutls_x509_crq_set_version(crq, 1);
	if (ret >= 0)
		ret = gnutls_x509_crq_set_dn_by_oid(
			crq, GNUTLS_OID_X520_COMMON_NAME, 0, device,
			(unsigned)strlen(device));
	if (ret >= 0)
		ret = gnutls_x509_crq_set_key(crq, id->key);
	if (ret >= 0)
		ret = gnutls_x509_crq_set_challenge_password(crq, challenge);
	if (ret >= 0)
		ret = gnutls_x509_crq_sign2(crq, id->key, GNUTLS_DIG_SHA256, 0);
	if (ret >= 0)
		ret = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &id->csr);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	return ret;
}

int enroll_identity_new(struct enroll_identity *id, const char *device,
			const uint8_t exporter[ENROLL_EXPORTER_BYTES],
			char *err, size_t errlen)
{
	/* RFC 7030 3.5: the challengePassword is the base64 of the channel
	 * binding (tls-exporter: TLS 1.3 has no tls-unique) */
	char challenge[sodium_base64_ENCODED_LEN(ENROLL_EXPORTER_BYTES,
		sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(challenge, sizeof(challenge), exporter,
			  ENROLL_EXPORTER_BYTES, sodium_base64_VARIANT_ORIGINAL);
	memset(id, 0, sizeof(*id));
	int ret = gnutls_x509_privkey_init(&id->key);
	if (ret >= 0)
		ret = gnutls_x509_privkey_generate(
			id->key, GNUTLS_PK_ECDSA,
			GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (ret >= 0)
		ret = make_csr(id, device, challenge);
	if (ret >= 0 && pki_key_spki_sha256(id->key, id->spki) != 0)
		ret = GNUTLS_E_INTERNAL_ERROR;
	if (ret < 0) {
		enroll_identity_free(id);
		return util_fail(err, errlen, "cannot make a key and CSR: %s",
			    gnutls_strerror(ret));
	}
	return 0;
}

/* ------------------------------------------------------------------ DNS */

int enroll_dns_query(const char *adn, bool random_id, uint8_t **wire,
		     size_t *len, uint16_t *id)
{
	ldns_rdf *name = ldns_dname_new_frm_str(adn);
	ldns_pkt *q = name ? ldns_pkt_query_new(name, LDNS_RR_TYPE_A,
						LDNS_RR_CLASS_IN, LDNS_RD)
			   : NULL;
	if (!q) {
		if (name)
			ldns_rdf_deep_free(name);
		return -1;
	}
	*id = random_id ? (uint16_t)randombytes_uniform(65536) : 0;
	ldns_pkt_set_id(q, *id);
	ldns_status s = ldns_pkt2wire(wire, q, len);
	ldns_pkt_free(q);
	return s == LDNS_STATUS_OK ? 0 : -1;
}

int enroll_dns_check_answer(const uint8_t *wire, size_t len, uint16_t id,
			    char *summary, size_t cap)
{
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK)
		return util_fail(summary, cap, "the answer is not a DNS message");
	bool ok = ldns_pkt_id(p) == id && ldns_pkt_qr(p);
	ldns_lookup_table *rc = ldns_lookup_by_id(ldns_rcodes,
						  (int)ldns_pkt_get_rcode(p));
	if (ok)
		snprintf(summary, cap, "rcode %s, %zu answers",
			 rc ? rc->name : "?", (size_t)ldns_pkt_ancount(p));
	else
		snprintf(summary, cap, "the answer does not match the query");
	ldns_pkt_free(p);
	return ok ? 0 : -1;
}

/* ------------------------------------------------------------------ DoT */

static int tcp_connect(const struct enroll_dot_target *t, char *err,
		       size_t errlen)
{
	struct util_addr a;
	if (util_addr_parse(t->address, t->port, &a) != 0)
		return util_fail(err, errlen, "%s: not an IP address", t->address);
	int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = (time_t)t->timeout_s };
	if (fd < 0)
		return util_fail(err, errlen, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a.ss, a.len) != 0) {
		util_fail(err, errlen, "connect to %s port %u: %s", t->address,
		     t->port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* All of len bytes, sent or received (blocking, with the socket's
 * timeouts). */
static int tls_all(gnutls_session_t s, uint8_t *p, size_t len, bool send)
{
	while (len > 0) {
		ssize_t n = send ? gnutls_record_send(s, p, len)
				 : gnutls_record_recv(s, p, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One query over an established DoT session (RFC 7858: 2-byte length). */
static int dot_exchange(gnutls_session_t s, const char *adn, char *summary,
			size_t cap)
{
	uint8_t *wire = NULL, *answer = NULL, lenbuf[2];
	size_t len;
	uint16_t id;
	if (enroll_dns_query(adn, true, &wire, &len, &id) != 0)
		return util_fail(summary, cap, "cannot build a query for %s", adn);
	uint8_t *msg = malloc(len + 2);
	answer = malloc(65535);
	int rc = msg && answer ? 0 : -1;
	if (rc == 0) {
		msg[0] = (uint8_t)(len >> 8);
		msg[1] = (uint8_t)len;
		memcpy(msg + 2, wire, len);
		rc = tls_all(s, msg, len + 2, true) == 0 &&
		     tls_all(s, lenbuf, 2, false) == 0 ? 0 : -1;
	}
	size_t alen = (size_t)lenbuf[0] << 8 | lenbuf[1];
	if (rc == 0 && tls_all(s, answer, alen, false) != 0)
		rc = -1;
	if (rc == 0)
		rc = enroll_dns_check_answer(answer, alen, id, summary, cap);
	else
		util_fail(summary, cap, "the server closed the connection");
	free(wire);
	free(msg);
	free(answer);
	return rc;
}

static int dot_handshake(gnutls_session_t s, const struct enroll_dot_target *t,
			 char *err, size_t errlen)
{
	int ret;
	do
		ret = gnutls_handshake(s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0)
		return util_fail(err, errlen, "TLS handshake: %s",
			    gnutls_strerror(ret));
	uint8_t d[32];
	if (enroll_peer_spki(s, d) != 0 || !enroll_bundle_pinned(t->bundle, d))
		return util_fail(err, errlen, "the server's key is not one of the "
			    "pins");
	return 0;
}

static int dot_session(gnutls_session_t *s,
		       gnutls_certificate_credentials_t *cred,
		       const struct enroll_dot_target *t)
{
	gnutls_datum_t alpn = { (unsigned char *)"dot", 3 };
	return gnutls_certificate_allocate_credentials(cred) < 0 ||
	       gnutls_certificate_set_x509_key_file(*cred, t->cert_file,
						    t->key_file,
						    GNUTLS_X509_FMT_PEM) < 0 ||
	       gnutls_init(s, GNUTLS_CLIENT) < 0 ||
	       gnutls_set_default_priority(*s) < 0 ||
	       gnutls_credentials_set(*s, GNUTLS_CRD_CERTIFICATE, *cred) < 0 ||
	       gnutls_server_name_set(*s, GNUTLS_NAME_DNS, t->bundle->adn,
				      strlen(t->bundle->adn)) < 0 ||
	       gnutls_alpn_set_protocols(*s, &alpn, 1, 0) < 0 ? -1 : 0;
}

int enroll_dot_check(const struct enroll_dot_target *t, char *summary,
		     size_t cap)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	int fd = tcp_connect(t, summary, cap), rc = -1;
	if (fd < 0)
		return -1;
	if (dot_session(&s, &cred, t) != 0) {
		util_fail(summary, cap, "cannot set up TLS");
	} else {
		gnutls_transport_set_int(s, fd);
		gnutls_handshake_set_timeout(s, t->timeout_s * 1000);
		rc = dot_handshake(s, t, summary, cap) == 0
		     ? dot_exchange(s, t->bundle->adn, summary, cap) : -1;
		gnutls_bye(s, GNUTLS_SHUT_WR);
	}
	if (s)
		gnutls_deinit(s);
	if (cred)
		gnutls_certificate_free_credentials(cred);
	close(fd);
	return rc;
}
