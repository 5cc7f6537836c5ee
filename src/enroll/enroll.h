/*  anchord - enroll/enroll.h: the interface of the enrollment service.
 *
 *  The anchor-enroll v1 protocol (doc/ENROLLMENT.md): a device holding a
 *  one-time code (CPace) or its user's password (OPAQUE) authenticates
 *  anchord over a TLS connection it does not yet trust, with the
 *  connection's exporter mixed into the PAKE, and receives a sealed bundle
 *  (pins, CA, endpoints, a one-time EST token). The first half of this
 *  header is the protocol itself, shared by the server and anchor-enroll;
 *  the second half is the server on the HTTP router.
 */
#pragma once

#include "net/net.h"
#include "pake/pake.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define ENROLL_LABEL "anchor-enroll-v1"
#define ENROLL_PREFIX "/.well-known/anchor/v1"
#define ENROLL_EXPORTER_BYTES 32	/**< RFC 9266 tls-exporter */
#define ENROLL_SID_BYTES 16
#define ENROLL_KEY_BYTES 32
#define ENROLL_NONCE_BYTES 24		/**< XChaCha20-Poly1305-IETF */
#define ENROLL_TAG_BYTES 16
#define ENROLL_SESSION_TTL_S 60		/**< pending PAKE sessions */
#define ENROLL_TOKEN_TTL_S 900		/**< the bundle's EST token */
#define ENROLL_MAX_USER 64		/**< bytes of a user name */
#define ENROLL_MAX_DEVICE 63		/**< bytes of a device name */
#define ENROLL_MAX_BODY 4096		/**< request bodies are small */

/* ------------------------------------------------------------------ codes */

#define ENROLL_CODE_ID_LEN 4
#define ENROLL_CODE_SECRET_LEN 12
#define ENROLL_CODE_TEXT_LEN 19		/**< IIII-SSSS-SSSS-SSSS */

/** A one-time code: the public id and the secret (PRS), both upper-case
 *  Crockford base32 and NUL-terminated. */
struct enroll_code {
	char id[ENROLL_CODE_ID_LEN + 1];
	char secret[ENROLL_CODE_SECRET_LEN + 1];
};

/** A fresh random code (60 secret bits). */
void enroll_code_generate(struct enroll_code *c);
/** Read a code as people type it: any case, dashes and spaces anywhere,
 *  and Crockford's look-alikes (I and L for 1, O for 0). Returns 0, or -1
 *  for anything else. */
int enroll_code_parse(const char *text, struct enroll_code *out);
/** Whether text is a well-formed code id (4 characters, canonical). */
bool enroll_code_id_valid(const char *text);
/** "IIII-SSSS-SSSS-SSSS" into out (at least 20 bytes). */
void enroll_code_format(const struct enroll_code *c, char *out);

/* ------------------------------------------------------------------ PAKE inputs */

/** CPace CI = lv_cat(LABEL, exporter). Returns its length (<= cap). */
size_t enroll_cpace_ci(uint8_t *out, size_t cap,
		       const uint8_t exporter[ENROLL_EXPORTER_BYTES]);
/** ADa = LABEL " client" */
#define ENROLL_CPACE_ADA ENROLL_LABEL " client"
/** ADb = LABEL " server " ADN. Returns its length, or 0 if cap is short. */
size_t enroll_cpace_adb(char *out, size_t cap, const char *adn);
#define ENROLL_OPAQUE_CONTEXT_BYTES (sizeof(ENROLL_LABEL) - 1 + \
				     ENROLL_EXPORTER_BYTES)
/** OPAQUE Context = LABEL || exporter (login only). */
void enroll_opaque_context(uint8_t out[ENROLL_OPAQUE_CONTEXT_BYTES],
			   const uint8_t exporter[ENROLL_EXPORTER_BYTES]);
/** The OPAQUE params of a login on a connection with this exporter
 *  (context must live as long as the params). */
