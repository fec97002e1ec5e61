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
"$tmp/make-secrets" "$tmp/secrets" >/dev/null
"$kubectl" kustomize "$tmp" >"$tmp/all.yaml"
node "$K8S_DIR/validate/validate.js" <"$tmp/all.yaml"
# Every kind the manifests promise.
for want in "Deployment/postgres" "Deployment/bootstrap" "Deployment/coordinator" \
  "StatefulSet/peer" "Service/bootstrap" "Service/coordinator" "Service/peers" \
  "Service/postgres" "PersistentVolumeClaim/peerlab-postgres"; do
  /usr/bin/python3 - "$tmp/all.yaml" "$want" <<'PY' || { echo "FAIL: $want missing"; exit 1; }
import sys, yaml
kind, name = sys.argv[2].split("/")
objs = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
sys.exit(0 if any(o["kind"] == kind and o["metadata"]["name"] == name for o in objs) else 1)
PY
done
grep -q 'replicas: 2' "$tmp/all.yaml" || { echo "FAIL: two bootstrap replicas"; exit 1; }
# A broken manifest is caught: a port that is not a number.
sed 's/containerPort: 8081/containerPort: "x"/' "$tmp/all.yaml" >"$tmp/bad.yaml"
if node "$K8S_DIR/validate/validate.js" <"$tmp/bad.yaml" 2>"$tmp/bad.err"; then
  echo "FAIL: the validator passed a bad containerPort"; exit 1
fi
grep -q 'containerPort must be integer' "$tmp/bad.err" || { cat "$tmp/bad.err"; exit 1; }
# render-lab: a Pod per peer named as the peer, per bootstrap replica, the
# Service names as network aliases, secrets as host folders.
/usr/bin/python3 "$K8S_DIR/render-lab" --peers alice,bob,charly --secrets-dir /s --out "$tmp/pods" <"$tmp/all.yaml"
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
grep -q 'path: /s/10001' "$tmp/pods/4-peer.yaml" || { echo "FAIL: secret as host folder"; exit 1; }
if grep -q 'containerPort\|emptyDir\|secretName' "$tmp"/pods/*.yaml; then echo "FAIL: left for podman: ports/emptyDir/secret"; exit 1; fi
for bad in Alice "a b" -x bootstrap-0; do
  if /usr/bin/python3 "$K8S_DIR/render-lab" --peers "alice,$bad" --secrets-dir /s --out "$tmp/bad" <"$tmp/all.yaml" 2>/dev/null; then
    echo "FAIL: render-lab took peer name '$bad'"; exit 1
  fi
done
echo "k8s manifests: OK"
