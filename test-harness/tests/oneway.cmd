# oneway in the local lab (no root): a's traffic to b is dropped, b's to a
# flows. With two members nobody carries a's acks (or its answers to b's
# fallback probes) to b: b suspects a and declares it failed although a
# still hears b. After heal b finds a again.
a set memberlist.probe_interval 200ms
a set memberlist.probe_timeout 100ms
a set memberlist.suspicion_mult 2
a set memberlist.push_pull_interval 1s
b set memberlist.probe_interval 200ms
b set memberlist.probe_timeout 100ms
b set memberlist.suspicion_mult 2
b set memberlist.push_pull_interval 1s
a init
b init
wait a messagesView 1 <joined> b 15s
oneway a -> b
wait b logView 1 ~member a is suspect 10s
wait b messagesView 1 <failed> a 10s
a faults list
heal
wait b logView 2 ~member a joined 15s
