/* serve_guard.c - the connections of `resnet serve --http` before libmicrohttpd has them:
 * serve_guard.h says why and what. One thread: poll() on the listening socket and on the
 * connections whose head is not in yet; a connection part-way through its head is looked at
 * again every few milliseconds (its bytes are peeked, not read, so poll would keep saying
 * "readable"). */
#include "cli/serve_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#ifndef POLLRDHUP
#define POLLRDHUP 0x2000 /* Linux's: the peer shut its side, whatever bytes are still unread */
#endif

#define PENDING_MAX 1024    /* connections waiting for their head, from all addresses */
#define LINGER_MAX 256      /* past those, refused ones lingering (beyond: answered and closed) */
#define CONNS_MAX (PENDING_MAX + LINGER_MAX)
#define FIELDS_MAX 128      /* header fields of a head, and arguments of its query, at most */
#define ACCEPT_REST_S 0.05  /* out of descriptors: how long the listening socket rests */
#define ADDRS_MAX 4096      /* client addresses with a connection open, tracked at most */
#define FD_TABLE 65536      /* accepted_at for descriptors below this */
#define LINGER_S 1.0        /* a refused connection is read (and dropped) this long before close */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the head ------------------------------------------------------------------------------ */
static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int name_is(const char *s, size_t n, const char *name) {
    if (strlen(name) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != name[i]) return 0;
    return 1;
}

