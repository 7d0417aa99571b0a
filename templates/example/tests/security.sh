#!/bin/bash
# test:security - transport security of one color.
. "$(dirname "$0")/lib.sh"

# the certificate verifies against the env's CA (req uses --cacert, never -k)
req GET "$API_URL/health"
expect "API certificate verifies against the env's CA" "$code" 200
req GET "$FRONTEND_URL/health"
expect "frontend certificate verifies against the env's CA" "$code" 200
expect "  HSTS header" "$(grep -ci '^strict-transport-security:' "$tmp/headers")" 1

# a client that does not trust the env's CA is refused
if curl -s -o /dev/null --max-time 10 "${CONNECT[@]}" --cacert /etc/ssl/certs/ca-certificates.crt "$API_URL/health"; then
	bad "a client without the env's CA must not get through"
else
	ok "a client without the env's CA is refused"
fi

# plain HTTP: redirected (frontend) or refused (API)
req GET "$FRONTEND_HTTP_URL/some/page?x=1"
expect "HTTP on the frontend redirects" "$code" 301
expect "  to HTTPS" "$(tr -d '\r' <"$tmp/headers" | awk -F': ' 'tolower($1)=="location"{print substr($2,1,8)}')" "https://"
req GET "${API_URL/https:/http:}/health"
expect "plain HTTP on the API's TLS port" "$code" 400

# old protocols are off
if curl -s -o /dev/null --max-time 10 "${CONNECT[@]}" --cacert "$CA" --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' "$API_URL/health"; then
	bad "TLS 1.1 must be refused"
else
	ok "TLS 1.1 is refused"
fi

# no version banners
req GET "$API_URL/health"
expect "no nginx version in Server" "$(tr -d '\r' <"$tmp/headers" | grep -ci '^server: nginx/[0-9]')" 0
finish
