/*
 * wsclient.c - the load generator's event loop and its WebSocket client.
 *
 * One epoll instance, level-triggered, over non-blocking TCP sockets. A
 * connection is a struct wsc the caller owns; this file takes it from TCP
 * connect through the HTTP/1.1 upgrade (subprotocol tafel.v1) to frames:
 * client frames masked (RFC 6455 requires it; a cheap xorshift mask applied
 * eight bytes at a time), server frames unmasked, fragmented messages
 * reassembled, pings answered with pongs, close frames answered. It is the
 * minimum the server's side of the protocol needs, kept small so that 10,000
 * connections cost the load generator a few KiB each and an event costs one
 * read() shared by every frame in it.
 *
 * The upgrade uses RFC 6455's sample key, whose accept value is known, so the
 * handshake is checked without SHA-1: this client talks to our own server
 * only and needs no unpredictable key.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WS_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* A message larger than this is a protocol error from our point of view: the
 * server's own limit for what it sends is far below (snapshots are chunked). */
#define WS_MAX_MESSAGE (64u << 20)
#define READ_CHUNK     65536

struct bench_loop {
    int epfd;
    struct sockaddr_in addr;
    char host[64];
    int port;
    pid_t watch_pid;
    size_t open;
};

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * BENCH_NS_PER_S + ts.tv_nsec;
}

struct bench_loop *bench_loop_new(const char *host, int port, pid_t watch_pid)
{
    struct bench_loop *L = calloc(1, sizeof(*L));
    if (!L)
        return NULL;
    L->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (L->epfd < 0) {
        free(L);
        return NULL;
    }
    L->addr.sin_family = AF_INET;
    L->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &L->addr.sin_addr) != 1) {
        close(L->epfd);
        free(L);
        errno = EINVAL;
        return NULL;
    }
    snprintf(L->host, sizeof(L->host), "%s", host);
    L->port = port;
    L->watch_pid = watch_pid;
    return L;
}

void bench_loop_free(struct bench_loop *L)
{
    if (!L)
        return;
    close(L->epfd);
    free(L);
}

size_t bench_loop_open(const struct bench_loop *L)
{
    return L->open;
}

/* ------------------------------------------------------------- buffers */

static int reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (!p)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static void set_mask(struct wsc *c, uint32_t mask)
{
    if (c->epoll_mask == mask || c->fd < 0)
        return;
    struct epoll_event ev = {.events = mask, .data.ptr = c};
    epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->epoll_mask = mask;
}

static void release(struct wsc *c)
{
    if (c->fd >= 0) {
        close(c->fd); /* also removes it from the epoll set */
        c->loop->open--;
    }
    c->fd = -1;
    c->state = WSC_IDLE;
    free(c->in);
    free(c->out);
    free(c->frag);
    c->in = c->out = c->frag = NULL;
    c->in_len = c->in_cap = c->out_off = c->out_len = c->out_cap = 0;
    c->frag_len = c->frag_cap = 0;
    c->in_frag = false;
}

void wsc_reset(struct wsc *c)
{
    if (c->state != WSC_IDLE)
        release(c);
}

/* The connection failed or ended: free it, then tell the owner. */
static void fail(struct wsc *c, const char *why)
{
    if (c->state == WSC_IDLE)
        return;
    if (why && !c->error[0])
        snprintf(c->error, sizeof(c->error), "%s", why);
    release(c);
    if (c->ops && c->ops->on_close)
        c->ops->on_close(c);
}

/* Write what is queued; arm EPOLLOUT only while something is left. */
static void flush(struct wsc *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            char why[80];
            snprintf(why, sizeof(why), "send: %s", strerror(errno));
            fail(c, why);
            return;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    set_mask(c, EPOLLIN | EPOLLRDHUP | (c->out_len ? EPOLLOUT : 0));
}

/* --------------------------------------------------------------- frames */

static uint32_t next_mask(struct wsc *c)
{
    uint32_t x = c->mask_rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c->mask_rng = x;
    return x;
}

/* XOR @p len bytes from @p src into @p dst with the 4-byte @p mask, eight
 * bytes at a time (memcpy keeps it alignment-safe and compiles to loads). */
static void mask_copy(char *dst, const char *src, size_t len, uint32_t mask)
{
    unsigned char m[8];
    memcpy(m, &mask, 4);
    memcpy(m + 4, &mask, 4);
    uint64_t m64;
    memcpy(&m64, m, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= m64;
        memcpy(dst + i, &w, 8);
    }
    for (; i < len; i++)
        dst[i] = (char)(src[i] ^ (char)m[i & 3]);
}

