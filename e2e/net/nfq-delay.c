// nfq-delay: adds a fixed delay to every packet of an NFQUEUE queue, chosen by the packet's remote
// address. This kernel has no netem; NFQUEUE (CONFIG_NETFILTER_NETLINK_QUEUE) plus a small
// user-space program that holds each packet's verdict for N ms is the delay line instead.
//
// Needs only gcc and the kernel's UAPI headers (Debian: gcc, libc6-dev, linux-libc-dev); it speaks
// nfnetlink directly, so no libnetfilter-queue. delayer.ts compiles it at run time.
//
//   nfq-delay --queue 0 --lan 198.51.100.8/29 --default-ms 20 [--peer 203.0.113.102=10]...
//
// The remote address of a packet is its destination if its source is in --lan, else its source.
// Packets with the same delay leave in arrival order (heap ordered by release time, then arrival).

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <netinet/ip.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PEERS 256
#define QUEUE_MAXLEN 16384
#define HEAP_CAP (QUEUE_MAXLEN * 2)

struct held { uint64_t release_ns; uint64_t seq; uint32_t id_be; };

static struct held heap[HEAP_CAP];
static size_t heap_len;
static uint32_t peer_addr[MAX_PEERS];
static uint64_t peer_delay_ns[MAX_PEERS];
static size_t peer_count;
static uint64_t default_delay_ns;
static uint32_t lan_net, lan_mask;
static volatile sig_atomic_t stopping;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int before(const struct held *a, const struct held *b) {
  return a->release_ns < b->release_ns || (a->release_ns == b->release_ns && a->seq < b->seq);
}

static void heap_push(struct held h) {
  size_t i = heap_len++;
  heap[i] = h;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(&heap[i], &heap[parent])) break;
    struct held t = heap[i]; heap[i] = heap[parent]; heap[parent] = t;
    i = parent;
  }
}

static struct held heap_pop(void) {
  struct held top = heap[0];
  heap[0] = heap[--heap_len];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap_len && before(&heap[l], &heap[m])) m = l;
    if (r < heap_len && before(&heap[r], &heap[m])) m = r;
    if (m == i) break;
    struct held t = heap[i]; heap[i] = heap[m]; heap[m] = t;
    i = m;
  }
  return top;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

// Appends one netlink attribute to buf at *len.
static void put_attr(char *buf, size_t *len, uint16_t type, const void *data, uint16_t data_len) {
  struct nlattr *attr = (struct nlattr *)(buf + *len);
  attr->nla_type = type;
  attr->nla_len = NLA_HDRLEN + data_len;
  memcpy(buf + *len + NLA_HDRLEN, data, data_len);
  *len += NLA_ALIGN(attr->nla_len);
}

// Starts a queue message (config or verdict) at buf + *len; returns its header to patch the length.
static struct nlmsghdr *begin_msg(char *buf, size_t *len, uint16_t msg_type, uint16_t queue, uint16_t flags) {
  struct nlmsghdr *nlh = (struct nlmsghdr *)(buf + *len);
  memset(nlh, 0, NLMSG_HDRLEN + sizeof(struct nfgenmsg));
  nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | msg_type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  struct nfgenmsg *nfg = (struct nfgenmsg *)NLMSG_DATA(nlh);
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(queue);
  *len += NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
  return nlh;
}

static void send_all(int fd, const char *buf, size_t len) {
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  while (sendto(fd, buf, len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    if (errno == EINTR) continue;
    if (errno == ENOBUFS || errno == EAGAIN) { usleep(100); continue; }
    die("sendto");
  }
}

// Blocks for the kernel's answer to one config message; a refusal (queue taken, no NFQUEUE) is fatal.
static void wait_ack(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) { if (errno == EINTR) continue; die("recv ack"); }
    for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, (size_t)n); nlh = NLMSG_NEXT(nlh, n)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      struct nlmsgerr *err = NLMSG_DATA(nlh);
      if (err->error != 0) { errno = -err->error; die("nfqueue config"); }
      return;
    }
  }
}

