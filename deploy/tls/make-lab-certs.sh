#!/usr/bin/env bash
# Makes a private CA and certificates for a peerlab lab with openssl.
#
#   deploy/tls/make-lab-certs.sh DIR NAME:HOST[,HOST...] [NAME:HOST...]
#
# DIR gets ca.crt/ca.key and, for every NAME, NAME.crt/NAME.key valid for the
# listed hosts (DNS names or IP addresses, used as subjectAltName) and for
# both server and client use (mutual TLS). Example:
#
#   deploy/tls/make-lab-certs.sh /etc/peerlab/tls \
#     bootstrap:bootstrap.lab,10.0.0.10 alice:10.0.0.11 bob:10.0.0.12
#
# Keys are EC P-256, certificates valid for 825 days. Existing files are
# kept (re-running adds new names only), so a CA is never replaced by
# accident.
set -euo pipefail
if [[ $# -lt 2 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
command -v openssl >/dev/null || { echo "make-lab-certs: openssl is missing (apt-get install openssl)" >&2; exit 2; }
dir=$1; shift
mkdir -p "$dir"
umask 077
if [[ ! -f "$dir/ca.key" ]]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 \
    -subj "/CN=peerlab lab CA" -out "$dir/ca.crt"
  echo "made CA $dir/ca.crt"
fi
for spec in "$@"; do
  name=${spec%%:*}
  hosts=${spec#*:}
  [[ -n "$name" && "$name" != "$spec" ]] || { echo "make-lab-certs: want NAME:HOST[,HOST], got $spec" >&2; exit 2; }
  if [[ -f "$dir/$name.crt" ]]; then echo "keeping $dir/$name.crt"; continue; fi
  san=""
  IFS=, read -ra list <<<"$hosts"
  for h in "${list[@]}"; do
    if [[ "$h" =~ ^[0-9.]+$ || "$h" == *:* ]]; then san+="IP:$h,"; else san+="DNS:$h,"; fi
  done
  san=${san%,}
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "/CN=$name" -out "$dir/$name.csr"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' "$san" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 825 -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  echo "made $dir/$name.crt for $san"
done
