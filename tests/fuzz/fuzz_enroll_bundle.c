/*  anchord - tests/fuzz/fuzz_enroll_bundle.c: what anchor-enroll parses
 *  from the outside.
 *
 *  The input is tried three ways: as an opened bundle (JSON from the
 *  server), as an enrollment URI (from a QR code) and as a typed code.
 *  The bundle's parser must either refuse with a reason or hand back
 *  members that are safe to write into configuration files; each writer
 *  that needs no key material then runs on it.
 */
#include "enroll/enroll.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	return 0;
}

static void render_all(const struct enroll_bundle *b)
{
	struct enroll_setup s = { .b = b, .ca_path = "/s/ca.pem",
				  .cert_path = "/s/cert.pem",
				  .key_path = "/s/key.pem",
				  .cert_pem = NULL, .key_pem = NULL };
	char err[256];
	for (int f = 0; f < ENROLL_FMT_COUNT; f++) {
		if (f == ENROLL_FMT_MOBILECONFIG)
			continue;	/* needs a real key; unit-tested */
		err[0] = '\0';
		char *text = enroll_render(f, &s, err, sizeof(err));
		if (!text && err[0] == '\0')
			abort();
		free(text);
	}
}

static void try_bundle(const char *text)
{
	struct enroll_bundle b;
	char why[256] = "";
	if (enroll_bundle_parse(text, &b, why, sizeof(why)) != 0) {
		if (why[0] == '\0')
			abort();	/* every refusal says why */
	} else {
		if (b.n_addresses == 0 || b.n_pins == 0 || !b.ca_pem ||
		    !enroll_device_name_valid(b.device) ||
		    (b.dot_port == 0 && b.doh_template[0] == '\0'))
			abort();
		render_all(&b);
	}
	enroll_bundle_free(&b);
}

static void try_uri_and_code(const char *text)
{
	struct enroll_uri u;
	struct enroll_code c;
	char why[128] = "";
	if (enroll_uri_parse(text, &u, why, sizeof(why)) != 0) {
		if (why[0] == '\0')
			abort();
	} else if (!enroll_code_id_valid(u.code.id) || u.port == 0 ||
		   u.host[0] == '\0') {
		abort();
	}
	if (enroll_code_parse(text, &c) == 0 && !enroll_code_id_valid(c.id))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	try_bundle(text);
	try_uri_and_code(text);
	free(text);
	return 0;
}
