# A filter that must fail: the harness has to say FAILED and exit 1.
alice echo one
alice echo one
# Exactly one line "one" is expected; two arrive.
alice testfilter outputView 1 one
