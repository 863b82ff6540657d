#!/bin/sh
# The classic shell enrollment, the same work as enroll_device.py:
#
#     enroll_pipeline.sh HOST PORT CA.pem USER PASSWORD OUTDIR
#
# P-256 key and CSR with the openssl command, /simpleenroll with curl (verified
# TLS, Basic credentials), the base64 PKCS#7 answer decoded and its certificate
# extracted with openssl, the certificate checked to hold the key and to chain
# to CA.pem. Leaves OUTDIR/key.pem and OUTDIR/cert.pem; prints OK.
set -e
host=$1 port=$2 ca=$3 user=$4 password=$5 out=$6

openssl ecparam -name prime256v1 -genkey -noout -out "$out/key.pem"
openssl req -new -key "$out/key.pem" -subj "/CN=bench-device" \
    -addext "subjectAltName=DNS:bench-device.local" -outform DER -out "$out/csr.der"
openssl base64 -in "$out/csr.der" -out "$out/csr.b64"
curl -sS --fail --cacert "$ca" --user "$user:$password" \
    -H "Content-Type: application/pkcs10" --data-binary "@$out/csr.b64" \
    -o "$out/resp.b64" "https://$host:$port/.well-known/est/simpleenroll"
openssl base64 -d -in "$out/resp.b64" -out "$out/resp.p7"
openssl pkcs7 -inform DER -in "$out/resp.p7" -print_certs -out "$out/cert.pem"
openssl verify -CAfile "$ca" "$out/cert.pem" >/dev/null
# The certificate must hold our key, as tinyest checks.
openssl x509 -in "$out/cert.pem" -noout -pubkey > "$out/cert.pub"
openssl pkey -in "$out/key.pem" -pubout > "$out/key.pub"
cmp -s "$out/cert.pub" "$out/key.pub"
echo OK