static int send_frame(struct wsc *c, unsigned opcode, const char *payload, size_t len)
{
    if (c->fd < 0 || reserve(&c->out, &c->out_cap, c->out_len + len + 14) < 0)
        return -1;
    unsigned char *h = (unsigned char *)c->out + c->out_len;
    size_t hl = 2;
    h[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        h[1] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    uint32_t mask = next_mask(c);
    memcpy(h + hl, &mask, 4);
    hl += 4;
    mask_copy((char *)h + hl, payload, len, mask);
    c->out_len += hl + len;
    flush(c);
    return 0;
}

int wsc_send(struct wsc *c, const char *text, size_t len)
{
    if (c->state != WSC_OPEN)
        return -1;
    return send_frame(c, 0x1, text, len);
}

void wsc_close(struct wsc *c, int code)
{
    if (c->state != WSC_OPEN) {
        if (c->state != WSC_IDLE && c->state != WSC_CLOSING)
            release(c);
        return;
    }
    char p[2] = {(char)(code >> 8), (char)code};
    c->state = WSC_CLOSING;
    send_frame(c, 0x8, p, 2);
}

static void deliver(struct wsc *c, const char *msg, size_t len)
{
    if (c->ops && c->ops->on_message)
        c->ops->on_message(c, msg, len);
}

/* Handle one complete frame. Returns -1 when the connection is gone. */
static int frame(struct wsc *c, unsigned b0, const char *p, size_t len)
{
    unsigned op = b0 & 0x0f;
    bool fin = b0 & 0x80;
    switch (op) {
    case 0x0: /* continuation */
    case 0x1: /* text */
        if ((op == 0x1) == c->in_frag) {
            fail(c, "protocol: unexpected continuation or interleaved text frame");
            return -1;
        }
        if (fin && !c->in_frag) {
            deliver(c, p, len);
            return c->state == WSC_IDLE ? -1 : 0;
        }
        if (c->frag_len + len > WS_MAX_MESSAGE ||
            reserve(&c->frag, &c->frag_cap, c->frag_len + len) < 0) {
            fail(c, "fragmented message too large");
            return -1;
        }
        memcpy(c->frag + c->frag_len, p, len);
        c->frag_len += len;
        c->in_frag = !fin;
        if (fin) {
            size_t total = c->frag_len;
            c->frag_len = 0;
            deliver(c, c->frag, total);
        }
        return c->state == WSC_IDLE ? -1 : 0;
    case 0x8: /* close: answer it (unless it answers ours), then drop */
        c->close_code = len >= 2 ? ((unsigned char)p[0] << 8) | (unsigned char)p[1] : 1005;
        if (c->state == WSC_OPEN)
            send_frame(c, 0x8, p, len >= 2 ? 2 : 0);
        fail(c, NULL);
        return -1;
    case 0x9: /* ping */
        send_frame(c, 0xA, p, len);
        return c->state == WSC_IDLE ? -1 : 0;
    case 0xA: /* pong */
        return 0;
    default:
        fail(c, "protocol: binary or unknown frame from the server");
        return -1;
    }
}

/* Consume every complete frame in c->in. */
static void parse_frames(struct wsc *c)
{
    size_t off = 0;
    while (c->in_len - off >= 2) {
        const unsigned char *h = (const unsigned char *)c->in + off;
        size_t avail = c->in_len - off, hl = 2;
        uint64_t len = h[1] & 0x7f;
        if (h[1] & 0x80) {
            fail(c, "protocol: masked frame from the server");
            return;
        }
        if (len == 126) {
            if (avail < 4)
                break;
            len = ((uint64_t)h[2] << 8) | h[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | h[2 + i];
            hl = 10;
        }
        if (len > WS_MAX_MESSAGE) {
            fail(c, "frame too large");
            return;
        }
        if (avail < hl + len)
            break;
        if (frame(c, h[0], (const char *)h + hl, (size_t)len) < 0)
            return;
        off += hl + (size_t)len;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

/* ------------------------------------------------------------ handshake */

static void send_upgrade(struct wsc *c)
{
    char req[320];
    int n = snprintf(req, sizeof(req),
                     "GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tafel.v1\r\n\r\n",
                     c->loop->host, c->loop->port);
    if (reserve(&c->out, &c->out_cap, c->out_len + (size_t)n) < 0) {
        fail(c, "out of memory");
        return;
    }
    memcpy(c->out + c->out_len, req, (size_t)n);
    c->out_len += (size_t)n;
    c->state = WSC_HANDSHAKE;
    flush(c);
}

/* Case-insensitive search for a header line "name: value" in the response. */
static bool has_header(const char *head, const char *name, const char *value)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            return strncmp(v, value, strlen(value)) == 0;
        }
    }
    return false;
}

static void handshake_reply(struct wsc *c)
{
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->in_len > 8192)
            fail(c, "handshake: response too long");
        return;
    }
    size_t hlen = (size_t)(end - c->in) + 4;
    char head[8192];
    if (hlen - 2 >= sizeof(head)) { /* one recv() may bring more than 8 KiB */
        fail(c, "handshake: response too long");
        return;
    }
    memcpy(head, c->in, hlen - 2);
    head[hlen - 2] = '\0';
    if (strncmp(head, "HTTP/1.1 101", 12) != 0 ||
        !has_header(head, "Sec-WebSocket-Accept", WS_ACCEPT) ||
        !has_header(head, "Sec-WebSocket-Protocol", "tafel.v1")) {
        char why[120];
        snprintf(why, sizeof(why), "handshake refused: %.60s", strtok(head, "\r\n"));
        fail(c, why);
        return;
    }
    memmove(c->in, c->in + hlen, c->in_len - hlen);
    c->in_len -= hlen;
    c->state = WSC_OPEN;
    if (c->ops && c->ops->on_open)
        c->ops->on_open(c);
    if (c->state == WSC_OPEN && c->in_len)
        parse_frames(c);
}

