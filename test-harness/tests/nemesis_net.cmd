# The nemesis's network faults in the local lab, without root: partitions,
# one-way blocks, loss and delay drawn from the run's seed are carried out by
# the peers' own fault layer (`faults`, as the script steps are) and undone
# by the end. Each peer then says what its fault layer dropped, blocked and
# held back (faults list), and the member tables agree again (check
# membership waits for the nemesis to end). Push/pull every second: a
# refutation lost to the nemesis's loss is repaired by the next exchange
# (with the default 30 s, one peer could hold a refuted suspicion past the
# check's timeout).
p[1..5] set memberlist.push_pull_interval 1s
p[1..5] init
wait converged 15s
nemesis partition,oneway,loss,delay every 500ms..1s for 4s
check membership
all faults list
