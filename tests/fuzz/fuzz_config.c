/*  anchord - tests/fuzz/fuzz_config.c: anchord.conf (YAML). */
#include "daemon/daemon.h"

#include <sodium.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	util_hash_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct anchord_config c;
	char err[512];
	if (config_load_buffer((const char *)data, size, "fuzz.conf", &c, err,
			       sizeof(err)) != 0)
		return 0;
	/* Local data is parsed when the environment is built; zone files are
	 * left out (their paths come from the input). */
	bool files = false;
	for (size_t i = 0; i < c.dns.n_zones; i++)
		files |= c.dns.zones[i].file != NULL;
	if (!files) {
		struct dns_env *env = dns_env_build(&c.dns, err, sizeof(err));
		if (env)
			dns_env_unref(env);
	}
	config_free(&c);
	return 0;
}
