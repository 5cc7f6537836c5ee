/*  anchord - tools/anchor-enroll.h: what anchor-enroll's files share.
 *
 *  anchor-enroll.c enrolls with a PAKE (codes, passwords) and holds the
 *  HTTPS, EST and DNS-check helpers; anchor-enroll_iot.c enrolls an IoT
 *  device with its IDevID and a BRSKI voucher.
 */
#pragma once

#include "enroll/enroll.h"

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_BODY (1024 * 1024)
#define TIMEOUT_S 15L

/* What the command line asks for. */
/* --trace: the enrollment API's messages on stderr (they are public
 * protocol messages; passwords and codes never appear in them). */
extern bool trace;

struct opts {
	const char *cmd;
	const char *uri, *server, *code, *user, *password_file;
	const char *write, *out, *device, *stub_listen, *register_user;
	const char *idevid, *idevid_key, *masa_anchor;	/* iot */
	unsigned dot_port;		/* iot: 853 unless told */
	char state[PATH_MAX];
	struct curl_slist *resolve;	/* CURLOPT_RESOLVE entries */
	char resolve_addr[64];		/* the first --resolve address */
};

/* The files the client keeps in --state. */
struct state_files {
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], bundle[PATH_MAX];
};

/* One HTTPS connection, kept alive across requests. */
struct conn {
	CURL *h;
	char base[600];			/* https://host:port or the EST base */
	bool have_tls;
	uint8_t exporter[ENROLL_EXPORTER_BYTES];
	uint8_t spki[32];		/* SHA-256 of the server's SPKI */
	char pake_adn[512];		/* the ADN CPace's ADb named, or "" */
	char errbuf[CURL_ERROR_SIZE];
	bool keep_peer;			/* keep the server's chain in peer */
	gnutls_datum_t peer[4];		/* DER, leaf first */
	unsigned n_peer;
};

struct reply {
	long status;
	char *body;
	size_t len;
	char retry_after[32];
	struct conn *conn;
	int tls;			/* 0: not read yet, 1: read, -1: failed */
	uint8_t exporter[ENROLL_EXPORTER_BYTES];
	uint8_t spki[32];
};


void die_oom(void);
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void state_files_init(struct state_files *f, const char *dir);
int write_file(const char *path, const void *data, size_t len,
	       unsigned mode);
/** Standard base64, line breaks allowed; out->data from gnutls_malloc. */
int unbase64_std(const char *text, size_t len, gnutls_datum_t *out);
char *base64_std(const uint8_t *data, size_t len);

/** A curl handle with the shared settings (TLS 1.3, timeouts, --resolve). */
CURL *new_handle(const struct opts *o, char *errbuf);
/** Show f->cert and f->key as TLS client certificate. */
void present_identity(CURL *h, const struct state_files *f);
/** One request (GET without a body, else POST); a transport failure is
 *  reported here, the status is the caller's to judge. */
int request(struct conn *c, const char *url, const char *header,
	    const char *body, const char *bearer, struct reply *r);
int request_bin(struct conn *c, const char *url, const char *header,
		const void *body, size_t len, const char *bearer,
		struct reply *r);
void reply_free(struct reply *r);
/** The first request of a connection records its exporter and key; later
 *  ones must see the same connection. */
int conn_check_same(struct conn *c, const struct reply *r);
void conn_close(struct conn *c);

/** The certificates of a base64 certs-only body (free_certs). */
int certs_only(const struct reply *r, gnutls_datum_t **certs, unsigned *n);
void free_certs(gnutls_datum_t *certs, unsigned n);
/** An EST connection to b->est_base, trusting b's CA and pins, with the
 *  state's certificate when with_identity; learns the exporter. */
int est_open(struct conn *c, const struct opts *o,
	     const struct enroll_bundle *b, const struct state_files *f,
	     bool with_identity);
/** A new key, its CSR to op, key and certificate (issued by b's CA) into
 *  the state. */
int est_enroll(struct conn *c, const char *op, const char *token,
	       const struct enroll_bundle *b, const struct state_files *f);
/** A real DoT query, the server pinned by b, our certificate shown. */
int check_dot(const struct opts *o, const struct enroll_bundle *b,
	      const struct state_files *f);

/* anchor-enroll_iot.c */
int cmd_iot(const struct opts *o);
