/* The README's quick start: append, read the inbox page by page, ack. */
#include <evstore.h>
#include <stdio.h>

int main(void) {
  evs_store *s;
  int rc = evs_store_open("/tmp/evstore-quickstart", NULL, &s);
  if (rc) {
    fprintf(stderr, "open: %s\n", evs_errmsg(NULL));
    return 1;
  }
  evs_event_in ev = {.source = "stripe", .event_type = "order.created",
                     .payload = "{\"order_id\":42,\"total_cents\":1999}",
                     .idempotency_key = "evt_42"};
  evs_append_result res;
  if ((rc = evs_append(s, NULL, &ev, &res))) {
    fprintf(stderr, "append: %s\n", evs_errmsg(s));
    return 1;
  }
  printf("appended id %llu%s\n", (unsigned long long)res.id,
         res.duplicate ? " (duplicate)" : "");

  evs_query q = {.limit = 10, .source = "stripe"};
  evs_page *page = NULL;
  for (;;) {
    if ((rc = evs_inbox(s, NULL, &q, &page))) {
      fprintf(stderr, "inbox: %s\n", evs_errmsg(s));
      return 1;
    }
    for (size_t i = 0; i < evs_page_count(page); i++) {
      const evs_event *e = evs_page_event(page, i);
      printf("%llu %s %s %s\n", (unsigned long long)e->id, e->source,
             e->event_type, e->payload);
      rc = evs_ack(s, NULL, e->id, NULL);
      if (rc && rc != EVS_ECONFLICT) fprintf(stderr, "ack: %s\n", evs_errmsg(s));
    }
    if (!evs_page_more(page)) break;
    q.cursor = evs_page_cursor(page);
  }
  evs_page_free(page);
  return evs_store_close(s) ? 1 : 0;
}
