/*  anchord - tools/anchorctl.c: the administrator's tool.
 *
 *  anchorctl [-c FILE] pin
 *      The SPKI pin of the certificate anchord serves DoT with, in the form
 *      clients pin it, and the TLSA records (DANE-EE, SPKI, SHA-256) that
 *      publish it.
 */
#include "daemon/daemon.h"
#include "pki/pki.h"

#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: anchorctl [-c FILE] COMMAND\n"
		"\n"
		"  -c, --config FILE  anchord's configuration (default %s)\n"
		"\n"
		"commands:\n"
		"  pin    the SPKI pin of anchord's TLS certificate and the\n"
		"         TLSA records that publish it\n",
		ANCHORD_CONFIG);
}

/* One TLSA record per distinct TLS port (853 when none is configured). */
static void print_tlsa(const struct anchord_config *c, const char *hex)
{
	uint16_t printed[16];
	size_t n = config_tls_ports(c, printed, ARRAY_SIZE(printed));
	if (n == 0)
		printed[n++] = 853;
	for (size_t i = 0; i < n; i++)
		printf("_%u._tcp.%s%s IN TLSA 3 1 1 %s\n", printed[i], c->name,
		       c->name[strlen(c->name) - 1] == '.' ? "" : ".", hex);
}

static int cmd_pin(const struct anchord_config *c)
{
	char path[PATH_MAX];
	if (c->tls.certificate)
		snprintf(path, sizeof(path), "%s", c->tls.certificate);
	else if (util_path_join(path, sizeof(path), c->state_dir, "server.pem"))
		return 1;
	uint8_t digest[PKI_DIGEST_LEN];
	char err[512], pin[PKI_PIN_LEN], hex[PKI_HEX_LEN];
	if (pki_pin_of_file(path, digest, err, sizeof(err)) != 0) {
		fprintf(stderr, "anchorctl: %s\n", err);
		if (!c->tls.certificate)
			fprintf(stderr, "anchorctl: anchord creates it on its "
				"first start with a TLS listener\n");
		return 1;
	}
	pki_pin_to_base64(digest, pin);
	pki_pin_to_hex(digest, hex);
	printf("pin-sha256: %s\n", pin);
	print_tlsa(c, hex);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = ANCHORD_CONFIG;
	int opt;
	while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	log_threshold = LOG_LEVEL_WARNING;
	struct anchord_config c;
	char err[1024];
	if (config_load(config, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "anchorctl: %s\n", err);
		return 1;
	}
	int ret = 2;
	if (strcmp(argv[optind], "pin") == 0 && optind + 1 == argc)
		ret = cmd_pin(&c);
	else
		usage(stderr);
	config_free(&c);
	return ret;
}
