#!/bin/sh
# Regenerates write_request.pb from write_request.txtpb with protoc, an
# encoder independent of nines' own (apt-get install protobuf-compiler).
# The test decodes the result and compares it with what the text says.
set -e
cd "$(dirname "$0")"
protoc --encode=prometheus.WriteRequest prompb.proto < write_request.txtpb > write_request.pb
