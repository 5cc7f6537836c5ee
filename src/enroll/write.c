/*  anchord - enroll/write.c: the client's side of the bundle, and the
 *  configurations anchor-enroll writes from it.
 *
 *  The bundle arrives from a server the PAKE has just authenticated, yet
 *  its members still end up in configuration files of other programs
 *  (YAML, XML, INI-like): every member is checked for shape here, and
 *  every writer escapes what it embeds, so that a bundle can never inject
 *  a key of its own into, say, stubby.yml.
 */
#include "enroll/enroll.h"
#include "pki/pki.h"
#include "util/util.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs12.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ bundle */

static int why_fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int why_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A string member into out; absent is an error only when required. */
static int get_string(json_t *obj, const char *key, char *out, size_t cap,
		      bool required, char *why, size_t whylen)
{
	json_t *v = json_object_get(obj, key);
	out[0] = '\0';
	if (!v && !required)
		return 0;
	if (!json_is_string(v))
		return why_fail(why, whylen, "bundle: \"%s\" %s", key,
				v ? "is not a string" : "is missing");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0 || n >= cap || strlen(s) != n)
		return why_fail(why, whylen, "bundle: \"%s\" is empty, too "
				"long or holds a NUL", key);
	memcpy(out, s, n + 1);
	return 0;
}

/* Printable ASCII without the characters that quote or break the formats
 * the value ends up in. */
static bool plain_text(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || strchr("\"'\\<>&`", *s))
			return false;
	return true;
}

static bool dns_name_valid(const char *s)
{
	size_t n = strlen(s), label = 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 && !(i == n - 1 && n > 1))
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

static bool https_url(const char *s)
{
	return strncmp(s, "https://", 8) == 0 && s[8] && s[8] != '/' &&
	       plain_text(s);
}

static int parse_addresses(json_t *root, struct enroll_bundle *b, char *why,
			   size_t whylen)
{
	json_t *a = json_object_get(root, "addresses"), *v;
	size_t i;
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > ENROLL_MAX_ADDRESSES)
		return why_fail(why, whylen, "bundle: \"addresses\" must be a "
				"list of 1 to %d addresses", ENROLL_MAX_ADDRESSES);
	json_array_foreach(a, i, v) {
		struct util_addr ua;
		const char *s = json_string_value(v);
		if (!s || strlen(s) >= sizeof(b->addresses[0]) ||
		    util_addr_parse(s, 0, &ua) != 0)
			return why_fail(why, whylen, "bundle: address %zu is "
					"not a literal IP address", i + 1);
		strcpy(b->addresses[i], s);
	}
	b->n_addresses = json_array_size(a);
	return 0;
}

static int parse_pins(json_t *root, struct enroll_bundle *b, char *why,
		      size_t whylen)
{
	json_t *a = json_object_get(root, "spki_pins"), *v;
	size_t i;
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > ENROLL_MAX_PINS)
		return why_fail(why, whylen, "bundle: \"spki_pins\" must be a "
				"list of 1 to %d pins", ENROLL_MAX_PINS);
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		if (!s || strlen(s) >= ENROLL_PIN_TEXT ||
		    pki_pin_parse(s, b->pin_digests[i]) != 0)
			return why_fail(why, whylen, "bundle: pin %zu is not "
					"the base64 of 32 bytes", i + 1);
		strcpy(b->pins[i], s);
	}
	b->n_pins = json_array_size(a);
	return 0;
}

static int parse_endpoints(json_t *root, struct enroll_bundle *b, char *why,
			   size_t whylen)
{
	json_t *dot = json_object_get(root, "dot");
	json_t *doh = json_object_get(root, "doh");
	if (dot) {
		json_int_t port = json_integer_value(json_object_get(dot, "port"));
		if (!json_is_object(dot) || port < 1 || port > 65535)
			return why_fail(why, whylen, "bundle: \"dot\" needs a "
					"\"port\" from 1 to 65535");
		b->dot_port = (uint16_t)port;
	}
	if (doh) {
		if (!json_is_object(doh) ||
		    get_string(doh, "template", b->doh_template,
			       sizeof(b->doh_template), true, why, whylen) != 0)
			return why_fail(why, whylen, "bundle: \"doh\" needs a "
					"\"template\"");
		if (!https_url(b->doh_template))
			return why_fail(why, whylen, "bundle: the DoH template "
					"is not an https:// URL");
	}
	if (!dot && !doh)
		return why_fail(why, whylen, "bundle: neither DoT nor DoH");
	return 0;
}

