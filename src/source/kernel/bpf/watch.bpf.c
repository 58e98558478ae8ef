// SPDX-License-Identifier: GPL-2.0 OR MIT
//
// racecap watch: the kernel's side of a keep-alive race, without copying a
// packet. Each TCP socket's application activity (sock:sock_send_length,
// sock:sock_recv_length) is only counted here, in ACTIVITY; one event goes
// to user space per state change, reset or retransmission, carrying what
// the socket sent and received since its previous event and when it last
// did. Field layouts are the tracepoints' format files on Linux 6.10 and
// later (user space checks them before attaching).
//
// Built twice by build.rs: with CO-RE (the socket's network namespace is
// read through BTF relocations) and with -DRACECAP_NO_CORE for kernels
// without BTF, where the namespace is left 0.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

// Event kinds (src/source/kernel/event.rs reads them).
#define KIND_STATE 1
#define KIND_RESET_SENT 2
#define KIND_RESET_RECEIVED 3
#define KIND_RETRANSMIT 4

// What one socket did since its last event.
struct activity {
	__u64 last_send_ns;
	__u64 last_recv_ns;
	__u64 sent;
	__u64 received;
};

// One event, 112 bytes; the layout is mirrored in event.rs.
struct event {
	__u64 ts_ns;
	__u64 last_send_ns;
	__u64 last_recv_ns;
	__u64 sent;
	__u64 received;
	__u32 netns;
	__u32 pid;
	char comm[16];
	__u8 kind;
	__u8 family;
	__u8 oldstate;
	__u8 newstate;
	__u8 has_reason;
	__u8 pad[3];
	__u32 reason;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct activity);
} ACTIVITY SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} EVENTS SEC(".maps");

// Records the ring buffer had no room for (racecap fell behind).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} LOST SEC(".maps");

// Set by user space: the tracepoint tcp_send_reset has a `reason` field.
const volatile __u8 HAVE_REASON = 1;

#ifndef RACECAP_NO_CORE
// Just the fields read, relocated by name against the kernel's BTF.
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));
struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));
typedef struct {
	struct net *net;
} possible_net_t;
struct sock_common {
	possible_net_t skc_net;
} __attribute__((preserve_access_index));
struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

static __always_inline __u32 netns_of(const void *sk)
{
	if (!sk)
		return 0;
	return BPF_CORE_READ((struct sock *)sk, __sk_common.skc_net.net, ns.inum);
}
#else
static __always_inline __u32 netns_of(const void *sk)
{
	return 0;
}
#endif

// The tracepoints' records, after the 8 common bytes.
struct set_state_args {
	__u64 common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
};

struct send_reset_args {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
	int state;
	__u32 reason;
	__u8 saddr[28];
	__u8 daddr[28];
};

struct receive_reset_args {
	__u64 common;
	const void *skaddr;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
	__u64 sock_cookie;
};

struct retransmit_args {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
	int state;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
	int err;
};

struct length_args {
	__u64 common;
	void *sk;
	__u16 family;
	__u16 protocol;
	int ret;
	int flags;
};

