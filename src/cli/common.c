/* common.c - flag parsing, weight-path resolution and error printing for the CLI. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

const char *cli_current_command; /* main.c sets it: usage errors point at its --help */

/* One line on stderr: "resnet: <message><tail>\n". The message is formatted whole first so
 * that what it quotes (file names) goes through cli_text: no control character reaches the
 * terminal. */
static void print_error(const char *tail, const char *fmt, va_list ap) {
    char small[1024], *msg = small;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small && (msg = malloc((size_t)n + 1)) != NULL) vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    else if (!msg) msg = small; /* out of memory: the message cut short, still one line */
    va_end(ap2);
    fputs("resnet: ", stderr);
    cli_text(stderr, n < 0 ? fmt : msg);
    fputs(tail, stderr);
    if (msg != small) free(msg);
}

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_error("\n", fmt, ap);
    va_end(ap);
    return 1;
}

int cli_usage_error(const char *fmt, ...) {
    char tail[64];
    if (cli_current_command) snprintf(tail, sizeof tail, " (see resnet %s --help)\n", cli_current_command);
    else snprintf(tail, sizeof tail, " (see resnet --help)\n");
    va_list ap;
    va_start(ap, fmt);
    print_error(tail, fmt, ap);
    va_end(ap);
    return 2;
}

/* A number as a person types it: an optional sign, then a digit (or '.'); strtol and strtod
 * would skip leading blanks, so " 5" would pass for 5. */
static int starts_like_number(const char *s) {
    if (*s == '-' || *s == '+') s++;
    return isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]));
}

