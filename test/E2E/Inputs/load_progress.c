/* Loads a model through xfrt_model_load_with_progress and checks the reports: done never decreases and
 * never passes total, total stays the same, and the last report (and only it) has done == total. Prints
 * the count of reports and the total. */
#include <xfrt.h>

#include <stdio.h>

struct Reports {
  int count, finals, bad;
  int64_t last, total;
};

static void onProgress(void *user, int64_t done, int64_t total) {
  struct Reports *r = (struct Reports *)user;
  if (done < r->last || done > total || (r->count && total != r->total) || r->finals)
    r->bad = 1;
  r->finals += done == total;
  r->last = done;
  r->total = total;
  r->count++;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s model.so weights\n", argv[0]);
    return 2;
  }
  xfrt_module *module = NULL;
  xfrt_model *model = NULL;
  struct Reports reports = {0, 0, 0, 0, 0};
  xfrt_status status = xfrt_module_open(argv[1], &module);
  if (!status)
    status = xfrt_model_load_with_progress(module, argv[2], "auto", "f32", onProgress, &reports, &model);
  if (status) {
    fprintf(stderr, "load_progress: %s (after %d reports)\n", xfrt_status_message(status), reports.count);
    xfrt_status_free(status);
    xfrt_module_close(module);
    return 1;
  }
  printf("reports %d final %d bad %d total %lld\n", reports.count, reports.finals, reports.bad,
         (long long)reports.total);
  xfrt_model_free(model);
  xfrt_module_close(module);
  return 0;
}
