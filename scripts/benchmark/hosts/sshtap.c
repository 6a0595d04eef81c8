// sshtap: an `ssh` put first on sv's PATH for the host phases' profile runs, to see when sv runs each ssh and
// for how long without a tracer slowing it down. It appends "START_US PID start MODE HOST" to $SV_BENCH_TAP,
// runs the real ssh ($SV_BENCH_SSH, default /usr/bin/ssh) with the same argv, stdio and environment, waits for
// it, appends "END_US PID end STATUS", and exits as it did. MODE: master (ControlMaster=yes), control (-O CMD),
// mux (ControlMaster=no with a ControlPath), direct (no master). Costs a fork and two appends (well under 1 ms).
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void note(const char *line) {
  const char *file = getenv("SV_BENCH_TAP");
  if (!file || !*file) return;
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  ssize_t ignored = write(fd, line, strlen(line));
  (void)ignored;
  close(fd);
}

int main(int argc, char **argv) {
  const char *real = getenv("SV_BENCH_SSH");
  if (!real || !*real) real = "/usr/bin/ssh";
  const char *mode = "direct";
  const char *host = "?";
  int none = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-O") == 0) mode = "control";
    else if (strcmp(a, "ControlMaster=yes") == 0 && strcmp(mode, "control") != 0) mode = "master";
    else if (strcmp(a, "ControlMaster=no") == 0 && strcmp(mode, "direct") == 0) mode = "mux";
    else if (strcmp(a, "ControlPath=none") == 0) none = 1;
  }
  if (none && strcmp(mode, "mux") == 0) mode = "direct";
  // the host: the first word after the options (options that take a value skip it)
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] == '-') {
      if (strchr("FoipOlLRDEJQSWbcem", a[1]) && a[2] == '\0') i++;
      continue;
    }
    host = a;
    break;
  }
  char line[512];
  pid_t self = getpid();
  snprintf(line, sizeof line, "%lld %d start %s %s\n", now_us(), (int)self, mode, host);
  note(line);
  pid_t pid = fork();
  if (pid < 0) return 255;
  if (pid == 0) {
    argv[0] = (char *)"ssh";
    execv(real, argv);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  snprintf(line, sizeof line, "%lld %d end %d\n", now_us(), (int)self, code);
  note(line);
  return code;
}
