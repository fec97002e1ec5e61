# Needs no chat: every step is a built-in command of the peer.
alice echo hello from alice
bob echo hello from bob
alice testfilter outputView 1 hello from alice
expect bob outputView >= 1 hello
expect bob outputView never hello from alice
wait alice outputView 1 hello from alice 5s