static void configure(int fd, uint16_t queue) {
  char buf[256];
  size_t len = 0;
  struct nlmsghdr *nlh = begin_msg(buf, &len, NFQNL_MSG_CONFIG, queue, NLM_F_ACK);
  struct nfqnl_msg_config_cmd bind = { .command = NFQNL_CFG_CMD_BIND, .pf = htons(AF_INET) };
  put_attr(buf, &len, NFQA_CFG_CMD, &bind, sizeof bind);
  nlh->nlmsg_len = len;
  send_all(fd, buf, len);
  wait_ack(fd);

  size_t start = len = 0;
  nlh = begin_msg(buf, &len, NFQNL_MSG_CONFIG, queue, NLM_F_ACK);
  // Only the IPv4 header comes to user space: enough to find the remote address.
  struct nfqnl_msg_config_params params = { .copy_range = htonl(sizeof(struct iphdr)), .copy_mode = NFQNL_COPY_PACKET };
  put_attr(buf, &len, NFQA_CFG_PARAMS, &params, sizeof params);
  uint32_t maxlen = htonl(QUEUE_MAXLEN);
  put_attr(buf, &len, NFQA_CFG_QUEUE_MAXLEN, &maxlen, sizeof maxlen);
  // GSO super-packets stay whole (we never change a packet, so no checksum work is needed).
  uint32_t flags = htonl(NFQA_CFG_F_GSO), mask = htonl(NFQA_CFG_F_GSO);
  put_attr(buf, &len, NFQA_CFG_FLAGS, &flags, sizeof flags);
  put_attr(buf, &len, NFQA_CFG_MASK, &mask, sizeof mask);
  nlh->nlmsg_len = len - start;
  send_all(fd, buf, len);
  wait_ack(fd);
}

static uint64_t delay_for(const struct iphdr *ip) {
  uint32_t src = ntohl(ip->saddr), dst = ntohl(ip->daddr);
  uint32_t remote = (src & lan_mask) == lan_net ? dst : src;
  for (size_t i = 0; i < peer_count; i++) if (peer_addr[i] == remote) return peer_delay_ns[i];
  return default_delay_ns;
}

// Handles one NFQNL_MSG_PACKET: note its id and when to let it go.
static void on_packet(struct nlmsghdr *nlh, uint64_t *seq) {
  struct nfqnl_msg_packet_hdr *hdr = NULL;
  const struct iphdr *ip = NULL;
  int attrs_len = nlh->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(struct nfgenmsg));
  struct nlattr *attr = (struct nlattr *)((char *)NLMSG_DATA(nlh) + NLMSG_ALIGN(sizeof(struct nfgenmsg)));
  while (attrs_len >= (int)NLA_HDRLEN && attr->nla_len >= NLA_HDRLEN && attr->nla_len <= attrs_len) {
    uint16_t type = attr->nla_type & NLA_TYPE_MASK;
    void *data = (char *)attr + NLA_HDRLEN;
    if (type == NFQA_PACKET_HDR) hdr = data;
    else if (type == NFQA_PAYLOAD && attr->nla_len - NLA_HDRLEN >= (int)sizeof(struct iphdr)) ip = data;
    attrs_len -= NLA_ALIGN(attr->nla_len);
    attr = (struct nlattr *)((char *)attr + NLA_ALIGN(attr->nla_len));
  }
  if (!hdr) return;
  uint64_t delay = ip ? delay_for(ip) : default_delay_ns;
  if (heap_len == HEAP_CAP) return; // cannot happen: the kernel queue is shorter than the heap
  heap_push((struct held){ .release_ns = now_ns() + delay, .seq = (*seq)++, .id_be = hdr->packet_id });
}

