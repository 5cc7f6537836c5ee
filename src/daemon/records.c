/*  anchord - daemon/records.c: records anchord answers about itself.
 *
 *  Derived from the configuration and added to local data as if the
 *  operator had written them: the DDR records here, the DNS-SD records in
 *  discovery.c, the TLSA records in main.c (they need the certificate).
 */
#include "daemon/daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int config_add_record(struct anchord_config *c, const char *text,
		      const char *origin)
{
	struct dns_local_data_conf *arr = realloc(c->dns.data,
		(c->dns.n_data + 1) * sizeof(*arr));
	if (!arr)
		return -1;
	c->dns.data = arr;
	struct dns_local_data_conf *e = &arr[c->dns.n_data++];
	*e = (struct dns_local_data_conf){
		.text = strdup(text),
		.origin = { strdup(origin), 0 },
	};
	return e->text && e->origin.file ? 0 : -1;
}

/* ipv4hint=...,... ipv6hint=... from the certificate's addresses. */
static void address_hints(const struct anchord_config *c, char *out,
			  size_t size)
{
	char v4[512] = "", v6[1024] = "";
	for (size_t i = 0; i < c->tls.n_addresses; i++) {
		const struct util_addr *a = &c->tls.addresses[i];
		char host[INET6_ADDRSTRLEN];
		bool is4 = a->ss.ss_family == AF_INET;
		inet_ntop(a->ss.ss_family,
			  is4 ? (const void *)&((const struct sockaddr_in *)&a->ss)->sin_addr
			      : (const void *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
			  host, sizeof(host));
		char *list = is4 ? v4 : v6;
		size_t cap = is4 ? sizeof(v4) : sizeof(v6), len = strlen(list);
		snprintf(list + len, cap - len, "%s%s", len ? "," : "", host);
	}
	snprintf(out, size, "%s%s%s%s", v4[0] ? " ipv4hint=" : "", v4,
		 v6[0] ? " ipv6hint=" : "", v6);
}

/* Discovery of Designated Resolvers (RFC 9462): anchord answers
 * _dns.resolver.arpa and _dns.<server.name> SVCB itself, one record per
 * encrypted endpoint, DoH first. Its certificate carries the same
 * addresses, so that verified discovery accepts it. */
int ddr_add_records(struct anchord_config *c)
{
	const char *owners[] = { "_dns.resolver.arpa.", NULL };
	char own[300];
	bool dot = c->name[strlen(c->name) - 1] == '.';
	snprintf(own, sizeof(own), "_dns.%s%s", c->name, dot ? "" : ".");
	owners[1] = own;
	char hints[1600];
	address_hints(c, hints, sizeof(hints));
	for (size_t i = 0; i < c->n_listen; i++) {
		const struct listen_conf *l = &c->listen[i];
		if (l->kind == LISTEN_DNS)
			continue;
		unsigned port = util_addr_port((const struct sockaddr *)&l->addr.ss);
		bool https = l->kind == LISTEN_HTTPS;
		for (size_t o = 0; o < ARRAY_SIZE(owners); o++) {
			char rr[2400];
			snprintf(rr, sizeof(rr), "%s 300 IN SVCB %d %s%s alpn=%s "
				 "port=%u%s%s%s%s", owners[o], https ? 1 : 2,
				 c->name, dot ? "" : ".",
				 https ? "h2,http/1.1" : "dot", port,
				 https ? " dohpath=" : "",
				 https ? c->doh_path : "",
				 https ? "{?dns}" : "", hints);
			if (config_add_record(c, rr, "(DDR records)") != 0)
				return -1;
		}
	}
	return 0;
}
