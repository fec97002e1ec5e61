# alice crashes in the middle of the run (SIGKILL from inside, not a
# harness fault): her remaining steps fail, the run goes on and ends
# FAILED, and nothing hangs.
alice echo before
bob echo before
alice shell sh -c "kill -9 $PPID"
alice echo after
bob echo after
expect bob outputView == 1 before
expect bob outputView == 1 after
