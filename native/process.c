// ctsync_process: the few system calls the daemon's process needs that Node
// lacks, as a small N-API addon in plain C.
//
// - lock(path): the LockFile, held with flock(). conntrackd creates its lock
//   with O_EXCL and refuses to start while the file exists, so after a crash
//   (SIGKILL, the OOM killer) someone must delete it by hand. A flock is
//   released by the kernel when the holder dies, so a lock file nobody holds
//   is stale by definition and can be taken over.
// - notify(message): sd_notify() from the daemon's own process (Type=notify
//   with NotifyAccess=main accepts nothing from a helper like systemd-notify).
// - quietStdio(): points stdin, stdout and stderr at /dev/null once a
//   background daemon has said READY to the command that started it.
// - syslogOpen(facility) / syslog(level, message): the Syslog option through
//   syslog(3), tagged conntrack-tools as conntrackd 1.4.7's lines are (it
//   opens the log with its package name), without a logger(1) process per
//   line.
// - trimStartup(): gives back the pages of the executable and its libraries
//   that starting Node touched (see TrimStartup).
// - setScheduler(policy, priority): Scheduler, as sched_setscheduler() on
//   each of the process's threads (see SetScheduler).
// - adviseHugePages(buffer, from): transparent huge pages for the core's
//   memory past `from` (see AdviseHugePages).
// Errors are returned as negative errno values, never thrown.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <node_api.h>

#include "napi-util.h"

/** The string argument `i`, copied into buf; 0 if it is not a string or does not fit. */
static int string_arg(napi_env env, napi_callback_info info, size_t i, char *buf, size_t len) {
  size_t argc = 2;
  napi_value argv[2];
  size_t got = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (i >= argc) return 0;
  if (napi_get_value_string_utf8(env, argv[i], buf, len, &got) != napi_ok) return 0;
  return got < len - 1;
}

/**
 * lock(path) -> fd, or -errno: opens (creating, 0600) and flocks the file
 * without blocking; -EWOULDBLOCK when a live process holds the lock.
 */
static napi_value Lock(napi_env env, napi_callback_info info) {
  char path[4096];
  if (!string_arg(env, info, 0, path, sizeof path)) return num(env, -EINVAL);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return num(env, -errno);
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int err = errno;
    close(fd);
    return num(env, -err);
  }
  return num(env, fd);
}

/** unlock(fd): releases and closes (the caller removes the file first). */
static napi_value Unlock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_get_value_int32(env, argv[0], &fd);
  if (fd >= 0) close(fd);
  return NULL;
}

/** notify(message) -> 0, 1 when there is no NOTIFY_SOCKET, or -errno. */
static napi_value Notify(napi_env env, napi_callback_info info) {
  char msg[1024];
  const char *where = getenv("NOTIFY_SOCKET");
  if (!string_arg(env, info, 0, msg, sizeof msg)) return num(env, -EINVAL);
  if (!where || !where[0]) return num(env, 1);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  size_t len = strlen(where);
  if (len >= sizeof sun.sun_path) return num(env, -ENAMETOOLONG);
  memcpy(sun.sun_path, where, len);
  if (sun.sun_path[0] == '@') sun.sun_path[0] = 0; // abstract namespace
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, salen);
  int err = errno;
  close(fd);
  return num(env, n < 0 ? -err : 0);
}

/** quietStdio() -> 0 or -errno. */
static napi_value QuietStdio(napi_env env, napi_callback_info info) {
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd < 0) return num(env, -errno);
  for (int i = 0; i < 3; i++) dup2(fd, i);
  close(fd);
  return num(env, 0);
}

typedef struct { const char *name; int value; } named;

