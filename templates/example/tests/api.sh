#!/bin/bash
# test:api - the REST API of one color, through TLS verified against the env's CA.
. "$(dirname "$0")/lib.sh"

req GET "$API_URL/health"
expect "GET /health" "$code" 200
expect "  X-Executor-Color" "$hcolor" "$color"
expect "  database" "$(json_field database)" ok

item="ci-$RANDOM-$(date +%s)"
req POST "$API_URL/orders" -H 'Content-Type: application/json' --data-binary "{\"item\":\"$item\",\"qty\":1}"
expect "POST /orders" "$code" 201
id=$(json_field id)
req GET "$API_URL/orders/$id"
expect "GET /orders/$id" "$code" 200
expect "  the payload came back" "$(grep -c "\"item\":\"$item\"" <<<"$body")" 1
req GET "$API_URL/orders?limit=1000"
expect "GET /orders lists it" "$(grep -c "\"id\":$id," <<<"$body")" 1
req GET "$API_URL/orders/0"
expect "GET /orders/0" "$code" 404
req GET "$API_URL/orders/abc"
expect "GET /orders/abc" "$code" 400
req PUT "$API_URL/orders"
expect "PUT /orders" "$code" 405
finish
