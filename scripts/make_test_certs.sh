#!/usr/bin/env bash
# Regenerates the test-only TLS material in tests/data/tls (a private CA, a server certificate for
# localhost/127.0.0.1 and one for a different host name). Keys are for loopback tests only.
#   scripts/make_test_certs.sh
set -euo pipefail
cd "$(dirname "$0")/../tests/data/tls"
days=36500
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days "$days" \
  -subj "/CN=vrp test CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
issue() {  # name subject-alt-names
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" \
    -days "$days" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue localhost localhost "DNS:localhost,IP:127.0.0.1"
issue wronghost wrong.example "DNS:wrong.example"
rm -f ca.srl
echo "make_test_certs: wrote $(ls | tr '\n' ' ')"
