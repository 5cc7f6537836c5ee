/*  anchord - daemon/privileges.c: private state, the user, the sandbox.
 *
 *  Started as root, anchord does what needs root first (binding ports
 *  below 1024, opening the query log wherever it is), then:
 *
 *    1. privileges_secure_state: the state directory is 0700 and every
 *       secret in it 0600; looser modes are tightened, with a warning.
 *    2. sandbox_apply (server.sandbox: auto): Landlock, where the kernel
 *       has it, confines filesystem writes to the directories anchord
 *       writes in. Reads stay free: reloads read the configuration, the
 *       lists and certificates wherever they are.
 *    3. privileges_hand_over: the state directory and what is in it go
 *       to server.user, which must read its keys and write its store.
 *    4. privileges_drop: server.user's uid, gid and groups; no
 *       capability is left, but CAP_NET_ADMIN when mud.nftables needs
 *       it to write the firewall's sets over netlink.
 *
 *  Landlock comes before the first thread (the query log's writer) since
 *  a thread inherits the sandbox only from the thread that creates it.
 */
#include "daemon/daemon.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* ------------------------------------------------------------------ file modes */

/* The files in the state directory that hold secrets: private keys, the
 * ticket and enrollment keys, and the store (token and password hashes,
 * OPAQUE records). Certificates (*.pem) are public. */
static const char *const secret_files[] = {
	"ca.key", "server.key", "tickets.key", "opaque.key", "codes.key",
	STORE_FILE, STORE_FILE "-wal", STORE_FILE "-shm",
};

/* The state directory may be a symbolic link to one; a secret file that
 * is a link is the administrator's arrangement, and left alone. */
static int tighten(const char *path, unsigned want, bool is_dir)
{
	struct stat st;
	if ((is_dir ? stat(path, &st) : lstat(path, &st)) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (is_dir && !S_ISDIR(st.st_mode))
		return -EINVAL;
	if (!is_dir && !S_ISREG(st.st_mode))
		return 0;
	unsigned mode = st.st_mode & 07777;
	if (!(mode & ~want))
		return 0;
	if (chmod(path, want) != 0)
		return -errno;
	log_warning("daemon", "%s was mode %04o, open to others: now %04o%s",
		    path, mode, want, is_dir ? "" : "; whoever could read it "
		    "may hold the secret, replace it if that matters");
	return 0;
}

/* A directory others may create files in (/tmp) is shared: making it
 * 0700, or giving it to server.user, would break the system. */
static bool shared_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && (st.st_mode & (S_ISVTX | S_IWOTH));
}

int privileges_secure_state(const char *state_dir)
{
	if (shared_dir(state_dir)) {
		log_error("daemon", "server.state-dir %s is shared (others may "
			  "write in it): give anchord a directory of its own",
			  state_dir);
		return -1;
	}
	int ret = tighten(state_dir, 0700, true);
	if (ret != 0) {
		log_error("daemon", "server.state-dir %s: %s", state_dir,
			  ret == -EINVAL ? "not a directory" : strerror(-ret));
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(secret_files); i++) {
		char path[PATH_MAX];
		if (util_path_join(path, sizeof(path), state_dir,
				   secret_files[i]) != 0)
			continue;
		ret = tighten(path, 0600, false);
		if (ret != 0) {
			log_error("daemon", "%s: %s", path, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ the user */

int privileges_lookup(const char *user, struct privileges_user *out)
{
	struct passwd *pw = getpwnam(user);
	if (strlen(user) >= sizeof(out->name)) {
		log_error("daemon", "server.user: \"%s\" is too long", user);
		return -1;
	}
	if (!pw) {
		log_error("daemon", "server.user: no user \"%s\"", user);
		return -1;
	}
	snprintf(out->name, sizeof(out->name), "%s", user);
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	return 0;
}

/* The state directory and what anchord made in it (flat: no
 * subdirectories) belong to the user; so does the query log. */
int privileges_hand_over(const struct privileges_user *u,
			 const char *state_dir, const char *querylog)
{
	if (chown(state_dir, u->uid, u->gid) != 0) {
		log_error("daemon", "chown %s to %s: %s", state_dir, u->name,
			  strerror(errno));
		return -1;
	}
	DIR *dir = opendir(state_dir);
	if (!dir) {
		log_error("daemon", "%s: %s", state_dir, strerror(errno));
		return -1;
	}
	int ret = 0;
	for (struct dirent *e; ret == 0 && (e = readdir(dir)); ) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fchownat(dirfd(dir), e->d_name, u->uid, u->gid,
			     AT_SYMLINK_NOFOLLOW) != 0) {
			log_error("daemon", "chown %s/%s to %s: %s", state_dir,
				  e->d_name, u->name, strerror(errno));
			ret = -1;
		}
	}
	closedir(dir);
	if (ret == 0 && querylog && chown(querylog, u->uid, u->gid) != 0 &&
	    errno != ENOENT)
		log_warning("daemon", "chown %s to %s: %s", querylog, u->name,
			    strerror(errno));
	return ret;
}

/* Raw capset: glibc has no wrapper and libcap would be a dependency for
 * two calls. Capabilities belong to a thread: this runs before any. */
static int keep_only_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	if (cap >= 0) {
		data[cap / 32].effective = 1u << (cap % 32);
		data[cap / 32].permitted = 1u << (cap % 32);
	}
	return (int)syscall(SYS_capset, &hdr, data);
}

int privileges_drop(const struct privileges_user *u, bool keep_net_admin)
{
	if ((keep_net_admin && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) ||
	    initgroups(u->name, u->gid) != 0 || setgid(u->gid) != 0 ||
	    setuid(u->uid) != 0 ||
	    keep_only_cap(keep_net_admin ? CAP_NET_ADMIN : -1) != 0 ||
	    (keep_net_admin && prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) != 0) ||
	    /* anchord runs nothing, and no exec shall regain privileges */
	    prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0) {
		log_error("daemon", "cannot drop privileges to %s: %s", u->name,
			  strerror(errno));
		return -1;
	}
	if (u->uid != 0 && setuid(0) == 0) {
		log_error("daemon", "privileges could be regained after the "
			  "drop to %s", u->name);
		return -1;
	}
	log_info("daemon", "running as user %s (uid %u, gid %u)%s", u->name,
		 (unsigned)u->uid, (unsigned)u->gid,
		 keep_net_admin ? ", keeping CAP_NET_ADMIN for mud.nftables" : "");
	return 0;
}

