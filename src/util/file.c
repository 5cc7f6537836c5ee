/*  anchord - util/file.c: paths and directories. */
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int util_mkdir_p(const char *path, unsigned mode)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int ret = 0;
	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, mode) != 0 && errno != EEXIST) {
			ret = -errno;
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	return ret;
}

char *util_path_relative_to(const char *base_file, const char *path)
{
	if (path[0] == '/' || !base_file)
		return strdup(path);
	const char *slash = strrchr(base_file, '/');
	if (!slash)
		return strdup(path);
	size_t dir_len = (size_t)(slash - base_file);
	size_t len = dir_len + 1 + strlen(path) + 1;
	char *out = malloc(len);
	if (!out)
		return NULL;
	memcpy(out, base_file, dir_len);
	out[dir_len] = '/';
	strcpy(out + dir_len + 1, path);
	return out;
}
