/*  anchord - daemon/config.c: anchord.conf, the YAML configuration.
 *
 *  The key names are a contract (CONFIG.md, anchord.conf(5)). The file is
 *  loaded with libyaml's document API and walked against the expected
 *  shape; anything else is an error that names file, line and key, and
 *  nothing is half-applied: the caller gets a complete configuration or
 *  none.
 */
#include "daemon/config_internal.h"
#include "pki/pki.h"

#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define RESOLV_CONF "/etc/resolv.conf"

const char *const config_known_keys[] = {
	"server.name", "server.state-dir", "server.workers", "server.user",
	"server.control", "server.sandbox",
	"server.tcp-idle-timeout", "server.max-connections-per-client",
	"server.max-pipelined", "server.edns-buffer-size",
	"listen.address", "listen.port", "listen.kind",
	"listen.max-connections", "listen.client-certificates",
	"tls.certificate", "tls.key", "tls.addresses",
	"tls.client-certificates", "tls.handshake-timeout",
	"tls.session-tickets", "tls.ca-certificate", "tls.ca-key",
	"tls.publish-tlsa",
	"est.enabled", "est.validity", "est.approval", "est.retry-after",
	"est.require-pop-linking", "est.basic-auth", "est.allowed-domains",
	"est.manufacturer-trust", "est.masa-ca",
	"enroll.enabled", "enroll.code-ttl", "enroll.max-failures",
	"enroll.backup-pin",
	"doh.path",
	"discovery.dns-sd", "discovery.domain", "discovery.instance",
	"http.max-streams", "http.buffer-budget", "http.metrics",
	"http.metrics-allow",
	"upstream.address", "upstream.port", "upstream.transport",
	"upstream.name", "upstream.pin", "upstream.ca", "upstream.dane",
	"cache.size", "cache.serve-stale", "cache.min-ttl", "cache.max-ttl",
	"cache.max-negative-ttl",
	"local-data",
	"local-zones.name", "local-zones.file", "local-zones.type",
	"dnssec.validation", "dnssec.trust-anchors",
	"dnssec.negative-trust-anchors",
	"log.level", "log.queries", "log.queries-file",
	"log.queries-max-size",
	"profiles.blocklists", "profiles.block", "profiles.allow",
	"profiles.mud",
	"clients.subnet", "clients.device", "clients.client-id",
	"clients.certificate-profile", "clients.certificate-mud",
	"clients.profile",
	"mud.signers", "mud.require-signature", "mud.fetch", "mud.fetch-ca",
	"mud.fetch-timeout", "mud.retry", "mud.block-rcode", "mud.nftables",
	"mud.nftables-table",
	NULL,
};

/* ------------------------------------------------------------------ errors and nodes */

int cfg_fail(struct cfg *x, const yaml_node_t *n, const char *key,
		const char *fmt, ...)
{
	int off = snprintf(x->err, x->errlen, "%s:%zu: %s%s", x->file,
			   n ? n->start_mark.line + 1 : 0, key ? key : "",
			   key ? ": " : "");
	if (off < 0 || (size_t)off >= x->errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err + off, x->errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return -1;
}

yaml_node_t *cfg_node(struct cfg *x, int id)
{
	x->visits++;
	return yaml_document_get_node(x->doc, id);
}

const char *cfg_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
						: NULL;
}

const char *cfg_need_scalar(struct cfg *x, const yaml_node_t *n,
			       const char *key)
{
	const char *s = cfg_scalar(n);
	if (!s)
		cfg_fail(x, n, key, "expected a single value");
	return s;
}

char *cfg_dup_str(struct cfg *x, const yaml_node_t *n, const char *s)
{
	char *d = strdup(s);
	if (!d)
		cfg_fail(x, n, NULL, "out of memory");
	return d;
}