struct pake_opaque_params enroll_opaque_params(
	uint8_t context[ENROLL_OPAQUE_CONTEXT_BYTES],
	const uint8_t exporter[ENROLL_EXPORTER_BYTES], enum pake_ksf ksf);
/** The credential identifier of a user name: ASCII letters folded to
 *  lower case; 1 to ENROLL_MAX_USER bytes of printable ASCII or UTF-8,
 *  no control characters, no '/' or ':'. Returns 0, or -1. */
int enroll_user_fold(const char *name, char *out, size_t cap);
/** Whether a device name is usable as a certificate CN and a file name:
 *  1 to ENROLL_MAX_DEVICE of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool enroll_device_name_valid(const char *name);

/* ------------------------------------------------------------------ the bundle */

/** key = HKDF-Expand(HKDF-Extract(salt = LABEL, ikm), "bundle", 32) with
 *  the PAKE's HKDF (SHA-512); ikm is CPace's ISK or OPAQUE's session key. */
void enroll_bundle_key(uint8_t key[ENROLL_KEY_BYTES], const uint8_t *ikm,
		       size_t ikm_len);
/** sealed = nonce(24) || XChaCha20-Poly1305-IETF(key, nonce, AD =
 *  exporter, plain). *out is malloc'ed. Returns 0 or -1 (memory). */
int enroll_seal(uint8_t **out, size_t *out_len,
		const uint8_t key[ENROLL_KEY_BYTES],
		const uint8_t exporter[ENROLL_EXPORTER_BYTES],
		const uint8_t *plain, size_t len);
/** The reverse: *out is malloc'ed and NUL-terminated. Returns 0, or -1
 *  when the box does not open (wrong key, other connection, altered). */
int enroll_open(char **out, size_t *out_len,
		const uint8_t key[ENROLL_KEY_BYTES],
		const uint8_t exporter[ENROLL_EXPORTER_BYTES],
		const uint8_t *sealed, size_t len);

/* ------------------------------------------------------------------ encodings */

/** base64url without padding; malloc'ed, NULL on no memory. */
char *enroll_b64(const uint8_t *data, size_t len);
/** Strict base64url without padding into out; returns the length, or -1
 *  for bad characters or more than cap bytes. */
long enroll_unb64(const char *text, uint8_t *out, size_t cap);

/** anchor://HOST[:PORT]/enroll?code=IIII-SSSS-SSSS-SSSS[&pin=...] */
struct enroll_uri {
	char host[256];			/**< a name, an IPv4 address, or an
					     IPv6 address without brackets */
	uint16_t port;			/**< 443 when absent */
	struct enroll_code code;
	bool has_pin;
	uint8_t pin[32];		/**< SHA-256 of the server's SPKI */
};

/** Returns 0, or -1 with a reason in why. */
int enroll_uri_parse(const char *text, struct enroll_uri *out, char *why,
		     size_t whylen);
/** The URI of a code (pin may be NULL). Returns its length, or -1 if cap
 *  is short. */
int enroll_uri_format(char *out, size_t cap, const char *host, uint16_t port,
		      const struct enroll_code *code, const uint8_t *pin);

/* ------------------------------------------------------------------ server secrets */

/** The server's OPAQUE keys (AKE key pair and oprf_seed) in
 *  state_dir/opaque.key, 0600, created on first use. anchorctl and the
 *  daemon read the same file. Returns 0, or -1 with err. */
int enroll_server_keys_load(const char *state_dir,
			    struct pake_opaque_server_keys *keys, char *err,
			    size_t errlen);

/** Code secrets are kept sealed in the store under a key of its own
 *  (state_dir/codes.key, 0600): a copy of the store alone gives away no
 *  code. Returns 0, or -1 with err. */
int enroll_codes_key_load(const char *state_dir,
			  uint8_t key[ENROLL_KEY_BYTES], char *err,
			  size_t errlen);
