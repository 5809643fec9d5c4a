#!/bin/sh
# Makes the keystores TestKeystore reads, as TorchServe's users make theirs: with Java's keytool
# (keystore.p12, TorchServe's default PKCS12 type and password; keystore.jks, Java's older
# type; keystore.pem, its certificate) and with OpenSSL 3 (chain.p12: a leaf signed by a CA,
# with the CA, ca.pem, in the chain).
# Valid for 100 years, so that the tests do not expire. Run from this folder.
set -eu
rm -f keystore.p12 keystore.pem keystore.jks chain.p12 ca.pem
dname="CN=localhost, OU=ts tests"
keytool -genkeypair -keystore keystore.p12 -storetype PKCS12 -storepass changeit -alias ts \
	-keyalg RSA -keysize 2048 -dname "$dname" -ext SAN=dns:localhost,ip:127.0.0.1 -validity 36500 2>/dev/null
keytool -exportcert -rfc -keystore keystore.p12 -storepass changeit -alias ts -file keystore.pem 2>/dev/null
keytool -genkeypair -keystore keystore.jks -storetype JKS -storepass changeit -keypass changeit -alias ts \
	-keyalg RSA -keysize 2048 -dname "$dname" -ext SAN=dns:localhost,ip:127.0.0.1 -validity 36500 2>/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 -subj "/CN=ts tests CA" \
	-keyout "$tmp/ca.key" -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
	-keyout "$tmp/leaf.key" -out "$tmp/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$tmp/ext"
openssl x509 -req -in "$tmp/leaf.csr" -CA ca.pem -CAkey "$tmp/ca.key" -CAserial "$tmp/ca.srl" -CAcreateserial -days 36500 \
	-extfile "$tmp/ext" -out "$tmp/leaf.pem" 2>/dev/null
openssl pkcs12 -export -inkey "$tmp/leaf.key" -in "$tmp/leaf.pem" -certfile ca.pem -passout pass:s3cret -out chain.p12