/* Each key once: a repeated key would silently hide the first value. */
int cfg_check_mapping(struct cfg *x, const yaml_node_t *n, const char *key)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return cfg_fail(x, n, key, "expected a mapping (key: value)");
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const char *k = cfg_scalar(cfg_node(x, p->key));
		if (!k)
			return cfg_fail(x, cfg_node(x, p->key), key, "keys must be words");
		for (yaml_node_pair_t *q = p + 1; q < n->data.mapping.pairs.top;
		     q++) {
			const char *k2 = cfg_scalar(cfg_node(x, q->key));
			if (k2 && strcmp(k, k2) == 0)
				return cfg_fail(x, cfg_node(x, q->key), key,
					    "key \"%s\" given twice", k);
			if (x->visits > MAX_NODE_VISITS)
				return cfg_fail(x, n, key, "too complex");
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ typed fields */


static int parse_sandbox(struct cfg *x, const yaml_node_t *n, const char *key)
{
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (strcmp(s, "auto") != 0 && strcmp(s, "off") != 0)
		return cfg_fail(x, n, key, "expected auto or off");
	x->c->sandbox = strcmp(s, "auto") == 0;
	return 0;
}

static const struct field server_fields[] = {
	{ .key = "name", .type = F_NAME, .offset = CFG(name) },
	{ .key = "state-dir", .type = F_PATH, .offset = CFG(state_dir) },
	{ .key = "control", .type = F_PATH, .offset = CFG(control) },
	{ .key = "workers", .type = F_WORKERS, .offset = CFG(workers), .min = 1,
	  .max = 256 },
	{ .key = "user", .type = F_STRING, .offset = CFG(user) },
	{ .key = "sandbox", .type = F_CUSTOM, .parse = parse_sandbox },
	{ .key = "tcp-idle-timeout", .type = F_DURATION_MS,
	  .offset = CFG(tcp_idle_timeout_ms), .min = 100, .max = 3600000 },
	{ .key = "max-connections-per-client", .type = F_UINT,
	  .offset = CFG(max_connections_per_client), .min = 1, .max = 1000000 },
	{ .key = "max-pipelined", .type = F_UINT, .offset = CFG(max_pipelined),
	  .min = 1, .max = 65535 },
	{ .key = "edns-buffer-size", .type = F_U16,
	  .offset = CFG(dns.edns_udp_size), .min = 512, .max = 4096 },
	{ NULL },
};

static const struct field cache_fields[] = {
	{ .key = "size", .type = F_SIZE, .offset = CFG(dns.cache_size),
	  .min = 64 << 10, .max = 1ULL << 40 },
	{ .key = "serve-stale", .type = F_DURATION_S,
	  .offset = CFG(dns.serve_stale), .max = 30 * 86400 },
	{ .key = "min-ttl", .type = F_DURATION_S, .offset = CFG(dns.min_ttl),
	  .max = 86400 },
	{ .key = "max-ttl", .type = F_DURATION_S, .offset = CFG(dns.max_ttl),
	  .min = 1, .max = 30 * 86400 },
	{ .key = "max-negative-ttl", .type = F_DURATION_S,
	  .offset = CFG(dns.max_negative_ttl), .min = 1, .max = 86400 },
	{ NULL },
};

static const struct field log_fields[] = {
	{ .key = "level", .type = F_LOG_LEVEL, .offset = CFG(log_level) },
	{ .key = "queries", .type = F_BOOL, .offset = CFG(log_queries) },
	{ .key = "queries-file", .type = F_PATH, .offset = CFG(queries_file) },
	{ .key = "queries-max-size", .type = F_SIZE,
	  .offset = CFG(queries_max_size), .max = 1ULL << 40 },
	{ NULL },
};

static int set_number(struct cfg *x, const yaml_node_t *n, const char *key,
		      const struct field *f, uint64_t v, const char *unit)
{
	if (v < f->min || v > f->max)
		return cfg_fail(x, n, key, "%s out of range", unit);
	void *p = (char *)x->c + f->offset;
	switch (f->type) {
	case F_U16: *(uint16_t *)p = (uint16_t)v; break;
	case F_DURATION_MS: *(uint64_t *)p = v; break;
	case F_SIZE: *(uint64_t *)p = v; break;
	case F_DURATION_S: *(uint32_t *)p = (uint32_t)v; break;
	default: *(unsigned *)p = (unsigned)v; break;
	}
	return 0;
}

static int set_string(struct cfg *x, const yaml_node_t *n, const char *key,
		      const struct field *f, const char *s)
{
	char **p = (char **)((char *)x->c + f->offset);
	char *v = f->type == F_PATH ? util_path_relative_to(x->file, s)
				    : strdup(s);
	if (!v)
		return cfg_fail(x, n, key, "out of memory");
	free(*p);
	*p = v;
	return 0;
}

static int set_field(struct cfg *x, const yaml_node_t *n, const char *key,
		     const struct field *f)
{
	if (f->type == F_CUSTOM)
		return f->parse(x, n, key);
	const char *s = cfg_need_scalar(x, n, key);
	uint64_t v;
	bool b;
	uint8_t wire[DNS_MAX_NAME];
	if (!s)
		return -1;
	switch (f->type) {
	case F_CUSTOM:
		break;
	case F_BOOL:
		if (util_parse_bool(s, &b) != 0)
			return cfg_fail(x, n, key, "expected true or false");
		*(bool *)((char *)x->c + f->offset) = b;
		return 0;
	case F_STRING:
	case F_PATH:
		if (!*s)
			return cfg_fail(x, n, key, "must not be empty");
		return set_string(x, n, key, f, s);
	case F_NAME:
		if (dns_name_from_str(s, wire) < 2)
			return cfg_fail(x, n, key, "\"%s\" is not a domain name", s);
		return set_string(x, n, key, f, s);
	case F_WORKERS:
		if (strcmp(s, "auto") == 0) {
			long cpus = sysconf(_SC_NPROCESSORS_ONLN);
			return set_number(x, n, key, f, cpus > 0 ? (uint64_t)cpus : 1,
					  "workers");
		}
		if (util_parse_uint(s, 0, UINT32_MAX, &v) != 0)
			return cfg_fail(x, n, key, "expected a number or \"auto\"");
		return set_number(x, n, key, f, v, "number");
	case F_UINT:
	case F_U16:
		if (util_parse_uint(s, 0, UINT32_MAX, &v) != 0)
			return cfg_fail(x, n, key, "\"%s\" is not a number", s);
		return set_number(x, n, key, f, v, "number");
	case F_DURATION_MS:
	case F_DURATION_S:
		if (util_parse_duration(s, &v) != 0)
			return cfg_fail(x, n, key, "\"%s\" is not a duration "
				    "(e.g. 30s, 10m, 24h, 1d)", s);
		if (f->type == F_DURATION_S && v % 1000)
			return cfg_fail(x, n, key, "whole seconds only");
		return set_number(x, n, key, f,
				  f->type == F_DURATION_S ? v / 1000 : v,
				  "duration");
	case F_SIZE:
		if (util_parse_size(s, &v) != 0)
			return cfg_fail(x, n, key, "\"%s\" is not a size "
				    "(e.g. 64M, 1G)", s);
		return set_number(x, n, key, f, v, "size");
	case F_LOG_LEVEL: {
		int level = log_level_parse(s);
		if (level < 0)
			return cfg_fail(x, n, key, "expected error, warning, info "
				    "or debug");
		*(enum log_level *)((char *)x->c + f->offset) = level;
		return 0;
	}
	}
	return cfg_fail(x, n, key, "internal: unknown field type");
}

/* A mapping section whose keys are all plain fields. */
int cfg_parse_fields(struct cfg *x, const yaml_node_t *map,
			const char *section, const struct field *fields)
{
	if (cfg_check_mapping(x, map, section) != 0)
		return -1;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = cfg_node(x, p->key);
		const char *k = cfg_scalar(kn);
		char key[96];
		snprintf(key, sizeof(key), "%s.%s", section, k);
		const struct field *f = fields;
		while (f->key && strcmp(f->key, k) != 0)
			f++;
		if (!f->key)
			return cfg_fail(x, kn, key, "unknown key");
		if (set_field(x, cfg_node(x, p->value), key, f) != 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ lists */

/* Iterate a sequence (or accept a single item where one is natural). */
int cfg_each_item(struct cfg *x, const yaml_node_t *seq, const char *key,
		     int (*fn)(struct cfg *x, const yaml_node_t *item,
			       const char *key))
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return cfg_fail(x, seq, key, "expected a list");
	for (yaml_node_item_t *i = seq->data.sequence.items.start;
	     i < seq->data.sequence.items.top; i++) {
		if (fn(x, cfg_node(x, *i), key) != 0)
			return -1;
		if (x->visits > MAX_NODE_VISITS)
			return cfg_fail(x, seq, key, "too complex");
	}
	return 0;
}

void *cfg_grow_array(void *array, size_t *n, size_t size)
{
	void *p = realloc(array, (*n + 1) * size);
	if (p) {
		memset((char *)p + *n * size, 0, size);
		(*n)++;
	}
	return p;
}

/* Fetch key k of an item mapping, or NULL. */
const yaml_node_t *cfg_item_value(struct cfg *x, const yaml_node_t *map,
				     const char *k)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++)
		if (strcmp(cfg_scalar(cfg_node(x, p->key)), k) == 0)
			return cfg_node(x, p->value);
	return NULL;
}

/* Only the given keys may appear in an item mapping. */
int cfg_check_item_keys(struct cfg *x, const yaml_node_t *map,
			   const char *key, const char *const *allowed)
{
	if (cfg_check_mapping(x, map, key) != 0)
		return -1;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = cfg_node(x, p->key);
		const char *k = cfg_scalar(kn);
		const char *const *a = allowed;
		while (*a && strcmp(*a, k) != 0)
			a++;
		if (!*a)
			return cfg_fail(x, kn, key, "unknown key \"%s\"", k);
	}
	return 0;
}

