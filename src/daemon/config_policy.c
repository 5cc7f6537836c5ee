/*  anchord - daemon/config_policy.c: the profiles, clients and mud sections
 *  of anchord.conf (anchord.conf(5), doc/POLICY.md).
 */
#include "daemon/config_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A list of strings, or one string where one is natural. */
int cfg_string_list(struct cfg *x, const yaml_node_t *n, const char *key,
		    bool path, char ***v, size_t *count)
{
	const char *one = cfg_scalar(n);
	if (one && !*one)
		return cfg_fail(x, n, key, "must not be empty");
	if (one)
		return cfg_push_string(x, n, key, v, count,
				   path ? util_path_relative_to(x->file, one)
					: strdup(one));
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return cfg_fail(x, n, key, "expected a list");
	for (yaml_node_item_t *i = n->data.sequence.items.start;
	     i < n->data.sequence.items.top; i++) {
		const yaml_node_t *item = cfg_node(x, *i);
		const char *s = cfg_need_scalar(x, item, key);
		if (!s)
			return -1;
		if (!*s)
			return cfg_fail(x, item, key, "must not be empty");
		if (cfg_push_string(x, item, key, v, count,
				path ? util_path_relative_to(x->file, s)
				     : strdup(s)) != 0)
			return -1;
	}
	return 0;
}

static int check_domains(struct cfg *x, const yaml_node_t *n, const char *key,
			 char *const *names, size_t count)
{
	uint8_t wire[DNS_MAX_NAME];
	for (size_t i = 0; i < count; i++) {
		const char *s = names[i];
		if (strncmp(s, "*.", 2) == 0)
			s += 2;
		if (dns_name_from_str(s, wire) < 2)
			return cfg_fail(x, n, key, "\"%s\" is not a domain name",
				    names[i]);
	}
	return 0;
}

static int parse_mud_mode(struct cfg *x, const yaml_node_t *n, const char *key,
			  enum policy_mud_mode *mode)
{
	bool b;
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (strcmp(s, "required") == 0)
		*mode = POLICY_MUD_REQUIRED;
	else if (strcmp(s, "optional") == 0)
		*mode = POLICY_MUD_OPTIONAL;
	else if (strcmp(s, "off") == 0 || (util_parse_bool(s, &b) == 0 && !b))
		*mode = POLICY_MUD_OFF;
	else
		return cfg_fail(x, n, key, "expected required, optional or off");
	return 0;
}

static int parse_profile_value(struct cfg *x, struct policy_profile_conf *p,
			       const char *k, const yaml_node_t *v)
{
	char key[96];
	snprintf(key, sizeof(key), "profiles.%s.%s", p->name, k);
	if (strcmp(k, "blocklists") == 0)
		return cfg_string_list(x, v, key, true, &p->blocklists,
				   &p->n_blocklists);
	if (strcmp(k, "block") == 0)
		return cfg_string_list(x, v, key, false, &p->block, &p->n_block) ||
		       check_domains(x, v, key, p->block, p->n_block);
	if (strcmp(k, "allow") == 0)
		return cfg_string_list(x, v, key, false, &p->allow, &p->n_allow) ||
		       check_domains(x, v, key, p->allow, p->n_allow);
	if (strcmp(k, "mud") == 0)
		return parse_mud_mode(x, v, key, &p->mud);
	return cfg_fail(x, v, key, "unknown key");
}