/** Seal a code's secret for the store (AD = its id); out must hold
 *  ENROLL_SEALED_SECRET_BYTES. */
#define ENROLL_SEALED_SECRET_BYTES (ENROLL_NONCE_BYTES + \
				    ENROLL_CODE_SECRET_LEN + ENROLL_TAG_BYTES)
void enroll_code_seal(uint8_t out[ENROLL_SEALED_SECRET_BYTES],
		      const uint8_t key[ENROLL_KEY_BYTES],
		      const struct enroll_code *c);
/** Open it again into c->secret (c->id must be set). Returns 0 or -1. */
int enroll_code_unseal(struct enroll_code *c,
		       const uint8_t key[ENROLL_KEY_BYTES],
		       const uint8_t *sealed, size_t len);

/* ------------------------------------------------------------------ the service */

/** Read by enroll_service_new: the addresses are copied, the files read;
 *  adn and doh_path must outlive the service. */
struct enroll_conf {
	const char *state_dir;
	const char *adn;		/**< server.name */
	const char *const *addresses;	/**< the resolver's addresses, text */
	size_t n_addresses;
	uint16_t dot_port;		/**< 0: no DoT listener */
	uint16_t https_port;
	const char *doh_path;
	const char *server_cert;	/**< PEM: its SPKI is the pin */
	const char *backup_pin;		/**< base64 SPKI SHA-256, or NULL */
	const char *ca_cert;		/**< PEM: the trust anchor devices store */
	unsigned max_failures;		/**< a code dies after this many */
	uint32_t cert_validity_s;	/**< the bundle's "expires" */
	/** After a device is recorded (from the worker's thread). */
	void (*on_enrolled)(void *ctx, const char *device, const char *address);
	void *ctx;
};

struct enroll_service;

struct enroll_service *enroll_service_new(uv_loop_t *loop,
					  const struct enroll_conf *c,
					  char *err, size_t errlen);
/** Serve under /.well-known/anchor/v1. */
int enroll_service_route(struct enroll_service *svc,
			 struct net_http_router *r);
void enroll_service_free(struct enroll_service *svc);

/* --- client: configuration writers --- */

/* What anchor-enroll learns (the opened bundle, enroll/write.c) and the
 * configurations it writes from it. Nothing here does I/O but the
 * writers' final atomic file writes. */

#define ENROLL_MAX_ADDRESSES 8
#define ENROLL_MAX_PINS 4
#define ENROLL_PIN_TEXT 45		/**< standard base64 of 32 bytes + NUL */
#define ENROLL_MAX_URL 512

/** The bundle's JSON, parsed and checked (ENROLLMENT.md "The bundle"). */
struct enroll_bundle {
	char adn[254];
	size_t n_addresses;
	char addresses[ENROLL_MAX_ADDRESSES][46];	/**< literal IPs */
	uint16_t dot_port;
	char doh_template[ENROLL_MAX_URL];	/**< "" when absent */
	size_t n_pins;
	char pins[ENROLL_MAX_PINS][ENROLL_PIN_TEXT];	/**< base64 */
	uint8_t pin_digests[ENROLL_MAX_PINS][32];
	char *ca_pem;				/**< malloc'ed */
	char est_base[ENROLL_MAX_URL];
	char est_token[256];
	char profile[64];
	char mud_url[ENROLL_MAX_URL];		/**< "" when absent */
	char device[ENROLL_MAX_DEVICE + 1];
	char expires[64];
	bool has_register;
	char register_token[256];
};

/** Parse a bundle; every member is checked (names, addresses, URLs are
 *  https://, pins are 32 bytes, the device name is usable). Returns 0, or
 *  -1 with a reason in why. Free with enroll_bundle_free either way. */
int enroll_bundle_parse(const char *json, struct enroll_bundle *out,
			char *why, size_t whylen);