static int parse_port(struct cfg *x, const yaml_node_t *n, const char *key,
		      uint16_t *port)
{
	uint64_t v;
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (util_parse_uint(s, 1, 65535, &v) != 0)
		return cfg_fail(x, n, key, "port must be 1 to 65535");
	*port = (uint16_t)v;
	return 0;
}

static int parse_address(struct cfg *x, const yaml_node_t *item,
			 const char *key, uint16_t default_port,
			 struct util_addr *out)
{
	const yaml_node_t *an = cfg_item_value(x, item, "address");
	const yaml_node_t *pn = cfg_item_value(x, item, "port");
	uint16_t port = default_port;
	if (!an)
		return cfg_fail(x, item, key, "address is missing");
	const char *a = cfg_need_scalar(x, an, key);
	if (!a || (pn && parse_port(x, pn, key, &port) != 0))
		return -1;
	if (util_addr_parse(a, port, out) != 0)
		return cfg_fail(x, an, key, "\"%s\" is not an IPv4 or IPv6 address",
			    a);
	return 0;
}

static int client_cert_mode(struct cfg *x, const yaml_node_t *n,
			    const char *key)
{
	static const char *const modes[] = {
		[NET_CLIENT_CERT_NONE] = "none",
		[NET_CLIENT_CERT_REQUEST] = "request",
		[NET_CLIENT_CERT_REQUIRE] = "require",
	};
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		if (strcmp(s, modes[i]) == 0)
			return (int)i;
	return cfg_fail(x, n, key, "expected none, request or require");
}

/* A listener may ask for client certificates unlike tls.client-certificates
 * says: DoT that requires them next to HTTPS where devices enroll. */
static int parse_listen_client_certs(struct cfg *x, const yaml_node_t *item,
				     struct listen_conf *l)
{
	const yaml_node_t *n = cfg_item_value(x, item, "client-certificates");
	if (!n)
		return 0;
	if (l->kind == LISTEN_DNS)
		return cfg_fail(x, n, "listen.client-certificates",
			    "only dot and https listeners use TLS");
	l->client_certs = client_cert_mode(x, n, "listen.client-certificates");
	return l->client_certs < 0 ? -1 : 0;
}

static int parse_listen_item(struct cfg *x, const yaml_node_t *item,
			     const char *key)
{
	static const char *const keys[] = { "address", "port", "kind",
					    "max-connections",
					    "client-certificates", NULL };
	struct anchord_config *c = x->c;
	if (cfg_check_item_keys(x, item, key, keys) != 0)
		return -1;
	struct listen_conf l = { .kind = LISTEN_DNS, .max_connections = 1024,
				 .client_certs = -1,
				 .line = (unsigned)item->start_mark.line + 1 };
	const yaml_node_t *kn = cfg_item_value(x, item, "kind");
	const char *kind = kn ? cfg_need_scalar(x, kn, key) : "dns";
	if (!kind)
		return -1;
	static const uint16_t default_port[] = {
		[LISTEN_DNS] = 53, [LISTEN_DOT] = 853, [LISTEN_HTTPS] = 443 };
	if (strcmp(kind, "dot") == 0)
		l.kind = LISTEN_DOT;
	else if (strcmp(kind, "https") == 0)
		l.kind = LISTEN_HTTPS;
	else if (strcmp(kind, "dns") != 0)
		return cfg_fail(x, kn, "listen.kind", "\"%s\" is not supported "
			    "(this build serves: dns, dot, https)", kind);
	if (parse_address(x, item, key, default_port[l.kind], &l.addr) != 0)
		return -1;
	const yaml_node_t *mn = cfg_item_value(x, item, "max-connections");
	uint64_t v;
	if (mn) {
		const char *s = cfg_need_scalar(x, mn, key);
		if (!s || util_parse_uint(s, 1, 1000000, &v) != 0)
			return cfg_fail(x, mn, "listen.max-connections",
				    "expected 1 to 1000000");
		l.max_connections = (unsigned)v;
	}
	if (parse_listen_client_certs(x, item, &l) != 0)
		return -1;
	struct listen_conf *arr = cfg_grow_array(c->listen, &c->n_listen, sizeof(l));
	if (!arr)
		return cfg_fail(x, item, key, "out of memory");
	c->listen = arr;
	arr[c->n_listen - 1] = l;
	return 0;
}

static int parse_pin(struct cfg *x, const yaml_node_t *n,
		     struct dns_upstream_conf *u)
{
	const char *s = cfg_need_scalar(x, n, "upstream.pin");
	if (!s)
		return -1;
	if (u->n_pins >= DNS_MAX_PINS)
		return cfg_fail(x, n, "upstream.pin", "at most %d pins",
			    DNS_MAX_PINS);
	if (pki_pin_parse(s, u->pins[u->n_pins]) != 0)
		return cfg_fail(x, n, "upstream.pin", "\"%s\" is not a base64 "
			    "SHA-256 SPKI pin", s);
	u->n_pins++;
	return 0;
}

/* pin: one pin, or a list (current and backup). */
static int parse_pins(struct cfg *x, const yaml_node_t *n,
		      struct dns_upstream_conf *u)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return parse_pin(x, n, u);
	for (yaml_node_item_t *i = n->data.sequence.items.start;
	     i < n->data.sequence.items.top; i++)
		if (parse_pin(x, cfg_node(x, *i), u) != 0)
			return -1;
	return 0;
}

static int parse_upstream_tls(struct cfg *x, const yaml_node_t *item,
			      struct dns_upstream_conf *u)
{
	const yaml_node_t *nn = cfg_item_value(x, item, "name");
	const yaml_node_t *pn = cfg_item_value(x, item, "pin");
	const yaml_node_t *cn = cfg_item_value(x, item, "ca");
	const yaml_node_t *dn = cfg_item_value(x, item, "dane");
	uint8_t wire[DNS_MAX_NAME];
	if (u->transport != DNS_UPSTREAM_DOT && (nn || pn || cn || dn))
		return cfg_fail(x, nn ? nn : pn ? pn : cn ? cn : dn, "upstream",
			    "name, pin, ca and dane need transport: dot");
	if (u->transport != DNS_UPSTREAM_DOT)
		return 0;
	const char *name = nn ? cfg_need_scalar(x, nn, "upstream.name") : NULL;
	if (nn && (!name || dns_name_from_str(name, wire) < 2))
		return name ? cfg_fail(x, nn, "upstream.name", "\"%s\" is not a "
				   "domain name", name) : -1;
	if (pn && parse_pins(x, pn, u) != 0)
		return -1;
	const char *d = dn ? cfg_need_scalar(x, dn, "upstream.dane") : NULL;
	if (dn && (!d || util_parse_bool(d, &u->dane) != 0))
		return d ? cfg_fail(x, dn, "upstream.dane", "expected true or "
				"false") : -1;
	if (u->dane && (!name || u->n_pins || cn))
		return cfg_fail(x, dn, "upstream.dane", "needs a name, and replaces "
			    "pin and ca");
	if (!name && !u->n_pins)	/* RFC 8310 strict: no anonymous TLS */
		return cfg_fail(x, item, "upstream", "a dot upstream needs a name "
			    "(verified against a CA) or a pin");
	const char *ca = cn ? cfg_need_scalar(x, cn, "upstream.ca") : NULL;
	if (cn && !ca)
		return -1;
	u->name = name ? strdup(name) : NULL;
	u->ca_file = ca ? util_path_relative_to(x->file, ca) : NULL;
	return 0;
}