static int parse_profile(struct cfg *x, const yaml_node_t *kn,
			 const yaml_node_t *vn)
{
	struct policy_conf *pc = &x->c->policy;
	const char *name = cfg_scalar(kn);
	if (!*name || strlen(name) > 63)
		return cfg_fail(x, kn, "profiles", "a profile name has 1 to 63 "
			    "characters");
	struct policy_profile_conf *arr = cfg_grow_array(
		pc->profiles, &pc->n_profiles, sizeof(*arr));
	if (!arr)
		return cfg_fail(x, kn, "profiles", "out of memory");
	pc->profiles = arr;
	struct policy_profile_conf *p = &arr[pc->n_profiles - 1];
	p->line = (unsigned)kn->start_mark.line + 1;
	if (!(p->name = cfg_dup_str(x, kn, name)))
		return -1;
	if (cfg_scalar(vn) && !*cfg_scalar(vn))
		return 0;	/* "default:" with nothing after it */
	if (cfg_check_mapping(x, vn, "profiles") != 0)
		return -1;
	for (yaml_node_pair_t *q = vn->data.mapping.pairs.start;
	     q < vn->data.mapping.pairs.top; q++)
		if (parse_profile_value(x, p, cfg_scalar(cfg_node(x, q->key)),
					cfg_node(x, q->value)) != 0)
			return -1;
	return 0;
}

int cfg_parse_profiles(struct cfg *x, const yaml_node_t *n)
{
	if (cfg_check_mapping(x, n, "profiles") != 0)
		return -1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++)
		if (parse_profile(x, cfg_node(x, p->key), cfg_node(x, p->value)) != 0)
			return -1;
	return 0;
}

static int parse_client_subnet(struct cfg *x, const yaml_node_t *n,
			       const char *key)
{
	struct policy_client_conf *r = x->current;
	return cfg_append_subnet(x, n, key, &r->subnets, &r->n_subnets);
}

static int parse_client_flag(struct cfg *x, const yaml_node_t *item,
			     const char *k, bool *out)
{
	const yaml_node_t *n = cfg_item_value(x, item, k);
	char key[64];
	snprintf(key, sizeof(key), "clients.%s", k);
	if (!n)
		return 0;
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (util_parse_bool(s, out) != 0)
		return cfg_fail(x, n, key, "expected true or false");
	return 0;
}

static int parse_client_text(struct cfg *x, const yaml_node_t *item,
			     const char *k, char **out)
{
	const yaml_node_t *n = cfg_item_value(x, item, k);
	char key[64];
	snprintf(key, sizeof(key), "clients.%s", k);
	if (!n)
		return 0;
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (!*s || strlen(s) > 63)
		return cfg_fail(x, n, key, "expected 1 to 63 characters");
	return (*out = cfg_dup_str(x, n, s)) ? 0 : -1;
}

static int parse_client_item(struct cfg *x, const yaml_node_t *item,
			     const char *key)
{
	static const char *const keys[] = {
		"subnet", "device", "client-id", "certificate-profile",
		"certificate-mud", "profile", NULL,
	};
	struct policy_conf *pc = &x->c->policy;
	if (cfg_check_item_keys(x, item, key, keys) != 0)
		return -1;
	struct policy_client_conf *arr = cfg_grow_array(
		pc->clients, &pc->n_clients, sizeof(*arr));
	if (!arr)
		return cfg_fail(x, item, key, "out of memory");
	pc->clients = arr;
	struct policy_client_conf *r = &arr[pc->n_clients - 1];
	r->line = (unsigned)item->start_mark.line + 1;
	x->current = r;
	const yaml_node_t *sn = cfg_item_value(x, item, "subnet");
	if (sn && (cfg_scalar(sn) ? parse_client_subnet(x, sn, "clients.subnet")
			      : cfg_each_item(x, sn, "clients.subnet",
					  parse_client_subnet)) != 0)
		return -1;
	if (parse_client_text(x, item, "device", &r->device) ||
	    parse_client_text(x, item, "client-id", &r->client_id) ||
	    parse_client_text(x, item, "profile", &r->profile) ||
	    parse_client_flag(x, item, "certificate-profile",
			      &r->certificate_profile) ||
	    parse_client_flag(x, item, "certificate-mud", &r->certificate_mud))
		return -1;
	if (!r->profile && !r->certificate_profile)
		return cfg_fail(x, item, key, "needs a profile (or "
			    "certificate-profile: true)");
	if (r->profile && r->certificate_profile)
		return cfg_fail(x, item, key, "profile and certificate-profile "
			    "exclude each other");
	return 0;
}