static int parse_est(json_t *root, struct enroll_bundle *b, char *why,
		     size_t whylen)
{
	json_t *est = json_object_get(root, "est");
	if (!json_is_object(est))
		return why_fail(why, whylen, "bundle: \"est\" is missing");
	if (get_string(est, "base", b->est_base, sizeof(b->est_base), true,
		       why, whylen) != 0 ||
	    get_string(est, "token", b->est_token, sizeof(b->est_token), true,
		       why, whylen) != 0)
		return -1;
	if (!https_url(b->est_base) || !plain_text(b->est_token))
		return why_fail(why, whylen, "bundle: bad EST base or token");
	return 0;
}

static int parse_ca(json_t *root, struct enroll_bundle *b, char *why,
		    size_t whylen)
{
	const char *pem = json_string_value(json_object_get(root, "ca_pem"));
	if (!pem || !strstr(pem, "-----BEGIN CERTIFICATE-----") ||
	    strlen(pem) > 64 * 1024)
		return why_fail(why, whylen, "bundle: \"ca_pem\" is not a PEM "
				"certificate");
	b->ca_pem = strdup(pem);
	return b->ca_pem ? 0 : why_fail(why, whylen, "out of memory");
}

static int parse_optional(json_t *root, struct enroll_bundle *b, char *why,
			  size_t whylen)
{
	json_t *policy = json_object_get(root, "policy");
	json_t *reg = json_object_get(root, "register");
	if (json_is_object(policy) &&
	    (get_string(policy, "profile", b->profile, sizeof(b->profile),
			false, why, whylen) != 0 ||
	     get_string(policy, "mud_url", b->mud_url, sizeof(b->mud_url),
			false, why, whylen) != 0))
		return -1;
	if ((b->profile[0] && !plain_text(b->profile)) ||
	    (b->mud_url[0] && !https_url(b->mud_url)))
		return why_fail(why, whylen, "bundle: bad policy");
	if (json_is_object(reg)) {
		if (get_string(reg, "token", b->register_token,
			       sizeof(b->register_token), true, why,
			       whylen) != 0)
			return -1;
		b->has_register = true;
	}
	if (get_string(root, "expires", b->expires, sizeof(b->expires), false,
		       why, whylen) != 0 ||
	    (b->expires[0] && !plain_text(b->expires)))
		return why_fail(why, whylen, "bundle: bad \"expires\"");
	return 0;
}

static int parse_root(json_t *root, struct enroll_bundle *b, char *why,
		      size_t whylen)
{
	if (!json_is_object(root))
		return why_fail(why, whylen, "bundle: not a JSON object");
	json_t *v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return why_fail(why, whylen, "bundle: not version 1");
	if (get_string(root, "adn", b->adn, sizeof(b->adn), true, why,
		       whylen) != 0)
		return -1;
	if (!dns_name_valid(b->adn))
		return why_fail(why, whylen, "bundle: \"adn\" is not a name");
	if (get_string(root, "device", b->device, sizeof(b->device), true,
		       why, whylen) != 0)
		return -1;
	if (!enroll_device_name_valid(b->device))
		return why_fail(why, whylen, "bundle: unusable device name");
	if (parse_addresses(root, b, why, whylen) != 0 ||
	    parse_pins(root, b, why, whylen) != 0 ||
	    parse_endpoints(root, b, why, whylen) != 0 ||
	    parse_est(root, b, why, whylen) != 0 ||
	    parse_ca(root, b, why, whylen) != 0)
		return -1;
	return parse_optional(root, b, why, whylen);
}