/* ---------------------------------------------------------------- events */

int wsc_connect(struct bench_loop *L, struct wsc *c, uint32_t id, const struct wsc_ops *ops)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->id = id;
    c->ops = ops;
    c->loop = L;
    c->mask_rng = (uint32_t)(bench_now_ns() ^ (id * 2654435761u)) | 1u;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(c->error, sizeof(c->error), "socket: %s", strerror(errno));
        return -1;
    }
    /* Small messages, latency measured: never wait for Nagle. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&L->addr, sizeof(L->addr)) < 0 && errno != EINPROGRESS) {
        snprintf(c->error, sizeof(c->error), "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        snprintf(c->error, sizeof(c->error), "epoll_ctl: %s", strerror(errno));
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->epoll_mask = EPOLLOUT;
    c->state = WSC_CONNECTING;
    L->open++;
    return 0;
}

static void on_readable(struct wsc *c)
{
    /* Read until the socket is drained or a few chunks were taken, so one
     * busy connection cannot starve the others. */
    for (int round = 0; round < 4 && c->state != WSC_IDLE; round++) {
        if (reserve(&c->in, &c->in_cap, c->in_len + READ_CHUNK) < 0) {
            fail(c, "out of memory");
            return;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n == 0) {
            fail(c, c->state == WSC_CLOSING ? NULL : "connection closed by the server");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            char why[80];
            snprintf(why, sizeof(why), "recv: %s", strerror(errno));
            fail(c, why);
            return;
        }
        c->in_len += (size_t)n;
        if (c->state == WSC_HANDSHAKE)
            handshake_reply(c);
        else
            parse_frames(c);
        if ((size_t)n < READ_CHUNK)
            return;
    }
}

static void on_event(struct wsc *c, uint32_t events)
{
    /* An earlier event of the same batch may have closed it. */
    if (c->state == WSC_IDLE)
        return;
    if (c->state == WSC_CONNECTING) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
            char why[80];
            snprintf(why, sizeof(why), "connect: %s", strerror(soerr));
            fail(c, why);
            return;
        }
        send_upgrade(c);
        return;
    }
    if (events & EPOLLOUT)
        flush(c);
    if (c->state != WSC_IDLE && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        on_readable(c);
}

/* Has the watched server exited? Reaps it and says how. */
static bool server_gone(struct bench_loop *L, char *err, size_t errlen)
{
    int status;
    if (L->watch_pid <= 0 || waitpid(L->watch_pid, &status, WNOHANG) != L->watch_pid)
        return false;
    if (WIFSIGNALED(status))
        snprintf(err, errlen, "tafeld (pid %d) died of signal %d", (int)L->watch_pid,
                 WTERMSIG(status));
    else
        snprintf(err, errlen, "tafeld (pid %d) exited with status %d", (int)L->watch_pid,
                 WEXITSTATUS(status));
    L->watch_pid = 0;
    return true;
}

int bench_loop_run(struct bench_loop *L, struct bench_wait *w, int64_t deadline_ns, char *err,
                   size_t errlen)
{
    struct epoll_event evs[256];
    int64_t next_check = 0;
    for (;;) {
        int64_t now = bench_now_ns();
        if (w->tick && w->next_tick && now >= w->next_tick)
            w->next_tick = w->tick(w->arg, now);
        if (w->done && w->done(w->arg))
            return 0;
        if (now >= deadline_ns) {
            snprintf(err, errlen, "timed out %s", w->what ? w->what : "");
            return -1;
        }
        if (now >= next_check) {
            if (server_gone(L, err, errlen))
                return -1;
            next_check = now + 100 * BENCH_NS_PER_MS;
        }
        int64_t until = deadline_ns < next_check ? deadline_ns : next_check;
        if (w->tick && w->next_tick && w->next_tick < until)
            until = w->next_tick;
        /* epoll waits in whole ms: round up so a tick is never early. */
        int timeout = (int)((until - now + BENCH_NS_PER_MS - 1) / BENCH_NS_PER_MS);
        int n = epoll_wait(L->epfd, evs, 256, timeout < 0 ? 0 : timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
    }
}