int cfg_parse_clients(struct cfg *x, const yaml_node_t *n)
{
	return cfg_each_item(x, n, "clients", parse_client_item);
}

static int parse_mud_signers(struct cfg *x, const yaml_node_t *n,
			     const char *key)
{
	struct policy_mud_conf *m = &x->c->policy.mud;
	return cfg_string_list(x, n, key, true, &m->signers, &m->n_signers);
}

static int parse_mud_fetch_ca(struct cfg *x, const yaml_node_t *n,
			      const char *key)
{
	struct policy_mud_conf *m = &x->c->policy.mud;
	return cfg_string_list(x, n, key, true, &m->fetch_ca, &m->n_fetch_ca);
}

static int parse_block_rcode(struct cfg *x, const yaml_node_t *n,
			     const char *key)
{
	const char *s = cfg_need_scalar(x, n, key);
	if (!s)
		return -1;
	if (strcasecmp(s, "nxdomain") == 0)
		x->c->policy.mud.block_rcode = DNS_RCODE_NXDOMAIN;
	else if (strcasecmp(s, "refused") == 0)
		x->c->policy.mud.block_rcode = DNS_RCODE_REFUSED;
	else
		return cfg_fail(x, n, key, "expected nxdomain or refused");
	return 0;
}

static const struct field mud_fields[] = {
	{ .key = "signers", .type = F_CUSTOM, .parse = parse_mud_signers },
	{ .key = "require-signature", .type = F_BOOL,
	  .offset = CFG(policy.mud.require_signature) },
	{ .key = "fetch", .type = F_BOOL, .offset = CFG(policy.mud.fetch) },
	{ .key = "fetch-ca", .type = F_CUSTOM, .parse = parse_mud_fetch_ca },
	{ .key = "fetch-timeout", .type = F_DURATION_MS,
	  .offset = CFG(policy.mud.fetch_timeout_ms), .min = 1000,
	  .max = 600000 },
	{ .key = "retry", .type = F_DURATION_MS,
	  .offset = CFG(policy.mud.retry_ms), .min = 1000,
	  .max = 7 * 86400000ULL },
	{ .key = "block-rcode", .type = F_CUSTOM, .parse = parse_block_rcode },
	{ .key = "nftables", .type = F_BOOL, .offset = CFG(policy.mud.nftables) },
	{ .key = "nftables-table", .type = F_STRING,
	  .offset = CFG(policy.mud.nftables_table) },
	{ NULL },
};

int cfg_parse_mud(struct cfg *x, const yaml_node_t *n)
{
	return cfg_parse_fields(x, n, "mud", mud_fields);
}

/* Every profile a rule names exists; "default" need not be written. */
int cfg_finish_policy(struct cfg *x)
{
	struct policy_conf *pc = &x->c->policy;
	for (size_t i = 0; i < pc->n_clients; i++) {
		const char *p = pc->clients[i].profile;
		if (p && policy_conf_profile(pc, p) < 0 &&
		    strcmp(p, "default") != 0) {
			snprintf(x->err, x->errlen, "%s:%u: clients.profile: "
				 "no profile named \"%s\"", x->file,
				 pc->clients[i].line, p);
			return -1;
		}
	}
	if (!pc->mud.nftables_table &&
	    !(pc->mud.nftables_table = strdup("anchord")))
		return cfg_fail(x, NULL, "mud.nftables-table", "out of memory");
	/* It goes into nft commands: a plain identifier, nothing more. */
	const char *t = pc->mud.nftables_table;
	size_t n = strlen(t);
	if (n == 0 || n > 63 || !isalpha((unsigned char)t[0]) ||
	    strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_") != n)
		return cfg_fail(x, NULL, "mud.nftables-table", "\"%s\": letters, "
			    "digits and '_', starting with a letter, at most 63",
			    t);
	return 0;
}
