/* schedule_int.h: calendar arithmetic shared by the schedule files of core. */
#ifndef CCF_SCHEDULE_INT_H
#define CCF_SCHEDULE_INT_H

#include <stdint.h>

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
int64_t sched__days_from_civil(int y, int m, int d);
/* The inverse: *y, *m, *d of day number z. */
void sched__civil_from_days(int64_t z, int *y, int *m, int *d);
/* 28 to 31. */
int sched__month_days(int y, int m);
/* 1-7 = SUN-SAT, as cron counts. */
int sched__weekday(int y, int m, int d);

#endif
