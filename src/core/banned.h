/* banned.h: functions ccf never calls, because each has a bounded replacement
 * (snprintf with a checked result, memcpy with a checked size, strtok_r). */
#ifndef CCF_BANNED_H
#define CCF_BANNED_H

#define CCF_BANNED(func) sorry_##func##_is_banned

#undef strcpy
#define strcpy(x, y) CCF_BANNED(strcpy)
#undef strcat
#define strcat(x, y) CCF_BANNED(strcat)
#undef sprintf
#define sprintf(...) CCF_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) CCF_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) CCF_BANNED(strtok)
#undef gets
#define gets(x) CCF_BANNED(gets)

#endif
