/* serve_guard.h - what stands in front of libmicrohttpd in `resnet serve --http` (serve_guard.c).
 *
 * libmicrohttpd 0.9.75 answers some malformed heads twice (a bad Content-Length), waits forever
 * on others (an unknown Transfer-Encoding), decodes %00 in the target, and counts a client that
 * sends one byte a second as busy, never idle. The guard owns the listening socket: it accepts,
 * holds each connection until its request head is in (by peeking, so the bytes stay for
 * libmicrohttpd), checks the head's framing as RFC 9112 asks and hands good connections to
 * libmicrohttpd; a bad head gets one answer with a JSON body ({"error": "..."}) and is closed.
 * It also refuses what libmicrohttpd would answer in HTML or not at all: a version other than
 * HTTP/1.x, more header fields or query arguments than its memory pool holds. And it keeps
 * the per-client-address connection limit and the head's deadline. Every answer
 * says "Connection: close", so each request on a connection passes here.
 */
#ifndef RN_SERVE_GUARD_H
#define RN_SERVE_GUARD_H

#include <stddef.h>
#include <sys/socket.h>

#define SERVE_GUARD_HEAD_MAX 16384 /* request line and headers, bytes at most (beyond: 431) */

/* Checks a request head, the first len bytes a connection sent (all of them so far). Returns
 * 0 when the head is complete and good (*head_len its length, up to the blank line included),
 * 1 when more bytes are needed, or an HTTP status (400, 413, 431, 501, 505) with *why filled in. A
 * Content-Length over max_body is 413. When the body is chunked and its first chunk-size line
 * is already there, that size is checked too. */
int serve_guard_check_head(const char *buf, size_t len, size_t max_body, size_t *head_len, char *why, size_t why_size);

typedef struct serve_guard serve_guard;

typedef struct serve_guard_options {
    int listen_fd;         /* bound and listening; the guard closes it when stopped */
    size_t max_body;       /* --max-body */
    int per_client;        /* connections from one address at most (waiting or handed over) */
    int max_active;        /* connections handed over at most (libmicrohttpd's limit) */
    double head_timeout_s; /* a head not in this long after connecting: 408 */
    double idle_timeout_s; /* no byte for this long before the head is in: closed */
    /* a good connection, handed over: 0, or -1 when it could not be (the guard closes fd) */
    int (*hand)(void *ctx, int fd, const struct sockaddr *addr, socklen_t addrlen);
    /* a connection refused here, with the status it was answered (0: closed without one) */
    void (*refused)(void *ctx, int code);
    void *ctx;
} serve_guard_options;

/* Starts the guard's thread: 0, or -1 when it cannot (out of memory, no thread; *out is NULL).
 * *out is set before the thread starts, so that the callbacks of a connection it hands over
 * at once find it. */
int serve_guard_start(const serve_guard_options *o, serve_guard **out);
/* A connection handed over has closed (libmicrohttpd's notice): its address's count drops. */
void serve_guard_closed(serve_guard *g, const struct sockaddr *addr);
/* When the connection on fd (open, handed over) was accepted, on CLOCK_MONOTONIC seconds; 0 if unknown. */
double serve_guard_accepted_at(serve_guard *g, int fd);
/* Stops accepting (closes the listening socket) and cuts connections whose head is not in. */
void serve_guard_stop(serve_guard *g);
/* Stops (if not yet) and frees. */
void serve_guard_free(serve_guard *g);

#endif
