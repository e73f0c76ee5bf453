# Two N-API addons, built by `npm ci` / `npm install` through npm's node-gyp (package.json's
# install script). Both link nothing: OpenSSL comes from the node binary at load time and its
# headers from Node's own include directory (<nodedir>/include/node/openssl).
#   estuary_crypto: the native ECDSA fast path of the request path (native/estuary-crypto.cc).
#   estuary_load:   the benchmark's load generator, full TLS handshakes on epoll (native/load-driver.cc);
#                   never loaded by the server.
{
  "targets": [
    {
      "target_name": "estuary_crypto",
      "sources": ["native/estuary-crypto.cc"],
      "cflags_cc": ["-Wall", "-Wextra"],
    },
    {
      "target_name": "estuary_load",
      "sources": ["native/load-driver.cc"],
      "cflags_cc": ["-Wall", "-Wextra"],
    }
  ]
}