int cli_parse_int(const char *flag, const char *s, int lo, int hi, int *out) {
    char *end = NULL;
    errno = 0;
    long v = s && starts_like_number(s) ? strtol(s, &end, 10) : 0;
    if (!s || !end || end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        cli_usage_error("%s needs a whole number from %d to %d, got '%s'", flag, lo, hi, s ? s : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_double(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = s && starts_like_number(s) ? strtod(s, &end) : 0;
    /* !(v >= lo) also refuses NaN */
    if (!s || !end || end == s || *end != '\0' || errno == ERANGE || !(v >= lo && v <= hi)) {
        cli_usage_error("%s needs a number from %g to %g, got '%s'", flag, lo, hi, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_tta(const char *s, resnet_tta *out) {
    int t = resnet_tta_parse(s);
    if (t < 0) {
        cli_usage_error("--tta must be none, flip, 10crop or multiscale, got '%s'", s ? s : "");
        return -1;
    }
    *out = (resnet_tta)t;
    return 0;
}

/* ---- options ---------------------------------------------------------------------------- */

/* Edit distance (insertions, deletions, substitutions, adjacent swaps) of a[0..n) and b. */
static int distance(const char *a, size_t n, const char *b) {
    size_t m = strlen(b);
    if (n > 64 || m > 64) return 1000;
    int d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *cli_closest(const char *s, size_t len, const char *const *names, int n) {
    const char *best = NULL;
    int bestd = 1000;
    for (int i = 0; i < n; i++) {
        /* a beginning ("train" for "train-head") is as good as one typo */
        int d = len > 0 && strncmp(names[i], s, len) == 0 ? 1 : distance(s, len, names[i]);
        if (d < bestd) bestd = d, best = names[i];
    }
    /* a third of the word may be wrong (at least one letter): "clasify", "--jsn", "thread" */
    int allowed = (int)(len + 2) / 3;
    return best && bestd <= (allowed > 1 ? allowed : 1) && bestd < (int)len ? best : NULL;
}

static int count_options(const struct option *o) {
    int n = 0;
    while (o[n].name) n++;
    return n;
}

/* The name of the long option in argv text "--name[=value]", into buf. */
static const char *long_name(const char *text, char *buf, size_t n) {
    if (text[0] == '-' && text[1] == '-') text += 2;
    size_t len = strcspn(text, "=");
    if (len >= n) len = n - 1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    return buf;
}

/* "-k/--top, --json, ..." for a message: a command's options when none is close to a typo. */
static const char *option_list(const cli_command *cmd, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (const struct option *o = cmd->options; o->name && len < n; o++) {
        int w = o->val < 128 && o->val > ' ' ? snprintf(buf + len, n - len, "%s-%c/--%s", len ? ", " : "", o->val, o->name)
                                             : snprintf(buf + len, n - len, "%s--%s", len ? ", " : "", o->name);
        if (w < 0) break;
        len += (size_t)w;
    }
    return buf;
}

/* The unknown or ambiguous option of a '?' from getopt_long, reported. */
static int bad_option(const cli_command *cmd, int argc, char **argv) {
    const struct option *o = cmd->options;
    int n = count_options(o);
    if (n > 128) n = 128;
    const char *names[128];
    for (int i = 0; i < n; i++) names[i] = o[i].name;
    const char *text = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (optopt == 0 || (text[0] == '-' && text[1] == '-' && strchr(text, '='))) { /* a long option */
        char name[80];
        long_name(text, name, sizeof name);
        for (int i = 0; i < n; i++)
            if (strcmp(o[i].name, name) == 0 && o[i].has_arg == no_argument)
                return cli_usage_error("%s: option '--%s' takes no value", cmd->name, name);
        char list[600] = "";
        int matches = 0;
        size_t len = strlen(name);
        for (int i = 0; i < n; i++)
            if (strncmp(o[i].name, name, len) == 0) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s--%s", matches++ ? ", " : "", o[i].name);
            }
        if (matches > 1) return cli_usage_error("%s: option '--%s' is ambiguous: %s", cmd->name, name, list);
        const char *near = cli_closest(name, len, names, n);
        if (near) return cli_usage_error("%s: unknown option '--%s'; did you mean '--%s'?", cmd->name, name, near);
        return cli_usage_error("%s: unknown option '--%s'; its options are %s", cmd->name, name, option_list(cmd, list, sizeof list));
    }
    /* An unknown letter. When it came from a word such as "-json" (a long option typed with
     * one dash), that word names the option meant. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) break;
        if (a[0] != '-' || a[1] == '-' || a[1] != optopt || strlen(a) < 3) continue;
        const char *near = cli_closest(a + 1, strcspn(a + 1, "="), names, n);
        if (near)
            return cli_usage_error("%s: unknown option '-%c' (in '%s'); did you mean '--%s'?", cmd->name, optopt, a,
                                   near);
        break;
    }
    char list[600];
    if (optopt > ' ' && optopt < 127)
        return cli_usage_error("%s: unknown option '-%c'; its options are %s", cmd->name, optopt,
                               option_list(cmd, list, sizeof list));
    return cli_usage_error("%s: unknown option '%s'", cmd->name, text);
}

int cli_getopt(const cli_command *cmd, int argc, char **argv, cli_common *common) {
    char shortopts[64];
    /* ':' first: a missing value returns ':' (not '?'), so it gets its own message */
    snprintf(shortopts, sizeof shortopts, ":%s", cmd->shortopts);
    opterr = 0; /* our messages, not getopt's */
    for (;;) {
        optopt = 0;
        int c = getopt_long(argc, argv, shortopts, cmd->options, NULL);
        if (c == -1) return CLI_END;
        if (c == 'h') {
            cli_command_usage(cmd, stdout);
            return CLI_EXIT_HELP;
        }
        if (c == ':') {
            const char *text = argv[optind - 1];
            char name[80];
            if (text[0] == '-' && text[1] == '-')
                cli_usage_error("%s: option '--%s' needs a value", cmd->name, long_name(text, name, sizeof name));
            else
                cli_usage_error("%s: option '-%c' needs a value", cmd->name, optopt);
            return CLI_EXIT_USAGE;
        }
        if (c == '?') {
            bad_option(cmd, argc, argv);
            return CLI_EXIT_USAGE;
        }
        if (!common || c < CLI_OPT_WEIGHTS || c > CLI_OPT_EXIF_ORIENTATION) return c;
        if (c == CLI_OPT_WEIGHTS) {
            if (!*optarg) return cli_usage_error("--weights needs a file"), CLI_EXIT_USAGE;
            common->weights = optarg;
        } else if (c == CLI_OPT_THREADS) {
            if (cli_parse_int("--threads", optarg, 0, 256, &common->threads) != 0) return CLI_EXIT_USAGE;
        } else if (c == CLI_OPT_KERNELS) {
            int k = resnet_kernels_parse(optarg);
            if (k < 0) {
                cli_usage_error("--kernels must be auto, c, avx2 or avx512, got '%s'", optarg);
                return CLI_EXIT_USAGE;
            }
            common->kernels = (resnet_kernels)k;
        } else if (c == CLI_OPT_EXIF_ORIENTATION) {
            common->image_flags |= RESNET_IMAGE_EXIF_ORIENTATION;
        } else {
            common->direct = 1;
        }
    }
}

static const char network_help[] =
    "\n"
    "options of every command that runs the network:\n"
    "      --weights FILE    safetensors weights (default: $RESNET_WEIGHTS, else\n"
    "                        ~/.cache/resnet/resnet50-v1-caffe.safetensors, made by 'resnet fetch')\n"
    "      --threads N       worker threads, 0 = one per core (default 0)\n"
    "      --kernels K       auto, c, avx2 or avx512 (default auto: the best this CPU has)\n"
    "      --direct          no Winograd for the early 3x3 convolutions (slower, closest to\n"
    "                        the reference's arithmetic)\n"
    "      --exif-orientation  turn photos upright as their EXIF orientation tag says\n"
    "                        (default: ignored, as PIL and torchvision, the reference, do)\n";

void cli_command_usage(const cli_command *cmd, FILE *f) {
    fprintf(f, "usage: resnet %s [options] %s\n%s\n\noptions:\n%s", cmd->name, cmd->synopsis, cmd->about,
            cmd->help);
    fputs("  -h, --help            this help\n", f);
    int network = 0;
    for (const struct option *o = cmd->options; o->name; o++) network |= o->val == CLI_OPT_WEIGHTS;
    if (network) fputs(network_help, f);
    if (cmd->notes) fprintf(f, "\n%s", cmd->notes);
}

unsigned long long cli_cache_key(const resnet_model *m, const cli_common *c) {
    unsigned long long fp = resnet_model_fingerprint(m);
    /* Flags 0 keep the plain fingerprint, so existing caches stay valid. */
    return c->image_flags ? fp ^ (0x9e3779b97f4a7c15ull * c->image_flags) : fp;
}

/* The converted default: $RESNET_CACHE or $XDG_CACHE_HOME/resnet or ~/.cache/resnet. */
static const char *default_weights(char *buf, size_t n) {
    const char *dir = getenv("RESNET_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (dir && *dir) snprintf(buf, n, "%s/resnet50-v1-caffe.safetensors", dir);
    else if (xdg && *xdg) snprintf(buf, n, "%s/resnet/resnet50-v1-caffe.safetensors", xdg);
    else snprintf(buf, n, "%s/.cache/resnet/resnet50-v1-caffe.safetensors", home && *home ? home : ".");
    return buf;
}

const char *cli_weights_path(const cli_common *c, char *buf, size_t n) {
    const char *path = c->weights;
    if (!path) path = getenv("RESNET_WEIGHTS");
    return path && *path ? path : default_weights(buf, n);
}

int cli_check_output(const char *out, rn_file_kind kind, const cli_common *c, char *const *photos, int n,
                     const char *const *extra, int n_extra) {
    char buf[PATH_MAX];
    rn_file_id *ids = malloc(((size_t)n + (size_t)n_extra + 1) * sizeof *ids);
    if (!ids) return cli_error("out of memory");
    size_t k = 0;
    for (int i = 0; i < n; i++) k += (size_t)rn_file_id_of(photos[i], &ids[k]);
    for (int i = 0; i < n_extra; i++) k += (size_t)rn_file_id_of(extra[i], &ids[k]);
    if (c) k += (size_t)rn_file_id_of(cli_weights_path(c, buf, sizeof buf), &ids[k]);
    resnet_error err;
    resnet_status s = rn_output_check(out, kind, c && c->force, ids, k, &err);
    free(ids);
    return s == RESNET_OK ? 0 : cli_error("%s", err.message);
}

void cli_catch_signals(void) { rn_atomic_catch_signals(); }

resnet_model *cli_load_model(const cli_common *c) {
    char buf[PATH_MAX];
    const char *path = c->weights;
    if (!path) path = getenv("RESNET_WEIGHTS");
    if (!path || !*path) {
        path = default_weights(buf, sizeof buf);
        struct stat sb;
        if (stat(path, &sb) != 0) {
            cli_error("no weight file at %s: run 'resnet fetch' (or 'make weights' in the source tree), "
                      "or pass --weights FILE", path);
            return NULL;
        }
    }
    resnet_load_options opts;
    resnet_load_options_init(&opts);
    opts.kernels = c->kernels;
    opts.direct = c->direct;
    resnet_model *m = NULL;
    resnet_error err;
    if (resnet_model_load(path, &opts, &m, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        return NULL;
    }
    return m;
}

static const char *top_name(const resnet_head *head, int i) {
    return head ? resnet_head_class_name(head, i) : resnet_class_name(i);
}

void cli_print_top(const char *file, const resnet_prediction *top, int k, int json, const resnet_head *head) {
    if (json) {
        fputs("{\"file\": ", stdout);
        cli_json_string(stdout, file);
        fputs(", \"top\": [", stdout);
        for (int i = 0; i < k; i++) {
            printf("%s{\"index\": %d, \"name\": ", i ? ", " : "", top[i].index);
            cli_json_string(stdout, top_name(head, top[i].index));
            printf(", \"prob\": %.6g}", top[i].prob);
        }
        fputs("]}\n", stdout);
    } else {
        cli_text(stdout, file);
        putchar('\n');
        for (int i = 0; i < k; i++) {
            printf("  %6.2f%%  %3d  ", 100.0 * top[i].prob, top[i].index);
            cli_text(stdout, top_name(head, top[i].index)); /* a head's names are folder names */
            putchar('\n');
        }
    }
    fflush(stdout);
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, int total, const char *what) {
    memset(p, 0, sizeof *p);
    p->enabled = isatty(STDERR_FILENO) && total > 1;
    p->total = total;
    p->what = what;
    p->start = cli_now();
}

void cli_progress_update(cli_progress *p, int done) {
    if (!p->enabled) return;
    double t = cli_now();
    if (p->shown && done < p->total && t - p->last_draw < 0.1) return; /* ~10 redraws a second */
    p->last_draw = t;
    enum { W = 30 };
    char bar[W + 1];
    int fill = p->total ? (int)((long long)done * W / p->total) : W;
    for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
    bar[W] = '\0';
    double el = t - p->start, rate = el > 0 ? done / el : 0;
    /* over the old bar, then clear what is left of it */
    fprintf(stderr, "\r[%s] %d/%d %s", bar, done, p->total, p->what);
    if (rate > 0) fprintf(stderr, ", %.1f %s/s", rate, p->what);
    if (rate > 0 && done < p->total) { /* runs of a large set take hours: h and m, else m and s */
        long left = (long)((p->total - done) / rate + 0.5);
        if (left >= 3600) fprintf(stderr, ", %ldh%02ldm left", left / 3600, left / 60 % 60);
        else fprintf(stderr, ", %ldm%02lds left", left / 60, left % 60);
    }
    fputs("\033[K", stderr);
    fflush(stderr);
    p->shown = 1;
}

void cli_progress_clear(cli_progress *p) {
    if (!p->enabled || !p->shown) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->shown = 0;
}

resnet_session *cli_session(const resnet_model *m, const cli_common *c, int max_batch) {
    resnet_session *s = NULL;
    resnet_error err;
    if (resnet_session_create(m, c->threads, max_batch, &s, &err) != RESNET_OK) {
        cli_error("%s", err.message);
        return NULL;
    }
    resnet_session_set_image_flags(s, c->image_flags);
    return s;
}

/* The length of the valid UTF-8 sequence at p (1..4), or 0 if p does not start one
 * (overlong forms, surrogates and code points above U+10FFFF are not valid). Reads no
 * further than a NUL. */
static int utf8_length(const unsigned char *p) {
    const unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        const unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        const unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* C0, DEL, and C1 (U+0080..U+009F, two bytes in UTF-8). */
static int is_control(const unsigned char *p, int len) {
    return (len == 1 && (p[0] < 0x20 || p[0] == 0x7f)) || (len == 2 && p[0] == 0xc2 && p[1] < 0xa0);
}

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int len = utf8_length(p);
        if (len == 0) { /* not UTF-8: the byte as a lone low surrogate (surrogateescape) */
            fprintf(f, "\\udc%02x", *p++);
            continue;
        }
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (is_control(p, len)) fprintf(f, "\\u%04x", len == 1 ? *p : p[1]); /* C1: U+0080.. is p[1] */
        else fwrite(p, 1, (size_t)len, f);
        p += len;
    }
    fputc('"', f);
}

void cli_text(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int len = utf8_length(p);
        if (len == 0 || is_control(p, len)) {
            for (int i = 0; i < (len ? len : 1); i++) fprintf(f, "\\x%02x", p[i]);
            p += len ? len : 1;
        } else {
            fwrite(p, 1, (size_t)len, f);
            p += len;
        }
    }
}

const char *cli_strip_file(const char *message, const char *file) {
    size_t n = strlen(file);
    return strncmp(message, file, n) == 0 && message[n] == ':' && message[n + 1] == ' ' ? message + n + 2 : message;
}

void cli_json_error_record(FILE *f, const char *file, const char *message) {
    fputs("{\"file\": ", f);
    cli_json_string(f, file);
    fputs(", \"error\": ", f);
    cli_json_string(f, cli_strip_file(message, file));
    fputs("}\n", f);
}

/* Photos are at most 2 GiB, as the library reads files (src/image/decode.c). */
#define STDIN_MAX ((size_t)2 << 30)

const unsigned char *cli_stdin_bytes(size_t *size, resnet_error *err) {
    static unsigned char *data;
    static size_t len;
    static int done, failed;
    if (!done) {
        done = 1;
        size_t cap = 0;
        if (isatty(STDIN_FILENO)) {
            failed = 1;
            snprintf(err->message, sizeof err->message, "-: standard input is a terminal; pipe a photo into it");
            return NULL;
        }
        for (;;) {
            if (len == cap) {
                size_t ncap = cap ? cap * 2 : (size_t)1 << 16;
                unsigned char *p = ncap <= 2 * STDIN_MAX ? realloc(data, ncap) : NULL;
                if (!p) {
                    failed = 1;
                    snprintf(err->message, sizeof err->message, "-: %s",
                             ncap > 2 * STDIN_MAX ? "standard input is over 2 GiB" : "out of memory");
                    return NULL;
                }
                data = p;
                cap = ncap;
            }
            ssize_t r = read(STDIN_FILENO, data + len, cap - len);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                failed = 1;
                snprintf(err->message, sizeof err->message, "-: cannot read standard input: %s", strerror(errno));
                return NULL;
            }
            if (r == 0) break;
            len += (size_t)r;
            if (len > STDIN_MAX) {
                failed = 1;
                snprintf(err->message, sizeof err->message, "-: standard input is over 2 GiB");
                return NULL;
            }
        }
    }
    if (failed) {
        snprintf(err->message, sizeof err->message, "-: standard input could not be read");
        return NULL;
    }
    *size = len;
    return data ? data : (const unsigned char *)"";
}
