#!/usr/bin/env bash
# ctest: the lab CA script makes certificates that verify against the CA,
# carry the hosts as subjectAltName, serve both ends of mutual TLS, and are
# kept on a second run.
set -euo pipefail
script="$(dirname "$0")/make-lab-certs.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$script" "$dir" server:localhost,127.0.0.1 client:127.0.0.2 >/dev/null
openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" "$dir/client.crt"
openssl x509 -in "$dir/server.crt" -noout -ext subjectAltName | grep -q "DNS:localhost, IP Address:127.0.0.1"
openssl x509 -in "$dir/client.crt" -noout -ext extendedKeyUsage | grep -q "TLS Web Client Authentication"
before=$(sha256sum "$dir/ca.crt" "$dir/server.crt")
"$script" "$dir" server:localhost >/dev/null
[[ "$before" == "$(sha256sum "$dir/ca.crt" "$dir/server.crt")" ]]
if "$script" "$dir" nohost >/dev/null 2>&1; then echo "bad spec accepted"; exit 1; fi
echo "1 passed, 0 failed"
