#!/usr/bin/env bash
# Makes a CA and one certificate per compose node (node1..nodeN, SAN DNS:nodeI) for the encrypted peer mesh.
#   usage: make-mesh-certs.sh [DIR (./tls)] [NODES (3)]
# The keys are made readable by the image's rocketws user (uid 10001) only; keep ca.key out of the cluster.
set -euo pipefail
dir=${1:-tls}; nodes=${2:-3}
mkdir -p "$dir"
[ -f "$dir/ca.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 825 -subj /CN=rocketws-mesh-ca 2>/dev/null
for i in $(seq "$nodes"); do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/node$i.key" \
    -out "$dir/node$i.csr" -subj "/CN=node$i" 2>/dev/null
  printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:node%s\n' "$i" > "$dir/node$i.ext"
  openssl x509 -req -in "$dir/node$i.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 825 \
    -extfile "$dir/node$i.ext" -out "$dir/node$i.pem" 2>/dev/null
  rm -f "$dir/node$i.csr" "$dir/node$i.ext"
  chmod 0640 "$dir/node$i.key"
  chown 10001:10001 "$dir/node$i.key" 2>/dev/null || chmod 0644 "$dir/node$i.key"
done
echo "made $dir/ca.pem and node1..node$nodes certificates"