static const named FACILITIES[] = {
  {"daemon", LOG_DAEMON}, {"user", LOG_USER}, {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
  {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
  {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}, {"syslog", LOG_SYSLOG}, {"authpriv", LOG_AUTHPRIV},
  {NULL, 0},
};

static const named LEVELS[] = {
  {"notice", LOG_NOTICE}, {"warning", LOG_WARNING}, {"ERROR", LOG_ERR}, {"info", LOG_INFO}, {NULL, 0},
};

static int lookup(const named *t, const char *name, int otherwise) {
  for (; t->name; t++) if (!strcmp(t->name, name)) return t->value;
  return otherwise;
}

/** syslogOpen(facility) -> 0, or -EINVAL for a facility syslog(3) does not know. */
static napi_value SyslogOpen(napi_env env, napi_callback_info info) {
  char facility[32];
  if (!string_arg(env, info, 0, facility, sizeof facility)) return num(env, -EINVAL);
  int f = lookup(FACILITIES, facility, -1);
  if (f < 0) return num(env, -EINVAL);
  openlog("conntrack-tools", LOG_PID, f); // host/process/setup.ts: SYSLOG_TAG
  return num(env, 0);
}

/** syslog(level, message): level is the log's own (notice, warning, ERROR, info). */
static napi_value Syslog(napi_env env, napi_callback_info info) {
  char level[16], msg[2048];
  if (!string_arg(env, info, 0, level, sizeof level)) return num(env, -EINVAL);
  size_t argc = 2;
  napi_value argv[2];
  size_t got = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_string_utf8(env, argv[1], msg, sizeof msg, &got) != napi_ok) return num(env, -EINVAL);
  syslog(lookup(LEVELS, level, LOG_NOTICE), "%s", msg); // a longer message is cut, not lost
  return num(env, 0);
}

/** One mapping of /proc/self/smaps, as far as TrimStartup needs it. */
struct mapping {
  unsigned long start, end, rss_kb, anon_kb;
  char perms[8], path[256];
};

/** Reads a mapping's header line ("start-end perms offset dev inode [path]"); 0 if it is not one. */
static int mapping_header(const char *line, struct mapping *m) {
  int path_at = 0;
  if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &m->start, &m->end, m->perms, &path_at) < 3 || path_at == 0) return 0;
  snprintf(m->path, sizeof m->path, "%s", line + path_at);
  m->path[strcspn(m->path, "\n")] = 0;
  m->rss_kb = m->anon_kb = 0;
  return 1;
}

/** A read-only private mapping of a file holding no private copy of a page: dropping its pages loses nothing. */
static int clean_file_copy(const struct mapping *m) {
  return m->path[0] == '/' && m->perms[1] == '-' && m->perms[3] == 'p' && m->anon_kb == 0 && m->rss_kb > 0;
}

/**
 * trimStartup() -> bytes given back, or -errno. Starting Node reads most of
 * its 95 MiB executable (the V8 snapshot, the bootstrap code, ICU's tables)
 * once and never again: those pages stay in the process's RSS. This drops
 * them from our page tables with MADV_DONTNEED; they stay in the page cache,
 * and whatever the daemon still uses faults back in from there.
 *
 * Only read-only mappings of a file holding no private copy of a page
 * qualify (a RELRO segment relocated at load time holds some: smaps'
 * Anonymous): for them DONTNEED only drops clean copies of the file.
 */
static napi_value TrimStartup(napi_env env, napi_callback_info info) {
  (void)info;
  FILE *f = fopen("/proc/self/smaps", "re");
  if (!f) return num(env, -errno);
  char line[512];
  struct mapping m = {0}, next;
  double given = 0;
  for (int more = 1; more;) {
    more = fgets(line, sizeof line, f) != NULL;
    if (more && !mapping_header(line, &next)) {
      unsigned long kb;
      if (sscanf(line, "Anonymous: %lu kB", &kb) == 1) m.anon_kb = kb;
      else if (sscanf(line, "Rss: %lu kB", &kb) == 1) m.rss_kb = kb;
      continue;
    }
    // a new header (or the end): the previous mapping's fields are all read
    if (clean_file_copy(&m) && madvise((void *)m.start, m.end - m.start, MADV_DONTNEED) == 0) given += m.rss_kb * 1024.0;
    if (more) m = next;
  }
  fclose(f);
  return num(env, given);
}