static int parse_upstream_item(struct cfg *x, const yaml_node_t *item,
			       const char *key)
{
	static const char *const keys[] = { "address", "port", "transport",
					    "name", "pin", "ca", "dane", NULL };
	struct dns_conf *d = &x->c->dns;
	if (cfg_check_item_keys(x, item, key, keys) != 0)
		return -1;
	struct dns_upstream_conf u = { .transport = DNS_UPSTREAM_UDP };
	const yaml_node_t *tn = cfg_item_value(x, item, "transport");
	const char *t = tn ? cfg_need_scalar(x, tn, key) : "udp";
	if (!t)
		return -1;
	if (strcmp(t, "tcp") == 0)
		u.transport = DNS_UPSTREAM_TCP;
	else if (strcmp(t, "dot") == 0)
		u.transport = DNS_UPSTREAM_DOT;
	else if (strcmp(t, "udp") != 0)
		return cfg_fail(x, tn, "upstream.transport",
			    "expected udp, tcp or dot, not \"%s\"", t);
	if (parse_address(x, item, key,
			  u.transport == DNS_UPSTREAM_DOT ? 853 : 53,
			  &u.addr) != 0 ||
	    parse_upstream_tls(x, item, &u) != 0)
		return -1;
	struct dns_upstream_conf *arr = cfg_grow_array(d->upstreams,
						   &d->n_upstreams, sizeof(u));
	if (!arr) {
		free(u.name);
		free(u.ca_file);
		return cfg_fail(x, item, key, "out of memory");
	}
	d->upstreams = arr;
	arr[d->n_upstreams - 1] = u;
	return 0;
}

static int parse_local_data_item(struct cfg *x, const yaml_node_t *item,
				 const char *key)
{
	struct dns_conf *d = &x->c->dns;
	const char *s = cfg_need_scalar(x, item, key);
	if (!s)
		return -1;
	struct dns_local_data_conf *arr = cfg_grow_array(d->data, &d->n_data,
						     sizeof(*arr));
	if (!arr)
		return cfg_fail(x, item, key, "out of memory");
	d->data = arr;
	struct dns_local_data_conf *e = &arr[d->n_data - 1];
	e->text = cfg_dup_str(x, item, s);
	e->origin.file = cfg_dup_str(x, item, x->file);
	e->origin.line = (unsigned)item->start_mark.line + 1;
	return e->text && e->origin.file ? 0 : -1;
}

static int zone_type(const char *s, enum dns_zone_type *t)
{
	static const struct { const char *name; enum dns_zone_type type; }
	types[] = { { "static", DNS_ZONE_STATIC },
		    { "transparent", DNS_ZONE_TRANSPARENT },
		    { "nxdomain", DNS_ZONE_NXDOMAIN },
		    { "refuse", DNS_ZONE_REFUSE } };
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (strcmp(s, types[i].name) == 0) {
			*t = types[i].type;
			return 0;
		}
	return -1;
}

static int parse_local_zone_item(struct cfg *x, const yaml_node_t *item,
				 const char *key)
{
	static const char *const keys[] = { "name", "file", "type", NULL };
	struct dns_conf *d = &x->c->dns;
	if (cfg_check_item_keys(x, item, key, keys) != 0)
		return -1;
	const yaml_node_t *nn = cfg_item_value(x, item, "name");
	const yaml_node_t *fn = cfg_item_value(x, item, "file");
	const yaml_node_t *tn = cfg_item_value(x, item, "type");
	const char *name = nn ? cfg_need_scalar(x, nn, "local-zones.name") : NULL;
	const char *file = fn ? cfg_need_scalar(x, fn, "local-zones.file") : NULL;
	const char *type = tn ? cfg_need_scalar(x, tn, "local-zones.type") : "static";
	uint8_t wire[DNS_MAX_NAME];
	enum dns_zone_type t;
	if (!name)
		return nn ? -1 : cfg_fail(x, item, key, "name is missing");
	if ((fn && !file) || !type)
		return -1;
	if (dns_name_from_str(name, wire) < 0)
		return cfg_fail(x, nn, "local-zones.name",
			    "\"%s\" is not a domain name", name);
	if (zone_type(type, &t) != 0)
		return cfg_fail(x, tn, "local-zones.type", "expected static, "
			    "transparent, nxdomain or refuse");
	struct dns_local_zone_conf *arr = cfg_grow_array(d->zones, &d->n_zones,
						     sizeof(*arr));
	if (!arr)
		return cfg_fail(x, item, key, "out of memory");
	d->zones = arr;
	struct dns_local_zone_conf *z = &arr[d->n_zones - 1];
	z->type = t;
	z->name = cfg_dup_str(x, nn, name);
	z->file = file ? util_path_relative_to(x->file, file) : NULL;
	z->origin.file = cfg_dup_str(x, item, x->file);
	z->origin.line = (unsigned)item->start_mark.line + 1;
	return z->name && (!file || z->file) && z->origin.file ? 0 : -1;
}

/* ------------------------------------------------------------------ tls */

/* certificate and key: "auto" (the built-in CA) or a PEM file. */
static int parse_auto_path(struct cfg *x, const yaml_node_t *n,
			   const char *key, char **out)
{
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	free(*out);
	*out = NULL;
	if (strcmp(s, "auto") == 0)
		return 0;
	if (!*s)
		return cfg_fail(x, n, key, "expected auto or a file");
	*out = util_path_relative_to(x->file, s);
	return *out ? 0 : cfg_fail(x, n, key, "out of memory");
}

static int parse_tls_certificate(struct cfg *x, const yaml_node_t *n,
				 const char *key)
{
	return parse_auto_path(x, n, key, &x->c->tls.certificate);
}

static int parse_tls_key(struct cfg *x, const yaml_node_t *n, const char *key)
{
	return parse_auto_path(x, n, key, &x->c->tls.key);
}

