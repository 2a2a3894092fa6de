#!/bin/sh
# Build the docker image, push it and restart the staging service with the new tag.
set -eu
TAG=$(git rev-parse --short HEAD)
docker build -t "registry.example.com/app:$TAG" .
docker push "registry.example.com/app:$TAG"
ssh staging "docker pull registry.example.com/app:$TAG && systemctl restart app"
