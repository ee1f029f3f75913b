/* atomic.c - temporary name, fsync, rename; temporaries removed on errors and signals;
 * the check that an output is not one of the run's inputs (atomic.h says why). */
#define _DEFAULT_SOURCE /* DT_*, strdup in older libcs */
#include "io/atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "io/fileio.h"

/* ---- the table of live temporaries ------------------------------------------------------ */

/* Fixed storage, because the signal handler may only read memory and call unlink(): a slot
 * is 0 (free), 2 (being filled or emptied: the handler skips it) or 1 (live). A program with
 * more temporaries alive at once than slots still writes them; the extra ones are just not
 * removed on a signal (the next run removes them). */
enum { SLOTS = 16 };
static char slot_name[SLOTS][PATH_MAX];
static atomic_int slot_state[SLOTS];

/* Takes a slot for tmp, still skipped by the handler: slot_live() once the file is ours. */
static int slot_claim(const char *tmp) {
    size_t n = strlen(tmp);
    if (n >= PATH_MAX) return -1;
    for (int i = 0; i < SLOTS; i++) {
        int expect = 0;
        if (atomic_compare_exchange_strong(&slot_state[i], &expect, 2)) {
            memcpy(slot_name[i], tmp, n + 1);
            return i;
        }
    }
    return -1;
}

static void slot_live(int i) {
    if (i >= 0 && i < SLOTS) atomic_store(&slot_state[i], 1);
}

static void slot_release(int i) {
    if (i >= 0 && i < SLOTS) atomic_store(&slot_state[i], 0);
}

static void on_fatal_signal(int sig) {
    int saved = errno;
    for (int i = 0; i < SLOTS; i++)
        if (atomic_load(&slot_state[i]) == 1) unlink(slot_name[i]); /* async-signal-safe */
    /* SA_RESETHAND restored the default action; the signal is blocked until we return,
     * then kills the process as if never caught (the exit status says which signal). */
    raise(sig);
    errno = saved;
}

void rn_atomic_catch_signals(void) {
    /* Every signal whose default action ends the process and that a user or the system
     * sends while a file is written: Ctrl-C, kill, a closed terminal, Ctrl-\, a reader of
     * stdout gone (`| head`), a CPU time limit. */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGXCPU, SIGALRM};
    /* Past a file size limit (ulimit -f) write() then fails with EFBIG, which the writers
     * report and clean up after, instead of the process dying with the temporary. */
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGXFSZ, &ign, NULL);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        for (size_t j = 0; j < sizeof sigs / sizeof *sigs; j++) sigaddset(&sa.sa_mask, sigs[j]);
        sigaction(sigs[i], &sa, NULL);
    }
}

/* ---- temporary names ------------------------------------------------------------------ */

/* A temporary is "<name>.tmp.<pid>.<n>.resnet": the pid says whether its writer still runs, n
 * (counted within the process) keeps two outputs of one run apart, and the ".resnet" ending
 * marks the file as ours: the stale ones this code removes are only names it could have made,
 * never a user's "data.tmp.1". The file name part is cut to BASE_KEEP bytes so that the whole
 * stays within NAME_MAX (255) even when the output's own name is near it; n still tells two
 * cut names apart. */
enum { BASE_KEEP = 200 };
static const char TMP_TAG[] = ".resnet";
static atomic_ulong tmp_count;

/* Splits path into its folder ("." if none) and the kept prefix of its file name. */
static int split_path(const char *path, char **dir, char **base) {
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t dl = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 1;
    size_t bl = strlen(name);
    if (bl > BASE_KEEP) bl = BASE_KEEP;
    *dir = malloc(dl + 1);
    *base = malloc(bl + 1);
    if (!*dir || !*base) {
        free(*dir);
        free(*base);
        return -1;
    }
    memcpy(*dir, slash ? path : ".", dl);
    (*dir)[dl] = '\0';
    memcpy(*base, name, bl);
    (*base)[bl] = '\0';
    return 0;
}

/* Reads a positive decimal number ending at the first byte that is not a digit; NULL unless
 * there was one, without a leading zero, up to max. */
static const char *read_number(const char *p, unsigned long max, unsigned long *v) {
    if (*p < '1' || *p > '9') return NULL;
    unsigned long n = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (max - (unsigned long)(*p - '0')) / 10) return NULL;
        n = n * 10 + (unsigned long)(*p - '0');
    }
    *v = n;
    return p;
}