static int parse_tls_address(struct cfg *x, const yaml_node_t *n,
			     const char *key)
{
	struct tls_conf *t = &x->c->tls;
	const char *s = cfg_need_scalar(x, n, key);
	struct util_addr a;
	if (!s)
		return -1;
	if (util_addr_parse(s, 0, &a) != 0)
		return cfg_fail(x, n, key, "\"%s\" is not an IPv4 or IPv6 "
			    "address", s);
	struct util_addr *arr = cfg_grow_array(t->addresses, &t->n_addresses,
					   sizeof(a));
	if (!arr)
		return cfg_fail(x, n, key, "out of memory");
	t->addresses = arr;
	arr[t->n_addresses - 1] = a;
	return 0;
}

static int parse_tls_addresses(struct cfg *x, const yaml_node_t *n,
			       const char *key)
{
	x->c->tls.addresses_given = true;
	return cfg_each_item(x, n, key, parse_tls_address);
}

static int parse_client_certs(struct cfg *x, const yaml_node_t *n,
			      const char *key)
{
	int mode = client_cert_mode(x, n, key);
	if (mode < 0)
		return -1;
	x->c->tls.client_certs = (enum net_client_cert_mode)mode;
	return 0;
}

static int parse_tls_ca_certificate(struct cfg *x, const yaml_node_t *n,
				    const char *key)
{
	return parse_auto_path(x, n, key, &x->c->tls.ca_certificate);
}

static int parse_tls_ca_key(struct cfg *x, const yaml_node_t *n,
			    const char *key)
{
	return parse_auto_path(x, n, key, &x->c->tls.ca_key);
}

static const struct field tls_fields[] = {
	{ .key = "certificate", .type = F_CUSTOM,
	  .parse = parse_tls_certificate },
	{ .key = "key", .type = F_CUSTOM, .parse = parse_tls_key },
	{ .key = "addresses", .type = F_CUSTOM, .parse = parse_tls_addresses },
	{ .key = "client-certificates", .type = F_CUSTOM,
	  .parse = parse_client_certs },
	{ .key = "handshake-timeout", .type = F_DURATION_MS,
	  .offset = CFG(tls.handshake_timeout_ms), .min = 100, .max = 120000 },
	{ .key = "session-tickets", .type = F_BOOL,
	  .offset = CFG(tls.session_tickets) },
	{ .key = "ca-certificate", .type = F_CUSTOM,
	  .parse = parse_tls_ca_certificate },
	{ .key = "ca-key", .type = F_CUSTOM, .parse = parse_tls_ca_key },
	{ .key = "publish-tlsa", .type = F_BOOL,
	  .offset = CFG(tls.publish_tlsa) },
	{ NULL },
};

static int parse_tls(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "tls", tls_fields);
}

/* ------------------------------------------------------------------ doh, http */

static int parse_doh_path(struct cfg *x, const yaml_node_t *n, const char *key)
{
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (s[0] != '/' || strchr(s, '?') || strchr(s, '{') || strlen(s) > 200)
		return cfg_fail(x, n, key, "expected a path such as /dns-query");
	free(x->c->doh_path);
	x->c->doh_path = strdup(s);
	return x->c->doh_path ? 0 : cfg_fail(x, n, key, "out of memory");
}

static const struct field doh_fields[] = {
	{ .key = "path", .type = F_CUSTOM, .parse = parse_doh_path },
	{ NULL },
};

static int parse_doh(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "doh", doh_fields);
}

/* One address or prefix appended to a list of subnets. */
int cfg_append_subnet(struct cfg *x, const yaml_node_t *n, const char *key,
			 struct util_subnet **list, size_t *count)
{
	const char *s = cfg_need_scalar(x, n, key);
	struct util_subnet net;
	if (!s)
		return -1;
	if (util_subnet_parse(s, &net) != 0)
		return cfg_fail(x, n, key, "\"%s\" is not an address or a prefix "
			    "such as 10.0.0.0/8", s);
	struct util_subnet *arr = cfg_grow_array(*list, count, sizeof(net));
	if (!arr)
		return cfg_fail(x, n, key, "out of memory");
	*list = arr;
	arr[*count - 1] = net;
	return 0;
}

static int parse_subnet_item(struct cfg *x, const yaml_node_t *n,
			     const char *key)
{
	struct http_conf *h = &x->c->http;
	return cfg_append_subnet(x, n, key, &h->metrics_allow, &h->n_metrics_allow);
}

static int parse_metrics_allow(struct cfg *x, const yaml_node_t *n,
			       const char *key)
{
	free(x->c->http.metrics_allow);	/* the list replaces the default */
	x->c->http.metrics_allow = NULL;
	x->c->http.n_metrics_allow = 0;
	return cfg_each_item(x, n, key, parse_subnet_item);
}

static const struct field http_fields[] = {
	{ .key = "max-streams", .type = F_UINT, .offset = CFG(http.max_streams),
	  .min = 1, .max = 1000 },
	{ .key = "buffer-budget", .type = F_SIZE,
	  .offset = CFG(http.buffer_budget), .min = 64 << 10, .max = 1ULL << 32 },
	{ .key = "metrics", .type = F_BOOL, .offset = CFG(http.metrics) },
	{ .key = "metrics-allow", .type = F_CUSTOM,
	  .parse = parse_metrics_allow },
	{ NULL },
};

static int parse_http(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "http", http_fields);
}

/* ------------------------------------------------------------------ est */

static int parse_approval(struct cfg *x, const yaml_node_t *n, const char *key)
{
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (strcmp(s, "manual") != 0 && strcmp(s, "auto") != 0)
		return cfg_fail(x, n, key, "expected auto or manual");
	x->c->est.manual_approval = strcmp(s, "manual") == 0;
	return 0;
}

static int parse_domain_item(struct cfg *x, const yaml_node_t *n,
			     const char *key)
{
	struct est_section *e = &x->c->est;
	const char *s = cfg_need_scalar(x, n, key);
	uint8_t wire[DNS_MAX_NAME];
	if (!s)
		return -1;
	if (dns_name_from_str(s, wire) < 2)
		return cfg_fail(x, n, key, "\"%s\" is not a domain name", s);
	char **arr = cfg_grow_array(e->allowed_domains, &e->n_allowed_domains,
				sizeof(*arr));
	if (!arr)
		return cfg_fail(x, n, key, "out of memory");
	e->allowed_domains = arr;
	size_t len = strlen(s);
	arr[e->n_allowed_domains - 1] = strndup(s, s[len - 1] == '.' ? len - 1
								    : len);
	return arr[e->n_allowed_domains - 1] ? 0 : cfg_fail(x, n, key, "out of memory");
}

static int parse_allowed_domains(struct cfg *x, const yaml_node_t *n,
				 const char *key)
{
	return cfg_each_item(x, n, key, parse_domain_item);
}

/* PEM files of the manufacturer CAs whose IDevIDs may enroll. */
static int parse_manufacturer_trust(struct cfg *x, const yaml_node_t *n,
				    const char *key)
{
	struct est_section *e = &x->c->est;
	return cfg_string_list(x, n, key, true, &e->manufacturer_trust,
			       &e->n_manufacturer_trust);
}

