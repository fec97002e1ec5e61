# A frozen peer (SIGSTOP) becomes suspect; thawed (SIGCONT) it refutes the
# suspicion and is alive again, never declared failed.
alice init
bob init
charly init
wait alice messagesView 1 <joined> charly 10s
stop charly
wait alice logView 1 ~member charly is suspect 20s
cont charly
wait alice logView 1 ~member charly is alive again 20s
expect alice messagesView never <failed> charly
expect bob messagesView never <failed> charly
alice msg still here
charly testfilter messagesView 1 <alice> still here
