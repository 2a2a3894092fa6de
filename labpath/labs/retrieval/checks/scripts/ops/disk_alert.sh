#!/bin/sh
# Send a mail alert when any filesystem is more than 90 percent full.
LIMIT=90
df -P | awk 'NR > 1 {print $5, $6}' | while read used mount; do
  pct=${used%\%}
  if [ "$pct" -gt "$LIMIT" ]; then
    echo "disk $mount is ${pct}% full" | mail -s "disk usage alert" ops@example.com
  fi
done
