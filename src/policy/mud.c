/*  anchord - policy/mud.c: reading MUD files (RFC 8520).
 *
 *  A MUD file is JSON encoded YANG (RFC 7951): the ietf-mud container
 *  names, in from-device-policy and to-device-policy, ACLs (RFC 8519) that
 *  sit beside it in the ietf-access-control-list container. The resolver
 *  needs little of it: the header (URL, validity, who made the device) and
 *  the host names (ietf-acldns, RFC 8520 section 11) the device may reach,
 *  which are the dnsnames of the accepting ACEs of the from-device ACLs.
 *
 *  The file is still read as a whole so that a broken one is refused
 *  rather than half used: every referenced ACL must exist, every ACE must
 *  say what it does, every dnsname must be a host name. Real files follow
 *  older drafts in a few places whose meaning is clear (see the NIST corpus
 *  in tests/mud/corpus); those are read with a warning. Anything else that
 *  is unclear is refused with a reason an operator can act on.
 */
#include "policy/policy.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Far above any real MUD file (the largest of the NIST corpus has 70 KB),
 * low enough that a hostile one costs little. */
#define MUD_MAX_FILE (1024 * 1024)
/* One line per distinct oddity is plenty; the rest are counted. */
#define MUD_MAX_WARNINGS 16

#define ACL_MODULE "ietf-access-control-list:"
#define ACLDNS_DST "ietf-acldns:dst-dnsname"
#define ACLDNS_SRC "ietf-acldns:src-dnsname"

struct mud_parse {
	struct policy_mud *m;
	char *err;
	size_t errlen;
	size_t names_cap;
	size_t warnings_cap;
	size_t warnings_dropped;
	json_t *name_set;		/* names already collected */
	json_t *acl_index;		/* ACL name -> ACL object */
};

/* ------------------------------------------------------------------ messages */

/* A string from the file, made safe to print: control and non-ASCII bytes
 * become '?', and long ones are cut. Returned by value so that several fit
 * in one message (the array lives until the end of the full expression). */
struct shown {
	char s[72];
};