int enroll_bundle_parse(const char *json, struct enroll_bundle *out,
			char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return why_fail(why, whylen, "bundle: bad JSON: %s", jerr.text);
	int rc = parse_root(root, out, why, whylen);
	json_decref(root);
	return rc;
}

void enroll_bundle_free(struct enroll_bundle *b)
{
	free(b->ca_pem);
	b->ca_pem = NULL;
	sodium_memzero(b->est_token, sizeof(b->est_token));
	sodium_memzero(b->register_token, sizeof(b->register_token));
}

bool enroll_bundle_pinned(const struct enroll_bundle *b,
			  const uint8_t digest[32])
{
	for (size_t i = 0; i < b->n_pins; i++)
		if (sodium_memcmp(b->pin_digests[i], digest, 32) == 0)
			return true;
	return false;
}

int enroll_doh_url(const char *template_, char *out, size_t cap)
{
	size_t n = strcspn(template_, "{");
	if (n >= cap)
		return -1;
	memcpy(out, template_, n);
	out[n] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ text buffer */

struct sbuf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->failed || n < 0)
		goto fail;
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->len + (size_t)n + 1) * 2;
		char *s = realloc(b->s, cap);
		if (!s)
			goto fail;
		b->s = s;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return;
fail:
	b->failed = true;
}

