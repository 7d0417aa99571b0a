#!/bin/sh
# Docker HEALTHCHECK of echobase/frontend: the HTTPS page answers and port
# 3000 redirects.  busybox wget runs `openssl s_client` for https (its own
# TLS cannot do the ECDSA certificates), without verifying the certificate.
# (no -T: the static busybox 1.35 wget crashes with it; the healthcheck timeout bounds it)
wget -q -O /dev/null --no-check-certificate https://127.0.0.1:3443/health || exit 1
# busybox wget follows the redirect to the public port, which does not exist
# inside the container: check that 3000 accepts connections instead.
nc -w 2 127.0.0.1 3000 </dev/null || exit 1
