# dave joins a running group: not started with the others, started by the
# script, seen by everybody, and talks.
alice init
bob init
alice msg before dave
start dave
dave init
wait alice messagesView 1 <joined> dave 10s
wait bob messagesView 1 <joined> dave 10s
dave msg hello from dave
alice testfilter messagesView 1 <dave> hello from dave
bob testfilter messagesView 1 <dave> hello from dave
# dave was not there for alice's first message.
dave testfilter messagesView 0 <alice> before dave