/* The text, or NULL (and nothing leaked) when an append failed. */
static char *sb_finish(struct sbuf *b, char *err, size_t errlen)
{
	if (b->failed || !b->s) {
		free(b->s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return b->s;
}

/* A YAML double-quoted scalar. */
static void sb_yaml(struct sbuf *b, const char *s)
{
	sb_add(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			sb_add(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			sb_add(b, "\\x%02x", c);
		else
			sb_add(b, "%c", c);
	}
	sb_add(b, "\"");
}

/* A plain (unquoted) YAML scalar where it is safe: stubby reads quoted
 * scalars as strings, where it wants addresses and pins as such. */
static void sb_yaml_plain(struct sbuf *b, const char *s)
{
	bool plain = s[0] && s[0] != '-';
	for (const char *p = s; *p && plain; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || strchr(":.@%+/=_-", *p);
	if (plain)
		sb_add(b, "%s", s);
	else
		sb_yaml(b, s);
}

/* XML character data or an attribute value. */
static void sb_xml(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': sb_add(b, "&amp;"); break;
		case '<': sb_add(b, "&lt;"); break;
		case '>': sb_add(b, "&gt;"); break;
		case '"': sb_add(b, "&quot;"); break;
		case '\'': sb_add(b, "&apos;"); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\n' ||
			    *s == '\t')
				sb_add(b, "%c", *s);
		}
	}
}

/* ------------------------------------------------------------------ stubby */

static char *render_stubby(const struct enroll_setup *s, char *err,
			   size_t errlen)
{
	const struct enroll_bundle *b = s->b;
	struct sbuf o = { 0 };
	if (b->dot_port == 0) {
		snprintf(err, errlen, "the server offers no DoT for stubby");
		return NULL;
	}
	sb_add(&o, "# stubby.yml for %s, written by anchor-enroll.\n"
		   "# Strict privacy: DoT only, the server authenticated by "
		   "its SPKI pins.\n"
		   "# stubby (getdns) has no option for a TLS client "
		   "certificate, so it does\n# not present this device's; "
		   "the device certificate is %s\n",
	       b->adn, s->cert_path);
	sb_add(&o, "resolution_type: GETDNS_RESOLUTION_STUB\n"
		   "dns_transport_list:\n  - GETDNS_TRANSPORT_TLS\n"
		   "tls_authentication: GETDNS_AUTHENTICATION_REQUIRED\n"
		   "tls_query_padding_blocksize: 128\n"
		   "edns_client_subnet_private: 1\n"
		   "round_robin_upstreams: 0\n"
		   "idle_timeout: 10000\n"
		   "tls_ca_file: ");
	sb_yaml(&o, s->ca_path);
	sb_add(&o, "\nlisten_addresses:\n  - ");
	sb_yaml_plain(&o, s->stub_listen ? s->stub_listen : "127.0.0.1@53");
	sb_add(&o, "\nupstream_recursive_servers:\n");
	for (size_t i = 0; i < b->n_addresses; i++) {
		sb_add(&o, "  - address_data: ");
		sb_yaml_plain(&o, b->addresses[i]);
		sb_add(&o, "\n    tls_port: %u\n    tls_auth_name: ",
		       b->dot_port);
		sb_yaml(&o, b->adn);
		sb_add(&o, "\n    tls_pubkey_pinset:\n");
		for (size_t p = 0; p < b->n_pins; p++) {
			sb_add(&o, "      - digest: \"sha256\"\n        value: ");
			sb_yaml_plain(&o, b->pins[p]);
			sb_add(&o, "\n");
		}
	}
	return sb_finish(&o, err, errlen);
}

/* ------------------------------------------------------------------ resolved */

static char *render_resolved(const struct enroll_setup *s, char *err,
			     size_t errlen)
{
	const struct enroll_bundle *b = s->b;
	struct sbuf o = { 0 };
	if (b->dot_port == 0) {
		snprintf(err, errlen, "the server offers no DoT for resolved");
		return NULL;
	}
	sb_add(&o, "# /etc/systemd/resolved.conf.d/anchor-enroll.conf for %s,"
		   " written by\n# anchor-enroll. systemd-resolved checks the "
		   "server certificate against the\n# system trust store and "
		   "the name after '#'; it cannot pin SPKIs or present\n# a "
		   "client certificate. Install the CA %s\n# into the system "
		   "store (update-ca-certificates) for the check to pass.\n"
		   "[Resolve]\nDNS=", b->adn, s->ca_path);
	for (size_t i = 0; i < b->n_addresses; i++) {
		const char *a = b->addresses[i];
		bool v6 = strchr(a, ':') != NULL;
		if (i)
			sb_add(&o, " ");
		if (b->dot_port == 853)
			sb_add(&o, "%s#%s", a, b->adn);
		else
			sb_add(&o, "%s%s%s:%u#%s", v6 ? "[" : "", a,
			       v6 ? "]" : "", b->dot_port, b->adn);
	}
	sb_add(&o, "\nDNSOverTLS=yes\nDomains=~.\n");
	return sb_finish(&o, err, errlen);
}

/* ------------------------------------------------------------------ JSON formats */

static char *dump_json(json_t *root, char *err, size_t errlen)
{
	char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS)
			  : NULL;
	json_decref(root);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* a trailing newline, as editors leave it */
	size_t n = strlen(text);
	char *withnl = realloc(text, n + 2);
	if (!withnl) {
		free(text);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(withnl + n, "\n", 2);
	return withnl;
}

static bool need_doh(const struct enroll_setup *s, const char *who,
		     char *err, size_t errlen)
{
	if (s->b->doh_template[0])
		return true;
	snprintf(err, errlen, "the server offers no DoH for %s", who);
	return false;
}

static char *render_firefox(const struct enroll_setup *s, char *err,
			    size_t errlen)
{
	char url[ENROLL_MAX_URL];
	if (!need_doh(s, "Firefox", err, errlen))
		return NULL;
	enroll_doh_url(s->b->doh_template, url, sizeof(url));
	json_t *root = json_pack(
		"{s:{s:{s:b,s:s,s:b,s:b},s:{s:[s],s:b}}}", "policies",
		"DNSOverHTTPS", "Enabled", 1, "ProviderURL", url, "Locked", 1,
		"Fallback", 0, "Certificates", "Install", s->ca_path,
		"ImportEnterpriseRoots", 0);
	return dump_json(root, err, errlen);
}

static char *render_chrome(const struct enroll_setup *s, char *err,
			   size_t errlen)
{
	if (!need_doh(s, "Chrome", err, errlen))
		return NULL;
	json_t *root = json_pack("{s:s,s:s}", "DnsOverHttpsMode", "secure",
				 "DnsOverHttpsTemplates", s->b->doh_template);
	return dump_json(root, err, errlen);
}

static json_t *string_array(const char (*items)[ENROLL_PIN_TEXT], size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(items[i]));
	return a;
}

