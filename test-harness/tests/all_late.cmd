# Every peer starts late (its first step is `start`); then a kill and a
# restart of the killed peer (a new process).
start alice
start bob
alice echo one
kill bob
restart bob
bob echo two
expect alice outputView == 1 one
expect bob outputView == 1 two
