/*
 * cw_int.h - the emulator's CloudWatch face (cwface.c): per-period counters
 * fed by every invocation's answer, and a listener that answers
 * GetMetricData (query protocol, XML) and Application Auto Scaling's
 * DescribeScalingPolicies (JSON 1.1) from them, as the real services do.
 */
#ifndef KNEECAP_EMU_CW_INT_H
#define KNEECAP_EMU_CW_INT_H
#include <stdint.h>

struct kc_diag;
struct kc_emu;
struct req;
struct kc_emu_cw;

/* Starts the face on e->prof.metrics_listen.  Returns 0 or KC_EIO /
 * KC_EINVAL / KC_ENOMEM with d saying why. */
int kc_emu_cw_start(struct kc_emu *e, struct kc_diag *d);
/* Stops the face and frees it; cw may be NULL. */
void kc_emu_cw_stop(struct kc_emu_cw *cw);
/* The face's port. */
int kc_emu_cw_port(const struct kc_emu_cw *cw);
/* Counts one invocation's answer (status, latencies, busy slot time) at
 * now_ns (monotonic).  Called with e->mu held; no-op without a face. */
void kc_emu_cw_record(struct kc_emu *e, const struct req *r, int64_t now_ns);
#endif