/* ------------------------------------------------------------------ Landlock */

static uint64_t handled_writes(int abi)
{
	uint64_t r = LANDLOCK_ACCESS_FS_WRITE_FILE |
		LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
		LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	return r;
}

/* Rights that apply to a file rather than a directory's entries. */
static uint64_t file_rights(void)
{
	uint64_t r = LANDLOCK_ACCESS_FS_WRITE_FILE;
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	r |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	return r;
}

/* Allow the handled writes beneath path. A path that does not exist
 * (yet) is skipped: nothing can be written there under the sandbox. */
static int allow(int ruleset, const char *path, uint64_t handled)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		log_warning("sandbox", "%s: %s; no writes there", path,
			    strerror(errno));
		return 0;
	}
	struct stat st;
	struct landlock_path_beneath_attr attr = {
		.allowed_access = handled, .parent_fd = fd };
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		attr.allowed_access &= file_rights();
	int rc = (int)syscall(SYS_landlock_add_rule, ruleset,
			      LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
	int saved = errno;
	close(fd);
	if (rc != 0) {
		log_error("sandbox", "%s: %s", path, strerror(saved));
		return -1;
	}
	return 0;
}

/* The directory a file is in (a copy, or NULL). */
static char *dir_of(const char *file)
{
	char *copy = strdup(file);
	if (!copy)
		return NULL;
	char *dir = strdup(dirname(copy));
	free(copy);
	return dir;
}

static int allow_dir_of(int ruleset, const char *file, uint64_t handled)
{
	char *dir = dir_of(file);
	if (!dir) {
		log_error("sandbox", "out of memory");
		return -1;
	}
	int rc = allow(ruleset, dir, handled);
	free(dir);
	return rc;
}

static int add_rules(int ruleset, const struct anchord_config *c,
		     uint64_t handled)
{
	if (allow(ruleset, c->state_dir, handled) != 0 ||
	    allow_dir_of(ruleset, c->control, handled) != 0 ||
	    allow(ruleset, "/dev/null", handled) != 0)
		return -1;
	if (c->log_queries && allow_dir_of(ruleset, c->queries_file,
					   handled) != 0)
		return -1;
	return 0;
}

/* "on" and where writes go, each directory once. */
static void log_confined(const struct anchord_config *c, int abi)
{
	char *dirs[3] = { strdup(c->state_dir), dir_of(c->control),
			  c->log_queries ? dir_of(c->queries_file) : NULL };
	char text[3 * PATH_MAX + 16] = "";
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		bool seen = !dirs[i];
		for (size_t j = 0; j < i && !seen; j++)
			seen = dirs[j] && strcmp(dirs[i], dirs[j]) == 0;
		if (!seen)
			snprintf(text + strlen(text), sizeof(text) - strlen(text),
				 "%s, ", dirs[i]);
	}
	log_info("sandbox", "on (Landlock ABI %d): files are written only in "
		 "%s/dev/null", abi, text);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		free(dirs[i]);
}

int sandbox_apply(const struct anchord_config *c)
{
	if (!c->sandbox) {
		log_info("sandbox", "off (server.sandbox: off)");
		return 0;
	}
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
			       LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		log_info("sandbox", "off: this kernel has no Landlock (%s)",
			 strerror(errno));
		return 0;
	}
	uint64_t handled = handled_writes(abi);
	struct landlock_ruleset_attr attr = { .handled_access_fs = handled };
	int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr,
				   sizeof(attr), 0);
	if (ruleset < 0) {
		log_error("sandbox", "Landlock ruleset: %s", strerror(errno));
		return -1;
	}
	int rc = add_rules(ruleset, c, handled);
	/* Landlock needs no_new_privs: no exec can regain what we dropped. */
	if (rc == 0 && (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0 ||
			syscall(SYS_landlock_restrict_self, ruleset, 0) != 0)) {
		log_error("sandbox", "Landlock: %s", strerror(errno));
		rc = -1;
	}
	close(ruleset);
	if (rc == 0)
		log_confined(c, abi);
	return rc;
}
