# A killed bootstrap peer: the others see <failed>, and the bootstrap list
# is refilled with a peer that was not on it (the list holds 3 peers: dave
# finds it full at init).
alice init
bob init
charly init
dave init
wait alice messagesView 1 <joined> dave 10s
kill bob
wait alice messagesView 1 <failed> bob 30s
wait charly messagesView 1 <failed> bob 30s
wait dave messagesView 1 <failed> bob 30s
# alice (the first live member by name) offers dave to the bootstrap
# service as the refill and logs it.
wait alice logView 1 ~offered dave as refill: accepted 20s
alice bootstrappeers
expect alice outputView == 1 dave 127.0.0.1
expect alice outputView never bob 127.0.0.1
expect alice messagesView never <left> bob