static json_t *address_array(const struct enroll_bundle *b)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < b->n_addresses; i++)
		json_array_append_new(a, json_string(b->addresses[i]));
	return a;
}

static char *render_json(const struct enroll_setup *s, char *err,
			 size_t errlen)
{
	const struct enroll_bundle *b = s->b;
	char url[ENROLL_MAX_URL] = "";
	enroll_doh_url(b->doh_template, url, sizeof(url));
	json_t *root = json_pack(
		"{s:i,s:s,s:o,s:i,s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		"v", 1, "adn", b->adn, "addresses", address_array(b),
		"dot_port", (int)b->dot_port, "doh_template", b->doh_template,
		"doh_url", url, "spki_pins", string_array(b->pins, b->n_pins),
		"ca_file", s->ca_path, "cert_file", s->cert_path,
		"key_file", s->key_path, "device", b->device,
		"expires", b->expires, "est_base", b->est_base,
		"profile", b->profile, "mud_url", b->mud_url);
	return dump_json(root, err, errlen);
}

/* ------------------------------------------------------------------ anchord */

static char *render_anchord(const struct enroll_setup *s, char *err,
			    size_t errlen)
{
	const struct enroll_bundle *b = s->b;
	const char *listen = s->stub_listen ? s->stub_listen : "127.0.0.1@53";
	const char *at = strrchr(listen, '@');
	struct sbuf o = { 0 };
	if (b->dot_port == 0) {
		snprintf(err, errlen, "the server offers no DoT for anchord");
		return NULL;
	}
	sb_add(&o, "# anchord as this device's stub resolver: every query "
		   "goes to %s over DoT,\n# authenticated by its SPKI pins. "
		   "Written by anchor-enroll; see anchord.conf(5).\n"
		   "# anchord's DoT upstreams present no client certificate "
		   "(the device's is\n# %s).\n", b->adn, s->cert_path);
	char addr[64];
	/* "ADDR@PORT" as stubby writes it: the address part alone */
	snprintf(addr, sizeof(addr), "%.*s",
		 (int)(at ? (size_t)(at - listen) : strlen(listen)), listen);
	sb_add(&o, "listen:\n  - { address: ");
	sb_yaml(&o, addr);
	sb_add(&o, ", port: ");
	sb_yaml(&o, at ? at + 1 : "53");
	sb_add(&o, ", kind: dns }\n");
	sb_add(&o, "upstream:\n");
	for (size_t i = 0; i < b->n_addresses; i++) {
		sb_add(&o, "  - address: ");
		sb_yaml(&o, b->addresses[i]);
		sb_add(&o, "\n    port: %u\n    transport: dot\n    name: ",
		       b->dot_port);
		sb_yaml(&o, b->adn);
		sb_add(&o, "\n    pin: [");
		for (size_t p = 0; p < b->n_pins; p++) {
			sb_add(&o, p ? ", " : " ");
			sb_yaml(&o, b->pins[p]);
		}
		sb_add(&o, " ]\n");
	}
	return sb_finish(&o, err, errlen);
}

/* ------------------------------------------------------------------ mobileconfig */

static void random_uuid(char out[37])
{
	uint8_t u[16];
	randombytes_buf(u, sizeof(u));
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);	/* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
		 "%02X%02X%02X%02X%02X%02X", u[0], u[1], u[2], u[3], u[4],
		 u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

/* <data> content: standard base64 in lines of 64. */
static void sb_data(struct sbuf *o, const uint8_t *der, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len,
					       sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(cap);
	if (!b64) {
		o->failed = true;
		return;
	}
	sodium_bin2base64(b64, cap, der, len, sodium_base64_VARIANT_ORIGINAL);
	sb_add(o, "<data>\n");
	for (size_t i = 0, n = strlen(b64); i < n; i += 64)
		sb_add(o, "%.64s\n", b64 + i);
	sb_add(o, "</data>\n");
	free(b64);
}

