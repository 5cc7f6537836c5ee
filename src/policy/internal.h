/*  anchord - policy/internal.h: shared inside src/policy/ (and its tests). */
#pragma once

#include "policy/policy.h"

/** The longest line of a blocklist; a longer one is skipped as malformed
 *  (no domain list has a reason to go near it, and the bound keeps the
 *  loader's memory fixed whatever the file holds). */
#define POLICY_LINE_MAX 4096

/** Parse a blocklist held in memory: what policy_domains_load does with a
 *  file's bytes (the file loader feeds the same parser). report is filled
 *  from zero. Returns 0, or -1 when out of memory. */
int policy_domains_load_buffer(struct policy_domains *d, const char *data,
			       size_t len, struct policy_load_report *report);