/* The pid in n if n is one of our temporaries of base ("<base>.tmp.<pid>.<k>.resnet"), else 0. */
static pid_t temporary_pid(const char *n, const char *base) {
    size_t bl = strlen(base);
    if (strncmp(n, base, bl) != 0 || strncmp(n + bl, ".tmp.", 5) != 0) return 0;
    unsigned long pid, k;
    const char *p = read_number(n + bl + 5, INT_MAX, &pid);
    if (!p || *p != '.') return 0;
    if (p[1] == '0') p += 2; /* the first temporary of a process is number 0 */
    else if (!(p = read_number(p + 1, ULONG_MAX, &k))) return 0;
    return strcmp(p, TMP_TAG) == 0 ? (pid_t)pid : 0;
}

/* Removes our temporaries of base in dir whose process no longer exists: what a writer killed
 * outright left behind. Nothing ever reads a temporary, so removing is all there is to do; a
 * live process's (another writer of the same name now) is left alone, and so is one that
 * carries our own pid (a thread of this run may be writing it). Only regular files of this
 * user go. */
static void remove_stale(const char *dir, const char *base) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        pid_t pid = temporary_pid(de->d_name, base);
        if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
        size_t len = strlen(dir) + 1 + strlen(de->d_name) + 1;
        char *full = malloc(len);
        if (!full) break;
        snprintf(full, len, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (lstat(full, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == geteuid()) (void)unlink(full);
        free(full);
    }
    closedir(d);
}

/* Refuses path when it is itself a symbolic link (its folder may be reached through links):
 * the rename would replace the link with a plain file, while the user meant the file it
 * points to, and writing through it instead could reach any file (/dev/stdout as root). */
static resnet_status refuse_link(const char *path, resnet_error *err) {
    struct stat lb;
    if (lstat(path, &lb) != 0 || !S_ISLNK(lb.st_mode)) return RESNET_OK;
    char target[PATH_MAX], shown[256];
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    return rn_fail(err, RESNET_E_ARG,
                   "%s is a symbolic link (to %s); refusing to replace it or to write through it: name the file itself",
                   path, rn_printable(n > 0 ? target : "?", shown, sizeof shown));
}

resnet_status rn_atomic_open(rn_atomic_file *f, const char *path, resnet_error *err) {
    char eb[128];
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->slot = -1;
    if (!path || !*path) return rn_fail(err, RESNET_E_ARG, "no output file name");
    resnet_status ls = refuse_link(path, err);
    if (ls != RESNET_OK) return ls;
    char *dir, *base;
    if (split_path(path, &dir, &base) != 0) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    remove_stale(dir, base);
    size_t tl = strlen(dir) + strlen(base) + 64;
    f->tmp = malloc(tl);
    f->path = strdup(path);
    if (!f->tmp || !f->path) {
        free(dir);
        free(base);
        rn_atomic_abort(f);
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", path);
    }
    /* "dir/" only when path had one, so relative names stay as the user wrote them. A name
     * that exists (left by a dead process that had our pid, or made by someone else) is never
     * opened or removed: the next number is tried. The handler's slot is filled before the
     * file exists and made live once the file is ours, so the handler never removes a file
     * that is not ours; a signal in the instant between the two leaves the temporary to the
     * next writer of path, as a kill -9 does. */
    const char *lead = strrchr(path, '/') ? dir : "", *sep = strrchr(path, '/') && strcmp(dir, "/") != 0 ? "/" : "";
    int e = 0;
    for (int tries = 0; tries < 100;) {
        snprintf(f->tmp, tl, "%s%s%s.tmp.%ld.%lu%s", lead, sep, base, (long)getpid(), atomic_fetch_add(&tmp_count, 1),
                 TMP_TAG);
        f->slot = slot_claim(f->tmp);
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (f->fd >= 0) break;
        e = errno;
        slot_release(f->slot);
        f->slot = -1;
        if (e != EINTR && e != EEXIST) break;
        if (e == EEXIST) tries++;
    }
    free(dir);
    free(base);
    if (f->fd < 0) {
        resnet_status s = rn_fail(err, RESNET_E_IO, "%s: cannot create a file beside it: %s", path,
                                  rn_errno_str(e, eb, sizeof eb));
        free(f->tmp);
        free(f->path);
        f->tmp = f->path = NULL;
        return s;
    }
    slot_live(f->slot);
    /* A file replaced keeps its permissions: a private (0600) file must not come back
     * readable by all because it was rewritten. */
    struct stat old;
    if (stat(path, &old) == 0 && S_ISREG(old.st_mode)) (void)fchmod(f->fd, old.st_mode & 07777);
    return RESNET_OK;
}

