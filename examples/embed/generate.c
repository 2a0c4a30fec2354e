/* Embeds an xf model in a C program: greedy generation in a few calls of the runtime's C API.
 *   xfc config.json -o model.so && ./xf-generate model.so <weights> 1,2,3 16
 * Build with the installed package: CMake (find_package(xf), target xf::xfrt; see CMakeLists.txt) or
 *   cc generate.c $(pkg-config --cflags --libs xf) -o xf-generate */
#include <xfrt.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(xfrt_status status) {
  if (!status)
    return 0;
  fprintf(stderr, "xf-generate: %s\n", xfrt_status_message(status));
  xfrt_status_free(status);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s model.so weights prompt-ids(1,2,3) new-tokens\n", argv[0]);
    return 2;
  }
  int32_t prompt[256];
  int64_t n = 0;
  for (char *id = strtok(argv[3], ","); id; id = strtok(NULL, ",")) {
    char *end = NULL;
    long value = strtol(id, &end, 10);
    if (*end || value < 0 || value > INT32_MAX || n == 256) {
      fprintf(stderr, "xf-generate: %s\n", n == 256 ? "at most 256 prompt ids" : "prompt ids are integers >= 0");
      return 2;
    }
    prompt[n++] = (int32_t)value;
  }
  int steps = atoi(argv[4]);

  xfrt_module *module = NULL;
  xfrt_context *context = NULL;
  xfrt_model *model = NULL;
  xfrt_session *session = NULL;
  /* The context runs where the model was compiled for: "cpu", "vulkan" or "cuda" (xfc --target). */
  if (check(xfrt_module_open(argv[1], &module)) ||
      check(xfrt_context_create_on(xfrt_module_target(module), 0, &context)) ||
      check(xfrt_model_load(module, argv[2], &model)) || check(xfrt_session_create(model, context, 0, &session)))
    return 1;

  int64_t vocab = xfrt_model_vocab_size(model);
  float *logits = malloc(sizeof(float) * (size_t)vocab);
  int rc = check(xfrt_session_run(session, prompt, n, logits));
  printf("tokens:");
  for (int step = 0; step < steps && rc == 0; ++step) {
    int32_t next = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (logits[v] > logits[next])
        next = (int32_t)v;
    printf("%s%d", step ? "," : " ", next);
    if (step + 1 < steps)
      rc = check(xfrt_session_run(session, &next, 1, logits));
  }
  printf("\n");
  free(logits);
  xfrt_session_free(session);
  xfrt_model_free(model);
  xfrt_context_destroy(context);
  xfrt_module_close(module);
  return rc;
}
