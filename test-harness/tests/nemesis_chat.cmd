# A nemesis run: five peers chat while a nemesis drawn from the run's seed
# kills, stops and partitions a minority of them (repaired by its end;
# loss, delay and one-way blocks: nemesis_net.cmd); then every healthy peer
# must have shown, once and in order, every message it was due (check
# chat), the key/value map written before must agree everywhere, a killed
# peer's new process included (check kv), and the healthy peers must hold
# one member table (check membership).
p1 init
p2 init
p3 init
p4 init
p5 init
wait p1 messagesView 4 <joined> 15s
p1 broadcastadd color red
p2 broadcastadd color blue
p3 broadcastadd size 3
p3 broadcastdel size
nemesis kill,stop,partition every 1s..2s for 6s
p1 msg a1
p2 msg b1
p3 msg c1
p4 msg d1
p5 msg e1
sleep 1.5
p1 msg a2
p2 msg b2
p3 msg c2
p4 msg d2
p5 msg e2
sleep 1.5
p1 msg a3
p2 msg b3
p3 msg c3
p4 msg d3
p5 msg e3
sleep 1.5
p1 msg a4
p2 msg b4
p3 msg c4
p4 msg d4
p5 msg e4
sleep 2
p1 msg a5
p2 msg b5
p3 msg c5
p4 msg d5
p5 msg e5
check chat
check kv
check membership
