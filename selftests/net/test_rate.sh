#!/usr/bin/env bash
# test_rate.sh - the live-frames path of `make bench-rate`, checked: lbd's
# forwarder (native XDP on a veth) gets frames from bench_gen under
# BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES and sends every one back
# rewritten for its backend (l2: the backend's MAC; ipip: the router's MAC
# and an IPIP header to the backend), one flow and 10,000 flows; the flow
# table learns the new flows and hits them on the next pass; the bench
# references swapped into lbd's XDP link (the lookup one finds the same
# flows in lbd's flows4) are swapped out again.
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rate_lab.sh"

N=10000
TSV=$TMP/rate.tsv

# col CASE FIELD: a field of CASE's line in the TSV (10 sent, 11 arrived,
# 12 as expected, 13 flow hits, 14 flow misses, 15 LB drop/pass).
col() { awk -F'\t' -v c="$1" -v f="$2" '$2 == c { print $f }' "$TSV"; }
is() { [ "$(col "$1" "$2")" = "$3" ]; }

setup() {
	lab_rate || return 1
	start_lbd --xdp-mode native --metrics none --flows 131072 || return 1 # half-open: 16384 per CPU
	rate_config
}

test_all_arrive() {
	rate_gen --count $N --flows $N --tsv "$TSV" l2-1 ipip-1 l2-new l2-est ipip-new ipip-est \
		lkpn linn l2-syn ref1 >"$TMP/gen.out" 2>&1
	check live_frames_all_arrive_rewritten [ $? = 0 ] || cat "$TMP/gen.out"
	check l2_one_flow_counted is l2-1 12 $N
	check ipip_one_flow_counted is ipip-1 12 $N
	check one_flow_hits is l2-1 13 $((N - 1))
	check new_flows_all_miss bash -c "[ '$(col l2-new 14)' = $N ] && [ '$(col ipip-new 14)' = $N ]"
	# every flow of the new pass was learned half-open where its pair of
	# slots had room (README "Flow table policy": a guess does not evict a
	# flow learned under a second ago), and promoted by the pass after; one
	# whose pair was full went to the ring's backend (counted as expected
	# above) and is learned at its next packet: at 10,000 flows on 16,384
	# pairs, 4-11% of them (the count of pairs with three or more)
	check flows_hit_next_pass bash -c "for c in l2-est ipip-est; do
		h=\$(awk -F'\t' -v c=\$c '\$2 == c { print \$13 + 0 }' '$TSV')
		m=\$(awk -F'\t' -v c=\$c '\$2 == c { print \$14 + 0 }' '$TSV')
		[ \$((h + m)) = $N ] && [ \$h -ge $((N * 85 / 100)) ] || exit 1; done"
	check lb_no_drop_or_pass bash -c "[ \$(awk -F'\t' '{ s += \$15 } END { print s }' '$TSV') = 0 ]"
	check reference_all_arrive is ref1 12 $N
	# the lookup reference finds in flows4 exactly the flows the forwarder
	# found established there
	check lookup_reference_hits_lbd_table is lkpn 13 "$(col l2-est 13)"
	check line_reference_all_arrive is linn 11 $N
	check syn_flood_all_miss_and_arrive bash -c "[ '$(col l2-syn 14)' = $N ] && [ '$(col l2-syn 12)' = $N ]"
}

# The generator's last case was the reference: the forwarder must be back.
test_forwarder_restored() {
	check forwarder_back_in_link eval 'rate_gen --count 64 l2-1 >/dev/null'
}

# refused ARGS... PATTERN: rate-gen exits 2 and says PATTERN on stderr.
refused() {
	local pat=${*: -1} out rc
	out=$(rate_gen "${@:1:$#-1}" 2>&1 >/dev/null)
	rc=$?
	[ $rc = 2 ] && grep -q -- "$pat" <<<"$out"
}

test_bad_input() {
	check bad_flows_refused refused --count 10 --flows 1 l2-1 'bad --flows "1"'
	check bad_case_refused refused --count 10 nosuchcase 'unknown case "nosuchcase"'
	check twice_refused refused --count 10 l2-1 l2-1 'given twice'
}

if ! setup; then
	fail setup "cannot build the live-frames lab"
	summary
	exit 1
fi
pass setup
test_all_arrive
test_forwarder_restored
test_bad_input
check lbd_stops_cleanly stop_lbd TERM
check lbd_log_clean lbd_log_clean
summary
[ "$n_fail" -eq 0 ]
