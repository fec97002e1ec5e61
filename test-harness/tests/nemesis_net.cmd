# The nemesis's network faults in the local lab, without root: partitions,
# one-way blocks, loss and delay drawn from the run's seed are carried out by
# the peers' own fault layer (`faults`, as the script steps are) and undone
# by the end. Each peer then says what its fault layer dropped, blocked and
# held back (faults list), and the member tables agree again (check
# membership waits for the nemesis to end). With the default push/pull
# period: a member that missed a refutation gets it from the accused, which
# answers the stale accusation (before, the script needed push/pull every
# second, or a peer could hold a refuted suspicion past the check's
# timeout).
p[1..5] init
wait converged 15s
nemesis partition,oneway,loss,delay every 500ms..1s for 4s
check membership
all faults list
