// SPDX-License-Identifier: GPL-2.0
/* synflood.c - a flood of spoofed TCP packets through a running lbd's own
 * forwarder: the pinned program (DIR/prog) run with BPF_PROG_TEST_RUN, one
 * frame per call, so every packet uses the daemon's maps (flow tables,
 * counters) exactly as a frame from the NIC would.  Used by test_floods.sh.
 *
 *   synflood PROG VIP_ADDR VIP_PORT COUNT [syn|ack]
 *
 * Packet i comes from 100.64.0.0 + i (COUNT distinct sources, at most 2^22),
 * port 1024 + i % 60000; the work is split over one process per online CPU,
 * each pinned to its CPU, so every CPU's LRU lists see the flood.  Prints
 * "sent N tx N pass N drop N other N errors N" and exits 0 if every call
 * ran (whatever the programs' verdicts), 1 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>

#include "pkt.h"

#define MAX_COUNT (1u << 22)
#define FRAME_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr))

struct tally {
	unsigned long long sent, act[5], other, errors;
};

/* Packet i of the flood, in buf (FRAME_LEN bytes). */
static void build(__u8 *buf, __u32 i, __be32 vip, __be16 port, __u8 flags)
{
	static const __u8 dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 }, smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct ethhdr *eth = (void *)buf;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip + 1);
	struct pseudo { __be32 s, d; __u8 z, proto; __be16 len; } ph;

	memset(buf, 0, FRAME_LEN);
	memcpy(eth->h_dest, dmac, 6);
	memcpy(eth->h_source, smac, 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*th));
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = htonl(0x64400000u + i); /* 100.64.0.0/10 */
	ip->daddr = vip;
	ip->check = pkt_csum(ip, sizeof(*ip), 0);
	th->source = htons((__u16)(1024 + i % 60000));
	th->dest = port;
	th->seq = htonl(i * 2654435761u);
	th->ack_seq = flags & 0x10 ? htonl(i) : 0;
	th->doff = 5;
	((__u8 *)th)[13] = flags;
	th->window = htons(64240);
	ph = (struct pseudo){ ip->saddr, ip->daddr, 0, IPPROTO_TCP, htons(sizeof(*th)) };
	th->check = pkt_csum(th, sizeof(*th), pkt_csum_partial(&ph, sizeof(ph), 0));
}

static void run_part(int fd, int cpu, __u32 from, __u32 to, __be32 vip, __be16 port, __u8 flags,
		     struct tally *t)
{
	__u8 in[FRAME_LEN], out[FRAME_LEN + 256];
	cpu_set_t set;
	__u32 i;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort */
	for (i = from; i < to; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = sizeof(in),
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		build(in, i, vip, port, flags);
		t->sent++;
		if (bpf_prog_test_run_opts(fd, &o)) {
			if (t->errors++ == 0)
				fprintf(stderr, "synflood: test run: %s\n", strerror(errno));
			continue;
		}
		if (o.retval < 5)
			t->act[o.retval]++;
		else
			t->other++;
	}
}

int main(int argc, char **argv)
{
	struct tally *parts, sum = { 0 };
	unsigned long count;
	struct in_addr vip;
	int fd, ncpu, c, k, st, ok = 1;
	unsigned long port;
	__u8 flags;
	char *end;

	if (argc < 5 || argc > 6 || inet_pton(AF_INET, argv[2], &vip) != 1) {
		fprintf(stderr, "usage: synflood PROG VIP_ADDR VIP_PORT COUNT [syn|ack]\n");
		return 2;
	}
	port = strtoul(argv[3], &end, 10);
	if (*end || !port || port > 65535) {
		fprintf(stderr, "synflood: bad port \"%s\"\n", argv[3]);
		return 2;
	}
	count = strtoul(argv[4], &end, 10);
	if (*end || !count || count > MAX_COUNT) {
		fprintf(stderr, "synflood: bad count \"%s\" (1-%u)\n", argv[4], MAX_COUNT);
		return 2;
	}
	if (argc == 6 && strcmp(argv[5], "syn") && strcmp(argv[5], "ack")) {
		fprintf(stderr, "synflood: bad kind \"%s\" (syn, ack)\n", argv[5]);
		return 2;
	}
	flags = argc == 6 && !strcmp(argv[5], "ack") ? 0x10 : 0x02;
	fd = bpf_obj_get(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "synflood: cannot open the pinned program %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	parts = mmap(NULL, sizeof(*parts) * ncpu, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	if (parts == MAP_FAILED) {
		perror("synflood: mmap");
		return 1;
	}
	memset(parts, 0, sizeof(*parts) * ncpu);
	for (c = 0; c < ncpu; c++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("synflood: fork");
			ok = 0;
			break;
		}
		if (!pid) {
			run_part(fd, c, (__u32)(count * c / ncpu), (__u32)(count * (c + 1) / ncpu),
				 vip.s_addr, htons((__u16)port), flags, &parts[c]);
			_exit(0);
		}
	}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			ok = 0;
	for (c = 0; c < ncpu; c++) {
		sum.sent += parts[c].sent;
		for (k = 0; k < 5; k++)
			sum.act[k] += parts[c].act[k];
		sum.other += parts[c].other + parts[c].act[XDP_ABORTED] + parts[c].act[XDP_REDIRECT];
		sum.errors += parts[c].errors;
	}
	printf("sent %llu tx %llu pass %llu drop %llu other %llu errors %llu\n", sum.sent,
	       sum.act[XDP_TX], sum.act[XDP_PASS], sum.act[XDP_DROP], sum.other, sum.errors);
	return ok && !sum.errors && sum.sent == count ? 0 : 1;
}
