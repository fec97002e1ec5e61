# Steps whose output is 1 MiB each (one line; 16,384 short lines): each
# fails with the size problem, its output cut with a note; the run goes on
# and the report is written (it used to end in "lost the coordinator", the
# summary above gRPC's 4 MiB, and no report).
alice shell -c head -c 1048576 /dev/zero | tr -c x x
alice shell -c head -c 1048576 /dev/zero | tr -c x x
alice shell -c head -c 1048576 /dev/zero | tr -c x x
alice shell -c head -c 1048576 /dev/zero | tr -c x x
alice shell -c yes 012345678901234567890123456789012345678901234567890123456789012 | head -n 16384
bob echo after
expect bob outputView == 1 after
