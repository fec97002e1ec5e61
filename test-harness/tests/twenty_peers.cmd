# Twenty peers in two groups (issue 15): every peer starts its chat at once,
# the servers all speak at the same time with a client, and every filter on
# a range or a group holds. peerlab-test run --param n=30 runs more clients.
param n 20
group servers p[1..10]
group clients p[11..${n}]
all init
parallel
  servers msg from a server
  p11 msg from a client
end
clients testfilter messagesView 10 ~from a server
servers testfilter messagesView 9 ~from a server
p[1..10] testfilter messagesView 1 <p11> from a client
expect all messagesView never <error>
