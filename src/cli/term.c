/* term.c - what the tool shows: one-line errors, names made safe for a terminal, JSON
 * strings and records, a photo's top classes, and the progress bar. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static void put_line(FILE *f, const char *text, const char *tail) {
    fputs("resnet: ", f);
    cli_text(f, text);
    fputs(tail, f);
}

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
    /* stderr is unbuffered: the line is made whole and written at once, not a write per
     * character (300k refused labels.tsv lines took a minute so); piece by piece only when
     * there is no memory for it */
    const char *text = n < 0 ? fmt : msg;
    char *line = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&line, &size);
    if (f) put_line(f, text, tail);
    if (f && fclose(f) == 0) fwrite(line, 1, size, stderr);
    else put_line(stderr, text, tail);
    free(line);
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
const char *cli_class_name(const resnet_model *m, const resnet_head *head, int i, char *buf, size_t n) {
    if (head) return resnet_head_class_name(head, i);
    if (m) return resnet_model_class_label(m, i, buf, n);
    return resnet_class_name(i);
}

void cli_print_top(const char *file, const resnet_prediction *top, int k, int json, const resnet_head *head,
                   const resnet_model *m) {
    char buf[32];
#define top_name(head, i) cli_class_name(m, head, i, buf, sizeof buf)
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
#undef top_name
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

/* The bytes of message that spell file at its start, -1 if it does not start with it: a
 * control character of the name is in a message as the library writes it, \xNN (rn_fail) or
 * '?' (rn_printable), so a name with a newline is still found. */
static long name_prefix(const char *message, const char *file) {
    long k = 0;
    for (const unsigned char *p = (const unsigned char *)file; *p; p++) {
        char esc[5];
        snprintf(esc, sizeof esc, "\\x%02x", *p);
        if (message[k] == (char)*p) k++;
        else if (*p < 0x20 || *p == 0x7F) {
            if (message[k] == '?') k++;
            else if (strncmp(message + k, esc, 4) == 0) k += 4;
            else return -1;
        } else {
            return -1;
        }
    }
    return k;
}

const char *cli_strip_file(const char *message, const char *file) {
    size_t n = strlen(file);
    const long k = name_prefix(message, file);
    if (k >= 0 && message[k] == ':' && message[k + 1] == ' ') return message + k + 2;
    /* a long message has its longest word, the path nearly always, cut to HEAD...TAIL */
    const char *colon = strstr(message, ": ");
    const char *dots = colon ? strstr(message, "...") : NULL;
    if (!dots || dots > colon) return message;
    const size_t head = (size_t)(dots - message), tail = (size_t)(colon - dots - 3);
    if (head + tail <= n && strncmp(message, file, head) == 0 && strncmp(dots + 3, file + n - tail, tail) == 0)
        return colon + 2;
    return message;
}

void cli_json_error_record(FILE *f, const char *file, const char *message) {
    fputs("{\"file\": ", f);
    cli_json_string(f, file);
    fputs(", \"error\": ", f);
    cli_json_string(f, cli_strip_file(message, file));
    fputs("}\n", f);
}