static void trim(const char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

static int bad(char *why, size_t size, int code, const char *msg) {
    snprintf(why, size, "%s", msg);
    return code;
}

static int check_head(const char *buf, size_t len, size_t max_body, size_t *head_len, char *why, size_t why_size);

/* RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line (a client
 * ending its last body with a CRLF too many); libmicrohttpd skips them, so the guard does too,
 * up to four, and checks what follows. */
int serve_guard_check_head(const char *buf, size_t len, size_t max_body, size_t *head_len, char *why, size_t why_size) {
    size_t skip = 0;
    for (int lines = 0; lines < 4; lines++) {
        if (skip < len && buf[skip] == '\n') skip++;
        else if (skip + 1 < len && buf[skip] == '\r' && buf[skip + 1] == '\n') skip += 2;
        else break;
    }
    const int st = check_head(buf + skip, len - skip, max_body, head_len, why, why_size);
    if (st == 0) *head_len += skip;
    return st;
}

static int check_head(const char *buf, size_t len, size_t max_body, size_t *head_len, char *why, size_t why_size) {
    /* the end of the head: an empty line (CRLF, or a lone LF, which RFC 9112 lets a server take) */
    size_t end = 0, pos = 0;
    int found = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl) break;
        const size_t line = (size_t)(nl - (buf + pos));
        if (pos > 0 && (line == 0 || (line == 1 && buf[pos] == '\r'))) {
            end = (size_t)(nl - buf) + 1;
            found = 1;
            break;
        }
        pos = (size_t)(nl - buf) + 1;
    }
    if (!found) {
        /* A request line with a control byte is refused before the head ends: a TLS client
         * (https:// to this port) or another protocol's probe sends its binary hello and waits
         * for an answer, which would come only when --timeout closed the connection. A CR
         * ending what came so far may be the line's end. */
        const char *nl0 = memchr(buf, '\n', len);
        const size_t ll0 = nl0 ? (size_t)(nl0 - buf) : len;
        for (size_t i = 0; i < ll0; i++) {
            const unsigned char c = (unsigned char)buf[i];
            if ((c < 0x20 && !(c == '\r' && i + 1 == ll0)) || c == 0x7f)
                return buf[0] == 0x16 ? bad(why, why_size, 400, "a TLS handshake: this server speaks plain HTTP (http://, not https://)")
                                      : bad(why, why_size, 400, "a control byte in the request line");
        }
        if (len >= SERVE_GUARD_HEAD_MAX) return bad(why, why_size, 431, "the request head is over 16 KiB");
        return 1;
    }
    if (end > SERVE_GUARD_HEAD_MAX) return bad(why, why_size, 431, "the request head is over 16 KiB");
    *head_len = end;
    /* the request line: METHOD SP TARGET SP VERSION; no control bytes, no %00 in the target */
    const char *nl = memchr(buf, '\n', end);
    size_t ll = (size_t)(nl - buf);
    if (ll && buf[ll - 1] == '\r') ll--;
    for (size_t i = 0; i < ll; i++) {
        const unsigned char c = (unsigned char)buf[i];
        if (c < 0x20 || c == 0x7f) return bad(why, why_size, 400, "a control byte in the request line");
    }
    const char *sp1 = memchr(buf, ' ', ll);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - buf)) : NULL;
    if (!sp1 || !sp2 || sp2 == sp1 + 1 || sp1 == buf) return bad(why, why_size, 400, "a malformed request line");
    int args = 0;
    for (const char *p = sp1 + 1; p < sp2; p++) {
        if (p + 2 < sp2 && p[0] == '%' && p[1] == '0' && p[2] == '0')
            return bad(why, why_size, 400, "%00 (a NUL byte) in the request's path or query");
        args += *p == '?' || *p == '&';
    }
    /* libmicrohttpd keeps each argument and header field in a per-connection pool: thousands of
     * them in a 16 KiB head exhaust it, and it then closes the connection without an answer */
    if (args > FIELDS_MAX) return bad(why, why_size, 400, "more than 128 arguments in the query");
    /* the version: libmicrohttpd answers others itself, in HTML */
    const char *ver = sp2 + 1;
    const size_t vl = ll - (size_t)(ver - buf);
    if (!(vl == 8 && (memcmp(ver, "HTTP/1.1", 8) == 0 || memcmp(ver, "HTTP/1.0", 8) == 0))) {
        if (vl == 8 && memcmp(ver, "HTTP/", 5) == 0 && ver[5] >= '0' && ver[5] <= '9' && ver[6] == '.' &&
            ver[7] >= '0' && ver[7] <= '9')
            return bad(why, why_size, 505, "HTTP version not supported (HTTP/1.1 and HTTP/1.0 only)");
        return bad(why, why_size, 400, "a malformed request line (the version is not HTTP/1.1 or HTTP/1.0)");
    }
    /* the header fields: framing (Content-Length, Transfer-Encoding) checked as RFC 9112 6 says */
    int cls = 0, tes = 0, chunked = 0, fields = 0, hosts = 0;
    uint64_t cl = 0;
    for (pos = (size_t)(nl - buf) + 1; pos < end;) {
        const char *l = buf + pos, *e = memchr(l, '\n', end - pos);
        size_t n = (size_t)(e - l);
        pos += n + 1;
        if (n && l[n - 1] == '\r') n--;
        if (n == 0) break; /* the blank line */
        if (++fields > FIELDS_MAX) return bad(why, why_size, 431, "more than 128 header fields");
        if (l[0] == ' ' || l[0] == '\t') return bad(why, why_size, 400, "a folded header line (obsolete line folding)");
        const char *colon = memchr(l, ':', n);
        if (!colon || colon == l) return bad(why, why_size, 400, "a header line without a name and a colon");
        const size_t nn = (size_t)(colon - l);
        for (size_t i = 0; i < nn; i++) {
            const unsigned char c = (unsigned char)l[i];
            if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
                return bad(why, why_size, 400, "a header name with a space or a character not allowed");
        }
        const char *v = colon + 1;
        size_t vn = n - nn - 1;
        for (size_t i = 0; i < vn; i++) {
            const unsigned char c = (unsigned char)v[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) return bad(why, why_size, 400, "a control byte in a header value");
        }
        /* The framing fields' values exactly as libmicrohttpd 0.9.75 reads them: it skips the
         * spaces before a value but keeps those after it, and takes no list, so "5 ", "5, 5"
         * or "chunked " (which RFC 9110 allows) would be misread there: answered twice, or a
         * body waited for that never ends. They are refused here instead, once. */
        const size_t raw = vn;
        trim(&v, &vn);
        const int trailing = v + vn != colon + 1 + raw;
        hosts += name_is(l, nn, "host");
        if (name_is(l, nn, "content-length")) {
            uint64_t x = 0;
            size_t i = 0;
            int over = 0;
            for (; i < vn && v[i] >= '0' && v[i] <= '9'; i++) {
                if (x > (UINT64_MAX - 9) / 10) over = 1;
                else x = x * 10 + (uint64_t)(v[i] - '0');
            }
            if (!vn || i < vn || trailing)
                return bad(why, why_size, 400, "Content-Length is not a number of bytes (digits only, nothing after them)");
            if (over) x = UINT64_MAX;
            if (cls++ && x != cl) return bad(why, why_size, 400, "two different Content-Length values");
            cl = x;
        } else if (name_is(l, nn, "transfer-encoding")) {
            if (tes++) return bad(why, why_size, 400, "more than one Transfer-Encoding header");
            if (!name_is(v, vn, "chunked"))
                return bad(why, why_size, 501, "Transfer-Encoding: only chunked is supported");
            if (trailing) return bad(why, why_size, 400, "Transfer-Encoding: chunked with spaces after it");
            chunked = 1;
        }
    }
    /* RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host, and to any
     * with more than one (a proxy in front may have routed by the other); libmicrohttpd takes
     * either silently */
    if (hosts > 1) return bad(why, why_size, 400, "more than one Host header");
    if (!hosts && ver[7] == '1') return bad(why, why_size, 400, "an HTTP/1.1 request without a Host header");
    if (cls && tes) return bad(why, why_size, 400, "both Content-Length and Transfer-Encoding (RFC 9112 6.3)");
    /* RFC 9112 6.1: in HTTP/1.0 Transfer-Encoding is faulty framing (a 1.0 hop before us reads
     * the body to the connection's end); libmicrohttpd decoded it as chunked */
    if (tes && ver[7] == '0') return bad(why, why_size, 400, "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1)");
    if (cls && cl > max_body) return bad(why, why_size, 413, "the body is larger than --max-body");
    if (chunked && len > end) { /* the first chunk's size, when it came with the head */
        const char *c = buf + end;
        size_t n = len - end, i = 0, digits = 0;
        uint64_t x = 0;
        while (i < n && c[i] == '0') i++, digits++;
        for (; i < n && strchr("0123456789abcdefABCDEF", c[i]) && c[i]; i++, digits++) {
            if (x > (UINT64_MAX >> 4)) x = UINT64_MAX;
            else x = x << 4 | (uint64_t)(c[i] <= '9' ? c[i] - '0' : lower(c[i]) - 'a' + 10);
        }
        if (i < n && !digits) return bad(why, why_size, 400, "a chunk size that is not hexadecimal");
        if (i < n && c[i] != '\r' && c[i] != '\n' && c[i] != ';' && c[i] != ' ' && c[i] != '\t')
            return bad(why, why_size, 400, "a chunk size that is not hexadecimal");
        if (x > max_body) return bad(why, why_size, 413, "the body is larger than --max-body");
    }
    return 0;
}

