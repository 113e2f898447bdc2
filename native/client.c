// ctsyncd's front door: the program bin/ctsyncd runs for every command.
//
// A client command (-c, -f, -i, -s, ...) is one request and one reply over
// the daemon's UNIX socket (conntrackd's local protocol: a native int, then
// the answer until the daemon closes). An HA manager runs these at the worst
// moment, at failover, so they must take milliseconds: this program answers
// them itself, without starting Node.
//
// Everything else goes to the TypeScript host (bin/host.cjs under node):
// running the daemon, -v, -h, and any command line or configuration this
// program does not understand whole. The host owns the full grammar and its
// error messages; this program only recognises the well-formed common case,
// so the two can never disagree on what a valid command means.
//
// -d is done here too: fork, setsid, exec node, and return once the daemon
// says READY (or print why it did not start). One Node start instead of two.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/conntrackd/conntrackd.conf"
#define JSON_FLAG 0x100          // ctsync's own: a JSON answer (host/control/requests.ts)
#define ACCEPT_TIMEOUT_MS 1000   // a live daemon reads a request at once, or works meanwhile
#define STALL_CHECK_MS 1000      // while waiting for an answer, look at the daemon this often
#define MAX_CONFIG (4 << 20)

// ---- request codes (conntrack-tools include/conntrackd.h) -----------------

enum {
  CT_FLUSH_MASTER = 0, CT_RESYNC_MASTER = 1, CT_DUMP_INTERNAL = 16, CT_DUMP_EXTERNAL = 17,
  CT_COMMIT = 18, KILL = 20, STATS = 21, SEND_BULK = 22, REQUEST_DUMP = 23,
  CT_DUMP_INT_XML = 24, CT_DUMP_EXT_XML = 25, RESET_TIMERS = 26, STATS_NETWORK = 28,
  STATS_CACHE = 29, STATS_RUNTIME = 30, STATS_LINK = 31, STATS_RSQUEUE = 32,
  CT_FLUSH_INT_CACHE = 33, CT_FLUSH_EXT_CACHE = 34, STATS_PROCESS = 35, STATS_QUEUE = 36,
  EXP_STATS = 37, EXP_FLUSH_MASTER = 38, EXP_RESYNC_MASTER = 39, EXP_DUMP_INTERNAL = 40,
  EXP_DUMP_EXTERNAL = 41, EXP_COMMIT = 42, ALL_FLUSH_MASTER = 43, ALL_RESYNC_MASTER = 44,
  ALL_FLUSH_CACHE = 45, ALL_COMMIT = 46, EXP_DUMP_INT_XML = 47, EXP_DUMP_EXT_XML = 48,
};

// What a flag's optional argument may be, in conntrackd's order of preference
// for a prefix ("-s c" is cache), and the request each choice makes.
typedef struct { const char *word; int code; } choice;

static const choice TARGET_COMMIT[] = {{"ct", CT_COMMIT}, {"expect", EXP_COMMIT}, {NULL, ALL_COMMIT}};
static const choice TARGET_FLUSH[] = {{"ct", CT_FLUSH_MASTER}, {"expect", EXP_FLUSH_MASTER}, {NULL, ALL_FLUSH_MASTER}};
static const choice TARGET_RESYNC[] = {{"ct", CT_RESYNC_MASTER}, {"expect", EXP_RESYNC_MASTER}, {NULL, ALL_RESYNC_MASTER}};
static const choice DUMP_INTERNAL[] = {{"ct", CT_DUMP_INTERNAL}, {"expect", EXP_DUMP_INTERNAL}, {NULL, CT_DUMP_INTERNAL}};
static const choice DUMP_EXTERNAL[] = {{"ct", CT_DUMP_EXTERNAL}, {"expect", EXP_DUMP_EXTERNAL}, {NULL, CT_DUMP_EXTERNAL}};
static const choice FLUSH_CACHE[] = {{"internal", CT_FLUSH_INT_CACHE}, {"external", CT_FLUSH_EXT_CACHE}, {NULL, ALL_FLUSH_CACHE}};
static const choice STATS_SECTION[] = {
  {"network", STATS_NETWORK}, {"cache", STATS_CACHE}, {"runtime", STATS_RUNTIME},
  {"multicast", STATS_LINK}, {"link", STATS_LINK}, {"rsqueue", STATS_RSQUEUE},
  {"process", STATS_PROCESS}, {"queue", STATS_QUEUE}, {"ct", STATS}, {"expect", EXP_STATS},
  {NULL, STATS},
};
static const choice NO_ARGUMENT[] = {{NULL, -1}};