/* Trust anchors for the MASAs (the system store without any). */
static int parse_masa_ca(struct cfg *x, const yaml_node_t *n, const char *key)
{
	struct est_section *e = &x->c->est;
	return cfg_string_list(x, n, key, true, &e->masa_ca, &e->n_masa_ca);
}

static const struct field est_fields[] = {
	{ .key = "enabled", .type = F_BOOL, .offset = CFG(est.enabled) },
	{ .key = "validity", .type = F_DURATION_S, .offset = CFG(est.validity),
	  .min = 3600, .max = 3650 * 86400 },
	{ .key = "approval", .type = F_CUSTOM, .parse = parse_approval },
	{ .key = "retry-after", .type = F_DURATION_S,
	  .offset = CFG(est.retry_after), .min = 1, .max = 86400 },
	{ .key = "require-pop-linking", .type = F_BOOL,
	  .offset = CFG(est.require_pop_linking) },
	{ .key = "basic-auth", .type = F_BOOL, .offset = CFG(est.basic_auth) },
	{ .key = "allowed-domains", .type = F_CUSTOM,
	  .parse = parse_allowed_domains },
	{ .key = "manufacturer-trust", .type = F_CUSTOM,
	  .parse = parse_manufacturer_trust },
	{ .key = "masa-ca", .type = F_CUSTOM, .parse = parse_masa_ca },
	{ NULL },
};

static int parse_est(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "est", est_fields);
}

/* ------------------------------------------------------------------ enroll */

/* The pin of the key the server certificate will move to: devices
 * enrolled now keep trusting anchord across that change. */
static int parse_backup_pin(struct cfg *x, const yaml_node_t *n,
			    const char *key)
{
	uint8_t pin[PKI_DIGEST_LEN];
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (pki_pin_parse(s, pin) != 0)
		return cfg_fail(x, n, key, "\"%s\" is not a base64 SHA-256 SPKI "
			    "pin", s);
	free(x->c->enroll.backup_pin);
	x->c->enroll.backup_pin = strdup(s);
	return x->c->enroll.backup_pin ? 0 : cfg_fail(x, n, key, "out of memory");
}

static const struct field enroll_fields[] = {
	{ .key = "enabled", .type = F_BOOL, .offset = CFG(enroll.enabled) },
	{ .key = "code-ttl", .type = F_DURATION_S,
	  .offset = CFG(enroll.code_ttl), .min = 60, .max = 365 * 86400 },
	{ .key = "max-failures", .type = F_UINT,
	  .offset = CFG(enroll.max_failures), .min = 1, .max = 100 },
	{ .key = "backup-pin", .type = F_CUSTOM, .parse = parse_backup_pin },
	{ NULL },
};

static int parse_enroll(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "enroll", enroll_fields);
}

/* ------------------------------------------------------------------ discovery */

static const struct field discovery_fields[] = {
	{ .key = "dns-sd", .type = F_BOOL, .offset = CFG(discovery.dns_sd) },
	{ .key = "domain", .type = F_NAME, .offset = CFG(discovery.domain) },
	{ .key = "instance", .type = F_STRING,
	  .offset = CFG(discovery.instance) },
	{ NULL },
};

static int parse_discovery(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "discovery", discovery_fields);
}

/* ------------------------------------------------------------------ dnssec */

int cfg_push_string(struct cfg *x, const yaml_node_t *n, const char *key,
		       char ***v, size_t *count, char *value)
{
	if (!value)
		return cfg_fail(x, n, key, "out of memory");
	char **arr = realloc(*v, (*count + 2) * sizeof(*arr));
	if (!arr) {
		free(value);
		return cfg_fail(x, n, key, "out of memory");
	}
	arr[(*count)++] = value;
	arr[*count] = NULL;
	*v = arr;
	return 0;
}

static int parse_trust_anchor(struct cfg *x, const yaml_node_t *n,
			      const char *key)
{
	struct dns_dnssec_conf *d = &x->c->dns.dnssec;
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (!*s)
		return cfg_fail(x, n, key, "must not be empty");
	return cfg_push_string(x, n, key, &d->trust_anchors, &d->n_trust_anchors,
			   util_path_relative_to(x->file, s));
}

static int parse_negative_anchor(struct cfg *x, const yaml_node_t *n,
				 const char *key)
{
	struct dns_dnssec_conf *d = &x->c->dns.dnssec;
	uint8_t wire[DNS_MAX_NAME];
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (dns_name_from_str(s, wire) < 0)
		return cfg_fail(x, n, key, "\"%s\" is not a domain name", s);
	return cfg_push_string(x, n, key, &d->negative, &d->n_negative, strdup(s));
}

static int parse_trust_anchors(struct cfg *x, const yaml_node_t *n,
			       const char *key)
{
	x->c->trust_anchors_given = true;
	return cfg_each_item(x, n, key, parse_trust_anchor);
}

static int parse_negative_anchors(struct cfg *x, const yaml_node_t *n,
				  const char *key)
{
	return cfg_each_item(x, n, key, parse_negative_anchor);
}

static const struct field dnssec_fields[] = {
	{ .key = "validation", .type = F_BOOL,
	  .offset = CFG(dns.dnssec.validation) },
	{ .key = "trust-anchors", .type = F_CUSTOM,
	  .parse = parse_trust_anchors },
	{ .key = "negative-trust-anchors", .type = F_CUSTOM,
	  .parse = parse_negative_anchors },
	{ NULL },
};

static int parse_dnssec(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "dnssec", dnssec_fields);
}

/* ------------------------------------------------------------------ sections */

static int parse_server(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "server", server_fields);
}

static int parse_cache(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "cache", cache_fields);
}

static int parse_log(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "log", log_fields);
}

static int parse_listen(struct cfg *x, const yaml_node_t *n)
{
	return cfg_each_item(x, n, "listen", parse_listen_item);
}

static int parse_upstream(struct cfg *x, const yaml_node_t *n)
{
	const char *s = cfg_scalar(n);
	if (s) {
		if (strcmp(s, "system") != 0)
			return cfg_fail(x, n, "upstream", "expected \"system\" or "
				    "a list of servers");
		x->c->upstream_system = true;
		return 0;
	}
	x->c->upstream_system = false;
	return cfg_each_item(x, n, "upstream", parse_upstream_item);
}

static int parse_local_data(struct cfg *x, const yaml_node_t *n)
{
	return cfg_each_item(x, n, "local-data", parse_local_data_item);
}

static int parse_local_zones(struct cfg *x, const yaml_node_t *n)
{
	return cfg_each_item(x, n, "local-zones", parse_local_zone_item);
}