FILE *rn_atomic_stdio(rn_atomic_file *f, resnet_error *err) {
    char eb[128];
    if (f->fp) return f->fp;
    if (f->fd < 0) {
        rn_fail(err, RESNET_E_ARG, "rn_atomic_stdio: file not open");
        return NULL;
    }
    f->fp = fdopen(f->fd, "wb");
    if (!f->fp) rn_fail(err, RESNET_E_IO, "%s: %s", f->path, rn_errno_str(errno, eb, sizeof eb));
    return f->fp;
}

/* Closes the temporary (stdio or descriptor); 0, or -1 with errno set. */
static int close_tmp(rn_atomic_file *f, int sync) {
    int rc = 0, e = 0;
    if (f->fp) {
        if (fflush(f->fp) != 0 || ferror(f->fp)) rc = -1, e = errno ? errno : EIO;
        if (rc == 0 && sync && fsync(fileno(f->fp)) != 0) rc = -1, e = errno;
        if (fclose(f->fp) != 0 && rc == 0) rc = -1, e = errno;
    } else if (f->fd >= 0) {
        if (sync && fsync(f->fd) != 0) rc = -1, e = errno;
        if (close(f->fd) != 0 && rc == 0) rc = -1, e = errno;
    }
    f->fp = NULL;
    f->fd = -1;
    errno = e;
    return rc;
}

/* Syncs the folder holding path, so the rename itself survives a crash (best effort). */
static void sync_parent_dir(const char *path) {
    char *dir, *base;
    if (split_path(path, &dir, &base) != 0) return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
    free(base);
}

static void forget(rn_atomic_file *f) {
    slot_release(f->slot);
    f->slot = -1;
    free(f->tmp);
    free(f->path);
    f->tmp = f->path = NULL;
}

