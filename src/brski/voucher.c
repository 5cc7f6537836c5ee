/*  anchord - brski/voucher.c: voucher and voucher-request JSON.
 *
 *  RFC 7951 JSON of the YANG modules ietf-voucher (RFC 8366) and
 *  ietf-voucher-request (RFC 8995 §3): one top-level container, leaves
 *  named without a module prefix, binary leaves in base64 (RFC 4648 §4,
 *  padded), date-and-time in RFC 3339.
 *
 *  Unknown leaves inside the container are ignored, not rejected: the
 *  modules are being extended (RFC 8366bis adds leaves, and augmentations
 *  from other modules appear as "module:leaf"), the whole object is under
 *  a signature whose signer we already trust, and we act only on the
 *  leaves we know. A leaf we know with the wrong type, an unknown
 *  assertion, bad base64 or a bad time is rejected, and so are duplicate
 *  members and a second top-level member.
 */
#include "brski/internal.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_VOUCHER "ietf-voucher:voucher"
#define KEY_REQUEST "ietf-voucher-request:voucher"

static const char *const assertion_names[] = {
	[BRSKI_ASSERTION_NONE] = NULL,
	[BRSKI_ASSERTION_VERIFIED] = "verified",
	[BRSKI_ASSERTION_LOGGED] = "logged",
	[BRSKI_ASSERTION_PROXIMITY] = "proximity",
};

const char *brski_assertion_name(enum brski_assertion a)
{
	if ((unsigned)a >= sizeof(assertion_names) / sizeof(*assertion_names))
		return NULL;
	return assertion_names[a];
}

void brski_voucher_free(struct brski_voucher *v)
{
	if (v == NULL)
		return;
	free(v->serial_number);
	brski_blob_free(&v->idevid_issuer);
	brski_blob_free(&v->pinned_domain_cert);
	brski_blob_free(&v->nonce);
	brski_blob_free(&v->proximity_registrar_cert);
	brski_blob_free(&v->prior_signed_voucher_request);
	memset(v, 0, sizeof(*v));
}

/* ------------------------------------------------------------------ time */

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* The offset at s ("Z" or "+hh:mm"/"-hh:mm", then the end) in seconds. */
static int parse_offset(const char *s, int *off)
{
	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == 0) {
		*off = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' ||
	    !all_digits(s + 1, 2) || !all_digits(s + 4, 2) ||
	    num(s + 1, 2) > 23 || num(s + 4, 2) > 59)
		return -1;
	*off = (num(s + 1, 2) * 60 + num(s + 4, 2)) * 60;
	if (s[0] == '-')
		*off = -*off;
	return 0;
}

static bool valid_date(int y, int mo, int d)
{
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > days[mo - 1])
		return false;
	return mo != 2 || d <= 28 || leap;
}

/* UTC with four-digit years only: what parse_time reads back. */
static int format_time(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900)
		return -1;
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

/* RFC 3339 date-time ("2026-11-24T05:00:00Z", optional fraction, offset)
 * to seconds since the epoch, the fraction dropped. */
static int parse_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *p = s + 19;
	int off;
	if (strlen(s) < 20 || !all_digits(s, 4) || s[4] != '-' ||
	    !all_digits(s + 5, 2) || s[7] != '-' || !all_digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !all_digits(s + 11, 2) ||
	    s[13] != ':' || !all_digits(s + 14, 2) || s[16] != ':' ||
	    !all_digits(s + 17, 2))
		return -1;
	if (*p == '.') {
		const char *frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == frac)
			return -1;
	}
	if (parse_offset(p, &off) != 0)
		return -1;
	tm.tm_year = num(s, 4) - 1900;
	tm.tm_mon = num(s + 5, 2) - 1;
	tm.tm_mday = num(s + 8, 2);
	tm.tm_hour = num(s + 11, 2);
	tm.tm_min = num(s + 14, 2);
	tm.tm_sec = num(s + 17, 2);
	if (!valid_date(num(s, 4), tm.tm_mon + 1, tm.tm_mday) ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	*out = (int64_t)timegm(&tm) - off;
	/* an offset can move a year 0000 or 9999 time out of range */
	return format_time(*out, (char[32]){ 0 });
}

/* ------------------------------------------------------------- parsing */

struct parse_ctx {
	json_t *obj;
	struct brski_voucher *v;
	char *why;
	size_t whylen;
};

/* The string leaf key, or NULL when absent; *bad when it is no string. */
static const char *string_leaf(struct parse_ctx *c, const char *key, bool *bad)
{
	json_t *j = json_object_get(c->obj, key);
	if (j == NULL)
		return NULL;
	if (!json_is_string(j)) {
		*bad = true;
		brski_fail(c->why, c->whylen, "%s is not a string", key);
		return NULL;
	}
	return json_string_value(j);
}

