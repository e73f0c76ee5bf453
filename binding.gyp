# The native ECDSA fast path of the request path (native/estuary-crypto.cc), built by `npm ci` /
# `npm install` through npm's node-gyp (package.json's install script). It links nothing: OpenSSL
# comes from the node binary at load time and its headers from Node's own include directory
# (<nodedir>/include/node/openssl). The benchmark's load generator has its own binding.gyp under
# native/load-driver/ and is built only when the bench or the tests need it (npm run build:load).
{
  "targets": [
    {
      "target_name": "estuary_crypto",
      "sources": ["native/estuary-crypto.cc"],
      "cflags_cc": ["-Wall", "-Wextra"],
    }
  ]
}
