# Test only: the otlp-sink (an OTLP/gRPC trace receiver printing each span as a JSON line) on
# the same runtime base as the service images, standing in for Jaeger's collector in
# deploy/test/run.sh. RUNTIME_IMAGE is the `runtime` stage of deploy/docker/Dockerfile.
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}
COPY otlp-sink /usr/local/bin/otlp-sink
EXPOSE 4317
ENTRYPOINT ["otlp-sink"]
