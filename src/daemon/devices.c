/*  anchord - daemon/devices.c: which enrolled device a connection is.
 *
 *  A verified client certificate names its device (its CN is the device
 *  name). Clients that cannot present one, such as stub resolvers without
 *  client-certificate support, are attributed by the address their device
 *  enrolled from: a weaker hint, and logged as such. The directory maps
 *  addresses to the most recently enrolled active device; the enrollment
 *  service adds to it at once, and the main thread reloads it from the
 *  store when devices change there (anchorctl device revoke).
 */
#include "daemon/daemon.h"
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024

struct entry {
	struct entry *next;
	char address[64];
	char name[64];
};

struct device_directory {
	pthread_rwlock_t lock;
	struct entry *buckets[BUCKETS];
};

struct device_directory *devices_new(void)
{
	struct device_directory *d = calloc(1, sizeof(*d));
	if (d && pthread_rwlock_init(&d->lock, NULL) != 0) {
		free(d);
		return NULL;
	}
	return d;
}

static void clear(struct device_directory *d)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		while (d->buckets[i]) {
			struct entry *e = d->buckets[i];
			d->buckets[i] = e->next;
			free(e);
		}
	}
}

void devices_free(struct device_directory *d)
{
	if (!d)
		return;
	clear(d);
	pthread_rwlock_destroy(&d->lock);
	free(d);
}

static struct entry **bucket(struct device_directory *d, const char *address)
{
	return &d->buckets[util_hash(address, strlen(address)) % BUCKETS];
}

/* With the write lock held: the newest device wins an address. */
static void put(struct device_directory *d, const char *address,
		const char *name)
{
	struct entry **b = bucket(d, address), *e = *b;
	while (e && strcmp(e->address, address) != 0)
		e = e->next;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return;
		snprintf(e->address, sizeof(e->address), "%s", address);
		e->next = *b;
		*b = e;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
}

void devices_add(struct device_directory *d, const char *name,
		 const char *address)
{
	if (!d || !address[0])
		return;
	pthread_rwlock_wrlock(&d->lock);
	put(d, address, name);
	pthread_rwlock_unlock(&d->lock);
}

static int load_one(void *ctx, const struct store_device *dev)
{
	if (dev->revoked_at == 0 && dev->address[0])
		put(ctx, dev->address, dev->name);
	return 0;
}

int devices_load(struct device_directory *d, struct store *s)
{
	/* devices come oldest first, so the newest ends up owning its
	 * address */
	pthread_rwlock_wrlock(&d->lock);
	clear(d);
	int rc = store_device_each(s, load_one, d);
	pthread_rwlock_unlock(&d->lock);
	return rc;
}

bool devices_by_address(struct device_directory *d, const char *address,
			char *name, size_t cap)
{
	if (!d)
		return false;
	pthread_rwlock_rdlock(&d->lock);
	const struct entry *e = *bucket(d, address);
	while (e && strcmp(e->address, address) != 0)
		e = e->next;
	if (e)
		snprintf(name, cap, "%s", e->name);
	pthread_rwlock_unlock(&d->lock);
	return e != NULL;
}
