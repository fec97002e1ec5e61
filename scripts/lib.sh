# Shared by scripts/*: paths, package list, logging. Source it; do not run it.
set -euo pipefail
PEERLAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERLAB_BUILD_TYPE="${PEERLAB_BUILD_TYPE:-Release}"
PEERLAB_BUILD_DIR="${PEERLAB_BUILD_DIR:-$PEERLAB_ROOT/build}"
export CCACHE_BASEDIR="$PEERLAB_ROOT"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"

# Debian 12 packages the build and the tests need.
PEERLAB_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev
  libabsl-dev libspdlog-dev nlohmann-json3-dev libcli11-dev libedit-dev
  libgtest-dev libgmock-dev libbenchmark-dev libpqxx-dev libssl-dev
  libmicrohttpd-dev  # the --metrics-listen endpoint (base/http_server.h)
  libre2-dev  # RE2: the agent's tag and name filters (peer/agent)
  libtcmalloc-minimal4  # peerlab-sim's allocator (optional: peer/membership/tool)
  python3 python3-grpcio python3-protobuf
  procps tmux openssl postgresql
  chromium  # the harness timeline screenshot test (headless)
  iproute2  # ip, tc: the network-namespace lab (deploy/lab/peerlab-lab)
  serf nftables  # bench/membership_compare, cluster_compare: Debian serf side by side, loss by nftables
  dpkg-dev file  # cpack -G DEB: dpkg-shlibdeps for Depends (package_deb_test)
  # deploy/k8s/lab: podman (runc: crun refuses this machine's hybrid
  # cgroups; catatonit: the pods' pause image; dnsname: pods resolve each
  # other by name), debootstrap for the debian:12 base image, PyYAML for
  # render-lab. Debian's kubectl is kubernetes-client (scripts/setup).
  podman runc catatonit containernetworking-plugins
  golang-github-containernetworking-plugin-dnsname debootstrap python3-yaml
)
# Debian's kubectl (1.20, `kubectl kustomize` built in) for deploy/k8s: the
# package when /usr/bin/kubectl is free or its own, else unpacked here (the
# machine's other kubectl is left alone).
PEERLAB_KUBECTL_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/peerlab/kubernetes-client"

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
