/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c - cutoffd's log: one JSON object per line, with the request id of
 * every request, so lines can be joined with gateway logs.
 */
#include "daemon/daemon.h"

#include <string.h>
#include <time.h>

void daemon_log(cutoffd *d, const char *level, const char *event, json_t *fields)
{
    json_t *o = json_is_object(fields) ? fields : json_object();
    if (fields && o != fields)
        json_decref(fields);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[32], stamp[48];
    cutoff_time_format((int64_t)ts.tv_sec, when);
    snprintf(stamp, sizeof stamp, "%.19s.%03ldZ", when, ts.tv_nsec / 1000000);
    json_object_set_new(o, "ts", json_string(stamp));
    json_object_set_new(o, "level", json_string(level));
    json_object_set_new(o, "event", json_string(event));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL)
        return;
    FILE *out = d->log ? d->log : stderr;
    pthread_mutex_lock(&d->log_lock);
    fputs(line, out);
    fputc('\n', out);
    fflush(out);
    pthread_mutex_unlock(&d->log_lock);
    free(line);
}

/* Admin requests and failures are always logged; decisions only when
 * log_decisions is set, as they can run at tens of thousands a second. */
void daemon_log_request(void *ctx, const co__http_req *req, int status)
{
    cutoffd *d = ctx;
    const char *verb = co__http_verb(req);
    bool admin =
        verb != NULL && strncmp(verb, "decision.", 9) != 0 && strncmp(verb, "ops.", 4) != 0;
    if (admin)
        metrics_admin(&d->metrics, verb, status);
    /* Probes and scrapes come every few seconds and say nothing new. */
    bool ops = verb != NULL && strncmp(verb, "ops.", 4) == 0;
    if (!admin && (ops || status < 500) && !daemon_live(d)->log_decisions)
        return;
    json_t *f = json_pack("{s:s,s:s,s:s,s:i,s:f}", "request_id", co__http_request_id(req), "method",
                          co__http_method(req), "path", co__http_path(req), "status", status, "ms",
                          (double)co__http_elapsed_ns(req) / 1e6);
    if (f && verb)
        json_object_set_new(f, "verb", json_string(verb));
    if (f && co__http_principal(req))
        json_object_set_new(f, "principal", json_string(co__http_principal(req)));
    daemon_log(d, status >= 500 && !ops ? "error" : "info", "request", f);
}