static int time_leaf(struct parse_ctx *c, const char *key, int64_t *out)
{
	bool bad = false;
	const char *s = string_leaf(c, key, &bad);
	if (bad)
		return -1;
	if (s != NULL && parse_time(s, out) != 0)
		return brski_fail(c->why, c->whylen,
				  "%s is not an RFC 3339 date-time", key);
	return 0;
}

static int binary_leaf(struct parse_ctx *c, const char *key,
		       struct brski_blob *out)
{
	bool bad = false;
	const char *s = string_leaf(c, key, &bad);
	size_t n, cap;
	if (bad)
		return -1;
	if (s == NULL)
		return 0;
	n = strlen(s);
	cap = n / 4 * 3 + 3;
	out->data = malloc(cap);
	if (out->data == NULL)
		return brski_fail(c->why, c->whylen, "out of memory");
	if (sodium_base642bin(out->data, cap, s, n, NULL, &out->len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    out->len == 0) {
		brski_blob_free(out);
		return brski_fail(c->why, c->whylen, "%s is not base64", key);
	}
	return 0;
}

static int assertion_leaf(struct parse_ctx *c)
{
	bool bad = false;
	const char *s = string_leaf(c, "assertion", &bad);
	if (bad)
		return -1;
	if (s == NULL)
		return 0;
	for (int a = BRSKI_ASSERTION_VERIFIED; a <= BRSKI_ASSERTION_PROXIMITY; a++)
		if (strcmp(s, assertion_names[a]) == 0) {
			c->v->assertion = (enum brski_assertion)a;
			return 0;
		}
	return brski_fail(c->why, c->whylen, "unknown assertion \"%.40s\"", s);
}

static int text_leaves(struct parse_ctx *c)
{
	bool bad = false;
	const char *serial = string_leaf(c, "serial-number", &bad);
	json_t *rc = json_object_get(c->obj, "domain-cert-revocation-checks");
	if (bad)
		return -1;
	if (serial != NULL && (serial[0] == 0 ||
			       (c->v->serial_number = strdup(serial)) == NULL))
		return brski_fail(c->why, c->whylen, "serial-number is empty");
	if (rc != NULL && !json_is_boolean(rc))
		return brski_fail(c->why, c->whylen,
				  "domain-cert-revocation-checks is not a boolean");
	c->v->has_revocation_checks = rc != NULL;
	c->v->domain_cert_revocation_checks = json_is_true(rc);
	return assertion_leaf(c);
}

static int all_leaves(struct parse_ctx *c)
{
	struct brski_voucher *v = c->v;
	bool req = v->kind == BRSKI_VOUCHER_REQUEST;
	if (time_leaf(c, "created-on", &v->created_on) != 0 ||
	    time_leaf(c, "expires-on", &v->expires_on) != 0 ||
	    time_leaf(c, "last-renewal-date", &v->last_renewal_date) != 0 ||
	    text_leaves(c) != 0 ||
	    binary_leaf(c, "idevid-issuer", &v->idevid_issuer) != 0 ||
	    binary_leaf(c, "pinned-domain-cert", &v->pinned_domain_cert) != 0 ||
	    binary_leaf(c, "nonce", &v->nonce) != 0)
		return -1;
	if (req && (binary_leaf(c, "proximity-registrar-cert",
				&v->proximity_registrar_cert) != 0 ||
		    binary_leaf(c, "prior-signed-voucher-request",
				&v->prior_signed_voucher_request) != 0))
		return -1;
	return 0;
}

/* RFC 8366's mandatory leaves; RFC 8995 §3 makes all optional in a
 * request (what a request must hold is the registrar's decision). */
static int mandatory_leaves(struct parse_ctx *c)
{
	const struct brski_voucher *v = c->v;
	if (v->kind == BRSKI_VOUCHER_REQUEST)
		return 0;
	if (v->created_on == 0)
		return brski_fail(c->why, c->whylen, "created-on is missing");
	if (v->assertion == BRSKI_ASSERTION_NONE)
		return brski_fail(c->why, c->whylen, "assertion is missing");
	if (v->serial_number == NULL)
		return brski_fail(c->why, c->whylen, "serial-number is missing");
	if (v->pinned_domain_cert.data == NULL)
		return brski_fail(c->why, c->whylen, "pinned-domain-cert is missing");
	return 0;
}

static int parse_root(json_t *root, struct parse_ctx *c)
{
	const char *key;
	json_t *val;
	if (!json_is_object(root) || json_object_size(root) != 1)
		return brski_fail(c->why, c->whylen,
				  "not an object with one member");
	json_object_foreach(root, key, val) {
		if (strcmp(key, KEY_VOUCHER) == 0)
			c->v->kind = BRSKI_VOUCHER;
		else if (strcmp(key, KEY_REQUEST) == 0)
			c->v->kind = BRSKI_VOUCHER_REQUEST;
		else
			return brski_fail(c->why, c->whylen,
					  "unknown top-level member \"%.60s\"", key);
		c->obj = val;
	}
	if (!json_is_object(c->obj))
		return brski_fail(c->why, c->whylen, "the voucher is not an object");
	if (all_leaves(c) != 0 || mandatory_leaves(c) != 0)
		return -1;
	return 0;
}

int brski_voucher_parse(const uint8_t *json, size_t len,
			struct brski_voucher *v, char *why, size_t whylen)
{
	json_error_t jerr;
	struct parse_ctx c = { .v = v, .why = why, .whylen = whylen };
	json_t *root;
	int ret;
	memset(v, 0, sizeof(*v));
	root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return brski_fail(why, whylen, "JSON: %s at %d:%d", jerr.text,
				  jerr.line, jerr.column);
	ret = parse_root(root, &c);
	json_decref(root);
	if (ret != 0)
		brski_voucher_free(v);
	return ret;
}

/* ------------------------------------------------------------- building */

static int set_time(json_t *o, const char *key, int64_t t)
{
	char buf[32];
	if (t == 0)
		return 0;
	if (format_time(t, buf) != 0)
		return -1;
	return json_object_set_new(o, key, json_string(buf));
}

static int set_binary(json_t *o, const char *key, const struct brski_blob *b)
{
	size_t cap;
	char *s;
	int ret;
	if (b->data == NULL || b->len == 0)
		return 0;
	cap = sodium_base64_ENCODED_LEN(b->len, sodium_base64_VARIANT_ORIGINAL);
	s = malloc(cap);
	if (s == NULL)
		return -1;
	sodium_bin2base64(s, cap, b->data, b->len, sodium_base64_VARIANT_ORIGINAL);
	ret = json_object_set_new(o, key, json_string(s));
	free(s);
	return ret;
}

static int set_leaves(json_t *o, const struct brski_voucher *v)
{
	const char *a = brski_assertion_name(v->assertion);
	int bad = 0;
	bad |= set_time(o, "created-on", v->created_on);
	bad |= set_time(o, "expires-on", v->expires_on);
	bad |= set_time(o, "last-renewal-date", v->last_renewal_date);
	if (a != NULL)
		bad |= json_object_set_new(o, "assertion", json_string(a));
	if (v->serial_number != NULL)
		bad |= json_object_set_new(o, "serial-number",
					   json_string(v->serial_number));
	bad |= set_binary(o, "idevid-issuer", &v->idevid_issuer);
	bad |= set_binary(o, "pinned-domain-cert", &v->pinned_domain_cert);
	if (v->has_revocation_checks)
		bad |= json_object_set_new(o, "domain-cert-revocation-checks",
			json_boolean(v->domain_cert_revocation_checks));
	bad |= set_binary(o, "nonce", &v->nonce);
	if (v->kind == BRSKI_VOUCHER_REQUEST) {
		bad |= set_binary(o, "proximity-registrar-cert",
				  &v->proximity_registrar_cert);
		bad |= set_binary(o, "prior-signed-voucher-request",
				  &v->prior_signed_voucher_request);
	}
	return bad ? -1 : 0;
}

int brski_voucher_build(const struct brski_voucher *v, char **json,
			size_t *len)
{
	json_t *root = json_object(), *o = json_object();
	int ret = -1;
	*json = NULL;
	if (root != NULL && o != NULL && set_leaves(o, v) == 0 &&
	    json_object_set(root, v->kind == BRSKI_VOUCHER_REQUEST ? KEY_REQUEST
								    : KEY_VOUCHER,
			    o) == 0) {
		*json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (*json != NULL) {
			*len = strlen(*json);
			ret = 0;
		}
	}
	json_decref(o);
	json_decref(root);
	return ret;
}

/* ------------------------------------------------------------------ status */

int brski_status_parse(const uint8_t *json, size_t len, struct brski_status *s,
		       char *why, size_t whylen)
{
	json_error_t jerr;
	memset(s, 0, sizeof(*s));
	json_t *j = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES,
			       &jerr);
	json_t *version = json_object_get(j, "version");
	json_t *status = json_object_get(j, "status");
	json_t *reason = json_object_get(j, "reason");
	json_t *context = json_object_get(j, "reason-context");
	const char *bad = !j ? "not JSON"
		: !json_is_object(j) ? "not a JSON object"
		: !json_is_boolean(status) ? "\"status\" must be true or false"
		: version && !json_is_integer(version) && !json_is_string(version)
			? "\"version\" must be a number"
		: reason && !json_is_string(reason)
			? "\"reason\" must be a string"
		: context && !json_is_object(context)
			? "\"reason-context\" must be an object"
		: NULL;
	if (!bad) {
		s->ok = json_is_true(status);
		snprintf(s->reason, sizeof(s->reason), "%s",
			 reason ? json_string_value(reason) : "");
		if (context && !(s->context = json_dumps(context,
							 JSON_COMPACT)))
			bad = "out of memory";
	}
	json_decref(j);
	if (bad)
		snprintf(why, whylen, "status report: %s", bad);
	return bad ? -1 : 0;
}

void brski_status_free(struct brski_status *s)
{
	free(s->context);
	s->context = NULL;
}