resnet_status rn_atomic_commit(rn_atomic_file *f, resnet_error *err) {
    char eb[128];
    if (!f->tmp) return rn_fail(err, RESNET_E_ARG, "rn_atomic_commit: file not open");
    resnet_status s = RESNET_OK;
    /* Test seam (tests/test_reliability.sh): hold the complete temporary for a while, so a
     * signal can be sent at the moment a real run spends microseconds in. */
    const char *hold = getenv("RESNET_TEST_HOLD_TEMP");
    if (hold && *hold) {
        if (f->fp) fflush(f->fp);
        for (int i = 0; i < 100 * atoi(hold); i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    if (close_tmp(f, 1) != 0)
        s = rn_fail(err, RESNET_E_IO, "%s: write failed: %s", f->path, rn_errno_str(errno, eb, sizeof eb));
    /* checked again here: a link may have been made there while the file was written */
    else if ((s = refuse_link(f->path, err)) == RESNET_OK && rename(f->tmp, f->path) != 0)
        s = rn_fail(err, RESNET_E_IO, "%s: cannot put the new file in place: %s", f->path,
                    rn_errno_str(errno, eb, sizeof eb));
    if (s != RESNET_OK) (void)unlink(f->tmp);
    else sync_parent_dir(f->path);
    forget(f);
    return s;
}

void rn_atomic_abort(rn_atomic_file *f) {
    if (!f) return;
    (void)close_tmp(f, 0);
    if (f->tmp) (void)unlink(f->tmp);
    forget(f);
}

/* ---- outputs never replace inputs ------------------------------------------------------- */

int rn_file_id_of(const char *path, rn_file_id *id) {
    struct stat sb;
    if (!path || stat(path, &sb) != 0) return 0;
    id->dev = sb.st_dev;
    id->ino = sb.st_ino;
    return 1;
}

int rn_file_id_of_fd(int fd, rn_file_id *id) {
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) return 0;
    id->dev = sb.st_dev;
    id->ino = sb.st_ino;
    return 1;
}

int rn_file_id_equal(const rn_file_id *a, const rn_file_id *b) { return a->dev == b->dev && a->ino == b->ino; }

int rn_same_file(const char *a, const char *b) {
    rn_file_id ia, ib;
    return rn_file_id_of(a, &ia) && rn_file_id_of(b, &ib) && rn_file_id_equal(&ia, &ib);
}

/* path with its folder resolved (links, "./", "..") and its own name kept; NULL if the folder
 * cannot be resolved or memory is short. */
static char *resolved_name(const char *path) {
    char *dir, *base;
    if (split_path(path, &dir, &base) != 0) return NULL;
    const char *slash = strrchr(path, '/');
    free(base);
    char *real = realpath(dir, NULL), *out = NULL;
    const char *name = slash ? slash + 1 : path;
    if (real && (out = malloc(strlen(real) + strlen(name) + 2))) sprintf(out, "%s/%s", real, name);
    free(real);
    free(dir);
    return out;
}

int rn_same_output(const char *a, const char *b) {
    if (!a || !b) return 0;
    if (strcmp(a, b) == 0 || rn_same_file(a, b)) return 1;
    char *ra = resolved_name(a), *rb = resolved_name(b);
    int same = ra && rb && strcmp(ra, rb) == 0;
    free(ra);
    free(rb);
    return same;
}

static const char *kind_name(rn_file_kind k) {
    switch (k) {
    case RN_KIND_SAFETENSORS: return "a safetensors weight file";
    case RN_KIND_HEAD: return "a classifier head made by train-head";
    case RN_KIND_PNG: return "a PNG written by resnet";
    case RN_KIND_NPY: return "a .npy file";
    case RN_KIND_F32: return "a float32 feature matrix";
    case RN_KIND_PREDICTIONS: return "a predictions file";
    case RN_KIND_ONNX: return "an ONNX model written by resnet export";
    case RN_KIND_REPORT: return "a report written by resnet";
    }
    return "?";
}

/* 1 if needle occurs in the first max bytes of fd. */
static int contains(int fd, size_t max, const char *needle, size_t nl) {
    char *buf = malloc(max);
    if (!buf) return 0;
    size_t have = 0;
    while (have < max) {
        ssize_t r = pread(fd, buf + have, max - have, (off_t)have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        have += (size_t)r;
    }
    int hit = 0;
    for (size_t i = 0; !hit && i + nl <= have; i++) hit = memcmp(buf + i, needle, nl) == 0;
    free(buf);
    return hit;
}

/* 1 if fd (size bytes long) reads as the float32 matrices embed writes, at any row width:
 * whole floats, each word sampled (all of a small file, else 64 KiB in 64 pieces spread over
 * it) +-0 or a positive normal float below 2^64 (pooled features and stage maps come after a
 * ReLU), and not text (at most half of the nonzero words four printable bytes; a feature's
 * top byte is printable, its three random low bytes seldom all are). Another program's file
 * fails on its first kilobyte: a header, a text, a negative or denormal or huge word. */
static int plausible_f32(int fd, off_t size) {
    enum { PIECE = 1024, PIECES = 64 };
    if (size % 4 != 0) return 0;
    unsigned char b[PIECE];
    const off_t step = size <= (off_t)PIECE * PIECES ? PIECE : (size - PIECE) / (PIECES - 1);
    long nonzero = 0, text = 0;
    for (int p = 0; p < PIECES; p++) {
        const off_t at = ((off_t)p * step) & ~(off_t)3;
        if (at >= size) break;
        ssize_t n;
        do n = pread(fd, b, sizeof b, at);
        while (n < 0 && errno == EINTR);
        if (n < 4) return 0;
        for (ssize_t i = 0; i + 4 <= n; i += 4) {
            const uint32_t u = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 | (uint32_t)b[i + 3] << 24;
            if ((u & 0x7fffffffu) == 0) continue;
            const unsigned exp = u >> 23 & 0xff;
            if ((u >> 31) || exp == 0 || exp >= 127 + 64) return 0;
            nonzero++;
            int printable = 1;
            for (int j = 0; j < 4; j++) printable &= b[i + j] >= 0x20 && b[i + j] < 0x7f;
            text += printable;
        }
    }
    return text * 2 <= nonzero;
}

/* 1 if the first bytes of fd (size bytes long) say it is of kind k. */
static int is_kind(int fd, off_t size, rn_file_kind k) {
    unsigned char b[64];
    ssize_t n;
    do n = pread(fd, b, sizeof b, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return 0;
    uint64_t hl = 0;
    for (int i = 7; i >= 0 && n >= 8; i--) hl = hl << 8 | b[i];
    const int safetensors = n >= 9 && b[8] == '{' && hl <= (uint64_t)size - 8;
    static const char head_mark[] = "\"format\":\"resnet-linear-head\"";
    switch (k) {
    case RN_KIND_SAFETENSORS:
    case RN_KIND_HEAD: {
        if (!safetensors) return 0;
        size_t max = hl + 8 < ((size_t)1 << 20) ? (size_t)hl + 8 : (size_t)1 << 20;
        int head = contains(fd, max, head_mark, sizeof head_mark - 1);
        return k == RN_KIND_HEAD ? head : !head;
    }
    case RN_KIND_PNG: {
        static const char mark[] = "tEXtSoftware\0" RN_PNG_SOFTWARE;
        return n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0 && contains(fd, 4096, mark, sizeof mark - 1);
    }
    case RN_KIND_NPY: return n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0;
    case RN_KIND_F32: {
        static const struct { const char *m; size_t n; } magic[] = {
            {"\x89PNG", 4}, {"\xff\xd8\xff", 3}, {"GIF8", 4}, {"RIFF", 4}, {"II*\0", 4}, {"MM\0*", 4},
            {"BM", 2}, {"\x93NUMPY", 6}, {"%PDF", 4}, {"PK\3\4", 4}};
        for (size_t i = 0; i < sizeof magic / sizeof *magic; i++)
            if ((size_t)n >= magic[i].n && memcmp(b, magic[i].m, magic[i].n) == 0) return 0;
        return !safetensors && plausible_f32(fd, size);
    }
    case RN_KIND_PREDICTIONS: {
        size_t pl = strlen(RN_PREDICTIONS_HEADER);
        return (size_t)n > pl && memcmp(b, RN_PREDICTIONS_HEADER, pl) == 0 && b[pl] == '\n';
    }
    case RN_KIND_ONNX: /* ir_version (field 1), then producer_name (field 2) "resnet" */
        return n >= 10 && b[0] == 0x08 && memcmp(b + 2, "\x12\x06resnet", 8) == 0;
    case RN_KIND_REPORT: {
        size_t rl = strlen(RN_REPORT_HEADER);
        return (size_t)n >= rl && memcmp(b, RN_REPORT_HEADER, rl) == 0;
    }
    }
    return 0;
}

resnet_status rn_output_check(const char *out, rn_file_kind kind, int force, const rn_file_id *inputs, size_t n,
                              resnet_error *err) {
    char eb[128];
    if (!out || !*out) return rn_fail(err, RESNET_E_ARG, "no output file name");
    struct stat sb;
    if (stat(out, &sb) != 0) {
        if (errno == ENOENT) return refuse_link(out, err); /* a new file, unless a dangling link */
        return rn_fail(err, RESNET_E_IO, "%s: %s", out, rn_errno_str(errno, eb, sizeof eb));
    }
    const rn_file_id out_id = {sb.st_dev, sb.st_ino};
    for (size_t i = 0; i < n; i++)
        if (rn_file_id_equal(&inputs[i], &out_id))
            return rn_fail(err, RESNET_E_ARG, "%s is one of this run's inputs; refusing to overwrite it (choose another output name)",
                           out);
    /* only out's own name: a folder reached through a link is the user's choice */
    resnet_status ls = refuse_link(out, err);
    if (ls != RESNET_OK) return ls;
    if (!S_ISREG(sb.st_mode))
        return rn_fail(err, RESNET_E_ARG, "%s exists and is not a regular file; refusing to replace it", out);
    if (force || sb.st_size == 0) return RESNET_OK;
    int fd = open(out, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    int ok = fd >= 0 && is_kind(fd, sb.st_size, kind);
    if (fd >= 0) close(fd);
    if (!ok)
        return rn_fail(err, RESNET_E_ARG, "%s exists and is not %s; refusing to replace it (remove it, or pass --force)",
                       out, kind_name(kind));
    return RESNET_OK;
}