// A new event for socket `sk`, with its activity since the last one
// (taken: the counts start again at 0).
static __always_inline struct event *start(const void *sk, __u8 kind)
{
	struct event *e = bpf_ringbuf_reserve(&EVENTS, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&LOST, &zero);
		if (lost)
			*lost += 1;
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	__u64 key = (__u64)sk;
	struct activity *a = key ? bpf_map_lookup_elem(&ACTIVITY, &key) : 0;
	if (a) {
		e->last_send_ns = a->last_send_ns;
		e->last_recv_ns = a->last_recv_ns;
		e->sent = a->sent;
		e->received = a->received;
		a->sent = 0;
		a->received = 0;
	}
	e->netns = netns_of(sk);
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

// The socket's own end (s) and its peer's (d), ports in host order. The
// addresses are read with bpf_probe_read_kernel: the verifier refuses a
// load through a record pointer the compiler has moved, which a plain
// copy may become.
static __always_inline void addresses(struct event *e, __u16 sport, __u16 dport, __u16 family,
				      const __u8 *s4, const __u8 *d4, const __u8 *s6,
				      const __u8 *d6)
{
	e->sport = sport;
	e->dport = dport;
	e->family = family;
	if (family == AF_INET) {
		bpf_probe_read_kernel(e->saddr, 4, s4);
		bpf_probe_read_kernel(e->daddr, 4, d4);
	} else {
		bpf_probe_read_kernel(e->saddr, 16, s6);
		bpf_probe_read_kernel(e->daddr, 16, d6);
	}
}

SEC("tracepoint/sock/inet_sock_set_state")
int set_state(struct set_state_args *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	// A listener's own changes say nothing of a connection, nor does
	// TCP_BOUND_INACTIVE (13, Linux 6.5 on: a socket bound, not connected).
	if (ctx->oldstate == 10 || ctx->newstate == 10 || ctx->oldstate > 12 ||
	    ctx->newstate > 12)
		return 0;
	struct event *e = start(ctx->skaddr, KIND_STATE);
	if (!e)
		return 0;
	e->oldstate = ctx->oldstate;
	e->newstate = ctx->newstate;
	addresses(e, ctx->sport, ctx->dport, ctx->family, ctx->saddr, ctx->daddr, ctx->saddr_v6,
		  ctx->daddr_v6);
	bpf_ringbuf_submit(e, 0);
	// TCP_CLOSE: the socket is done; a new one may get its address.
	if (ctx->newstate == 7) {
		__u64 key = (__u64)ctx->skaddr;
		bpf_map_delete_elem(&ACTIVITY, &key);
	}
	return 0;
}

// A struct sockaddr_in / sockaddr_in6 as the reset tracepoint stores it.
static __always_inline void sockaddr(const __u8 *field, __u8 *addr, __u16 *port, __u16 *family)
{
	__u8 sa[28] = {};
	bpf_probe_read_kernel(sa, sizeof(sa), field);
	__u16 f = sa[0] | (sa[1] << 8);
	*family = f;
	*port = (sa[2] << 8) | sa[3];
	if (f == AF_INET)
		__builtin_memcpy(addr, sa + 4, 4);
	else
		__builtin_memcpy(addr, sa + 8, 16);
}

SEC("tracepoint/tcp/tcp_send_reset")
int send_reset(struct send_reset_args *ctx)
{
	struct event *e = start(ctx->skaddr, KIND_RESET_SENT);
	if (!e)
		return 0;
	e->newstate = ctx->state;
	if (HAVE_REASON) {
		e->has_reason = 1;
		e->reason = ctx->reason;
	}
	__u16 family = 0, dfamily = 0;
	sockaddr(ctx->saddr, e->saddr, &e->sport, &family);
	sockaddr(ctx->daddr, e->daddr, &e->dport, &dfamily);
	e->family = family;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// An event whose tracepoint gives the socket's ports and addresses as
// inet_sock_set_state does.
static __always_inline int tuple_event(const void *sk, __u8 kind, int state, __u16 sport,
				       __u16 dport, __u16 family, const __u8 *s4,
				       const __u8 *d4, const __u8 *s6, const __u8 *d6)
{
	struct event *e = start(sk, kind);
	if (e) {
		e->newstate = state;
		addresses(e, sport, dport, family, s4, d4, s6, d6);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int receive_reset(struct receive_reset_args *ctx)
{
	return tuple_event(ctx->skaddr, KIND_RESET_RECEIVED, 0, ctx->sport, ctx->dport, ctx->family,
			   ctx->saddr, ctx->daddr, ctx->saddr_v6, ctx->daddr_v6);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit(struct retransmit_args *ctx)
{
	return tuple_event(ctx->skaddr, KIND_RETRANSMIT, ctx->state, ctx->sport, ctx->dport,
			   ctx->family, ctx->saddr, ctx->daddr, ctx->saddr_v6, ctx->daddr_v6);
}

// One send or receive call: counted, never sent up.
static __always_inline int count(struct length_args *ctx, int send)
{
	if (ctx->protocol != IPPROTO_TCP || ctx->ret <= 0)
		return 0;
	if (ctx->family != AF_INET && ctx->family != AF_INET6)
		return 0;
	__u64 key = (__u64)ctx->sk;
	__u64 now = bpf_ktime_get_ns();
	struct activity *a = bpf_map_lookup_elem(&ACTIVITY, &key);
	if (!a) {
		struct activity fresh = {};
		bpf_map_update_elem(&ACTIVITY, &key, &fresh, BPF_NOEXIST);
		a = bpf_map_lookup_elem(&ACTIVITY, &key);
		if (!a)
			return 0;
	}
	if (send) {
		__sync_fetch_and_add(&a->sent, ctx->ret);
		a->last_send_ns = now;
	} else {
		__sync_fetch_and_add(&a->received, ctx->ret);
		a->last_recv_ns = now;
	}
	return 0;
}

SEC("tracepoint/sock/sock_send_length")
int send_length(struct length_args *ctx)
{
	return count(ctx, 1);
}

SEC("tracepoint/sock/sock_recv_length")
int recv_length(struct length_args *ctx)
{
	return count(ctx, 0);
}