typedef struct { const char *flag; const choice *choices; int code; } client_flag;

static const client_flag FLAGS[] = {
  {"-c", TARGET_COMMIT, 0}, {"-F", TARGET_FLUSH, 0}, {"-R", TARGET_RESYNC, 0},
  {"-i", DUMP_INTERNAL, 0}, {"-e", DUMP_EXTERNAL, 0}, {"-f", FLUSH_CACHE, 0},
  {"-s", STATS_SECTION, 0}, {"-k", NO_ARGUMENT, KILL}, {"-n", NO_ARGUMENT, REQUEST_DUMP},
  {"-B", NO_ARGUMENT, SEND_BULK}, {"-t", NO_ARGUMENT, RESET_TIMERS},
};

// ---- the command line -------------------------------------------------------

typedef struct {
  const char *config;
  int daemon;     // -d
  int code;       // the request, or -1
  char format;    // 0, 'x' or 'j'
  int old_link;   // "-s multicast": warn as the host does
} command;

/** The choice `word` abbreviates, or NULL; NULL word: the default. */
static const choice *pick(const choice *c, const char *word) {
  for (; c->word; c++)
    if (word && strncmp(c->word, word, strlen(word)) == 0) return c;
  return word ? NULL : c;
}

/** 1: understood; 0: leave the command line to the host (it explains the problem). */
static int parse(int argc, char **argv, command *cmd) {
  *cmd = (command){DEFAULT_CONFIG, 0, -1, 0, 0};
  for (int i = 1; i < argc; i++) {
    const char *w = argv[i];
    if (!strcmp(w, "-C")) {
      if (++i >= argc || !argv[i][0]) return 0;
      cmd->config = argv[i];
      continue;
    }
    if (!strcmp(w, "-d")) { cmd->daemon = 1; continue; }
    if (!strcmp(w, "-x") || !strcmp(w, "-j") || !strcmp(w, "--json")) {
      char f = w[1] == 'x' ? 'x' : 'j';
      if (cmd->format && cmd->format != f) return 0;
      cmd->format = f;
      continue;
    }
    const client_flag *fl = NULL;
    for (size_t k = 0; k < sizeof FLAGS / sizeof *FLAGS; k++)
      if (!strcmp(w, FLAGS[k].flag)) fl = &FLAGS[k];
    if (!fl) return 0; // -v, -h, --origin (the host sends its second int), unknown flags, stray words
    int code = fl->code;
    if (fl->choices != NO_ARGUMENT) {
      const char *arg = i + 1 < argc && argv[i + 1][0] != '-' ? argv[i + 1] : NULL;
      const choice *c = pick(fl->choices, arg);
      if (!c) return 0;
      if (arg) i++;
      code = c->code;
      if (fl->choices == STATS_SECTION && c->word && !strcmp(c->word, "multicast")) cmd->old_link = 1;
    }
    if (cmd->code != -1 && cmd->code != code) return 0;
    cmd->code = code;
  }
  if (cmd->code == -1) return !cmd->format;
  if (cmd->daemon) return 0;
  return 1;
}

