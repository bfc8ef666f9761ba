/*
 * bench_merge_gen.c - writes the --out folders of N synthetic shards of one
 * run (S steps, I one-second intervals each, R samples per interval), as
 * `kneecap run --ramp ... --shard I/N --start-at T` would, so bench_merge.sh
 * can time `kneecap merge` without generating any load.
 *
 *   bench_merge_gen DIR SHARDS STEPS INTERVALS SAMPLES
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kneecap/buf.h"
#include "kneecap/hdr.h"
#include "kneecap/hlog.h"
#include "kneecap/result.h"
#include "kneecap/step.h"

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void write_text(const char *path, const char *p, size_t n)
{
	FILE *f = fopen(path, "w");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: bench_merge_gen DIR SHARDS STEPS INTERVALS SAMPLES\n");
		return 2;
	}
	const char *dir = argv[1];
	int nsh = atoi(argv[2]), ns = atoi(argv[3]), ni = atoi(argv[4]), nr = atoi(argv[5]);
	const int64_t t0 = 1796616000000, warm = 5000, period = warm + ni * 1000 + 1000;
	mkdir(dir, 0755);
	uint64_t seed = 1;
	for (int sh = 0; sh < nsh; sh++) {
		char d[4096], path[4200];
		snprintf(d, sizeof(d), "%s/shard-%d", dir, sh);
		mkdir(d, 0755);
		struct kc_buf lb, sb;
		kc_buf_init(&lb, (size_t)1 << 30);
		kc_buf_init(&sb, (size_t)1 << 30);
		struct kc_hlog_writer lw, sw;
		kc_hlog_writer_init(&lw, &lb, NULL, 1000.0);
		kc_hlog_writer_init(&sw, &sb, NULL, 1000.0);
		kc_hlog_write_header(&lw, t0, t0);
		kc_hlog_write_header(&sw, t0, t0);
		struct kc_step_result *st = calloc((size_t)ns, sizeof(*st));
		json_t *ssteps = json_array();
		for (int k = 0; k < ns; k++) {
			int64_t origin = t0 + k * period;
			struct kc_hdr *all, *svc, *iv;
			kc_hdr_new(&all, 1, 3600000000, 3);
			kc_hdr_new(&svc, 1, 3600000000, 3);
			kc_hdr_new(&iv, 1, 3600000000, 3);
			for (int i = 0; i < ni; i++) {
				kc_hdr_reset(iv);
				for (int r = 0; r < nr; r++) {
					int64_t v = 5000 + (int64_t)(rng(&seed) % (uint64_t)(20000 + k * 2000));
					kc_hdr_record(iv, v);
					kc_hdr_record(svc, v - 1000);
				}
				kc_hdr_add(all, iv);
				char tag[32];
				snprintf(tag, sizeof(tag), "step-%d", k);
				kc_hdr_set_tag(iv, tag);
				kc_hdr_set_times(iv, origin + warm + i * 1000, origin + warm + (i + 1) * 1000);
				kc_hlog_write_interval(&lw, iv);
			}
			char tag[32];
			snprintf(tag, sizeof(tag), "step-%d", k);
			kc_hdr_set_tag(svc, tag);
			kc_hdr_set_times(svc, origin + warm, origin + warm + ni * 1000);
			kc_hlog_write_interval(&sw, svc);
			struct kc_step_result *s = &st[k];
			s->index = k;
			s->offered = (double)nr / nsh * (1 + k);
			s->achieved = (double)nr;
			s->start_wall_ms = origin + warm;
			s->duration_ns = (int64_t)ni * 1000000000;
			s->scheduled = s->sent = s->completed = s->ok = (uint64_t)(nr * ni);
			kc_latency_from_hdr(&s->latency, all);
			kc_latency_from_hdr(&s->service, svc);
			s->inflight_start = s->inflight_end = 2;
			s->gen_cpu = 0.05;
			kc_hdr_free(all);
			kc_hdr_free(svc);
			kc_hdr_free(iv);
			json_array_append_new(ssteps, json_pack("{s:i,s:I,s:i,s:b}", "index", k,
								"window_start_ms",
								(json_int_t)(origin + warm),
								"start_lag_ms", 0, "late", 0));
		}
		char ramp[64];
		snprintf(ramp, sizeof(ramp), "1:%d:1", ns);
		json_t *cfg = json_pack("{s:s,s:s,s:s,s:f}", "target", "http://bench/", "load", "ramp",
					"ramp", ramp, "max_error_rate", 0.01);
		json_t *shard = json_pack("{s:i,s:i,s:s,s:s,s:I,s:I,s:I,s:s,s:i,s:O,s:n,s:s,s:o,s:s}",
					  "index", sh, "count", nsh, "run_id", "bench", "index_from",
					  "--shard", "start_at_ms", (json_int_t)t0, "period_ms",
					  (json_int_t)period, "warmup_ms", (json_int_t)warm, "host",
					  "bench", "cores", 2, "config", cfg, "clock_offset_ms",
					  "clock_note", "", "steps", ssteps, "service_hlog", sb.data);
		json_t *extra = json_pack("{s:o}", "shard", shard);
		struct kc_result res = {.mode = "rps", .target = "http://bench/", .config = cfg,
					.steps = st, .nsteps = (size_t)ns, .extra = extra};
		res.env.kneecap_version = "bench";
		struct kc_buf out;
		kc_buf_init(&out, (size_t)1 << 30);
		if (kc_result_json_text(&res, &out))
			return 1;
		snprintf(path, sizeof(path), "%s/result.json", d);
		write_text(path, out.data, out.len);
		snprintf(path, sizeof(path), "%s/latency.hlog", d);
		write_text(path, lb.data, lb.len);
		kc_buf_fini(&out);
		json_decref(extra);
		json_decref(cfg);
		free(st);
		kc_hlog_writer_fini(&lw);
		kc_hlog_writer_fini(&sw);
		kc_buf_fini(&lb);
		kc_buf_fini(&sb);
	}
	return 0;
}
