/*
 * mhd_int.h - the emulator's HTTP/1.1 face (mhd.c, libmicrohttpd).
 */
#ifndef KNEECAP_EMU_MHD_INT_H
#define KNEECAP_EMU_MHD_INT_H

struct kc_diag;
struct kc_emu;

/*
 * Starts libmicrohttpd on e->listen_fd (which it then owns) with e's
 * profile (threads, connection limits); listen_addr only names it in d.
 * The timer and guard threads must run already.  Returns 0, or KC_EIO.
 */
int kc_emu_mhd_start(struct kc_emu *e, const char *listen_addr, struct kc_diag *d);

/* Stops libmicrohttpd (the timer thread must have resumed every parked
 * connection first); e->mhd may be NULL. */
void kc_emu_mhd_stop(struct kc_emu *e);

#endif