static int pem_to_der(const char *pem, gnutls_datum_t *der)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t in = { (unsigned char *)pem, (unsigned)strlen(pem) };
	if (gnutls_x509_crt_init(&crt) < 0)
		return -1;
	int ret = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM);
	if (ret >= 0)
		ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der);
	gnutls_x509_crt_deinit(crt);
	return ret < 0 ? -1 : 0;
}

/* A bag holding one item and the local key id that pairs it with its
 * partner; encrypted with the password when enc is not 0. */
static int add_bag(gnutls_pkcs12_t p12, gnutls_x509_crt_t crt,
		   const gnutls_datum_t *shrouded_key,
		   const gnutls_datum_t *key_id, const char *friendly,
		   const char *password)
{
	gnutls_pkcs12_bag_t bag;
	if (gnutls_pkcs12_bag_init(&bag) < 0)
		return -1;
	int idx = crt ? gnutls_pkcs12_bag_set_crt(bag, crt)
		      : gnutls_pkcs12_bag_set_data(
				bag, GNUTLS_BAG_PKCS8_ENCRYPTED_KEY,
				shrouded_key);
	int ret = idx;
	if (ret >= 0)
		ret = gnutls_pkcs12_bag_set_key_id(bag, (unsigned)idx, key_id);
	if (ret >= 0)
		ret = gnutls_pkcs12_bag_set_friendly_name(bag, (unsigned)idx,
							  friendly);
	/* the certificate bag is encrypted as a whole, like OpenSSL does;
	 * the key is already shrouded */
	if (ret >= 0 && crt)
		ret = gnutls_pkcs12_bag_encrypt(bag, password,
						GNUTLS_PKCS_PKCS12_3DES);
	if (ret >= 0)
		ret = gnutls_pkcs12_set_bag(p12, bag);
	gnutls_pkcs12_bag_deinit(bag);
	return ret < 0 ? -1 : 0;
}

/* The client identity as PKCS#12. 3DES and a SHA-1 MAC because that is
 * what every Apple OS version imports (newer ones also take AES, older
 * ones fail on it); the password sits next to the blob in the same
 * profile anyway, so the cipher protects nothing the profile does not. */
static int build_pkcs12(const char *cert_pem, const char *key_pem,
			const char *friendly, const char *password,
			gnutls_datum_t *out)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_pkcs12_t p12 = NULL;
	gnutls_datum_t c = { (unsigned char *)cert_pem,
			     (unsigned)strlen(cert_pem) };
	gnutls_datum_t k = { (unsigned char *)key_pem,
			     (unsigned)strlen(key_pem) };
	gnutls_datum_t shrouded = { NULL, 0 };
	uint8_t id[64];
	size_t id_len = sizeof(id);
	int ret = gnutls_x509_crt_init(&crt) < 0 ||
		  gnutls_x509_crt_import(crt, &c, GNUTLS_X509_FMT_PEM) < 0 ||
		  gnutls_x509_privkey_init(&key) < 0 ||
		  gnutls_x509_privkey_import(key, &k, GNUTLS_X509_FMT_PEM) < 0 ||
		  gnutls_x509_crt_get_key_id(crt, 0, id, &id_len) < 0 ||
		  gnutls_x509_privkey_export2_pkcs8(
			  key, GNUTLS_X509_FMT_DER, password,
			  GNUTLS_PKCS_PKCS12_3DES, &shrouded) < 0 ||
		  gnutls_pkcs12_init(&p12) < 0 ? -1 : 0;
	gnutls_datum_t key_id = { id, (unsigned)id_len };
	if (ret == 0)
		ret = add_bag(p12, crt, NULL, &key_id, friendly, password);
	if (ret == 0)
		ret = add_bag(p12, NULL, &shrouded, &key_id, friendly,
			      password);
	if (ret == 0 &&
	    (gnutls_pkcs12_generate_mac2(p12, GNUTLS_MAC_SHA1, password) < 0 ||
	     gnutls_pkcs12_export2(p12, GNUTLS_X509_FMT_DER, out) < 0))
		ret = -1;
	if (shrouded.data) {
		gnutls_memset(shrouded.data, 0, shrouded.size);
		gnutls_free(shrouded.data);
	}
	if (p12)
		gnutls_pkcs12_deinit(p12);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return ret;
}

