# Five peers split 3+2 by a network partition (any lab: the local one by
# the peers' fault layer, --lab netns by the kernel): each side
# keeps chatting inside itself and sees the other side fail; after `heal`
# the two sides merge again and a message is seen by everybody.
# Short membership timings: a cut-off member is dead within about 2 s and
# push/pull (which also reconnects failed members) runs every second.
# Every peer whose rejoin is awaited after `heal` must have seen the other
# side fail first (else its second "joined" never comes).
a set memberlist.probe_interval 200ms
a set memberlist.probe_timeout 100ms
a set memberlist.gossip_interval 50ms
a set memberlist.suspicion_mult 2
a set memberlist.reliable_timeout 500ms
a set memberlist.push_pull_interval 1s
a set chat.delivery_timeout 5s
b set memberlist.probe_interval 200ms
b set memberlist.probe_timeout 100ms
b set memberlist.gossip_interval 50ms
b set memberlist.suspicion_mult 2
b set memberlist.reliable_timeout 500ms
b set memberlist.push_pull_interval 1s
b set chat.delivery_timeout 5s
c set memberlist.probe_interval 200ms
c set memberlist.probe_timeout 100ms
c set memberlist.gossip_interval 50ms
c set memberlist.suspicion_mult 2
c set memberlist.reliable_timeout 500ms
c set memberlist.push_pull_interval 1s
c set chat.delivery_timeout 5s
d set memberlist.probe_interval 200ms
d set memberlist.probe_timeout 100ms
d set memberlist.gossip_interval 50ms
d set memberlist.suspicion_mult 2
d set memberlist.reliable_timeout 500ms
d set memberlist.push_pull_interval 1s
d set chat.delivery_timeout 5s
e set memberlist.probe_interval 200ms
e set memberlist.probe_timeout 100ms
e set memberlist.gossip_interval 50ms
e set memberlist.suspicion_mult 2
e set memberlist.reliable_timeout 500ms
e set memberlist.push_pull_interval 1s
e set chat.delivery_timeout 5s
a init
b init
c init
d init
e init
wait a messagesView 1 <joined> b 15s
wait a messagesView 1 <joined> c 15s
wait a messagesView 1 <joined> d 15s
wait a messagesView 1 <joined> e 15s
partition a,b,c | d,e
wait a messagesView 1 <failed> d 15s
wait a messagesView 1 <failed> e 15s
wait d messagesView 1 <failed> a 15s
wait d messagesView 1 <failed> b 15s
wait d messagesView 1 <failed> c 15s
wait e messagesView 1 <failed> c 15s
wait c messagesView 1 <failed> d 15s
wait c messagesView 1 <failed> e 15s
a msg left side
d msg right side
wait c messagesView 1 <a> left side 10s
wait e messagesView 1 <d> right side 10s
heal
wait a logView 2 ~member d joined 20s
wait d logView 2 ~member a joined 20s
wait e logView 2 ~member c joined 20s
wait c logView 2 ~member d joined 20s
wait c logView 2 ~member e joined 20s
c msg after heal
expect a messagesView never <d> right side
expect b messagesView never <e> right side
expect d messagesView never <a> left side
expect e messagesView never <a> left side
b testfilter messagesView 1 <a> left side
e testfilter messagesView 1 <d> right side
a testfilter messagesView 1 <c> after heal
b testfilter messagesView 1 <c> after heal
d testfilter messagesView 1 <c> after heal
e testfilter messagesView 1 <c> after heal
