/* conf_int.h: the group setups of the conformance suite's backends, for
 * tests/test_store_conf.c (fixture.c). Each group runs every case on one
 * backend; PostgreSQL's starts its cluster and stops it at the end,
 * DynamoDB's its dynalite. */
#ifndef CCF_TESTS_STORE_CONF_INT_H
#define CCF_TESTS_STORE_CONF_INT_H

int conf_group_setup_sqlite(void **state);
int conf_group_setup_pg(void **state);
int conf_group_teardown_pg(void **state);
int conf_group_setup_dynamo(void **state);
int conf_group_teardown_dynamo(void **state);

#endif