static const struct section {
	const char *name;
	int (*parse)(struct cfg *x, const yaml_node_t *n);
} sections[] = {
	{ "server", parse_server },
	{ "listen", parse_listen },
	{ "tls", parse_tls },
	{ "doh", parse_doh },
	{ "http", parse_http },
	{ "est", parse_est },
	{ "enroll", parse_enroll },
	{ "discovery", parse_discovery },
	{ "upstream", parse_upstream },
	{ "cache", parse_cache },
	{ "local-data", parse_local_data },
	{ "local-zones", parse_local_zones },
	{ "dnssec", parse_dnssec },
	{ "log", parse_log },
	{ "profiles", cfg_parse_profiles },
	{ "clients", cfg_parse_clients },
	{ "mud", cfg_parse_mud },
};

static int parse_root(struct cfg *x)
{
	const yaml_node_t *root = yaml_document_get_root_node(x->doc);
	if (!root)
		return 0;	/* an empty file: every default */
	if (cfg_check_mapping(x, root, NULL) != 0)
		return -1;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = cfg_node(x, p->key);
		const char *k = cfg_scalar(kn);
		size_t i = 0;
		while (i < ARRAY_SIZE(sections) && strcmp(sections[i].name, k))
			i++;
		if (i == ARRAY_SIZE(sections))
			return cfg_fail(x, kn, k, "unknown section");
		if (sections[i].parse(x, cfg_node(x, p->value)) != 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ defaults and checks */

static void set_defaults(struct anchord_config *c)
{
	char host[256] = "anchord.localdomain";
	if (gethostname(host, sizeof(host) - 1) != 0 || !strchr(host, '.'))
		snprintf(host, sizeof(host), "anchord.localdomain");
	c->name = strdup(host);
	c->state_dir = strdup(ANCHORD_STATE_DIR);
	c->workers = 1;
	c->sandbox = true;
	c->tcp_idle_timeout_ms = 10000;
	c->max_connections_per_client = 256;
	c->max_pipelined = 128;
	c->upstream_system = true;
	c->log_level = LOG_LEVEL_INFO;
	c->queries_max_size = 100ULL << 20;
	policy_conf_defaults(&c->policy);
	c->tls.client_certs = NET_CLIENT_CERT_REQUEST;
	c->tls.handshake_timeout_ms = 5000;
	c->tls.session_tickets = true;
	c->doh_path = strdup("/dns-query");
	c->est.enabled = true;
	c->est.validity = 365 * 86400;
	c->est.retry_after = 60;
	c->est.basic_auth = true;
	c->enroll.enabled = true;
	c->enroll.code_ttl = 86400;
	c->enroll.max_failures = 3;
	c->http.max_streams = 100;
	c->http.buffer_budget = 4ULL << 20;
	c->http.metrics = true;
	/* /metrics tells query rates: loopback only unless configured */
	c->http.metrics_allow = calloc(2, sizeof(*c->http.metrics_allow));
	if (c->http.metrics_allow) {
		util_subnet_parse("127.0.0.0/8", &c->http.metrics_allow[0]);
		util_subnet_parse("::1", &c->http.metrics_allow[1]);
		c->http.n_metrics_allow = 2;
	}
	c->dns.cache_size = 64ULL << 20;
	c->dns.serve_stale = 86400;
	c->dns.min_ttl = 0;
	c->dns.max_ttl = 86400;
	c->dns.max_negative_ttl = 3600;
	c->dns.edns_udp_size = DNS_EDNS_UDP_DEFAULT;
}

static bool is_own_listener(const struct anchord_config *c,
			    const struct util_addr *a)
{
	for (size_t i = 0; i < c->n_listen; i++)
		if (util_addr_equal((const struct sockaddr *)&c->listen[i].addr.ss,
				    (const struct sockaddr *)&a->ss))
			return true;
	return false;
}

/* upstream: system - the nameservers of resolv.conf, except anchord itself
 * (which would make a loop). */
static int system_upstreams(struct cfg *x)
{
	struct anchord_config *c = x->c;
	FILE *fp = fopen(RESOLV_CONF, "r");
	if (!fp)
		return cfg_fail(x, NULL, "upstream", "system: %s: %s", RESOLV_CONF,
			    strerror(errno));
	char line[512];
	while (fgets(line, sizeof(line), fp)) {
		char addr[256];
		struct dns_upstream_conf u = { .transport = DNS_UPSTREAM_UDP };
		if (sscanf(line, " nameserver %255s", addr) != 1 ||
		    util_addr_parse(addr, 53, &u.addr) != 0 ||
		    is_own_listener(c, &u.addr))
			continue;
		void *arr = cfg_grow_array(c->dns.upstreams, &c->dns.n_upstreams,
				       sizeof(u));
		if (!arr)
			break;
		c->dns.upstreams = arr;
		c->dns.upstreams[c->dns.n_upstreams - 1] = u;
	}
	fclose(fp);
	if (c->dns.n_upstreams == 0)
		return cfg_fail(x, NULL, "upstream", "system: no usable nameserver "
			    "in %s", RESOLV_CONF);
	return 0;
}

static int default_listeners(struct anchord_config *c)
{
	static const char *const addrs[] = { "127.0.0.1", "::1" };
	c->listen = calloc(ARRAY_SIZE(addrs), sizeof(*c->listen));
	if (!c->listen)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
		util_addr_parse(addrs[i], 53, &c->listen[i].addr);
		c->listen[i].kind = LISTEN_DNS;
		c->listen[i].max_connections = 1024;
	}
	c->n_listen = ARRAY_SIZE(addrs);
	return 0;
}

static bool is_wildcard(const struct util_addr *a)
{
	static const uint8_t zero[16];
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr == 0;
	return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr, zero,
		      16) == 0;
}

/* The auto certificate names the addresses anchord listens on, so that
 * DDR verified discovery (RFC 9462 4.2) accepts it. */
static int default_tls_addresses(struct anchord_config *c)
{
	for (size_t i = 0; i < c->n_listen; i++) {
		struct util_addr a = c->listen[i].addr;
		if (is_wildcard(&a))
			continue;
		bool seen = false;
		for (size_t j = 0; j < c->tls.n_addresses; j++)
			seen |= util_addr_same_host(
				(struct sockaddr *)&c->tls.addresses[j].ss,
				(struct sockaddr *)&a.ss);
		if (seen)
			continue;
		struct util_addr *arr = cfg_grow_array(c->tls.addresses,
						   &c->tls.n_addresses,
						   sizeof(a));
		if (!arr)
			return -1;
		c->tls.addresses = arr;
		arr[c->tls.n_addresses - 1] = a;
	}
	return 0;
}

void config_server_cert(const struct anchord_config *c, char *out, size_t size)
{
	if (c->tls.certificate)
		snprintf(out, size, "%s", c->tls.certificate);
	else if (util_path_join(out, size, c->state_dir, "server.pem") != 0)
		out[0] = '\0';
}

bool config_listen_is_tls(enum listen_kind kind)
{
	return kind != LISTEN_DNS;
}

