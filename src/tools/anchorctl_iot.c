/*  anchord - tools/anchorctl_iot.c: which IoT devices may enroll with
 *  their IDevID (802.1AR): anchorctl iot allow | list | remove.
 *
 *  A rule names the manufacturer CA that issued the IDevID (by its PEM
 *  file or its subject DN, as RFC 4514 prints it), and one serial, a
 *  shell pattern of serials, or every serial of that manufacturer. EST
 *  admits a device by the first rule that matches, which also gives its
 *  LDevID a profile.
 */
#include "tools/anchorctl.h"
#include "store/store.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The subject DN of the first certificate of a PEM file; 1 when path is
 * not a readable file (then it is taken for a DN). */
static int issuer_of_file(const char *path, char *out, size_t cap)
{
	gnutls_datum_t pem = { NULL, 0 }, dn = { NULL, 0 };
	if (gnutls_load_file(path, &pem) < 0)
		return 1;
	gnutls_x509_crt_t crt;
	int ret = gnutls_x509_crt_init(&crt);
	if (ret < 0) {
		gnutls_free(pem.data);
		return -1;
	}
	ret = gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM);
	if (ret >= 0)
		ret = gnutls_x509_crt_get_dn3(crt, &dn, 0);
	if (ret >= 0)
		snprintf(out, cap, "%s", (const char *)dn.data);
	else
		fprintf(stderr, "anchorctl: %s: %s\n", path,
			gnutls_strerror(ret));
	gnutls_x509_crt_deinit(crt);
	gnutls_free(dn.data);
	gnutls_free(pem.data);
	return ret >= 0 ? 0 : -1;
}

static bool profile_known(struct ctl *c, const char *name)
{
	for (size_t i = 0; i < c->conf.policy.n_profiles; i++)
		if (strcmp(c->conf.policy.profiles[i].name, name) == 0)
			return true;
	return false;
}

static int add_rule(struct ctl *c, struct store_iot_allow *a)
{
	char detail[800];
	a->added_at = time(NULL);
	if (store_iot_allow_add(c->store, a) != 0) {
		fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
		return 1;
	}
	snprintf(detail, sizeof(detail), "rule %lld: %s %s of %s, profile %s",
		 (long long)a->id, a->pattern ? "serials" : "serial",
		 a->serial[0] ? a->serial : "any",
		 a->issuer[0] ? a->issuer : "any trusted manufacturer",
		 a->profile[0] ? a->profile : "(default)");
	if (audit(c, "iot-allow", detail) != 0)
		return 1;
	printf("%s\n", detail);
	return 0;
}

/* What the rules will say, checked before any is added. */
static int rule_template(struct ctl *c, struct store_iot_allow *a)
{
	const char *issuer = option(c, "--issuer");
	const char *profile = option(c, "--profile");
	*a = (struct store_iot_allow){ 0 };
	if (issuer) {
		int ret = issuer_of_file(issuer, a->issuer, sizeof(a->issuer));
		if (ret < 0)
			return 2;
		if (ret == 1)	/* not a file: a DN as RFC 4514 prints it */
			snprintf(a->issuer, sizeof(a->issuer), "%s", issuer);
	}
	if (profile && !profile_known(c, profile)) {
		fprintf(stderr, "anchorctl: no profile \"%s\" in the "
			"configuration\n", profile);
		return 2;
	}
	snprintf(a->profile, sizeof(a->profile), "%s", profile ? profile : "");
	if (c->conf.est.n_manufacturer_trust == 0)
		fprintf(stderr, "anchorctl: note: est.manufacturer-trust is "
			"empty, so no IDevID can enroll yet\n");
	return 0;
}

int cmd_iot_allow(struct ctl *c)
{
	struct store_iot_allow a;
	int ret = rule_template(c, &a);
	if (ret != 0)
		return ret;
	const char *pattern = option(c, "--pattern");
	bool serials = false;
	for (int i = 0; ret == 0 && i < c->argc; i++) {
		if (strncmp(c->argv[i], "--", 2) == 0) {
			i++;		/* every option takes a value */
			continue;
		}
		struct store_iot_allow one = a;
		snprintf(one.serial, sizeof(one.serial), "%s", c->argv[i]);
		ret = add_rule(c, &one);
		serials = true;
	}
	if (ret != 0 || serials) {
		if (ret == 0)
			tell_daemon(c);
		return ret;
	}
	if (!pattern && !a.issuer[0]) {
		fprintf(stderr, "anchorctl: iot allow needs SERIALs, --pattern "
			"GLOB or --issuer (every device of a manufacturer)\n");
		return 2;
	}
	a.pattern = pattern != NULL;
	snprintf(a.serial, sizeof(a.serial), "%s", pattern ? pattern : "");
	ret = add_rule(c, &a);
	if (ret == 0)
		tell_daemon(c);
	return ret;
}

static int print_rule(void *ctx, const struct store_iot_allow *a)
{
	char when[32];
	time_t t = (time_t)a->added_at;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	printf("%lld\t%s=%s\tissuer=%s\tprofile=%s\tadded=%s\n",
	       (long long)a->id, a->pattern ? "pattern" : "serial",
	       a->serial[0] ? a->serial : "*", a->issuer[0] ? a->issuer : "*",
	       a->profile[0] ? a->profile : "-", when);
	return 0;
}

int cmd_iot_list(struct ctl *c)
{
	if (store_iot_allow_each(c->store, print_rule, NULL) != 0) {
		fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
		return 1;
	}
	return 0;
}

int cmd_iot_remove(struct ctl *c)
{
	char *end;
	long long id = c->argc == 1 ? strtoll(c->argv[0], &end, 10) : 0;
	if (id <= 0 || *end) {
		fprintf(stderr, "anchorctl: iot remove needs a rule number "
			"(iot list)\n");
		return 2;
	}
	int ret = store_iot_allow_del(c->store, id);
	if (ret < 0) {
		fprintf(stderr, "anchorctl: %s\n", store_error(c->store));
		return 1;
	}
	if (ret > 0) {
		fprintf(stderr, "anchorctl: no rule %lld\n", id);
		return 1;
	}
	char detail[32];
	snprintf(detail, sizeof(detail), "rule %lld", id);
	if (audit(c, "iot-remove", detail) != 0)
		return 1;
	printf("removed rule %lld\n", id);
	tell_daemon(c);
	return 0;
}
