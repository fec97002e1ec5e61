# For the interrupt and no-process-left tests: the run is still going when
# peerlab-test is interrupted or killed.
alice echo up
bob echo up
sleep 60
alice echo never reached
