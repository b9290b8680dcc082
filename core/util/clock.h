/*
 * clock.h - the clock helpers: nanosecond timestamps, and which boot of the machine
 * this is (a journal written in another boot may have lost what was not fsynced).
 *
 * Wall-clock time (CLOCK_REALTIME) is what the store records: mtimes, history entries,
 * publish times compared with file ctimes. Intervals (progress bars, polling) use the
 * monotonic clock, which no clock change moves.
 */
#ifndef VV_CLOCK_H
#define VV_CLOCK_H

#include <stdint.h>

#define VV_NS_PER_S 1000000000LL

/* CLOCK_REALTIME in nanoseconds since the epoch. */
int64_t vv_now_ns(void);
/* CLOCK_MONOTONIC in nanoseconds. */
int64_t vv_mono_ns(void);

/* The kernel's id of this boot (36 characters, lower-case hex and '-'), read once; ""
 * where the system does not say. */
#define VV_BOOT_ID_LEN 36
const char *vv_boot_id(void);

#endif