/** Applies -x / -j to the request; 0 if they do not go with it. */
static int apply_format(command *cmd) {
  int c = cmd->code;
  if (!cmd->format) return 1;
  if (cmd->format == 'x') {
    switch (c) {
      case CT_DUMP_INTERNAL: cmd->code = CT_DUMP_INT_XML; return 1;
      case CT_DUMP_EXTERNAL: cmd->code = CT_DUMP_EXT_XML; return 1;
      case EXP_DUMP_INTERNAL: cmd->code = EXP_DUMP_INT_XML; return 1;
      case EXP_DUMP_EXTERNAL: cmd->code = EXP_DUMP_EXT_XML; return 1;
      default: return 0;
    }
  }
  switch (c) {
    case CT_DUMP_INTERNAL: case CT_DUMP_EXTERNAL: case EXP_DUMP_INTERNAL: case EXP_DUMP_EXTERNAL:
    case STATS: case EXP_STATS: case STATS_NETWORK: case STATS_CACHE: case STATS_RUNTIME:
    case STATS_LINK: case STATS_RSQUEUE: case STATS_PROCESS: case STATS_QUEUE:
      cmd->code = c | JSON_FLAG;
      return 1;
    default: return 0;
  }
}

// ---- the configuration: General { UNIX { Path ... } } --------------------------

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/**
 * Finds the control socket's path in conntrackd.conf: words, braces and
 * comments, as the host's lexer (host/config/lexer.ts) splits them. 1 when
 * found; 0 for anything unusual (unreadable file, a quote, unbalanced braces,
 * no Path), which the host then reports with file:line.
 */
static int socket_path(const char *file, char *out, size_t outlen) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  static char text[MAX_CONFIG + 1];
  ssize_t n, len = 0;
  while (len < MAX_CONFIG && (n = read(fd, text + len, MAX_CONFIG - len)) > 0) len += n;
  close(fd);
  if (n < 0 || len >= MAX_CONFIG) return 0;
  text[len] = 0;

  // The enclosing blocks' names, by depth; a block's name is the word before "{".
  enum { DEPTH = 16 };
  const char *names[DEPTH] = {0};
  size_t name_len[DEPTH] = {0};
  int depth = 0, found = 0, want_path = 0;
  const char *prev = NULL;
  size_t prev_len = 0;
  for (char *p = text; *p;) {
    if (is_space(*p)) { p++; continue; }
    if (*p == '#') { while (*p && *p != '\n') p++; continue; }
    if (*p == '"') return 0;
    if (*p == '{' || *p == '}') {
      if (*p == '{') {
        if (depth >= DEPTH) return 0;
        names[depth] = prev; name_len[depth] = prev ? prev_len : 0; depth++;
      } else if (--depth < 0) return 0;
      prev = NULL; want_path = 0; p++;
      continue;
    }
    char *w = p;
    while (*p && !is_space(*p) && *p != '{' && *p != '}' && *p != '"') p++;
    size_t wl = (size_t)(p - w);
    if (want_path) {
      if (wl >= outlen) return 0;
      memcpy(out, w, wl); out[wl] = 0;
      found = 1; want_path = 0;
    } else if (depth == 2 && wl == 4 && !strncmp(w, "Path", 4)
               && name_len[0] == 7 && !strncmp(names[0], "General", 7)
               && name_len[1] == 4 && !strncmp(names[1], "UNIX", 4)) {
      want_path = 1;
    }
    prev = w; prev_len = wl;
  }
  return found && depth == 0 && !want_path;
}

// ---- the exchange ------------------------------------------------------------------

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("ctsyncd: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

/** A process's state letter (0 when it is gone) and, if asked, its CPU time in clock ticks. */
static char process_state_cpu(pid_t pid, unsigned long long *cpu) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *paren = strrchr(buf, ')'); // the name may hold spaces and parentheses
  if (!paren || paren[1] != ' ') return 0;
  unsigned long long utime = 0, stime = 0;
  // Fields after the name: state, then ten more, then utime and stime (proc(5)).
  if (cpu && sscanf(paren + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &utime, &stime) == 2) {
    *cpu = utime + stime;
  }
  return paren[2];
}

static char process_state(pid_t pid) {
  return process_state_cpu(pid, NULL);
}

static pid_t peer_pid(int fd) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
}

static int stopped(char state) {
  return state == 0 || state == 'T' || state == 't' || state == 'Z' || state == 'X';
}

