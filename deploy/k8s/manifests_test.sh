#!/usr/bin/env bash
# ctest k8s_manifests_test: deploy/k8s renders with Debian's kubectl 1.20
# (`kubectl kustomize`, on a copy with secrets made for the test) and every
# object passes the offline schema check (validate/, kubernetes-models'
# bundled schemas); render-lab turns it into Pods for podman, refusing bad
# peer names. Skipped (77) when kubectl or the npm packages are missing.
set -euo pipefail
K8S_DIR="$(cd "$(dirname "$0")" && pwd)"
kubectl=""
for k in "${PEERLAB_KUBECTL:-}" "${XDG_CACHE_HOME:-$HOME/.cache}/peerlab/kubernetes-client/usr/bin/kubectl" /usr/bin/kubectl; do
  [[ -n "$k" && -x "$k" ]] || continue
  "$k" version --client 2>/dev/null | grep -q 'GitVersion:"v1.20' && { kubectl=$k; break; }
done
[[ -n "$kubectl" ]] || { echo "SKIP: Debian's kubectl 1.20 is missing (scripts/setup)"; exit 77; }
[[ -d "$K8S_DIR/validate/node_modules/kubernetes-models" ]] || { echo "SKIP: npm packages missing (scripts/setup)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$K8S_DIR"/*.yaml "$K8S_DIR"/make-secrets "$tmp"/
"$tmp/make-secrets" --peers 3 "$tmp/secrets" >/dev/null
# The certificates name what each side dials and verify against the CA.
for c in bootstrap:DNS:bootstrap coordinator:DNS:coordinator peer-2:DNS:peer-2.peers \
  peer-2:DNS:peer-2.peers.default.svc.cluster.local; do
  openssl x509 -in "$tmp/secrets/tls/${c%%:*}.crt" -noout -ext subjectAltName | grep -q "${c#*:}\(,\|$\)" ||
    { echo "FAIL: ${c%%:*}.crt does not name ${c#*:}"; exit 1; }
done
openssl verify -CAfile "$tmp/secrets/tls/ca.crt" "$tmp/secrets/tls/peer-0.crt" >/dev/null ||
  { echo "FAIL: peer-0.crt is not signed by the CA"; exit 1; }
openssl x509 -in "$tmp/secrets/tls/peer-1.crt" -noout -subject | grep -q 'CN *= *peer-1$' ||
  { echo "FAIL: peer-1.crt's common name is not peer-1 (the chat checks it)"; exit 1; }
"$kubectl" kustomize "$tmp" >"$tmp/all.yaml"
node "$K8S_DIR/validate/validate.js" <"$tmp/all.yaml"
# Every kind the manifests promise.
for want in "Deployment/postgres" "Deployment/bootstrap" "Deployment/coordinator" \
  "StatefulSet/peer" "Service/bootstrap" "Service/coordinator" "Service/peers" \
  "Service/postgres" "PersistentVolumeClaim/peerlab-postgres" "Secret/peerlab-tls" \
  "Secret/peerlab-peer-tls"; do
  /usr/bin/python3 - "$tmp/all.yaml" "$want" <<'PY' || { echo "FAIL: $want missing"; exit 1; }
import sys, yaml
kind, name = sys.argv[2].split("/")
objs = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
sys.exit(0 if any(o["kind"] == kind and o["metadata"]["name"] == name for o in objs) else 1)
PY
done
grep -q 'replicas: 2' "$tmp/all.yaml" || { echo "FAIL: two bootstrap replicas"; exit 1; }
# Every gRPC server serves mutual TLS; peers advertise their DNS names.
[[ $(grep -c -- '--tls-require-client-cert' "$tmp/all.yaml") == 3 ]] ||
  { echo "FAIL: bootstrap, coordinator and peer must each require client certificates"; exit 1; }
grep -q -- '--advertise-host "$PEERLAB_NAME.peers"' "$tmp/all.yaml" ||
  { echo "FAIL: peers do not advertise NAME.peers"; exit 1; }
# No private key of the CA, nor the services' keys in the peers' Secret.
/usr/bin/python3 - "$tmp/all.yaml" <<'PY' || exit 1
import sys, yaml
objs = {o["metadata"]["name"]: o for o in yaml.safe_load_all(open(sys.argv[1])) if o and o["kind"] == "Secret"}
keys = set(objs["peerlab-peer-tls"]["data"])
bad = keys & {"ca.key", "bootstrap.key", "coordinator.key", "harness.key"}
if bad or not {"ca.crt", "peer-0.crt", "peer-0.key"} <= keys:
    sys.exit(f"FAIL: peerlab-peer-tls holds {sorted(keys)}")
if any(k == "ca.key" for o in objs.values() for k in (o.get("data") or {})):
    sys.exit("FAIL: the CA's key is in a Secret")
PY
# A broken manifest is caught: a port that is not a number.
sed 's/containerPort: 8081/containerPort: "x"/' "$tmp/all.yaml" >"$tmp/bad.yaml"
if node "$K8S_DIR/validate/validate.js" <"$tmp/bad.yaml" 2>"$tmp/bad.err"; then
  echo "FAIL: the validator passed a bad containerPort"; exit 1
fi
grep -q 'containerPort must be integer' "$tmp/bad.err" || { cat "$tmp/bad.err"; exit 1; }
# render-lab: a Pod per peer named as the peer, per bootstrap replica, the
# Service names as network aliases, secrets as host folders.
/usr/bin/python3 "$K8S_DIR/render-lab" --peers alice,bob,charly --secrets-dir "$tmp/s" --out "$tmp/pods" <"$tmp/all.yaml"
cut -f1,3 "$tmp/pods/pods.tsv" | tr '\t' ' ' >"$tmp/pods.txt"
diff -u - "$tmp/pods.txt" <<'EOF2'
postgres -
bootstrap-0 bootstrap
bootstrap-1 bootstrap
coordinator -
alice -
bob -
charly -
EOF2
grep -q "path: $tmp/s/peerlab-peer-tls-10001$" "$tmp/pods/4-peer.yaml" || { echo "FAIL: secret as host folder"; exit 1; }
# Decoded, and only the items a volume lists.
cmp -s "$tmp/s/peerlab-peer-tls-10001/peer-0.crt" "$tmp/secrets/tls/peer-0.crt" || { echo "FAIL: the peer's Secret decoded"; exit 1; }
boot_tls=$(/usr/bin/python3 -c 'import sys, yaml
pod = next(yaml.safe_load_all(open(sys.argv[1])))
print(next(v["hostPath"]["path"] for v in pod["spec"]["volumes"] if v["name"] == "tls"))' "$tmp/pods/1-bootstrap.yaml")
[[ $(ls "$boot_tls" | tr '\n' ' ') == "bootstrap.crt bootstrap.key ca.crt " ]] ||
  { echo "FAIL: the bootstrap's TLS items: $(ls "$boot_tls")"; exit 1; }
[[ $(cat "$tmp/pods/subdomain") == peers ]] || { echo "FAIL: subdomain"; exit 1; }
# A liveness probe per container (the lab runs them): gRPC servers every
# 10 s, restarted after 3 failures.
[[ $(wc -l <"$tmp/pods/probes.tsv") == 7 && $(cut -f1,3,5 "$tmp/pods/probes.tsv" | grep -c $'\t10\t3$') == 6 ]] ||
  { echo "FAIL: a liveness probe per container"; cat "$tmp/pods/probes.tsv"; exit 1; }
# and the readiness probes lab up waits on, as the manifests write them.
[[ $(wc -l <"$tmp/pods/ready.tsv") == 7 ]] && grep -q $'^alice-peer\t\\["/bin/sh", "-c", "exec peerlab-health --service peer.v1.PeerControl ' "$tmp/pods/ready.tsv" ||
  { echo "FAIL: a readiness probe per container"; cat "$tmp/pods/ready.tsv"; exit 1; }
if grep -q 'containerPort\|emptyDir\|secretName' "$tmp"/pods/*.yaml; then echo "FAIL: left for podman: ports/emptyDir/secret"; exit 1; fi
for bad in Alice "a b" -x bootstrap-0; do
  if /usr/bin/python3 "$K8S_DIR/render-lab" --peers "alice,$bad" --secrets-dir "$tmp/s2" --out "$tmp/bad" <"$tmp/all.yaml" 2>/dev/null; then
    echo "FAIL: render-lab took peer name '$bad'"; exit 1
  fi
done
echo "k8s manifests: OK"