bool config_has_tls(const struct anchord_config *c)
{
	for (size_t i = 0; i < c->n_listen; i++)
		if (config_listen_is_tls(c->listen[i].kind))
			return true;
	return false;
}

size_t config_tls_ports(const struct anchord_config *c, uint16_t *ports,
			size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_listen && n < max; i++) {
		if (!config_listen_is_tls(c->listen[i].kind))
			continue;
		uint16_t port = util_addr_port(
			(const struct sockaddr *)&c->listen[i].addr.ss);
		bool seen = false;
		for (size_t j = 0; j < n; j++)
			seen |= ports[j] == port;
		if (!seen)
			ports[n++] = port;
	}
	return n;
}

/* Validation without configured anchors trusts the root's shipped one;
 * DANE needs validation (only a secure TLSA RRset authenticates). */
static int finish_dnssec(struct cfg *x)
{
	struct dns_conf *d = &x->c->dns;
	if (d->dnssec.validation && !x->c->trust_anchors_given &&
	    cfg_push_string(x, NULL, "dnssec.trust-anchors",
			&d->dnssec.trust_anchors, &d->dnssec.n_trust_anchors,
			strdup(ANCHORD_ROOT_KEY)) != 0)
		return -1;
	if (d->dnssec.validation && d->dnssec.n_trust_anchors == 0)
		return cfg_fail(x, NULL, "dnssec.trust-anchors", "validation needs "
			    "at least one trust anchor");
	for (size_t i = 0; i < d->n_upstreams; i++)
		if (d->upstreams[i].dane && !d->dnssec.validation)
			return cfg_fail(x, NULL, "upstream.dane", "needs "
				    "dnssec.validation: true");
	return 0;
}

/* The query log lives with the rest of anchord's state unless told. */
static int default_queries_file(struct anchord_config *c)
{
	char path[PATH_MAX];
	if (util_path_join(path, sizeof(path), c->state_dir, "queries.log"))
		return -1;
	c->queries_file = strdup(path);
	return c->queries_file ? 0 : -1;
}

static int finish(struct cfg *x)
{
	struct anchord_config *c = x->c;
	if (c->n_listen == 0 && default_listeners(c) != 0)
		return cfg_fail(x, NULL, "listen", "out of memory");
	if (c->upstream_system && system_upstreams(x) != 0)
		return -1;
	if (!c->upstream_system && c->dns.n_upstreams == 0)
		return cfg_fail(x, NULL, "upstream", "no upstream server given");
	if (c->dns.min_ttl > c->dns.max_ttl)
		return cfg_fail(x, NULL, "cache.min-ttl", "larger than cache.max-ttl");
	if (!c->tls.certificate != !c->tls.key)
		return cfg_fail(x, NULL, "tls", "certificate and key are both auto "
			    "or both files");
	if (!c->tls.ca_certificate != !c->tls.ca_key)
		return cfg_fail(x, NULL, "tls", "ca-certificate and ca-key go "
			    "together");
	if (!c->tls.addresses_given && default_tls_addresses(c) != 0)
		return cfg_fail(x, NULL, "tls.addresses", "out of memory");
	if (!c->doh_path || ddr_add_records(c) != 0)
		return cfg_fail(x, NULL, "listen", "out of memory");
	if (finish_dnssec(x) != 0 || cfg_finish_policy(x) != 0)
		return -1;
	if (!c->queries_file && default_queries_file(c) != 0)
		return cfg_fail(x, NULL, "log.queries-file", "path too long");
	char why[256];
	if (discovery_add_records(c, why, sizeof(why)) != 0)
		return cfg_fail(x, NULL, "discovery", "%s", why);
	if (c->tls.publish_tlsa && !config_has_tls(c))
		return cfg_fail(x, NULL, "tls.publish-tlsa", "there is no TLS "
			    "listener to publish");
	/* One daemon, one socket: next to its own state unless told. */
	if (!c->control) {
		size_t n = strlen(c->state_dir) + sizeof("/control.sock");
		c->control = malloc(n);
		if (!c->control)
			return cfg_fail(x, NULL, "server.control", "out of memory");
		snprintf(c->control, n, "%s/control.sock", c->state_dir);
	}
	/* edns-tcp-keepalive (RFC 7828) advertises the idle timeout. */
	c->dns.tcp_keepalive_100ms =
		(uint16_t)MIN(c->tcp_idle_timeout_ms / 100, 65535);
	return 0;
}

/* ------------------------------------------------------------------ loading */

static int load(yaml_parser_t *parser, const char *name,
		struct anchord_config *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	set_defaults(out);
	out->file = strdup(name);
	yaml_document_t doc;
	if (!yaml_parser_load(parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: YAML syntax error: %s", name,
			 parser->problem_mark.line + 1,
			 parser->problem_mark.column + 1,
			 parser->problem ? parser->problem : "unreadable");
		config_free(out);
		return -1;
	}
	struct cfg x = { .doc = &doc, .file = name, .err = err,
			 .errlen = errlen, .c = out };
	int ret = (out->name && out->state_dir && out->file)
			  ? parse_root(&x)
			  : cfg_fail(&x, NULL, NULL, "out of memory");
	if (ret == 0)
		ret = finish(&x);
	yaml_document_delete(&doc);
	if (ret != 0)
		config_free(out);
	return ret;
}

int config_load_buffer(const char *text, size_t len, const char *name,
		       struct anchord_config *out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int ret = load(&parser, name, out, err, errlen);
	yaml_parser_delete(&parser);
	return ret;
}

int config_load(const char *path, struct anchord_config *out, char *err,
		size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		fclose(fp);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	yaml_parser_set_input_file(&parser, fp);
	int ret = load(&parser, path, out, err, errlen);
	yaml_parser_delete(&parser);
	fclose(fp);
	return ret;
}

void config_free(struct anchord_config *c)
{
	free(c->file);
	free(c->name);
	free(c->state_dir);
	free(c->control);
	free(c->user);
	free(c->listen);
	free(c->tls.certificate);
	free(c->tls.key);
	free(c->tls.addresses);
	free(c->doh_path);
	free(c->queries_file);
	free(c->http.metrics_allow);
	free(c->tls.ca_certificate);
	free(c->tls.ca_key);
	for (size_t i = 0; i < c->est.n_allowed_domains; i++)
		free(c->est.allowed_domains[i]);
	free(c->est.allowed_domains);
	for (size_t i = 0; i < c->est.n_manufacturer_trust; i++)
		free(c->est.manufacturer_trust[i]);
	free(c->est.manufacturer_trust);
	for (size_t i = 0; i < c->est.n_masa_ca; i++)
		free(c->est.masa_ca[i]);
	free(c->est.masa_ca);
	free(c->enroll.backup_pin);
	free(c->discovery.domain);
	free(c->discovery.instance);
	dns_conf_free(&c->dns);
	policy_conf_free(&c->policy);
	memset(c, 0, sizeof(*c));
}