static struct shown show(const char *text)
{
	struct shown out;
	size_t n = 0, max = sizeof(out.s) - 4;
	for (; text[n] && n < max; n++) {
		unsigned char c = (unsigned char)text[n];
		out.s[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (text[n]) {
		memcpy(out.s + n, "...", 3);
		n += 3;
	}
	out.s[n] = '\0';
	return out;
}

static bool fail(struct mud_parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool fail(struct mud_parse *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return false;
}

static bool out_of_memory(struct mud_parse *p)
{
	return fail(p, "out of memory");
}

static bool append(char ***list, size_t *n, size_t *cap, char *item)
{
	if (*n == *cap) {
		size_t grown = *cap ? *cap * 2 : 8;
		char **bigger = realloc(*list, grown * sizeof(*bigger));
		if (!bigger)
			return false;
		*list = bigger;
		*cap = grown;
	}
	(*list)[(*n)++] = item;
	return true;
}

static bool warn(struct mud_parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A warning is kept once, however often the file repeats the oddity. */
static bool warn(struct mud_parse *p, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	struct policy_mud *m = p->m;
	for (size_t i = 0; i < m->n_warnings; i++)
		if (strcmp(m->warnings[i], line) == 0)
			return true;
	if (m->n_warnings == MUD_MAX_WARNINGS) {
		p->warnings_dropped++;
		return true;
	}
	char *copy = strdup(line);
	if (!copy || !append(&m->warnings, &m->n_warnings, &p->warnings_cap,
			     copy)) {
		free(copy);
		return out_of_memory(p);
	}
	return true;
}

/* The count of what did not fit replaces the last line. */
static bool finish_warnings(struct mud_parse *p)
{
	if (p->warnings_dropped == 0)
		return true;
	struct policy_mud *m = p->m;
	char line[96];
	snprintf(line, sizeof(line), "... and %zu more warnings",
		 p->warnings_dropped + 1);
	char *copy = strdup(line);
	if (!copy)
		return out_of_memory(p);
	free(m->warnings[m->n_warnings - 1]);
	m->warnings[m->n_warnings - 1] = copy;
	return true;
}

/* ------------------------------------------------------------------ values */

/* The optional string member key of obj into *out (NULL when absent).
 * False when it is there but not a string; what names it in the error. */
static bool get_string(struct mud_parse *p, json_t *obj, const char *key,
		       const char *what, const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v)
		return true;
	if (!json_is_string(v))
		return fail(p, "%s must be a string", what);
	*out = json_string_value(v);
	return true;
}

/* A mandatory header leaf (the key names it in errors). */
static bool get_required_string(struct mud_parse *p, json_t *obj,
				const char *key, const char **out)
{
	if (!get_string(p, obj, key, key, out))
		return false;
	if (!*out)
		return fail(p, "%s is missing (RFC 8520 requires it)", key);
	return true;
}

/* Copy an optional string member; *out stays NULL when absent. */
static bool copy_string(struct mud_parse *p, json_t *obj, const char *key,
			char **out)
{
	const char *s;
	if (!get_string(p, obj, key, key, &s))
		return false;
	if (s && !(*out = strdup(s)))
		return out_of_memory(p);
	return true;
}

static bool is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static unsigned two_digits(const char *s)
{
	return (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
}

/* yang:date-and-time (RFC 6991, from RFC 3339):
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM). */
static bool is_date_and_time(const char *s)
{
	if (strlen(s) < 20 || !is_digits(s, 4) || s[4] != '-' ||
	    !is_digits(s + 5, 2) || s[7] != '-' || !is_digits(s + 8, 2) ||
	    s[10] != 'T' || !is_digits(s + 11, 2) || s[13] != ':' ||
	    !is_digits(s + 14, 2) || s[16] != ':' || !is_digits(s + 17, 2))
		return false;
	unsigned month = two_digits(s + 5), day = two_digits(s + 8);
	if (month < 1 || month > 12 || day < 1 || day > 31 ||
	    two_digits(s + 11) > 23 || two_digits(s + 14) > 59 ||
	    two_digits(s + 17) > 60)
		return false;
	const char *z = s + 19;
	if (*z == '.') {
		size_t digits = strspn(z + 1, "0123456789");
		if (digits == 0)
			return false;
		z += 1 + digits;
	}
	if (strcmp(z, "Z") == 0)
		return true;
	return (z[0] == '+' || z[0] == '-') && strlen(z) == 6 &&
	       is_digits(z + 1, 2) && z[3] == ':' && is_digits(z + 4, 2) &&
	       two_digits(z + 1) <= 23 && two_digits(z + 4) <= 59;
}

/* An absolute https URL with a host, and nothing that cannot be in one. */
static bool is_https_url(const char *s)
{
	if (strncasecmp(s, "https://", 8) != 0)
		return false;
	const char *host = s + 8;
	if (*host == '\0' || *host == '/' || *host == '?' || *host == '#')
		return false;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return false;
	return true;
}

/* ------------------------------------------------------------------ host names */

#define LDH "abcdefghijklmnopqrstuvwxyz0123456789-"

/* Why name (lower case, no trailing dot) is not a host name (RFC 1123:
 * letters, digits and inner hyphens, labels of 1 to 63, 253 in all, and a
 * last label that is not all digits, or it would be an address); NULL when
 * it is one. */
static const char *host_name_problem(const char *name)
{
	size_t len = strlen(name);
	if (len == 0)
		return "it is empty";
	if (len > 253)
		return "it is longer than 253 characters";
	const char *label = name;
	for (;;) {
		size_t n = strcspn(label, ".");
		if (n == 0)
			return "it has an empty label";
		if (n > 63)
			return "a label is longer than 63 characters";
		if (label[0] == '-' || label[n - 1] == '-')
			return "a label begins or ends with '-'";
		size_t ldh = strspn(label, LDH);
		if (ldh < n && label[ldh] == '*')
			return "wildcards are not host names";
		if (ldh < n)
			return "it has a character other than letters, "
			       "digits, '-' and '.'";
		if (label[n] == '\0')
			return is_digits(label, n) ? "it is an address, not "
						     "a name"
						   : NULL;
		label += n + 1;
	}
}

/* Lower-case a dnsname and drop one trailing dot (the names are absolute
 * either way). Caller frees. */
static char *normalize_name(const char *raw)
{
	char *name = strdup(raw);
	if (!name)
		return NULL;
	size_t len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		name[len - 1] = '\0';
	for (char *c = name; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return name;
}

/* Check one dnsname and, when keep, add it to the names once. */
static bool take_dnsname(struct mud_parse *p, const char *acl,
			 const char *ace, const char *key, json_t *value,
			 bool keep)
{
	if (!json_is_string(value))
		return fail(p, "acl '%s' ace '%s': %s must be a string",
			    show(acl).s, show(ace).s, key);
	char *name = normalize_name(json_string_value(value));
	if (!name)
		return out_of_memory(p);
	const char *problem = host_name_problem(name);
	if (problem) {
		fail(p, "acl '%s' ace '%s': %s \"%s\" is not a host name: %s",
		     show(acl).s, show(ace).s, key,
		     show(json_string_value(value)).s, problem);
		free(name);
		return false;
	}
	struct policy_mud *m = p->m;
	if (!keep || json_object_get(p->name_set, name)) {
		free(name);
		return true;
	}
	if (json_object_set_new(p->name_set, name, json_true()) != 0 ||
	    !append(&m->names, &m->n_names, &p->names_cap, name)) {
		free(name);
		return out_of_memory(p);
	}
	return true;
}

/* ------------------------------------------------------------------ ACEs */

/* Whether a key looks like it means a DNS name ("dst-dns-name",
 * "dstDnsName", ...). No RFC 8519 match node has "dns" in its name. */
static bool mentions_dnsname(const char *key)
{
	return strcasestr(key, "dns") != NULL;
}

/* The dnsnames of an ipv4 or ipv6 match. Only ietf-acldns's two leaves
 * are names; another key that mentions a dnsname is a spelling anchord
 * does not know, and guessing could allow the wrong thing. */
static bool read_ip_match(struct mud_parse *p, const char *acl,
			  const char *ace, const char *family, json_t *match,
			  bool keep)
{
	if (!json_is_object(match))
		return fail(p, "acl '%s' ace '%s': matches/%s must be an "
			    "object", show(acl).s, show(ace).s, family);
	const char *key;
	json_t *value;
	json_object_foreach(match, key, value) {
		bool is_name = strcmp(key, ACLDNS_DST) == 0 ||
			       strcmp(key, ACLDNS_SRC) == 0;
		if (is_name && !take_dnsname(p, acl, ace, key, value, keep))
			return false;
		if (!is_name && mentions_dnsname(key))
			return fail(p, "acl '%s' ace '%s': matches/%s has "
				    "\"%s\", which is not " ACLDNS_DST " or "
				    ACLDNS_SRC, show(acl).s, show(ace).s,
				    family, show(key).s);
	}
	return true;
}

/* A dnsname anywhere but in matches/ipv4 or matches/ipv6 has no clear
 * meaning. */
static bool check_misplaced_dnsname(struct mud_parse *p, const char *acl,
				    const char *ace, const char *key,
				    json_t *value)
{
	const char *inner;
	json_t *v;
	if (mentions_dnsname(key))
		return fail(p, "acl '%s' ace '%s': \"%s\" directly under "
			    "matches; RFC 8520 puts dnsnames in matches/ipv4 "
			    "or matches/ipv6", show(acl).s, show(ace).s,
			    show(key).s);
	if (!json_is_object(value))
		return true;
	json_object_foreach(value, inner, v) {
		if (mentions_dnsname(inner))
			return fail(p, "acl '%s' ace '%s': \"%s\" is under "
				    "matches/%s; RFC 8520 puts dnsnames in "
				    "matches/ipv4 or matches/ipv6", show(acl).s,
				    show(ace).s, show(inner).s, show(key).s);
	}
	return true;
}

static bool read_matches(struct mud_parse *p, const char *acl,
			 const char *ace, json_t *matches, bool keep)
{
	if (!matches)
		return true;	/* matches everything; no names to take */
	if (!json_is_object(matches))
		return fail(p, "acl '%s' ace '%s': matches must be an object",
			    show(acl).s, show(ace).s);
	const char *key;
	json_t *value;
	json_object_foreach(matches, key, value) {
		bool ok = strcmp(key, "ipv4") == 0 || strcmp(key, "ipv6") == 0
				  ? read_ip_match(p, acl, ace, key, value, keep)
				  : check_misplaced_dnsname(p, acl, ace, key,
							    value);
		if (!ok)
			return false;
	}
	return true;
}

/* Whether the ACE accepts. The identity may carry its module's name, as
 * RFC 7951 allows for identityref values. */
static bool read_forwarding(struct mud_parse *p, const char *acl,
			    const char *ace, json_t *actions, bool *accept)
{
	const char *fwd = NULL;
	if (json_is_object(actions)) {
		char what[192];
		snprintf(what, sizeof(what), "acl '%s' ace '%s': "
			 "actions/forwarding", show(acl).s, show(ace).s);
		if (!get_string(p, actions, "forwarding", what, &fwd))
			return false;
	}
	if (!fwd)
		return fail(p, "acl '%s' ace '%s' has no actions/forwarding, "
			    "so what it does is unclear", show(acl).s,
			    show(ace).s);
	if (strncmp(fwd, ACL_MODULE, strlen(ACL_MODULE)) == 0)
		fwd += strlen(ACL_MODULE);
	*accept = strcmp(fwd, "accept") == 0;
	if (!*accept && strcmp(fwd, "drop") != 0 && strcmp(fwd, "reject") != 0)
		return fail(p, "acl '%s' ace '%s': forwarding \"%s\" is not "
			    "accept, drop or reject", show(acl).s, show(ace).s,
			    show(fwd).s);
	return true;
}

/* Names are taken from accepting ACEs only (MUD is an allow list), but
 * every ACE is checked. */
static bool read_ace(struct mud_parse *p, const char *acl, json_t *ace,
		     bool from_device)
{
	const char *name;
	char what[128];
	snprintf(what, sizeof(what), "acl '%s': the name of an ace",
		 show(acl).s);
	if (!json_is_object(ace))
		return fail(p, "acl '%s': an ace is not an object",
			    show(acl).s);
	if (!get_string(p, ace, "name", what, &name))
		return false;
	if (!name)
		return fail(p, "acl '%s': an ace has no name", show(acl).s);
	bool accept;
	if (!read_forwarding(p, acl, name, json_object_get(ace, "actions"),
			     &accept))
		return false;
	return read_matches(p, acl, name, json_object_get(ace, "matches"),
			    from_device && accept);
}

/* ------------------------------------------------------------------ ACLs */

/* RFC 8519's identities, with or without the module name. The draft name
 * "ethernet-acl-type" (NIST's MUD profiles use it) means eth-acl-type. */
static bool check_acl_type(struct mud_parse *p, const char *acl,
			   json_t *type_value)
{
	static const char *const known[] = {
		"ipv4-acl-type", "ipv6-acl-type", "eth-acl-type",
		"mixed-eth-ipv4-acl-type", "mixed-eth-ipv6-acl-type",
		"mixed-eth-ipv4-ipv6-acl-type",
	};
	if (!type_value)
		return true;
	if (!json_is_string(type_value))
		return fail(p, "acl '%s': type must be a string", show(acl).s);
	const char *type = json_string_value(type_value);
	if (strncmp(type, ACL_MODULE, strlen(ACL_MODULE)) == 0)
		type += strlen(ACL_MODULE);
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strcmp(type, known[i]) == 0)
			return true;
	if (strcmp(type, "ethernet-acl-type") == 0)
		return warn(p, "ACL type \"ethernet-acl-type\" (a draft name) "
			    "read as RFC 8519's \"eth-acl-type\"");
	return fail(p, "acl '%s': type \"%s\" is not an RFC 8519 ACL type",
		    show(acl).s, show(type).s);
}

static bool read_acl(struct mud_parse *p, json_t *acl, bool from_device)
{
	const char *name = json_string_value(json_object_get(acl, "name"));
	if (!check_acl_type(p, name, json_object_get(acl, "type")))
		return false;
	json_t *aces = json_object_get(acl, "aces");
	if (!aces)
		return true;	/* an empty ACL allows nothing */
	json_t *list = json_is_object(aces) ? json_object_get(aces, "ace")
					    : NULL;
	if (!json_is_array(list))
		return fail(p, "acl '%s': aces/ace must be a list",
			    show(name).s);
	size_t i;
	json_t *ace;
	json_array_foreach(list, i, ace) {
		if (!read_ace(p, name, ace, from_device))
			return false;
	}
	return true;
}

/* Index the ACLs by name: the policies refer to them by it, so a name
 * given twice would be ambiguous. */
static bool index_acls(struct mud_parse *p, json_t *container,
		       const char *container_name)
{
	if (!container)
		return true;
	if (!json_is_object(container))
		return fail(p, "%s must be an object", container_name);
	json_t *list = json_object_get(container, "acl");
	if (!list)
		return true;
	if (!json_is_array(list))
		return fail(p, "%s/acl must be a list", container_name);
	size_t i;
	json_t *acl;
	json_array_foreach(list, i, acl) {
		const char *name;
		char what[128];
		snprintf(what, sizeof(what), "%s: the name of acl %zu",
			 container_name, i + 1);
		if (!json_is_object(acl))
			return fail(p, "%s: acl %zu is not an object",
				    container_name, i + 1);
		if (!get_string(p, acl, "name", what, &name))
			return false;
		if (!name)
			return fail(p, "%s: acl %zu has no name",
				    container_name, i + 1);
		if (json_object_get(p->acl_index, name))
			return fail(p, "two ACLs are named '%s'", show(name).s);
		if (json_object_set(p->acl_index, name, acl) != 0)
			return out_of_memory(p);
	}
	return true;
}

/* ------------------------------------------------------------------ policies */

/* The ACL names of from-device-policy or to-device-policy (NULL when the
 * policy or its list is absent: the device may do nothing that way). */
static bool policy_acl_names(struct mud_parse *p, json_t *mud,
			     const char *policy, json_t **out)
{
	json_t *pol = json_object_get(mud, policy);
	*out = NULL;
	if (!pol)
		return true;
	json_t *lists = json_is_object(pol) ? json_object_get(pol,
							      "access-lists")
					    : NULL;
	if (!json_is_object(pol) || (lists && !json_is_object(lists)))
		return fail(p, "%s must hold an access-lists container",
			    policy);
	json_t *list = lists ? json_object_get(lists, "access-list") : NULL;
	if (list && !json_is_array(list))
		return fail(p, "%s/access-lists/access-list must be a list",
			    policy);
	*out = list;
	return true;
}

static bool read_policy(struct mud_parse *p, json_t *mud, const char *policy)
{
	json_t *refs;
	if (!policy_acl_names(p, mud, policy, &refs))
		return false;
	if (!refs)
		return true;
	bool from_device = strcmp(policy, "from-device-policy") == 0;
	size_t i;
	json_t *ref;
	json_array_foreach(refs, i, ref) {
		const char *name;
		char what[96];
		snprintf(what, sizeof(what), "%s: the name of access-list %zu",
			 policy, i + 1);
		if (!json_is_object(ref))
			return fail(p, "%s: access-list %zu is not an object",
				    policy, i + 1);
		if (!get_string(p, ref, "name", what, &name))
			return false;
		if (!name)
			return fail(p, "%s: access-list %zu has no name",
				    policy, i + 1);
		json_t *acl = json_object_get(p->acl_index, name);
		if (!acl)
			return fail(p, "acl '%s' named by %s does not exist",
				    show(name).s, policy);
		if (!read_acl(p, acl, from_device))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ the header */

static bool read_version(struct mud_parse *p, json_t *mud)
{
	json_t *v = json_object_get(mud, "mud-version");
	if (!v)
		return fail(p, "mud-version is missing (RFC 8520 requires it)");
	if (!json_is_integer(v))
		return fail(p, "mud-version must be the number 1");
	if (json_integer_value(v) != 1)
		return fail(p, "mud-version is %" JSON_INTEGER_FORMAT "; "
			    "anchord reads version 1 (RFC 8520)",
			    json_integer_value(v));
	return true;
}

static bool read_url(struct mud_parse *p, json_t *mud, const char *expected)
{
	const char *url;
	if (!get_required_string(p, mud, "mud-url", &url))
		return false;
	if (!is_https_url(url))
		return fail(p, "mud-url \"%s\" is not an https URL",
			    show(url).s);
	/* The file names its own URL so that a file served for another
	 * device cannot be passed off as this one's (RFC 8520 section 3.3). */
	if (expected && strcmp(url, expected) != 0)
		return fail(p, "mud-url is %s but the file was fetched from %s",
			    show(url).s, show(expected).s);
	if (!(p->m->mud_url = strdup(url)))
		return out_of_memory(p);
	return true;
}

static bool read_signature_url(struct mud_parse *p, json_t *mud)
{
	const char *url;
	if (!get_string(p, mud, "mud-signature", "mud-signature", &url))
		return false;
	if (!url)
		return true;
	if (!is_https_url(url))
		return fail(p, "mud-signature \"%s\" is not an https URL",
			    show(url).s);
	if (!(p->m->signature_url = strdup(url)))
		return out_of_memory(p);
	return true;
}

static bool read_last_update(struct mud_parse *p, json_t *mud)
{
	const char *when;
	if (!get_required_string(p, mud, "last-update", &when))
		return false;
	if (!is_date_and_time(when))
		return fail(p, "last-update \"%s\" is not a date and time like "
			    "2025-06-02T09:30:00+00:00", show(when).s);
	if (!(p->m->last_update = strdup(when)))
		return out_of_memory(p);
	return true;
}

static bool read_cache_validity(struct mud_parse *p, json_t *mud)
{
	json_t *v = json_object_get(mud, "cache-validity");
	p->m->cache_validity_hours = 48;
	if (!v)
		return true;
	if (!json_is_integer(v))
		return fail(p, "cache-validity must be a number of hours");
	json_int_t hours = json_integer_value(v);
	if (hours < 1 || hours > 168)
		return fail(p, "cache-validity is %" JSON_INTEGER_FORMAT
			    " hours; RFC 8520 allows 1 to 168", hours);
	p->m->cache_validity_hours = (uint32_t)hours;
	return true;
}

static bool read_is_supported(struct mud_parse *p, json_t *mud)
{
	json_t *v = json_object_get(mud, "is-supported");
	if (!v)
		return fail(p, "is-supported is missing (RFC 8520 requires "
			    "it)");
	if (!json_is_boolean(v))
		return fail(p, "is-supported must be true or false");
	p->m->is_supported = json_is_true(v);
	return true;
}

/* Leaves anchord keeps no copy of, checked for their type all the same. */
static bool check_unused_leaves(struct mud_parse *p, json_t *mud)
{
	static const char *const strings[] = { "firmware-rev", "software-rev",
					       "documentation" };
	const char *s;
	for (size_t i = 0; i < ARRAY_SIZE(strings); i++)
		if (!get_string(p, mud, strings[i], strings[i], &s))
			return false;
	json_t *ext = json_object_get(mud, "extensions");
	if (!ext)
		return true;
	size_t i;
	json_t *v;
	if (!json_is_array(ext))
		return fail(p, "extensions must be a list of strings");
	json_array_foreach(ext, i, v) {
		if (!json_is_string(v))
			return fail(p, "extensions must be a list of strings");
	}
	return true;
}

/* RFC 8520 asks managers to flag what they do not understand: one line per
 * node of the container, whatever is inside it. */
static bool warn_unknown_mud_nodes(struct mud_parse *p, json_t *mud)
{
	static const char *const known[] = {
		"mud-version", "mud-url", "last-update", "mud-signature",
		"cache-validity", "is-supported", "systeminfo", "mfg-name",
		"model-name", "firmware-rev", "software-rev", "documentation",
		"extensions", "from-device-policy", "to-device-policy",
	};
	const char *key;
	json_t *value;
	json_object_foreach(mud, key, value) {
		size_t i = 0;
		while (i < ARRAY_SIZE(known) && strcmp(key, known[i]) != 0)
			i++;
		if (i == ARRAY_SIZE(known) &&
		    !warn(p, "unknown node \"%s\" in ietf-mud:mud ignored",
			  show(key).s))
			return false;
	}
	return true;
}

static bool read_header(struct mud_parse *p, json_t *mud, const char *expected)
{
	struct policy_mud *m = p->m;
	return read_version(p, mud) && read_url(p, mud, expected) &&
	       read_signature_url(p, mud) && read_last_update(p, mud) &&
	       read_cache_validity(p, mud) && read_is_supported(p, mud) &&
	       copy_string(p, mud, "systeminfo", &m->systeminfo) &&
	       copy_string(p, mud, "mfg-name", &m->mfg_name) &&
	       copy_string(p, mud, "model-name", &m->model_name) &&
	       check_unused_leaves(p, mud) && warn_unknown_mud_nodes(p, mud);
}

/* ------------------------------------------------------------------ the file */

/* The two containers of the top level. Drafts of RFC 8519 called the ACL
 * container "access-lists" (NIST's MUD profiles still do); it holds the
 * same acl list. */
static bool find_containers(struct mud_parse *p, json_t *root, json_t **mud,
			    json_t **acls, const char **acls_name)
{
	json_t *rfc = NULL, *draft = NULL, *value;
	const char *key;
	*mud = NULL;
	json_object_foreach(root, key, value) {
		if (strcmp(key, "ietf-mud:mud") == 0)
			*mud = value;
		else if (strcmp(key, ACL_MODULE "acls") == 0)
			rfc = value;
		else if (strcmp(key, ACL_MODULE "access-lists") == 0)
			draft = value;
		else if (!warn(p, "unknown top-level node \"%s\" ignored",
			       show(key).s))
			return false;
	}
	if (!*mud)
		return fail(p, "not a MUD file: there is no \"ietf-mud:mud\" "
			    "container");
	if (!json_is_object(*mud))
		return fail(p, "\"ietf-mud:mud\" must be an object");
	if (rfc && draft)
		return fail(p, "the file has both \"" ACL_MODULE "acls\" and "
			    "the draft \"" ACL_MODULE "access-lists\"; which "
			    "one holds the ACLs is unclear");
	*acls = rfc ? rfc : draft;
	*acls_name = rfc ? ACL_MODULE "acls" : ACL_MODULE "access-lists";
	if (draft)
		return warn(p, "the ACLs are in \"" ACL_MODULE "access-lists\" "
			    "(a draft name), read as RFC 8519's \"" ACL_MODULE
			    "acls\"");
	return true;
}

static bool read_file(struct mud_parse *p, json_t *root, const char *expected)
{
	json_t *mud, *acls;
	const char *acls_name;
	if (!json_is_object(root))
		return fail(p, "not a MUD file: the top level is not a JSON "
			    "object");
	return find_containers(p, root, &mud, &acls, &acls_name) &&
	       read_header(p, mud, expected) &&
	       index_acls(p, acls, acls_name) &&
	       read_policy(p, mud, "from-device-policy") &&
	       read_policy(p, mud, "to-device-policy") && finish_warnings(p);
}

struct policy_mud *policy_mud_parse(const uint8_t *json, size_t len,
				    const char *expected_url, char *err,
				    size_t errlen)
{
	struct mud_parse p = { .err = err, .errlen = errlen };
	if (len > MUD_MAX_FILE) {
		fail(&p, "the file has %zu bytes; anchord reads MUD files of "
		     "up to %d", len, MUD_MAX_FILE);
		return NULL;
	}
	json_error_t jerr;
	/* A member given twice would be read differently by different
	 * parsers, so it is refused rather than resolved. */
	json_t *root = json_loadb((const char *)json, len,
				  JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		fail(&p, "not JSON: line %d column %d: %s", jerr.line,
		     jerr.column, jerr.text);
		return NULL;
	}
	p.m = calloc(1, sizeof(*p.m));
	p.name_set = json_object();
	p.acl_index = json_object();
	bool ok = p.m && p.name_set && p.acl_index
			  ? read_file(&p, root, expected_url)
			  : out_of_memory(&p);
	json_decref(p.acl_index);
	json_decref(p.name_set);
	json_decref(root);
	if (!ok) {
		policy_mud_free(p.m);
		return NULL;
	}
	return p.m;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void policy_mud_free(struct policy_mud *m)
{
	if (!m)
		return;
	free(m->mud_url);
	free(m->signature_url);
	free(m->last_update);
	free(m->systeminfo);
	free(m->mfg_name);
	free(m->model_name);
	free_list(m->names, m->n_names);
	free_list(m->warnings, m->n_warnings);
	free(m);
}
