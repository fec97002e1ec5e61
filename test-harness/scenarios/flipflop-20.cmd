# Issue 17, real processes: 20 peers, one of them flip-flopped, no root.
# p20's ingress from every other peer is blocked (oneway p[1..19] -> p20:
# what they send it is dropped by their own fault layer, what it sends
# gets through) for ${on}, then restored for ${off}, three times. The
# simulator's flipflop is 20 s / 20 s; the periods here are shorter so the
# run stays under 30 s, but longer than a suspicion of p20 needs to start
# (a probe a second reaches p20 from one of the 19).
#
# While deaf, p20 suspects members that refute at once (their refutation
# cannot reach it); after the last heal it may hold such a suspicion of an
# older incarnation until it probes that member (the buddy system: the
# member answers the stale accusation with its alive), its suspicion timer
# ends, or its next push/pull (15 s): run with --timeout 16 or more so
# check membership's agreement waits for that.
#
# check membership holds the whole run to "no healthy peer was ever
# declared dead by a healthy one": p20 is under the fault while blocked
# (the smaller side of the oneway), the other 19 are healthy throughout, so
# any death declaration of one of them by another fails it; then the
# final tables must agree. The run ends in p20's third deaf phase: p20 is
# the faulty member of the whole run (the quarantine holds a member that
# keeps flapping out for its hold-down, by design: docs/membership.md), so
# the final agreement is of the 19 healthy peers. The last line shows the
# fault bit.
param on 3s
param off 2s
p[1..20] init
wait converged 15s
oneway p[1..19] -> p20
sleep ${on}
heal
sleep ${off}
oneway p[1..19] -> p20
sleep ${on}
heal
sleep ${off}
oneway p[1..19] -> p20
sleep ${on}
# p20 may still be under suspicion here (3 s of deafness is about what a
# first suspicion and its timeout take): wait for its removal, not a time.
wait p1 logView 1 ~member p20 failed 20s
check membership
expect p1 logView >= 1 ~member p20 is suspect
