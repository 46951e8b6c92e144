/* client_fixture.h: what the libccf tests (test_client_*.c) share: the
 * ids and the instant their canned requests and answers use. */
#ifndef CCF_TESTS_CLIENT_FIXTURE_H
#define CCF_TESTS_CLIENT_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/client_int.h"

#define CID "cc-0123456789ab"
#define JID "ccj-0123456789ab"
#define T0  "2026-11-24T23:54:14.123456Z"

#endif