/* ---- the connections ----------------------------------------------------------------------- */
typedef struct conn {
    int fd;
    struct sockaddr_storage addr;
    socklen_t alen;
    double t0;       /* accepted; for a refused one: when to close it at the latest */
    int avail;       /* bytes looked at last time */
    double last;     /* when avail last changed */
    int refused;     /* answered (or cut) here: read and dropped until the peer closes */
} conn;

typedef struct addr_count {
    unsigned char key[17]; /* family, then the address (4 or 16 bytes) */
    int n;
} addr_count;

struct serve_guard {
    serve_guard_options o;
    pthread_t th;
    int started, stopped;
    int wake[2];
    pthread_mutex_t mu;   /* the counts and accepted_at: libmicrohttpd's threads close connections */
    addr_count *addrs;
    int naddrs, active;
    double *accepted_at;
    conn *c;
    int nc;
    double accept_after; /* out of descriptors: the listening socket rests until then */
    volatile int stop;
};

/* Who a connection counts against for --max-per-client. An IPv6 client is its /64: one host is
 * given a whole /64 and can pick a new address in it for each connection. An IPv4 client seen
 * through a dual-stack socket (::ffff:a.b.c.d) is its IPv4 address, not the /64 that every such
 * client shares. */
static void addr_key(const struct sockaddr *a, unsigned char key[17]) {
    memset(key, 0, 17);
    if (a->sa_family == AF_INET) {
        key[0] = AF_INET;
        memcpy(key + 1, &((const struct sockaddr_in *)a)->sin_addr, 4);
    } else if (a->sa_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(v6)) {
            key[0] = AF_INET;
            memcpy(key + 1, v6->s6_addr + 12, 4);
        } else {
            key[0] = AF_INET6;
            memcpy(key + 1, v6->s6_addr, 8);
        }
    } else {
        key[0] = (unsigned char)a->sa_family;
    }
}

