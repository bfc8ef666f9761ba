/*
 * limits.c - what a load generator is about to hold (sockets, memory),
 * checked against what the process may have before anything is allocated.
 *
 * Why: a mistyped --connections used to build a million libcurl handles
 * (gigabytes) before the sockets failed one by one at the open-file limit;
 * refusing up front with the limit's name is the useful answer.  The
 * memory figure is an estimate (callers pass what their structures cost),
 * compared with the smallest of physical memory, the cgroup's memory.max
 * and the address-space and data rlimits.
 */
#include "kneecap/engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Descriptors besides the connections: stdio, output files, the probe,
 * libcurl's wakeup pairs, epoll and timer fds (plus FDS_PER_THREAD each). */
#define FDS_RESERVE 32
#define FDS_PER_THREAD 4

static void take_memory(struct kc_sys_limits *l, uint64_t bytes, const char *name)
{
	if (bytes > 0 && (l->memory == 0 || bytes < l->memory)) {
		l->memory = bytes;
		l->memory_name = name;
	}
}

static uint64_t cgroup_memory_max(void)
{
	FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
	if (!f)
		return 0;
	char buf[64] = "";
	uint64_t v = 0;
	if (fgets(buf, sizeof(buf), f) && buf[0] >= '0' && buf[0] <= '9')
		v = strtoull(buf, NULL, 10);
	fclose(f);
	return v;
}

void kc_sys_limits_get(struct kc_sys_limits *out)
{
	memset(out, 0, sizeof(*out));
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		/* The soft limit is often 1024 where the hard one allows far more; a
		 * load generator is what the headroom is for, so take it first. */
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
			struct rlimit up = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
			if (setrlimit(RLIMIT_NOFILE, &up) == 0)
				rl.rlim_cur = rl.rlim_max;
		}
		if (rl.rlim_cur != RLIM_INFINITY)
			out->nofile = (uint64_t)rl.rlim_cur;
	}
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	if (pages > 0 && psz > 0)
		take_memory(out, (uint64_t)pages * (uint64_t)psz, "physical memory");
	take_memory(out, cgroup_memory_max(), "the cgroup's memory.max");
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		take_memory(out, (uint64_t)rl.rlim_cur, "ulimit -v");
	if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		take_memory(out, (uint64_t)rl.rlim_cur, "ulimit -d");
}

static void format_bytes(uint64_t b, char *out, size_t n)
{
	if (b >= (UINT64_C(1) << 30))
		snprintf(out, n, "%.1f GiB", (double)b / (double)(UINT64_C(1) << 30));
	else
		snprintf(out, n, "%.0f MiB", (double)b / (double)(UINT64_C(1) << 20));
}

int kc_load_size_check(const struct kc_load_size *z, const struct kc_sys_limits *lim,
		       struct kc_diag *d)
{
	uint64_t conns = (uint64_t)z->threads * z->connections_per_thread;
	char how[96];
	snprintf(how, sizeof(how), "%" PRIu32 " threads x %" PRIu64 " %s", z->threads,
		 z->connections_per_thread, z->unit ? z->unit : "connections");
	uint64_t reserve = FDS_RESERVE + (uint64_t)FDS_PER_THREAD * z->threads;
	uint64_t fds = conns + reserve;
	if (lim->nofile && fds > lim->nofile)
		return kc_diag_set(d, KC_EINVAL,
				   "%s = %" PRIu64 " connections, plus %" PRIu64 " kept for files and "
				   "threads: %" PRIu64 " descriptors exceed the open-file limit %" PRIu64
				   " (ulimit -n)",
				   how, conns, reserve, fds, lim->nofile);
	if (lim->memory && z->bytes > lim->memory) {
		char need[32], have[32];
		format_bytes(z->bytes, need, sizeof(need));
		format_bytes(lim->memory, have, sizeof(have));
		return kc_diag_set(d, KC_EINVAL, "%s need about %s of memory, more than %s (%s)",
				   how, need, have, lim->memory_name ? lim->memory_name : "available");
	}
	return KC_OK;
}

void kc_load_size_fit(uint32_t *threads, uint64_t *connections_per_thread,
		      const struct kc_sys_limits *lim)
{
	if (!lim->nofile)
		return;
	/* Fewer connections per thread first, then fewer threads: the default
	 * is a guess at what the host can drive, not something the user asked. */
	while (*threads > 1 &&
	       lim->nofile < FDS_RESERVE + (uint64_t)(FDS_PER_THREAD + 1) * *threads)
		(*threads)--;
	uint64_t reserve = FDS_RESERVE + (uint64_t)FDS_PER_THREAD * *threads;
	if (lim->nofile <= reserve)
		return; /* nothing fits: kc_load_size_check says so */
	uint64_t per = (lim->nofile - reserve) / *threads;
	if (per < *connections_per_thread)
		*connections_per_thread = per ? per : 1;
}
