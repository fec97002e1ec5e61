# A kernel-only network fault (netem corrupt) in the default local lab:
# refused before the lab starts (exit 2, naming the line and --lab netns),
# not run to every later wait's timeout.
alice echo up
bob echo up
netem bob corrupt 5%
wait alice outputView 1 never comes 20s