/** Bytes of our request the daemon has not read yet (the kernel charges them to our socket until then). */
static int unread(int fd) {
  int n = 0;
  return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : 0;
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n; len -= (size_t)n;
  }
  return 0;
}

/**
 * -k facing a socket nobody listens on: the daemon died (SIGKILL, the OOM
 * killer) and left it. Stopping what is already stopped succeeds, and the
 * socket goes, so that an HA manager's stop (Pacemaker's agent loops on -k
 * while the socket exists) ends, and its next start finds a clean place.
 */
static int remove_stale(const char *path) {
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) == 0) {
    say("no daemon was listening on %s: it is not running; removed its stale socket", path);
    return 0;
  }
  say("can't connect: is ctsyncd running? appropriate permissions? (%s: %s)", path, strerror(ECONNREFUSED));
  return 1;
}

static const char *NOT_ANSWERING = "the daemon at %s (pid %d) is not answering%s";

/** Sends the request and copies the answer to stdout; the exit status. */
static int request(const char *path, int code, int json) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  memcpy(sun.sun_path, path, strlen(path)); // socket_path() checked that it fits
  if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
    int err = errno;
    if (code == KILL && err == ECONNREFUSED) return remove_stale(path);
    // conntrackd's own words, then ours: which socket, and why.
    say("can't connect: is ctsyncd running? appropriate permissions? (%s: %s)", path, strerror(err));
    return 1;
  }
  if (send(fd, &code, sizeof code, MSG_NOSIGNAL) != sizeof code) {
    say("can't send the request to %s: %s", path, strerror(errno));
    return 1;
  }
  pid_t pid = peer_pid(fd);
  struct pollfd pfd = {.fd = fd, .events = POLLIN};

  // A daemon that lives reads the request at once, or soon after the work at
  // hand (a commit's flood of kernel events); one that is stopped, or stuck
  // without using the CPU, leaves it in the socket: give up on that after a
  // second rather than hang.
  unsigned long long cpu = 0, cpu_before = 0;
  process_state_cpu(pid, &cpu_before);
  long deadline = now_ms() + ACCEPT_TIMEOUT_MS;
  for (int wait = 1; unread(fd) > 0; wait = wait < 64 ? wait * 2 : wait) {
    if (now_ms() >= deadline) {
      char state = process_state_cpu(pid, &cpu);
      if (stopped(state)) {
        say(NOT_ANSWERING, path, (int)pid, " (it is stopped)");
        return 1;
      }
      if (cpu == cpu_before) {
        say(NOT_ANSWERING, path, (int)pid, ": it took no request within a second, and did no work");
        return 1;
      }
      cpu_before = cpu; // busy: wait another second
      deadline = now_ms() + ACCEPT_TIMEOUT_MS;
    }
    if (poll(&pfd, 1, wait) > 0) break; // an answer is coming
  }

  static char buf[1 << 16];
  long total = 0;
  for (;;) {
    int r = poll(&pfd, 1, STALL_CHECK_MS);
    if (r == 0) {
      // A commit can take seconds; a stopped daemon never ends.
      if (stopped(process_state(pid))) {
        say(NOT_ANSWERING, path, (int)pid, " (it stopped while answering)");
        return 1;
      }
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; // closed: the answer is whole (an error mid-answer ends it, as conntrackd's client)
    total += n;
    if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0) return 0; // `ctsyncd -i | head`
  }
  close(fd);
  if (json && total == 0) {
    say("the daemon at %s sent no JSON answer: JSON output (-j) needs ctsyncd, and conntrackd does not know it", path);
    return 1;
  }
  return 0;
}

// ---- handing over to the host --------------------------------------------------------

/** The package's root, from where this program lives. */
static void package_root(char *out, size_t len) {
  ssize_t n = readlink("/proc/self/exe", out, len - 1);
  out[n > 0 ? n : 0] = 0;
  char *slash = strrchr(out, '/');
  if (slash) *slash = 0;
  // Built, this program is <root>/native/build/Release/ctsyncd; an installed
  // package has it at <root>/bin/ctsyncd too (scripts/install.sh).
  const char *tails[] = {"/native/build/Release", "/bin"};
  size_t at = strlen(out);
  for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
    size_t t = strlen(tails[i]);
    if (at >= t && strcmp(out + at - t, tails[i]) == 0) {
      out[at - t] = 0;
      return;
    }
  }
}

