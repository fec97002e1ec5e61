# A peer restarted while partitioned from the others (the nemesis found
# it): its new process finds nobody to join (its bootstrap peers are cut
# off), starts alone, and must join the others once the partition heals;
# then each side shows the other's chat. Before, it stayed alone for good:
# nobody knew its new address, and it never tried the listed peers again.
p1 init
p2 init
p3 init
wait converged 15s
partition p2 | p1,p3
restart p2
p2 init
heal
wait converged 8s
p3 msg after heal
p2 msg back
wait p2 messagesView 1 <p3> after heal 5s
wait p1 messagesView 1 <p2> back 5s
