/*
** test.h: the tiny test harness shared by every C test program.
**
** A program defines `static void t_name(void)` functions and lists them in
** main() with RUN(t_name). Each test prints "PASS name" or "FAIL name" (with
** the failed checks before it); tests/run.sh counts those lines across all
** programs and prints the closing "N passed, N failed". A program that
** crashes counts as one more failure.
*/
#ifndef EVS_TEST_H
#define EVS_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_checks; /* in the current test */
static int t_npass, t_nfail;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      t_failed_checks++;                                                   \
      fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__,  \
              #cond);                                                      \
    }                                                                      \
  } while (0)

/* Compare two integer expressions, printing both values on failure. */
#define CHECK_EQ(a, b)                                                     \
  do {                                                                     \
    long long a_ = (long long)(a), b_ = (long long)(b);                    \
    if (a_ != b_) {                                                        \
      t_failed_checks++;                                                   \
      fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n",        \
              __FILE__, __LINE__, #a, a_, #b, b_);                         \
    }                                                                      \
  } while (0)

#define CHECK_STR(a, b)                                                    \
  do {                                                                     \
    const char *a_ = (a), *b_ = (b);                                       \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                               \
      t_failed_checks++;                                                   \
      fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n",         \
              __FILE__, __LINE__, #a, a_ ? a_ : "(null)",                  \
              b_ ? b_ : "(null)");                                         \
    }                                                                      \
  } while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                        \
  do {                                                                     \
    const char *h_ = (hay), *n_ = (needle);                                \
    if (!h_ || !strstr(h_, n_)) {                                          \
      t_failed_checks++;                                                   \
      fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n",        \
              __FILE__, __LINE__, h_ ? h_ : "(null)", n_);                 \
    }                                                                      \
  } while (0)

/* Abort the current test (not the program) when a precondition fails. */
#define REQUIRE(cond)                                                      \
  do {                                                                     \
    if (!(cond)) {                                                         \
      t_failed_checks++;                                                   \
      fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, \
              #cond);                                                      \
      return;                                                              \
    }                                                                      \
  } while (0)

static void t_run(const char *name, void (*fn)(void)) {
  t_failed_checks = 0;
  fn();
  if (t_failed_checks) {
    t_nfail++;
    printf("FAIL %s\n", name);
  } else {
    t_npass++;
    printf("PASS %s\n", name);
  }
  fflush(stdout);
}

#define RUN(fn) t_run(#fn, fn)
#define TEST_EXIT() (t_nfail ? 1 : 0)

/* A fresh empty directory under $TMPDIR (or /tmp) for one test. */
static inline char *t_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  char tmpl[512];
  snprintf(tmpl, sizeof tmpl, "%s/evstest-XXXXXX", base ? base : "/tmp");
  char *d = mkdtemp(tmpl);
  if (!d) {
    perror("mkdtemp");
    exit(2);
  }
  return strdup(d);
}

/* rm -rf of a test directory (and its subdirectories, e.g. the folders
** evs_repair keeps copies in). Frees dir. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
static inline void t_rmdir(char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char p[1024];
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      struct stat st;
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) t_rmdir(strdup(p));
      else unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
  free(dir);
}

#endif