/** Runs the TypeScript host with our arguments: precompiled if built, else through tsx (development). */
static void exec_host(int argc, char **argv) {
  char root[PATH_MAX], entry[PATH_MAX + 32], loader[PATH_MAX + 64];
  package_root(root, sizeof root);
  snprintf(entry, sizeof entry, "%s/dist/ctsyncd.cjs", root);
  const char *node = getenv("CTSYNC_NODE") ? getenv("CTSYNC_NODE") : "node";
  // Node parses this CA bundle before any of our code runs (40-60 ms of a
  // start where it is set system-wide); the daemon makes no TLS connection.
  unsetenv("NODE_EXTRA_CA_CERTS");
  // glibc gives each thread that allocates an arena of its own; V8's compiler
  // threads leave their freed zones there (3-4 MB by 100,000 entries). Two
  // arenas keep about 10 bytes an entry of that, unless the operator says.
  setenv("MALLOC_ARENA_MAX", "2", 0);
  char **args = calloc((size_t)argc + 4, sizeof *args);
  int k = 0;
  args[k++] = "ctsyncd"; // what ps shows until the host sets its title
  if (access(entry, R_OK) != 0) {
    snprintf(loader, sizeof loader, "file://%s/node_modules/tsx/dist/loader.mjs", root);
    snprintf(entry, sizeof entry, "%s/host/main.ts", root);
    args[k++] = "--import";
    args[k++] = loader;
  } else {
    snprintf(entry, sizeof entry, "%s/bin/host.cjs", root); // it starts the bundle from its code cache
  }
  args[k++] = entry;
  for (int i = 1; i < argc; i++) args[k++] = argv[i];
  execvp(node, args);
  say("cannot run %s: %s (is Node.js installed? CTSYNC_NODE names another)", node, strerror(errno));
  exit(1);
}

/**
 * -d: starts the daemon in a new session and returns once it is ready. The
 * daemon says READY on its stdout (host/main.ts); anything else it writes
 * before that is why it could not start, shown to the user.
 */
static int background(int argc, char **argv) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) { say("pipe: %s", strerror(errno)); return 1; }
  pid_t child = fork();
  if (child < 0) { say("fork: %s", strerror(errno)); return 1; }
  if (child == 0) {
    setsid();
    dup2(p[1], STDOUT_FILENO);
    dup2(p[1], STDERR_FILENO);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    // The host sees -d with this variable set: it runs the daemon here and says READY.
    setenv("CTSYNC_BACKGROUND_CHILD", "1", 1);
    exec_host(argc, argv);
  }
  close(p[1]);
  static char said[1 << 16];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(p[0], said + len, sizeof said - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    said[len] = 0;
    char *ready = strstr(said, "READY\n");
    if (ready) {
      write_all(STDERR_FILENO, said, (size_t)(ready - said)); // warnings before readiness
      return 0;
    }
    if (len == sizeof said - 1) len = 0; // keep reading; only the tail matters
  }
  int status = 0;
  waitpid(child, &status, 0);
  write_all(STDERR_FILENO, said, len);
  return WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  command cmd;
  if (!parse(argc, argv, &cmd) || (cmd.code != -1 && !apply_format(&cmd))) exec_host(argc, argv);
  if (cmd.code == -1) {
    if (cmd.daemon && !getenv("CTSYNC_BACKGROUND_CHILD")) return background(argc, argv);
    exec_host(argc, argv);
  }
  char path[sizeof ((struct sockaddr_un *)0)->sun_path];
  if (!socket_path(cmd.config, path, sizeof path)) exec_host(argc, argv);
  if (cmd.old_link) fputs("WARNING: -s multicast is the old name of -s link; please write \"link\"\n", stderr);
  return request(path, cmd.code, (cmd.code & JSON_FLAG) != 0);
}