/* The count of a's connections, changed by delta (mu held); -1 when the table is full. */
static int addr_add(serve_guard *g, const struct sockaddr *a, int delta) {
    unsigned char key[17];
    addr_key(a, key);
    for (int i = 0; i < g->naddrs; i++) {
        if (memcmp(g->addrs[i].key, key, 17) != 0) continue;
        g->addrs[i].n += delta;
        const int n = g->addrs[i].n;
        if (n <= 0) g->addrs[i] = g->addrs[--g->naddrs];
        return n;
    }
    if (delta <= 0) return 0;
    if (g->naddrs == ADDRS_MAX) return -1;
    memcpy(g->addrs[g->naddrs].key, key, 17);
    g->addrs[g->naddrs++].n = delta;
    return delta;
}

static int addr_count_of(serve_guard *g, const struct sockaddr *a) {
    unsigned char key[17];
    addr_key(a, key);
    for (int i = 0; i < g->naddrs; i++)
        if (memcmp(g->addrs[i].key, key, 17) == 0) return g->addrs[i].n;
    return 0;
}

static const char *reason(int code) {
    switch (code) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Service Unavailable";
    }
}

/* The one answer of a refused connection, without waiting; msg is ours: no client bytes. */
static void answer(int fd, int code, const char *msg) {
    char body[300], out[600];
    const int bn = snprintf(body, sizeof body, "{\"error\": \"%s\"}\n", msg);
    const int n = snprintf(out, sizeof out,
                           "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                           "Connection: close\r\n\r\n%s", code, reason(code), bn, body);
    if (send(fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        /* the client is gone or not reading: nothing more to do */
    }
    shutdown(fd, SHUT_WR);
}

/* One answer, then the connection is only drained until it closes (closing it with unread
 * bytes would reset it, and the client could lose the answer). */
static void refuse(serve_guard *g, conn *c, int code, const char *msg) {
    if (code) answer(c->fd, code, msg);
    else shutdown(c->fd, SHUT_WR);
    c->refused = 1;
    c->t0 = now_s() + LINGER_S;
    if (g->o.refused) g->o.refused(g->o.ctx, code);
}

static void conn_close(serve_guard *g, int i) {
    conn *c = &g->c[i];
    close(c->fd);
    if (!c->refused || c->avail >= 0) { /* still counted against its address */
        pthread_mutex_lock(&g->mu);
        addr_add(g, (struct sockaddr *)&c->addr, -1);
        pthread_mutex_unlock(&g->mu);
    }
    g->c[i] = g->c[--g->nc];
}

/* A new connection: held until its head is in, or refused at once. */
static void on_accept(serve_guard *g, int fd, const struct sockaddr_storage *ss, socklen_t alen) {
    conn c = {.fd = fd, .addr = *ss, .alen = alen, .t0 = now_s()};
    c.last = c.t0;
    static const char waiting[] = "too many connections waiting: try again later";
    if (g->nc >= PENDING_MAX) {
        if (g->nc == CONNS_MAX) { /* no room to linger either: answered and closed at once */
            answer(fd, 503, waiting);
            close(fd);
            if (g->o.refused) g->o.refused(g->o.ctx, 503);
            return;
        }
        c.avail = -1; /* not counted */
        g->c[g->nc++] = c;
        refuse(g, &g->c[g->nc - 1], 503, waiting);
        return;
    }
    pthread_mutex_lock(&g->mu);
    const int have = addr_count_of(g, (struct sockaddr *)ss);
    const int ok = have < g->o.per_client && addr_add(g, (struct sockaddr *)ss, 1) > 0;
    if (ok && fd < FD_TABLE) g->accepted_at[fd] = c.t0;
    pthread_mutex_unlock(&g->mu);
    g->c[g->nc++] = c;
    if (!ok) {
        g->c[g->nc - 1].avail = -1;
        refuse(g, &g->c[g->nc - 1], 503, "too many connections from your address (--max-per-client)");
    }
}

/* Looks at connection i's bytes; 1 when it left the list (handed over or closed). */
static int look(serve_guard *g, int i, int revents) {
    conn *c = &g->c[i];
    const double t = now_s();
    if (c->refused) { /* drop what comes until the peer closes, or the linger ends */
        char junk[4096];
        ssize_t r = 1;
        while (r > 0) r = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || t > c->t0) {
            conn_close(g, i);
            return 1;
        }
        return 0;
    }
    int avail = 0;
    if (ioctl(c->fd, FIONREAD, &avail) != 0) avail = -1;
    if (avail < 0 || ((revents & POLLIN) && avail == 0)) { /* closed, or an error: gone before its head */
        conn_close(g, i);
        return 1;
    }
    if (avail != c->avail && avail > 0) {
        static char buf[SERVE_GUARD_HEAD_MAX + 64];
        const size_t want = (size_t)avail < sizeof buf ? (size_t)avail : sizeof buf;
        const ssize_t got = recv(c->fd, buf, want, MSG_PEEK | MSG_DONTWAIT);
        c->avail = avail;
        c->last = t;
        if (got > 0) {
            char why[200];
            size_t head = 0;
            const int st = serve_guard_check_head(buf, (size_t)got, g->o.max_body, &head, why, sizeof why);
            if (st == 0) {
                pthread_mutex_lock(&g->mu);
                const int full = g->active >= g->o.max_active;
                if (!full) g->active++;
                pthread_mutex_unlock(&g->mu);
                if (full) {
                    refuse(g, c, 503, "the server has all the connections it takes: try again later");
                    return 0;
                }
                const int fd = c->fd;
                struct sockaddr_storage a = c->addr;
                const socklen_t alen = c->alen;
                g->c[i] = g->c[--g->nc]; /* off the list: libmicrohttpd's now */
                if (g->o.hand(g->o.ctx, fd, (struct sockaddr *)&a, alen) != 0) {
                    pthread_mutex_lock(&g->mu);
                    g->active--;
                    addr_add(g, (struct sockaddr *)&a, -1);
                    pthread_mutex_unlock(&g->mu);
                }
                return 1;
            }
            if (st != 1) {
                refuse(g, c, st, why);
                return 0;
            }
        }
    }
    if (revents & (POLLRDHUP | POLLHUP | POLLERR)) { /* gone with its head unfinished */
        conn_close(g, i);
        return 1;
    }
    if (t - c->t0 > g->o.head_timeout_s) refuse(g, c, 408, "the request head took longer than --request-timeout");
    else if (t - c->last > g->o.idle_timeout_s) refuse(g, c, 0, NULL); /* --timeout: closed, as libmicrohttpd does */
    return 0;
}

static void *guard_main(void *arg) {
    serve_guard *g = arg;
    struct pollfd *p = malloc((CONNS_MAX + 2) * sizeof *p);
    int *which = malloc((CONNS_MAX + 2) * sizeof *which);
    if (!p || !which) {
        free(p);
        free(which);
        return NULL;
    }
    while (!g->stop) {
        int np = 0, partial = 0;
        p[np] = (struct pollfd){.fd = g->wake[0], .events = POLLIN};
        which[np++] = -2;
        if (now_s() >= g->accept_after) { /* past PENDING_MAX, new ones are answered 503 */
            p[np] = (struct pollfd){.fd = g->o.listen_fd, .events = POLLIN};
            which[np++] = -1;
        }
        for (int i = 0; i < g->nc; i++) {
            /* peeked bytes keep it readable: a head part-way in is looked at on the clock instead,
             * polled only for its peer going away */
            const int part = g->c[i].avail > 0 && !g->c[i].refused;
            partial |= part;
            p[np] = (struct pollfd){.fd = g->c[i].fd, .events = part ? POLLRDHUP : POLLIN | POLLRDHUP};
            which[np++] = i;
        }
        const int timeout = partial ? 5 : 100;
        if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR) break;
        if (g->stop) break;
        /* connections that poll says have news (close/bytes), from the end so removal is safe */
        short *rev = calloc((size_t)g->nc + 1, sizeof *rev);
        for (int k = 0; rev && k < np; k++)
            if (which[k] >= 0) rev[which[k]] = p[k].revents;
        for (int i = g->nc - 1; i >= 0; i--) look(g, i, rev ? rev[i] : 0);
        free(rev);
        for (int k = 0; k < np; k++) {
            if (which[k] != -1 || !(p[k].revents & POLLIN)) continue;
            for (int n = 0; n < 64; n++) {
                struct sockaddr_storage ss;
                socklen_t alen = sizeof ss;
                const int fd = accept(g->o.listen_fd, (struct sockaddr *)&ss, &alen);
                if (fd < 0) {
                    /* No descriptor (or memory) for it: the connection stays queued and the
                     * socket readable, so polling it again at once would spin a core until a
                     * connection closes. Rest it a while; the others are served meanwhile. */
                    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                        g->accept_after = now_s() + ACCEPT_REST_S;
                    break;
                }
                const int before = g->nc;
                on_accept(g, fd, &ss, alen);
                if (g->nc > before) look(g, g->nc - 1, 0); /* most heads come in one packet with the connection */
            }
        }
    }
    free(p);
    free(which);
    return NULL;
}