static void plist_key(struct sbuf *o, const char *key, const char *value)
{
	sb_add(o, "<key>%s</key>\n<string>", key);
	sb_xml(o, value);
	sb_add(o, "</string>\n");
}

static void payload_head(struct sbuf *o, const char *type, const char *id,
			 const char *uuid, const char *name)
{
	sb_add(o, "<dict>\n");
	plist_key(o, "PayloadType", type);
	plist_key(o, "PayloadIdentifier", id);
	plist_key(o, "PayloadUUID", uuid);
	plist_key(o, "PayloadDisplayName", name);
	sb_add(o, "<key>PayloadVersion</key>\n<integer>1</integer>\n");
}

static void payload_root(struct sbuf *o, const struct enroll_setup *s,
			 const gnutls_datum_t *ca_der)
{
	char uuid[37], id[300];
	random_uuid(uuid);
	snprintf(id, sizeof(id), "anchor-enroll.%s.ca", s->b->adn);
	payload_head(o, "com.apple.security.root", id, uuid,
		     "DNS resolver CA");
	sb_add(o, "<key>PayloadContent</key>\n");
	sb_data(o, ca_der->data, ca_der->size);
	sb_add(o, "</dict>\n");
}

static void payload_identity(struct sbuf *o, const struct enroll_setup *s,
			     const gnutls_datum_t *p12, const char *password,
			     const char *uuid)
{
	char id[300], file[ENROLL_MAX_DEVICE + 8];
	snprintf(id, sizeof(id), "anchor-enroll.%s.identity", s->b->adn);
	snprintf(file, sizeof(file), "%s.p12", s->b->device);
	payload_head(o, "com.apple.security.pkcs12", id, uuid,
		     "Device certificate");
	plist_key(o, "PayloadCertificateFileName", file);
	plist_key(o, "Password", password);
	sb_add(o, "<key>PayloadContent</key>\n");
	sb_data(o, p12->data, p12->size);
	sb_add(o, "</dict>\n");
}

static void payload_dns(struct sbuf *o, const struct enroll_setup *s,
			const char *identity_uuid)
{
	const struct enroll_bundle *b = s->b;
	char uuid[37], id[300], url[ENROLL_MAX_URL];
	random_uuid(uuid);
	snprintf(id, sizeof(id), "anchor-enroll.%s.dns", b->adn);
	payload_head(o, "com.apple.dnsSettings.managed", id, uuid,
		     "Encrypted DNS");
	sb_add(o, "<key>DNSSettings</key>\n<dict>\n");
	if (b->doh_template[0]) {
		enroll_doh_url(b->doh_template, url, sizeof(url));
		plist_key(o, "DNSProtocol", "HTTPS");
		plist_key(o, "ServerURL", url);
	} else {
		/* DoT only: the name the certificate must carry */
		plist_key(o, "DNSProtocol", "TLS");
		plist_key(o, "ServerName", b->adn);
	}
	sb_add(o, "<key>ServerAddresses</key>\n<array>\n");
	for (size_t i = 0; i < b->n_addresses; i++)
		sb_add(o, "<string>%s</string>\n", b->addresses[i]);
	sb_add(o, "</array>\n");
	plist_key(o, "PayloadCertificateUUID", identity_uuid);
	sb_add(o, "</dict>\n</dict>\n");
}

static void profile_head(struct sbuf *o, const struct enroll_setup *s)
{
	char uuid[37], id[300], name[400];
	random_uuid(uuid);
	snprintf(id, sizeof(id), "anchor-enroll.%s", s->b->adn);
	snprintf(name, sizeof(name), "Encrypted DNS: %s (%s)", s->b->adn,
		 s->b->device);
	sb_add(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		  "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
		  "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
		  "<plist version=\"1.0\">\n<dict>\n");
	plist_key(o, "PayloadType", "Configuration");
	plist_key(o, "PayloadIdentifier", id);
	plist_key(o, "PayloadUUID", uuid);
	plist_key(o, "PayloadDisplayName", name);
	plist_key(o, "PayloadDescription", "Written by anchor-enroll: the "
		  "resolver's CA, this device's certificate, and encrypted "
		  "DNS through the enrolled resolver.");
	sb_add(o, "<key>PayloadVersion</key>\n<integer>1</integer>\n");
}

