/*
 * files.c - payload pools from disk: a folder of JPEGs, or one body file.
 *
 * Everything is checked before the first request, so a bad folder fails
 * the run with a message that names the file instead of producing a page
 * of failed requests.  A folder entry must be a regular file that decodes
 * completely as a JPEG; a body file may be anything up to the body cap.
 * Files are read with open/fstat/read on the opened descriptor, so what is
 * checked is what is read, and a FIFO or device in the folder can never
 * block the reader.  Nothing here follows the folder into subfolders.
 */
#include "pool_int.h"
#include "kneecap/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Reads the regular file at path, at most KC_POOL_BODY_MAX_BYTES, into a
 * new buffer.  Returns 0 with *out (malloc'd) and *len, or a kc_err with a
 * message naming path.  An empty file is KC_EINVAL.
 */
static int read_body(const char *path, unsigned char **out, size_t *len,
		     struct kc_diag *d)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return kc_diag_set(d, e == ENOENT ? KC_ENOTFOUND : KC_EIO,
				   "%s: cannot open: %s", path, strerror(e));
	}
	int rc = KC_OK;
	unsigned char *buf = NULL;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = kc_diag_set(d, KC_EIO, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = kc_diag_set(d, KC_EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size == 0) {
		rc = kc_diag_set(d, KC_EINVAL, "%s: file is empty", path);
		goto out;
	}
	if ((uint64_t)st.st_size > KC_POOL_BODY_MAX_BYTES) {
		rc = kc_diag_set(d, KC_ELIMIT,
				 "%s: %lld bytes is over the 6 MiB body limit (SageMaker's)",
				 path, (long long)st.st_size);
		goto out;
	}
	size_t want = (size_t)st.st_size, got = 0;
	buf = malloc(want);
	if (!buf) {
		rc = kc_diag_set(d, KC_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	/* Bounded: each pass reads at least one byte or ends the loop. */
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = kc_diag_set(d, KC_EIO, "%s: cannot read: %s", path,
					 strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != want) {
		rc = kc_diag_set(d, KC_EIO, "%s: file shrank while being read", path);
		goto out;
	}
	*out = buf;
	*len = want;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * Lists the regular files (after following symlinks) in dir, sorted.
 * Anything else but a subfolder is an error naming it: a broken link or an
 * entry we may not stat is as unreadable as a file we may not open.
 */
static int list_files(const char *dir, char ***out, size_t *count,
		      struct kc_diag *d)
{
	DIR *dp = opendir(dir);
	if (!dp) {
		int e = errno;
		return kc_diag_set(d, e == ENOENT ? KC_ENOTFOUND :
				   e == ENOTDIR ? KC_EINVAL : KC_EIO,
				   "%s: cannot open folder: %s", dir, strerror(e));
	}
	int rc = KC_OK;
	size_t n = 0;
	char **names = calloc(KC_POOL_ENTRIES_MAX, sizeof(*names));
	if (!names) {
		closedir(dp);
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	}
	char path[4096];
	struct dirent *de;
	/* Bounded by the folder's size and by KC_POOL_ENTRIES_MAX. */
	while ((errno = 0, de = readdir(dp)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int w = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (w < 0 || (size_t)w >= sizeof(path)) {
			rc = kc_diag_set(d, KC_EINVAL, "%s/%s: path too long", dir,
					 de->d_name);
			goto fail;
		}
		struct stat st;
		if (stat(path, &st) != 0) {
			rc = kc_diag_set(d, KC_EIO, "%s: cannot read: %s", path,
					 strerror(errno));
			goto fail;
		}
		if (S_ISDIR(st.st_mode))
			continue;
		if (!S_ISREG(st.st_mode)) {
			rc = kc_diag_set(d, KC_EINVAL, "%s: not a regular file", path);
			goto fail;
		}
		if (n == KC_POOL_ENTRIES_MAX) {
			rc = kc_diag_set(d, KC_ELIMIT, "%s: more than %d files", dir,
					 KC_POOL_ENTRIES_MAX);
			goto fail;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
			goto fail;
		}
		n++;
	}
	if (errno != 0) {
		rc = kc_diag_set(d, KC_EIO, "%s: cannot list folder: %s", dir,
				 strerror(errno));
		goto fail;
	}
	closedir(dp);
	if (n == 0) {
		free(names);
		return kc_diag_set(d, KC_ENOTFOUND, "%s: folder has no files", dir);
	}
	qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	*count = n;
	return KC_OK;
fail:
	closedir(dp);
	free_names(names, n);
	return rc;
}

int kc_pool_load_dir(struct kc_pool **out, const char *dir, struct kc_diag *d)
{
	KC_ASSERT(out && dir);
	char **names = NULL;
	size_t n = 0;
	int rc = list_files(dir, &names, &n, d);
	if (rc)
		return rc;
	struct kc_pool *p = kc_pool_alloc(n, "dir");
	if (!p) {
		free_names(names, n);
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	}
	char path[4096];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unsigned char *bytes = NULL;
		size_t len = 0;
		rc = read_body(path, &bytes, &len, d);
		if (rc)
			goto fail;
		struct kc_jpeg_info info;
		rc = kc_jpeg_check(bytes, len, path, &info, d);
		if (rc) {
			free(bytes);
			goto fail;
		}
		rc = kc_pool_set(p, i, bytes, len, names[i], "image/jpeg",
				 info.width_px, info.height_px, d);
		if (rc)
			goto fail;
		kc_log(KC_LOG_INFO, "payload %s: %dx%d JPEG, %zu bytes", path,
		       info.width_px, info.height_px, len);
	}
	free_names(names, n);
	*out = p;
	return KC_OK;
fail:
	free_names(names, n);
	kc_pool_free(p);
	return rc;
}

/* A content type we are willing to put in a header: type/subtype, printable, short. */
static bool content_type_ok(const char *ct)
{
	size_t n = strlen(ct);
	if (n < 3 || n >= 128 || !strchr(ct, '/'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (ct[i] < 0x20 || ct[i] > 0x7e)
			return false;
	return true;
}

int kc_pool_load_body(struct kc_pool **out, const char *path,
		      const char *content_type, struct kc_diag *d)
{
	KC_ASSERT(out && path);
	if (content_type && !content_type_ok(content_type))
		return kc_diag_set(d, KC_EINVAL,
				   "content type '%.64s' is not type/subtype in printable ASCII",
				   content_type);
	const char *ct = content_type ? content_type : kc_pool_content_type_guess(path);
	unsigned char *bytes = NULL;
	size_t len = 0;
	int rc = read_body(path, &bytes, &len, d);
	if (rc)
		return rc;
	struct kc_pool *p = kc_pool_alloc(1, "file");
	if (!p) {
		free(bytes);
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	}
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	rc = kc_pool_set(p, 0, bytes, len, base, ct, 0, 0, d);
	if (rc) {
		kc_pool_free(p);
		return rc;
	}
	kc_log(KC_LOG_INFO, "payload %s: %s, %zu bytes", path, ct, len);
	*out = p;
	return KC_OK;
}

const char *kc_pool_content_type_guess(const char *path)
{
	const char *dot = path ? strrchr(path, '.') : NULL;
	const char *slash = path ? strrchr(path, '/') : NULL;
	if (!dot || (slash && dot < slash))
		return "application/octet-stream";
	if (!strcasecmp(dot, ".json"))
		return "application/json";
	if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))
		return "image/jpeg";
	if (!strcasecmp(dot, ".wav"))
		return "audio/wav";
	return "application/octet-stream";
}