int serve_guard_start(const serve_guard_options *o, serve_guard **out) {
    serve_guard *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g) return -1;
    g->o = *o;
    g->wake[0] = g->wake[1] = -1;
    g->addrs = calloc(ADDRS_MAX, sizeof *g->addrs);
    g->accepted_at = calloc(FD_TABLE, sizeof *g->accepted_at);
    g->c = calloc(CONNS_MAX, sizeof *g->c);
    const int fl = fcntl(o->listen_fd, F_GETFL);
    if (!g->addrs || !g->accepted_at || !g->c || pipe(g->wake) != 0 || fl < 0 ||
        fcntl(o->listen_fd, F_SETFL, fl | O_NONBLOCK) != 0 || pthread_mutex_init(&g->mu, NULL) != 0) {
        serve_guard_free(g);
        return -1;
    }
    /* before the thread: a connection waiting in the listening socket's queue may be handed
     * over, and reach libmicrohttpd's callbacks (which use *out), before pthread_create returns */
    g->started = 1;
    *out = g;
    if (pthread_create(&g->th, NULL, guard_main, g) != 0) {
        *out = NULL;
        g->started = 0;
        pthread_mutex_destroy(&g->mu);
        serve_guard_free(g);
        return -1;
    }
    return 0;
}

void serve_guard_closed(serve_guard *g, const struct sockaddr *addr) {
    pthread_mutex_lock(&g->mu);
    g->active--;
    addr_add(g, addr, -1);
    pthread_mutex_unlock(&g->mu);
}

double serve_guard_accepted_at(serve_guard *g, int fd) {
    if (fd < 0 || fd >= FD_TABLE) return 0;
    pthread_mutex_lock(&g->mu);
    const double t = g->accepted_at[fd];
    pthread_mutex_unlock(&g->mu);
    return t;
}

void serve_guard_stop(serve_guard *g) {
    if (!g || g->stopped) return;
    g->stopped = 1;
    if (g->started) {
        g->stop = 1;
        if (write(g->wake[1], "x", 1) < 0) {
            /* the thread also wakes within 100 ms by itself */
        }
        pthread_join(g->th, NULL);
    }
    if (g->o.listen_fd >= 0) close(g->o.listen_fd);
    while (g->nc > 0) conn_close(g, g->nc - 1); /* heads still arriving: cut */
}

void serve_guard_free(serve_guard *g) {
    if (!g) return;
    serve_guard_stop(g);
    if (g->started) pthread_mutex_destroy(&g->mu);
    if (g->wake[0] >= 0) close(g->wake[0]);
    if (g->wake[1] >= 0) close(g->wake[1]);
    free(g->addrs);
    free(g->accepted_at);
    free(g->c);
    free(g);
}