/**
 * setScheduler(policy, priority) -> 0 or -errno. policy: "rr" or "fifo".
 * Every thread the process has now takes the policy, as conntrackd's one
 * thread does: the main thread, which reads the kernel's events, and V8's
 * compiler and collector threads, which it waits on (a time-shared helper
 * behind a busy CPU kept a real-time main thread spinning for ms in the
 * collector's sweeping). SCHED_RESET_ON_FORK keeps threads and processes
 * started later (libuv's pool, helper scripts) time-shared.
 */
static napi_value SetScheduler(napi_env env, napi_callback_info info) {
  char policy[8];
  if (!string_arg(env, info, 0, policy, sizeof policy)) return num(env, -EINVAL);
  GET_ARGS(2);
  int64_t priority;
  if (argc < 2 || !arg_int(env, argv[1], &priority)) return num(env, -EINVAL);
  int type = !strcmp(policy, "fifo") ? SCHED_FIFO : !strcmp(policy, "rr") ? SCHED_RR : -1;
  if (type < 0) return num(env, -EINVAL);
  struct sched_param param = {.sched_priority = (int)priority};
  // The main thread first: its refusal (a bad priority, no CAP_SYS_NICE) is the answer.
  if (sched_setscheduler(0, type | SCHED_RESET_ON_FORK, &param) != 0) return num(env, -errno);
  DIR *tasks = opendir("/proc/self/task");
  if (!tasks) return num(env, -errno);
  for (struct dirent *t; (t = readdir(tasks));) {
    pid_t tid = (pid_t)atoi(t->d_name);
    if (tid > 0) sched_setscheduler(tid, type | SCHED_RESET_ON_FORK, &param); // a thread that just ended is no matter
  }
  closedir(tasks);
  return num(env, 0);
}

/**
 * adviseHugePages(buffer, from) -> bytes advised, or -errno. MADV_HUGEPAGE on
 * the whole 2 MiB pages of an ArrayBuffer (the core's memory) past byte
 * `from`: a cache of a million flows is read at random, one bucket and one
 * entry per message, and with 4 KiB pages nearly each of those reads is also
 * a TLB miss, which in a virtual machine costs a two-level page walk. The
 * memory before `from` is what the daemon starts with, its buffers touched
 * here and there: a huge page there would clear 2 MiB for each first touch
 * of a few bytes (about 5 ms a page in this VM), and delay the start. The
 * kernel honours the advice only where THP is "madvise" or "always".
 */
static napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  void *data = NULL;
  size_t len = 0;
  int64_t from = 0;
  if (argc < 1 || napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) return num(env, -EINVAL);
  if (argc > 1 && !arg_int(env, argv[1], &from)) return num(env, -EINVAL);
  if (from < 0 || (uint64_t)from > len) return num(env, -EINVAL);
  const uintptr_t huge = 2u << 20;
  uintptr_t start = ((uintptr_t)data + (size_t)from + huge - 1) & ~(huge - 1), end = ((uintptr_t)data + len) & ~(huge - 1);
  if (end <= start) return num(env, 0);
  return num(env, madvise((void *)start, end - start, MADV_HUGEPAGE) == 0 ? (double)(end - start) : -errno);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor fns[] = {
    {"lock", NULL, Lock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unlock", NULL, Unlock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"notify", NULL, Notify, NULL, NULL, NULL, napi_enumerable, NULL},
    {"quietStdio", NULL, QuietStdio, NULL, NULL, NULL, napi_enumerable, NULL},
    {"syslogOpen", NULL, SyslogOpen, NULL, NULL, NULL, napi_enumerable, NULL},
    {"syslog", NULL, Syslog, NULL, NULL, NULL, napi_enumerable, NULL},
    {"trimStartup", NULL, TrimStartup, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setScheduler", NULL, SetScheduler, NULL, NULL, NULL, napi_enumerable, NULL},
    {"adviseHugePages", NULL, AdviseHugePages, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  return exports;
}