static char *render_mobileconfig(const struct enroll_setup *s, char *err,
				 size_t errlen)
{
	gnutls_datum_t ca = { NULL, 0 }, p12 = { NULL, 0 };
	char password[33], identity_uuid[37];
	uint8_t rnd[16];
	if (!s->key_pem || !s->cert_pem) {
		snprintf(err, errlen, "mobileconfig needs the key and certificate");
		return NULL;
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(password, sizeof(password), rnd, sizeof(rnd));
	if (pem_to_der(s->b->ca_pem, &ca) != 0 ||
	    build_pkcs12(s->cert_pem, s->key_pem, s->b->device, password,
			 &p12) != 0) {
		snprintf(err, errlen, "cannot build the CA or PKCS#12 payload");
		gnutls_free(ca.data);
		return NULL;
	}
	random_uuid(identity_uuid);
	struct sbuf o = { 0 };
	profile_head(&o, s);
	sb_add(&o, "<key>PayloadContent</key>\n<array>\n");
	payload_root(&o, s, &ca);
	payload_identity(&o, s, &p12, password, identity_uuid);
	payload_dns(&o, s, identity_uuid);
	sb_add(&o, "</array>\n</dict>\n</plist>\n");
	gnutls_free(ca.data);
	gnutls_memset(p12.data, 0, p12.size);
	gnutls_free(p12.data);
	sodium_memzero(password, sizeof(password));
	return sb_finish(&o, err, errlen);
}

/* ------------------------------------------------------------------ dispatch */

static const struct {
	const char *name, *file;
	unsigned mode;
	char *(*render)(const struct enroll_setup *, char *, size_t);
} formats[ENROLL_FMT_COUNT] = {
	[ENROLL_FMT_STUBBY] = { "stubby", "stubby.yml", 0644, render_stubby },
	[ENROLL_FMT_RESOLVED] = { "resolved", "anchor-enroll.conf", 0644,
				  render_resolved },
	[ENROLL_FMT_FIREFOX] = { "firefox", "policies.json", 0644,
				 render_firefox },
	[ENROLL_FMT_CHROME] = { "chrome", "chrome-policy.json", 0644,
				render_chrome },
	/* it embeds the private key */
	[ENROLL_FMT_MOBILECONFIG] = { "mobileconfig", "anchor-enroll.mobileconfig",
				      0600, render_mobileconfig },
	[ENROLL_FMT_ANCHORD] = { "anchord", "anchord-stub.conf", 0644,
				 render_anchord },
	[ENROLL_FMT_JSON] = { "json", "enrollment.json", 0644, render_json },
};

int enroll_format_parse(const char *name)
{
	for (int i = 0; i < ENROLL_FMT_COUNT; i++)
		if (strcmp(name, formats[i].name) == 0)
			return i;
	return -1;
}

const char *enroll_format_name(enum enroll_format f)
{
	return formats[f].name;
}

const char *enroll_format_file(enum enroll_format f)
{
	return formats[f].file;
}

char *enroll_render(enum enroll_format f, const struct enroll_setup *s,
		    char *err, size_t errlen)
{
	return formats[f].render(s, err, errlen);
}

int enroll_write(enum enroll_format f, const struct enroll_setup *s,
		 const char *dir, char *path, size_t pathlen, char *err,
		 size_t errlen)
{
	if (util_path_join(path, pathlen, dir, formats[f].file) != 0) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	char *text = enroll_render(f, s, err, errlen);
	if (!text)
		return -1;
	size_t len = strlen(text);
	int rc = util_write_file_atomic(path, text, len, formats[f].mode);
	sodium_memzero(text, len);
	free(text);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return -1;
	}
	return 0;
}
