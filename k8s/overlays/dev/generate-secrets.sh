#!/usr/bin/env bash
# Makes the dev overlay's secrets: random values in secrets/ beside this script (ignored by git), one
# file per key, without a trailing newline. A file that already exists is kept, so running this again
# never changes the passwords the in-cluster stores were created with.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p secrets
for name in jwt-secret admin-password db-password redis-password; do
    if [ ! -s "secrets/$name" ]; then
        # 48 random bytes as base64 without padding or slashes: safe in URLs and shell commands.
        head -c 48 /dev/urandom | base64 | tr -d '\n=+/' | head -c 48 > "secrets/$name"
    fi
done
echo "dev secrets in $(pwd)/secrets (admin password: secrets/admin-password)"
