#!/bin/sh
# Rotate the nginx access logs: compress yesterday's file, delete archives older than 30 days.
set -eu
cd /var/log/nginx
mv access.log "access-$(date -d yesterday +%F).log"
kill -USR1 "$(cat /run/nginx.pid)"
gzip access-*.log
find . -name 'access-*.log.gz' -mtime +30 -delete
