/*  anchord - daemon/discovery.c: DNS-SD records for the EST service.
 *
 *  The first step of draft-reddy-add-iot-byod-bootstrap (4.1) is to find
 *  the EST server with DNS-SD (RFC 6763): a PTR query for _est._tcp in
 *  the enterprise domain. With discovery.dns-sd, anchord answers it from
 *  local data, under discovery.domain (default: the parent of
 *  server.name):
 *
 *    _services._dns-sd._udp.D. PTR _est._tcp.D.          (RFC 6763 9)
 *    _est._tcp.D.              PTR I._est._tcp.D.
 *    I._est._tcp.D.            SRV 0 0 <port> <server.name>.
 *    I._est._tcp.D.            TXT "txtvers=1" "path=/.well-known/est"
 *                                  "enroll=/.well-known/anchor/v1"
 *    <server.name>.            A / AAAA  <tls.addresses>
 *
 *  I is discovery.instance; port is the first https listener's. enroll=
 *  is there only when PAKE enrollment is enabled. The TXT record carries
 *  no SPKI pin on purpose: an unauthenticated answer cannot vouch for a
 *  key; the PAKE authenticates anchord (PROTOCOLS.md 1.1). The address
 *  records are added only when server.name has no local data and lies in
 *  no local zone, so that what the operator wrote wins.
 */
#include "daemon/daemon.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DISCOVERY_TTL 300
#define EST_PATH "/.well-known/est"
#define ENROLL_PATH "/.well-known/anchor/v1"

static int add_record(struct anchord_config *c, const char *text)
{
	return config_add_record(c, text, "(discovery records)");
}

/* name with exactly one trailing dot, into out. */
static void absolute(const char *name, char *out, size_t size)
{
	size_t len = strlen(name);
	snprintf(out, size, "%.*s.", (int)(len && name[len - 1] == '.' ?
					   len - 1 : len), name);
}

/* The instance is one DNS label; a space (allowed by DNS-SD and usual
 * in instance names) goes to the zone-file parser as \032. */
static int instance_label(const char *s, char *out, size_t size,
			  char *err, size_t errlen)
{
	size_t len = strlen(s), o = 0;
	if (len == 0 || len > 63) {
		snprintf(err, errlen, "instance: 1 to 63 characters");
		return -1;
	}
	for (; *s && o + 5 < size; s++) {
		if (*s == ' ') {
			o += (size_t)snprintf(out + o, size - o, "\\032");
			continue;
		}
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_') {
			snprintf(err, errlen, "instance: letters, digits, "
				 "'-', '_' and spaces only");
			return -1;
		}
		out[o++] = *s;
	}
	out[o] = '\0';
	return 0;
}

static int default_domain(const struct anchord_config *c, char *out,
			  size_t size, char *err, size_t errlen)
{
	const char *dot = strchr(c->name, '.');
	if (!dot || !dot[1] || strcmp(dot, ".") == 0) {
		snprintf(err, errlen, "server.name %s has no parent domain: "
			 "set discovery.domain", c->name);
		return -1;
	}
	absolute(dot + 1, out, size);
	return 0;
}

static uint16_t first_https_port(const struct anchord_config *c)
{
	for (size_t i = 0; i < c->n_listen; i++)
		if (c->listen[i].kind == LISTEN_HTTPS)
			return util_addr_port(
				(const struct sockaddr *)&c->listen[i].addr.ss);
	return 0;
}

/* Whether name is zone or below it, both absolute, case-insensitively. */
static bool in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);
	if (strcmp(zone, ".") == 0)
		return true;
	return n >= z && strcasecmp(name + n - z, zone) == 0 &&
	       (n == z || name[n - z - 1] == '.');
}

/* Whether the operator's local data or local zones already speak for
 * server.name. */
static bool name_is_local(const struct anchord_config *c, const char *name)
{
	char owner[DNS_MAX_NAME * 4 + 2], zone[DNS_MAX_NAME * 4 + 2];
	for (size_t i = 0; i < c->dns.n_zones; i++) {
		absolute(c->dns.zones[i].name, zone, sizeof(zone));
		if (in_zone(name, zone))
			return true;
	}
	for (size_t i = 0; i < c->dns.n_data; i++) {
		int len = (int)strcspn(c->dns.data[i].text, " \t");
		snprintf(owner, sizeof(owner), "%.*s", len, c->dns.data[i].text);
		absolute(owner, zone, sizeof(zone));
		if (strcasecmp(zone, name) == 0)
			return true;
	}
	return false;
}

static int add_address_records(struct anchord_config *c, const char *name)
{
	if (name_is_local(c, name))
		return 0;
	for (size_t i = 0; i < c->tls.n_addresses; i++) {
		const struct util_addr *a = &c->tls.addresses[i];
		bool v4 = a->ss.ss_family == AF_INET;
		char host[INET6_ADDRSTRLEN], rr[DNS_MAX_NAME * 4 + 100];
		inet_ntop(a->ss.ss_family,
			  v4 ? (const void *)&((const struct sockaddr_in *)&a->ss)->sin_addr
			     : (const void *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
			  host, sizeof(host));
		snprintf(rr, sizeof(rr), "%s %d IN %s %s", name, DISCOVERY_TTL,
			 v4 ? "A" : "AAAA", host);
		if (add_record(c, rr) != 0)
			return -1;
	}
	return 0;
}

static int add_service_records(struct anchord_config *c, const char *domain,
			       const char *instance, const char *target,
			       uint16_t port)
{
	char rr[4][3072];	/* two names of up to 1023 characters and more */
	snprintf(rr[0], sizeof(rr[0]), "_services._dns-sd._udp.%s %d IN PTR "
		 "_est._tcp.%s", domain, DISCOVERY_TTL, domain);
	snprintf(rr[1], sizeof(rr[1]), "_est._tcp.%s %d IN PTR %s._est._tcp.%s",
		 domain, DISCOVERY_TTL, instance, domain);
	snprintf(rr[2], sizeof(rr[2]), "%s._est._tcp.%s %d IN SRV 0 0 %u %s",
		 instance, domain, DISCOVERY_TTL, port, target);
	snprintf(rr[3], sizeof(rr[3]), "%s._est._tcp.%s %d IN TXT \"txtvers=1\" "
		 "\"path=" EST_PATH "\"%s", instance, domain, DISCOVERY_TTL,
		 c->enroll.enabled ? " \"enroll=" ENROLL_PATH "\"" : "");
	for (size_t i = 0; i < ARRAY_SIZE(rr); i++)
		if (add_record(c, rr[i]) != 0)
			return -1;
	return 0;
}

int discovery_add_records(struct anchord_config *c, char *err, size_t errlen)
{
	char domain[DNS_MAX_NAME * 4 + 2], instance[64 * 4 + 1];
	char target[DNS_MAX_NAME * 4 + 2];
	uint16_t port = first_https_port(c);
	if (!c->discovery.dns_sd)
		return 0;
	if (!port || !c->est.enabled) {
		snprintf(err, errlen, "dns-sd: needs an https listener and "
			 "est.enabled");
		return -1;
	}
	if (c->discovery.domain)
		absolute(c->discovery.domain, domain, sizeof(domain));
	else if (default_domain(c, domain, sizeof(domain), err, errlen) != 0)
		return -1;
	if (instance_label(c->discovery.instance ? c->discovery.instance
			   : "anchord", instance, sizeof(instance), err,
			   errlen) != 0)
		return -1;
	absolute(c->name, target, sizeof(target));
	if (add_service_records(c, domain, instance, target, port) != 0 ||
	    add_address_records(c, target) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
