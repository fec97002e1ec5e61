# Checks about a peer the script never starts, a misspelled view and a
# fault on a ghost: refused before anything runs (exit 2), with
# "did you mean".
alice echo hi
bob echo hi
expect bbo messagesView never <alice> hi
expect alice mesagesView never <bob> hi
kill ghost
