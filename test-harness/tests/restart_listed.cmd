# The bootstrap list (3 places) holds p1, p2, p3. Each is killed and
# started again in turn, faster than the others declare it dead (its new
# generation replaces it at once, so no upkeep removes its entry). Each new
# process must take its predecessor's place on the list; before, the list
# kept the three dead entries until their leases ended, and p3's new
# process found only dead addresses, got "list full" and ran alone.
p1 init
p2 init
p3 init
p4 init
p5 init
wait converged 15s
kill p1
start p1
p1 init
kill p2
start p2
p2 init
kill p3
start p3
p3 init
wait converged 8s
expect p3 outputView >= 1 init: joined the group via
