/*
 * librdkafka's own producer, for benchmarks/kafka-ceiling.ts: the ceiling kafkajs is
 * measured against on the same mock cluster. Produces <count> copies of
 * <value> (keyed by one of <keys> device keys, as Skjold keys by device) with
 * the guarantees Skjold's producer keeps — idempotent, acks=all — and prints
 * one line of JSON: messages, seconds from the first produce to the last
 * delivery report, failures, and the CPU seconds this process used.
 *
 *   kafka-produce <bootstrap> <topic> <count> <keys> <linger ms> <value>
 *
 * Built by benchmarks/kafka-ceiling.ts with `cc kafka-produce.c -lrdkafka`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <librdkafka/rdkafka.h>

static long delivered = 0;
static long failed = 0;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  (void)opaque;
  if (m->err) failed++;
  else delivered++;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK) return 0;
  fprintf(stderr, "%s: %s\n", name, errstr);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s <bootstrap> <topic> <count> <keys> <linger ms> <value>\n", argv[0]);
    return 2;
  }
  const char *topic = argv[2];
  long count = atol(argv[3]);
  int keys = atoi(argv[4]);
  const char *value = argv[6];
  size_t value_len = strlen(value);
  char errstr[512];

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (set(conf, "bootstrap.servers", argv[1]) || set(conf, "enable.idempotence", "true") ||
      set(conf, "acks", "all") || set(conf, "linger.ms", argv[5]) ||
      set(conf, "compression.codec", "none") || set(conf, "queue.buffering.max.messages", "1000000") ||
      set(conf, "queue.buffering.max.kbytes", "1048576") || set(conf, "log_level", "3"))
    return 1;
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }

  /* Metadata and the producer id first, so the clock measures producing only. */
  const struct rd_kafka_metadata *md;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fprintf(stderr, "no metadata for %s\n", topic);
    return 1;
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);

  char key[32];
  double cpu0 = cpu_seconds();
  double t0 = now();
  for (long i = 0; i < count; i++) {
    int key_len = snprintf(key, sizeof key, "v1.device%d", (int)(i % keys));
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)key_len),
          RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
        return 1;
      }
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 120000);
  double seconds = now() - t0;
  double cpu = cpu_seconds() - cpu0;
  printf("{\"messages\":%ld,\"delivered\":%ld,\"failed\":%ld,\"seconds\":%.4f,\"cpuSeconds\":%.4f}\n", count,
         delivered, failed, seconds, cpu);
  rd_kafka_destroy(rk);
  return failed > 0 || delivered != count;
}
