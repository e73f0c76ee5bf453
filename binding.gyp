# The native ECDSA fast path (native/estuary-crypto.cc), built by `npm ci` / `npm install`
# through npm's bundled node-gyp (a root package with a binding.gyp and no install script gets
# `node-gyp rebuild`). It links nothing: OpenSSL comes from the node binary at load time and its
# headers from Node's own include directory (<nodedir>/include/node/openssl).
{
  "targets": [
    {
      "target_name": "estuary_crypto",
      "sources": ["native/estuary-crypto.cc"],
      "cflags_cc": ["-Wall", "-Wextra"],
    }
  ]
}