// Sends NF_ACCEPT for every held packet whose time has come, many verdicts per sendto.
static void release_due(int fd, uint16_t queue) {
  static char buf[64 * 1024];
  size_t len = 0;
  uint64_t now = now_ns();
  while (heap_len > 0 && heap[0].release_ns <= now) {
    struct held h = heap_pop();
    size_t start = len;
    struct nlmsghdr *nlh = begin_msg(buf, &len, NFQNL_MSG_VERDICT, queue, 0);
    struct nfqnl_msg_verdict_hdr verdict = { .verdict = htonl(NF_ACCEPT), .id = h.id_be };
    put_attr(buf, &len, NFQA_VERDICT_HDR, &verdict, sizeof verdict);
    nlh->nlmsg_len = len - start;
    if (len > sizeof buf - 256) { send_all(fd, buf, len); len = 0; }
  }
  if (len > 0) send_all(fd, buf, len);
}

static void on_signal(int sig) { (void)sig; stopping = 1; }

static int parse_ipv4(const char *text, uint32_t *out) {
  struct in_addr a;
  if (inet_pton(AF_INET, text, &a) != 1) return -1;
  *out = ntohl(a.s_addr);
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: nfq-delay --queue N --lan A.B.C.D/LEN --default-ms MS [--peer A.B.C.D=MS]...\n");
  exit(2);
}

int main(int argc, char **argv) {
  int queue = -1;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!val) usage();
    i++;
    if (!strcmp(arg, "--queue")) queue = atoi(val);
    else if (!strcmp(arg, "--default-ms")) default_delay_ns = (uint64_t)(atof(val) * 1e6);
    else if (!strcmp(arg, "--lan")) {
      char copy[64];
      snprintf(copy, sizeof copy, "%s", val);
      char *slash = strchr(copy, '/');
      if (!slash) usage();
      *slash = 0;
      int bits = atoi(slash + 1);
      if (parse_ipv4(copy, &lan_net) || bits < 0 || bits > 32) usage();
      lan_mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
      lan_net &= lan_mask;
    } else if (!strcmp(arg, "--peer")) {
      char copy[64];
      snprintf(copy, sizeof copy, "%s", val);
      char *eq = strchr(copy, '=');
      if (!eq || peer_count == MAX_PEERS) usage();
      *eq = 0;
      if (parse_ipv4(copy, &peer_addr[peer_count])) usage();
      peer_delay_ns[peer_count++] = (uint64_t)(atof(eq + 1) * 1e6);
    } else usage();
  }
  if (queue < 0 || queue > 65535 || lan_mask == 0) usage();

  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) die("socket(NETLINK_NETFILTER)");
  // A large receive buffer: a lost queue message would leave its packet held in the kernel for good.
  int rcvbuf = 16 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_nl local = { .nl_family = AF_NETLINK };
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) die("bind");
  configure(fd, (uint16_t)queue);
  printf("nfq-delay: queue %d ready\n", queue);
  fflush(stdout);

  static char buf[1 << 18];
  uint64_t seq = 0;
  while (!stopping) {
    struct timespec ts, *tsp = NULL;
    if (heap_len > 0) {
      uint64_t now = now_ns();
      uint64_t wait = heap[0].release_ns > now ? heap[0].release_ns - now : 0;
      ts.tv_sec = wait / 1000000000ull;
      ts.tv_nsec = wait % 1000000000ull;
      tsp = &ts;
    }
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int ready = ppoll(&pfd, 1, tsp, NULL);
    if (ready < 0 && errno != EINTR) die("ppoll");
    if (ready > 0) {
      // Drain everything that is waiting, then release what is due.
      for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
          if (errno == ENOBUFS) { fprintf(stderr, "nfq-delay: netlink overrun (packets may be stuck)\n"); continue; }
          die("recv");
        }
        for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, (size_t)n); nlh = NLMSG_NEXT(nlh, n)) {
          if (nlh->nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr *err = NLMSG_DATA(nlh);
            if (err->error != 0) { errno = -err->error; die("nfqueue config"); }
            continue;
          }
          if ((nlh->nlmsg_type & 0xff) == NFQNL_MSG_PACKET && (nlh->nlmsg_type >> 8) == NFNL_SUBSYS_QUEUE) on_packet(nlh, &seq);
        }
      }
    }
    release_due(fd, (uint16_t)queue);
  }
  return 0;
}
