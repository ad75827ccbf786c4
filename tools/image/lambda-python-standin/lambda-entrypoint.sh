#!/bin/sh
# The real base image's ENTRYPOINT contract: one argument, the handler; the runtime interface emulator in front of
# the runtime when no Lambda Runtime API is given (a plain `docker run`), the runtime alone when there is one
# (on Lambda, and under `sam local invoke`, whose own emulator sets AWS_LAMBDA_RUNTIME_API).
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
