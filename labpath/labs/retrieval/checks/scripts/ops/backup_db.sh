#!/bin/sh
# Dump the postgres database every night and upload the archive to the s3 bucket.
set -eu
STAMP=$(date +%Y%m%d)
pg_dump --format=custom "$DATABASE_URL" > "/tmp/db-$STAMP.dump"
gzip "/tmp/db-$STAMP.dump"
aws s3 cp "/tmp/db-$STAMP.dump.gz" "s3://$BACKUP_BUCKET/nightly/"
rm -f "/tmp/db-$STAMP.dump.gz"
