# The benchmark's load generator (load-driver.cc): full TLS handshakes on epoll, never loaded by the
# server. Built on demand by `npm run build:load` (npm run bench and npm test run it when
# build/Release/estuary_load.node is missing), not by npm ci: no user of the server needs it.
{
  "targets": [
    {
      "target_name": "estuary_load",
      "sources": ["load-driver.cc"],
      "cflags_cc": ["-Wall", "-Wextra"],
    }
  ]
}
