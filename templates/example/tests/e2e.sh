#!/bin/bash
# test:e2e - what a user of one color sees: the page, the API through the
# frontend, an order placed and then processed by the order-processor.
. "$(dirname "$0")/lib.sh"

req GET "$FRONTEND_URL/"
expect "GET / (the page)" "$code" 200
expect "  X-Executor-Color" "$hcolor" "$color"
expect "  the page shows the color" "$(grep -c "class=\"color $color\"" <<<"$body")" 1

req GET "$FRONTEND_URL/api/health"
expect "GET /api/health through the frontend" "$code" 200

req POST "$FRONTEND_URL/api/orders" -H 'Content-Type: application/json' --data-binary '{"item":"e2e","qty":3}'
expect "POST /api/orders through the frontend" "$code" 201
id=$(json_field id)
status=
for _ in $(seq 50); do
	req GET "$API_URL/orders/$id"
	status=$(json_field status)
	[ "$status" = processed ] && break
	sleep 0.2
done
# (by either color's order-processor: while blue is live, both run against
# the env's one database)
expect "order $id processed by an order-processor ($(json_field processed_by))" "$status" processed
finish
