/*  anchord - daemon/config_internal.h: what the parts of the configuration
 *  parser share (config.c: the walk, typed fields and most sections;
 *  config_policy.c: profiles, clients and mud). Not an interface: the
 *  configuration's interface is daemon.h.
 */
#pragma once

#include "daemon/daemon.h"

#include <yaml.h>

#define MAX_NODE_VISITS 100000	/* aliases can make a small file huge */

struct cfg {
	yaml_document_t *doc;
	const char *file;
	char *err;
	size_t errlen;
	struct anchord_config *c;
	unsigned visits;
	void *current;			/* the list item being filled */
};

/* ------------------------------------------------------------------ typed fields */

enum field_type {
	F_STRING,
	F_PATH,			/* relative to the configuration file */
	F_NAME,			/* a domain name */
	F_WORKERS,		/* number or "auto" */
	F_UINT,
	F_U16,
	F_DURATION_MS,		/* uint64_t milliseconds */
	F_DURATION_S,		/* uint32_t seconds */
	F_SIZE,
	F_LOG_LEVEL,
	F_BOOL,
	F_CUSTOM,		/* parsed by field.parse */
};

struct cfg;

struct field {
	const char *key;
	enum field_type type;
	size_t offset;
	uint64_t min, max;
	int (*parse)(struct cfg *x, const yaml_node_t *n, const char *key);
};

#define CFG(member) offsetof(struct anchord_config, member)

/* Errors name file, line and key; every one returns -1. */
int cfg_fail(struct cfg *x, const yaml_node_t *n, const char *key,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
yaml_node_t *cfg_node(struct cfg *x, int id);
const char *cfg_scalar(const yaml_node_t *n);
const char *cfg_need_scalar(struct cfg *x, const yaml_node_t *n,
			    const char *key);
char *cfg_dup_str(struct cfg *x, const yaml_node_t *n, const char *s);
int cfg_check_mapping(struct cfg *x, const yaml_node_t *n, const char *key);
/* A mapping section whose keys are all plain fields. */
int cfg_parse_fields(struct cfg *x, const yaml_node_t *map,
		     const char *section, const struct field *fields);
int cfg_each_item(struct cfg *x, const yaml_node_t *seq, const char *key,
		  int (*fn)(struct cfg *x, const yaml_node_t *item,
			    const char *key));
void *cfg_grow_array(void *array, size_t *n, size_t size);
const yaml_node_t *cfg_item_value(struct cfg *x, const yaml_node_t *map,
				  const char *k);
int cfg_check_item_keys(struct cfg *x, const yaml_node_t *map,
			const char *key, const char *const *allowed);
int cfg_append_subnet(struct cfg *x, const yaml_node_t *n, const char *key,
		      struct util_subnet **list, size_t *count);
int cfg_push_string(struct cfg *x, const yaml_node_t *n, const char *key,
		    char ***v, size_t *count, char *value);
/** One string or a list of them, none empty; paths are taken relative to
 *  the configuration file. */
int cfg_string_list(struct cfg *x, const yaml_node_t *n, const char *key,
		    bool path, char ***v, size_t *count);

/* ------------------------------------------------------------------ config_policy.c */

int cfg_parse_profiles(struct cfg *x, const yaml_node_t *n);
int cfg_parse_clients(struct cfg *x, const yaml_node_t *n);
int cfg_parse_mud(struct cfg *x, const yaml_node_t *n);
/* Every profile a rule names exists; the nftables table name is safe. */
int cfg_finish_policy(struct cfg *x);
