/*  anchord - dns/env.c: configuration generations.
 *
 *  A reload builds a new environment next to the old one; workers switch
 *  between two requests, and the old one lives on until the last request
 *  that started under it is answered.
 */
#include "dns/internal.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A deep copy of a string vector; NULL (with *n 0) when out of memory. */
static char **dup_strings(char *const *v, size_t *n)
{
	char **d = calloc(*n + 1, sizeof(*d));
	for (size_t i = 0; d && i < *n; i++) {
		if (!(d[i] = strdup(v[i]))) {
			free_strings(d, i);
			d = NULL;
		}
	}
	if (!d)
		*n = 0;
	return d;
}

static bool same_strings(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

bool dns_conf_same_dnssec(const struct dns_conf *a, const struct dns_conf *b)
{
	const struct dns_dnssec_conf *x = &a->dnssec, *y = &b->dnssec;
	return x->validation == y->validation &&
	       same_strings(x->trust_anchors, x->n_trust_anchors,
			    y->trust_anchors, y->n_trust_anchors) &&
	       same_strings(x->negative, x->n_negative, y->negative,
			    y->n_negative);
}

void dns_conf_free(struct dns_conf *c)
{
	for (size_t i = 0; i < c->n_upstreams; i++) {
		free(c->upstreams[i].name);
		free(c->upstreams[i].ca_file);
	}
	for (size_t i = 0; i < c->n_zones; i++) {
		free(c->zones[i].name);
		free(c->zones[i].file);
		free((char *)c->zones[i].origin.file);
	}
	for (size_t i = 0; i < c->n_data; i++) {
		free(c->data[i].text);
		free((char *)c->data[i].origin.file);
	}
	free(c->zones);
	free(c->data);
	free(c->upstreams);
	free_strings(c->dnssec.trust_anchors, c->dnssec.n_trust_anchors);
	free_strings(c->dnssec.negative, c->dnssec.n_negative);
	memset(c, 0, sizeof(*c));
}

/* The copy owns every string, origins included, so the environment outlives
 * the parsed configuration it came from. */
static int conf_copy(struct dns_conf *dst, const struct dns_conf *src)
{
	*dst = *src;
	dst->upstreams = calloc(src->n_upstreams + 1, sizeof(*dst->upstreams));
	dst->zones = calloc(src->n_zones + 1, sizeof(*dst->zones));
	dst->data = calloc(src->n_data + 1, sizeof(*dst->data));
	dst->dnssec.trust_anchors = dup_strings(src->dnssec.trust_anchors,
						&dst->dnssec.n_trust_anchors);
	dst->dnssec.negative = dup_strings(src->dnssec.negative,
					   &dst->dnssec.n_negative);
	if (!dst->upstreams || !dst->zones || !dst->data ||
	    !dst->dnssec.trust_anchors || !dst->dnssec.negative) {
		dst->n_zones = dst->n_data = dst->n_upstreams = 0;
		return -1;
	}
	for (size_t i = 0; i < src->n_upstreams; i++) {
		dst->upstreams[i] = src->upstreams[i];
		dst->upstreams[i].name = dup_or_null(src->upstreams[i].name);
		dst->upstreams[i].ca_file = dup_or_null(src->upstreams[i].ca_file);
	}
	for (size_t i = 0; i < src->n_zones; i++) {
		const struct dns_local_zone_conf *z = &src->zones[i];
		dst->zones[i] = (struct dns_local_zone_conf){
			.name = dup_or_null(z->name),
			.file = dup_or_null(z->file),
			.type = z->type,
			.origin = { dup_or_null(z->origin.file), z->origin.line },
		};
	}
	for (size_t i = 0; i < src->n_data; i++) {
		const struct dns_local_data_conf *d = &src->data[i];
		dst->data[i] = (struct dns_local_data_conf){
			.text = dup_or_null(d->text),
			.origin = { dup_or_null(d->origin.file), d->origin.line },
		};
	}
	return 0;
}

struct dns_env *dns_env_build(const struct dns_conf *conf, char *err,
			      size_t errlen)
{
	struct dns_env *env = calloc(1, sizeof(*env));
	if (!env || conf_copy(&env->conf, conf) != 0) {
		snprintf(err, errlen, "out of memory");
		if (env)
			dns_conf_free(&env->conf);
		free(env);
		return NULL;
	}
	atomic_init(&env->refs, 1);
	env->local = dns_local_build(&env->conf, err, errlen);
	if (env->local && env->conf.dnssec.validation)
		env->trust = dns_trust_build(&env->conf.dnssec, err, errlen);
	if (!env->local || (env->conf.dnssec.validation && !env->trust)) {
		dns_local_free(env->local);
		dns_conf_free(&env->conf);
		free(env);
		return NULL;
	}
	return env;
}

void dns_env_ref(struct dns_env *env)
{
	atomic_fetch_add_explicit(&env->refs, 1, memory_order_relaxed);
}

void dns_env_unref(struct dns_env *env)
{
	if (atomic_fetch_sub_explicit(&env->refs, 1, memory_order_acq_rel) != 1)
		return;
	dns_local_free(env->local);
	dns_trust_free(env->trust);
	dns_conf_free(&env->conf);
	free(env);
}

const struct dns_conf *dns_env_conf(const struct dns_env *env)
{
	return &env->conf;
}
