# Convergence: five peers agree on one member table (wait converged); a
# killed peer is counted out by the others (wait members) and the rest
# agree again; check membership holds on the final tables. Probes every
# 300 ms, so that the kill is detected in about two seconds.
p[1..5] memberlistconfigure probe_interval 300ms probe_timeout 100ms
p[1..5] init
wait converged 5s
kill p5
wait members p1 4 6s
wait converged 5s
check membership