void enroll_bundle_free(struct enroll_bundle *b);
/** Whether the SPKI SHA-256 digest is one of the bundle's pins. */
bool enroll_bundle_pinned(const struct enroll_bundle *b,
			  const uint8_t digest[32]);

/** The DoH URL without its "{?dns}" (or any "{...}") template part, into
 *  out. Returns 0, or -1 if it does not fit. */
int enroll_doh_url(const char *template_, char *out, size_t cap);

/** Everything a writer needs: the bundle and where the client keeps its
 *  identity (PEM contents for the formats that embed them). */
struct enroll_setup {
	const struct enroll_bundle *b;
	const char *ca_path, *cert_path, *key_path;
	const char *cert_pem, *key_pem;	/**< key_pem may be NULL if unused */
	const char *stub_listen;	/**< stubby: "ADDR@PORT" */
};

/** The formats, by the names of --write. */
enum enroll_format {
	ENROLL_FMT_STUBBY,
	ENROLL_FMT_RESOLVED,
	ENROLL_FMT_FIREFOX,
	ENROLL_FMT_CHROME,
	ENROLL_FMT_MOBILECONFIG,
	ENROLL_FMT_ANCHORD,
	ENROLL_FMT_JSON,
	ENROLL_FMT_COUNT
};

/** "stubby" and so on; -1 for an unknown name. */
int enroll_format_parse(const char *name);
const char *enroll_format_name(enum enroll_format f);
/** The file name a format is written to (e.g. "stubby.yml"). */
const char *enroll_format_file(enum enroll_format f);
/** The configuration text (malloc'ed, NUL-terminated), or NULL with a
 *  reason in err. */
char *enroll_render(enum enroll_format f, const struct enroll_setup *s,
		    char *err, size_t errlen);
/** Render and write it atomically into dir (key material inside:
 *  mobileconfig is 0600, the rest 0644); the path goes to path. Returns 0
 *  or -1 with err. */
int enroll_write(enum enroll_format f, const struct enroll_setup *s,
		 const char *dir, char *path, size_t pathlen, char *err,
		 size_t errlen);

/* ------------------------------------------------------------------ client: key and checks */

/** The device's new key and its request. */
struct enroll_identity {
	gnutls_x509_privkey_t key;
	gnutls_datum_t csr;		/**< DER */
	uint8_t spki[32];		/**< SHA-256 of its SPKI */
};

/** A fresh ECDSA P-256 key and a CSR with CN = device and challengePassword
 *  = base64 of the EST connection's exporter (RFC 7030 3.5). Returns 0, or
 *  -1 with err. */
int enroll_identity_new(struct enroll_identity *id, const char *device,
			const uint8_t exporter[ENROLL_EXPORTER_BYTES],
			char *err, size_t errlen);
void enroll_identity_free(struct enroll_identity *id);
/** The SHA-256 of the SPKI of a session's peer certificate. */
int enroll_peer_spki(gnutls_session_t s, uint8_t digest[32]);
/** A query for adn, type A, with RD (ID 0 unless random_id, as DoH caches
 *  want); *wire is malloc'ed. */
int enroll_dns_query(const char *adn, bool random_id, uint8_t **wire,
		     size_t *len, uint16_t *id);
/** Whether wire answers query id; summary says how, or what is wrong.
 *  Any rcode proves the channel. */
int enroll_dns_check_answer(const uint8_t *wire, size_t len, uint16_t id,
			    char *summary, size_t cap);

/** A DoT service to check: pinned by the bundle, with our certificate. */
struct enroll_dot_target {
	const char *address;
	uint16_t port;
	const struct enroll_bundle *bundle;
	const char *cert_file, *key_file;
	unsigned timeout_s;
};

/** Connect, check the pin, send a query for the ADN and check the answer.
 *  Returns 0 with a summary of the answer, or -1 with what failed. */
int enroll_dot_check(const struct enroll_dot_target *t, char *summary,
		     size_t cap);
