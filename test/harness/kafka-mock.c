/*
 * A Kafka cluster for tests: librdkafka's mock cluster (rdkafka_mock.h), a
 * real Kafka wire-protocol peer with fault injection. Prints
 * "bootstrap <servers>" once it listens, then reads one command per line on
 * stdin and answers "ok" or "error <reason>" on stdout:
 *
 *   topic <name> <partitions> <replication>     create a topic
 *   down <broker id> / up <broker id>           take a broker down, bring it back
 *   leader <topic> <partition> <broker id>      move a partition's leader
 *   errors <api key> <error code>...            next requests of that API fail with these codes
 *   rtt <broker id> <ms>                        add round-trip latency to a broker
 *   quit                                        destroy the cluster and exit (so does EOF)
 *
 * Built by test/harness/kafka-mock.ts with `cc kafka-mock.c -lrdkafka`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_ERRORS 64

static void reply(rd_kafka_resp_err_t err) {
  if (err) printf("error %s\n", rd_kafka_err2name(err));
  else printf("ok\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  int brokers = argc > 1 ? atoi(argv[1]) : 3;
  char errstr[512];
  char num[16];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  snprintf(num, sizeof num, "%d", brokers);
  if (rd_kafka_conf_set(conf, "test.mock.num.brokers", num, errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "config: %s\n", errstr);
    return 1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
  if (!mc) {
    fprintf(stderr, "no mock cluster\n");
    return 1;
  }
  printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);

  char line[1024];
  while (fgets(line, sizeof line, stdin)) {
    char *argv2[MAX_ERRORS + 4];
    int n = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok && n < MAX_ERRORS + 4; tok = strtok(NULL, " \t\r\n"))
      argv2[n++] = tok;
    if (n == 0) continue;
    const char *cmd = argv2[0];
    if (!strcmp(cmd, "quit")) break;
    if (!strcmp(cmd, "topic") && n == 4) {
      reply(rd_kafka_mock_topic_create(mc, argv2[1], atoi(argv2[2]), atoi(argv2[3])));
    } else if (!strcmp(cmd, "down") && n == 2) {
      reply(rd_kafka_mock_broker_set_down(mc, atoi(argv2[1])));
    } else if (!strcmp(cmd, "up") && n == 2) {
      reply(rd_kafka_mock_broker_set_up(mc, atoi(argv2[1])));
    } else if (!strcmp(cmd, "leader") && n == 4) {
      reply(rd_kafka_mock_partition_set_leader(mc, argv2[1], atoi(argv2[2]), atoi(argv2[3])));
    } else if (!strcmp(cmd, "rtt") && n == 3) {
      reply(rd_kafka_mock_broker_set_rtt(mc, atoi(argv2[1]), atoi(argv2[2])));
    } else if (!strcmp(cmd, "errors") && n >= 3) {
      rd_kafka_resp_err_t errs[MAX_ERRORS];
      size_t cnt = 0;
      for (int i = 2; i < n && cnt < MAX_ERRORS; i++) errs[cnt++] = (rd_kafka_resp_err_t)atoi(argv2[i]);
      rd_kafka_mock_push_request_errors_array(mc, atoi(argv2[1]), cnt, errs);
      reply(RD_KAFKA_RESP_ERR_NO_ERROR);
    } else {
      printf("error unknown command\n");
      fflush(stdout);
    }
  }
  rd_kafka_destroy(rk);
  return 0;
}
