#!/usr/bin/env bash
# Builds the local images the Docker applier and its tests use (no registry
# is needed or reachable):
#   twip/app:latest    FROM scratch + the static twip-testapp binary: an HTTP
#                      backend whose response time follows a configured
#                      distribution (stands in for the Jetty app)
#   twip/nginx:latest  a real nginx from a Debian root filesystem
#                      (debootstrap, then `docker import`)
# Idempotent: an image that exists is kept unless --force is given. Needs
# root for debootstrap; installs debootstrap if missing.
set -euo pipefail
cd "$(dirname "$0")/../../.."
force=0; [ "${1:-}" = "--force" ] && force=1
have() { [ "$force" = 0 ] && docker image inspect "$1" >/dev/null 2>&1; }
work=target/images; mkdir -p "$work"

if have twip/app:latest; then
  echo "images: twip/app:latest exists"
else
  echo "images: building twip/app:latest"
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p twip-testapp \
    --target x86_64-unknown-linux-gnu --target-dir target/static
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  cp target/static/x86_64-unknown-linux-gnu/release/twip-testapp "$ctx/"
  printf 'FROM scratch\nCOPY twip-testapp /twip-testapp\nEXPOSE 8080\nENTRYPOINT ["/twip-testapp"]\n' > "$ctx/Dockerfile"
  docker build -q -t twip/app:latest "$ctx"
fi

if have twip/nginx:latest; then
  echo "images: twip/nginx:latest exists"
else
  echo "images: building twip/nginx:latest (debootstrap)"
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
  tarball="$work/nginx-rootfs.tar"
  if [ ! -s "$tarball" ]; then
    # The Debian mirror this machine is configured with.
    # (sources.list or sources.list.d/ may be absent: no pipefail here)
    mirror=$(set +o pipefail; cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | grep -oE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' | grep -oE 'https?://[^ ]+' | grep -v security | head -1)
    [ -n "$mirror" ] || { echo "images: no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }
    root=$(mktemp -d)
    debootstrap --variant=minbase --include=nginx-light,curl bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log"; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$tarball" .
    rm -rf "$root"
  fi
  docker import -c 'CMD ["nginx", "-g", "daemon off;"]' -c 'EXPOSE 80' "$tarball" twip/nginx:latest
fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^twip/'
