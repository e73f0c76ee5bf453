// Estuary's native ECDSA fast path (P-256 and P-384) for the EST request path.
//
// What it does, and nothing more:
//   ecPointValid(curve, point)                     -> boolean
//   ecdsaVerify(curve, hash, point, data, sigDer)  -> boolean   (CSR proof of possession)
//   ecSigner(curve, pkcs8Der)                      -> signer    (the CA key, loaded once)
//   ecdsaSign(signer, hash, data)                  -> Buffer    (DER ECDSA-Sig-Value)
// curve is "P-256" | "P-384", hash is "sha256" | "sha384" | "sha512", point is an
// uncompressed SEC1 point (0x04 || X || Y) as found in a SubjectPublicKeyInfo.
//
// Why it exists: node:crypto runs on OpenSSL 3's provider API. Every CSR needs a fresh
// public key, and importing one (createPublicKey) goes through OSSL_DECODER / keymgmt;
// every sign() or verify() fetches algorithms and builds a provider context. Measured on
// the bench machine that overhead was larger than the curve arithmetic itself. The calls
// below go straight to OpenSSL's EC code: EC_POINT_oct2point for the key, the one-shot
// SHA-2 functions, and ECDSA_verify / ECDSA_sign on an EC_KEY. They are the same routines
// the provider path ends in (providers/implementations/signature/ecdsa_sig.c calls
// ECDSA_verify / ECDSA_sign_ex), so results, DER strictness and constant-time behaviour
// are OpenSSL's own.
//
// Linking: nothing. The addon resolves OpenSSL symbols from the node binary that loads it
// (Node exports its bundled OpenSSL for addons) and compiles against Node's own copy of the
// OpenSSL headers (<nodedir>/include/node/openssl), so headers and library always match.
//
// Key material: the CA private key lives in an EC_KEY owned by a JS object and is freed
// (EC_KEY_free clears the scalar) when that object is collected. Nothing here logs.

// EC_KEY, EC_KEY_* and ECDSA_sign/ECDSA_verify are deprecated since OpenSSL 3.0 in favour of
// EVP_PKEY + providers. That replacement is exactly the slow path this file avoids; the
// low-level API is still present in OpenSSL 3.x and exported by Node. Silence the
// deprecation warnings for this file only, deliberately.
#define OPENSSL_SUPPRESS_DEPRECATED
#define NAPI_VERSION 8

#include <node_api.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <cstring>

namespace {

// ---------------------------------------------------------------------------------------
// N-API plumbing

#define CHECK_NAPI(call)                                                       \
  do {                                                                         \
    if ((call) != napi_ok) return nullptr; /* a JS exception is pending */     \
  } while (0)

napi_value Throw(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

napi_value Boolean(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

struct Bytes {
  const unsigned char* data = nullptr;
  size_t length = 0;
};

bool GetBytes(napi_env env, napi_value v, Bytes* out) {
  bool isBuffer = false;
  if (napi_is_buffer(env, v, &isBuffer) != napi_ok || !isBuffer) return false;
  void* data = nullptr;
  if (napi_get_buffer_info(env, v, &data, &out->length) != napi_ok) return false;
  out->data = static_cast<const unsigned char*>(data);
  return true;
}

// Reads a short ASCII string argument ("P-256", "sha384") into buf.
bool GetName(napi_env env, napi_value v, char* buf, size_t size) {
  size_t len = 0;
  return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok && len < size - 1;
}

// ---------------------------------------------------------------------------------------
// Curves and digests

int CurveNid(const char* name) {
  if (std::strcmp(name, "P-256") == 0) return NID_X9_62_prime256v1;
  if (std::strcmp(name, "P-384") == 0) return NID_secp384r1;
  return NID_undef;
}

// One-shot SHA-2 (not deprecated): no EVP_MD fetch, no context allocation.
// Returns the digest length, 0 for an unknown name.
size_t Digest(const char* hash, const Bytes& data, unsigned char* out) {
  if (std::strcmp(hash, "sha256") == 0) {
    SHA256(data.data, data.length, out);
    return SHA256_DIGEST_LENGTH;
  }
  if (std::strcmp(hash, "sha384") == 0) {
    SHA384(data.data, data.length, out);
    return SHA384_DIGEST_LENGTH;
  }
  if (std::strcmp(hash, "sha512") == 0) {
    SHA512(data.data, data.length, out);
    return SHA512_DIGEST_LENGTH;
  }
  return 0;
}

// Per-environment (main thread or worker) state: one EC_KEY per curve whose public key is
// replaced on every verify. Building an EC_KEY and its EC_GROUP per request costs more than
// the point decoding; a JS environment runs one call at a time, so reuse is safe.
struct Instance {
  EC_KEY* p256 = nullptr;
  EC_KEY* p384 = nullptr;
};

void FreeInstance(napi_env, void* data, void*) {
  auto* inst = static_cast<Instance*>(data);
  EC_KEY_free(inst->p256);
  EC_KEY_free(inst->p384);
  delete inst;
}

EC_KEY* VerifierKey(napi_env env, int nid) {
  Instance* inst = nullptr;
  if (napi_get_instance_data(env, reinterpret_cast<void**>(&inst)) != napi_ok || inst == nullptr) return nullptr;
  return nid == NID_X9_62_prime256v1 ? inst->p256 : nid == NID_secp384r1 ? inst->p384 : nullptr;
}

// Decodes an uncompressed point with full public-key validation (SP 800-56A rev. 3
// §5.6.2.3.3): EC_POINT_oct2point refuses coordinates outside [0, p-1] and, through
// EC_POINT_set_affine_coordinates, points not on the curve; we check on-curve again
// explicitly and refuse the point at infinity. P-256 and P-384 have cofactor 1, so every
// other point on the curve is in the prime-order group and the n·Q = O step (a full scalar
// multiplication in EC_KEY_check_key) is implied.
EC_POINT* DecodePoint(const EC_GROUP* group, const Bytes& point) {
  const size_t coord = (EC_GROUP_get_degree(group) + 7) / 8;
  if (point.length != 1 + 2 * coord || point.data[0] != POINT_CONVERSION_UNCOMPRESSED) return nullptr;
  EC_POINT* p = EC_POINT_new(group);
  if (p != nullptr && EC_POINT_oct2point(group, p, point.data, point.length, nullptr) == 1 &&
      EC_POINT_is_at_infinity(group, p) == 0 && EC_POINT_is_on_curve(group, p, nullptr) == 1) {
    return p;
  }
  EC_POINT_free(p);
  ERR_clear_error();  // leave OpenSSL's per-thread error queue clean for node:crypto
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// ecPointValid(curve, point): boolean

napi_value EcPointValid(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  char curve[16];
  Bytes point;
  if (argc != 2 || !GetName(env, argv[0], curve, sizeof curve) || !GetBytes(env, argv[1], &point)) {
    return Throw(env, "ecPointValid(curve, point)");
  }
  EC_KEY* key = VerifierKey(env, CurveNid(curve));
  if (key == nullptr) return Throw(env, "ecPointValid: unsupported curve");
  EC_POINT* p = DecodePoint(EC_KEY_get0_group(key), point);
  EC_POINT_free(p);
  return Boolean(env, p != nullptr);
}

// ---------------------------------------------------------------------------------------
// ecdsaVerify(curve, hash, point, data, signature): boolean
// false for an invalid point, a malformed or non-DER signature, or a wrong signature.

napi_value EcdsaVerify(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  char curve[16], hash[16];
  Bytes point, data, sig;
  if (argc != 5 || !GetName(env, argv[0], curve, sizeof curve) || !GetName(env, argv[1], hash, sizeof hash) ||
      !GetBytes(env, argv[2], &point) || !GetBytes(env, argv[3], &data) || !GetBytes(env, argv[4], &sig)) {
    return Throw(env, "ecdsaVerify(curve, hash, point, data, signature)");
  }
  EC_KEY* key = VerifierKey(env, CurveNid(curve));
  if (key == nullptr) return Throw(env, "ecdsaVerify: unsupported curve");
  unsigned char digest[EVP_MAX_MD_SIZE];
  const size_t digestLength = Digest(hash, data, digest);
  if (digestLength == 0) return Throw(env, "ecdsaVerify: unsupported hash");

  EC_POINT* p = DecodePoint(EC_KEY_get0_group(key), point);
  if (p == nullptr) return Boolean(env, false);
  // EC_KEY_set_public_key copies the point; ECDSA_verify parses the DER signature, refuses
  // any encoding that does not re-encode identically, and checks r and s are in [1, n-1].
  int ok = EC_KEY_set_public_key(key, p);
  EC_POINT_free(p);
  if (ok == 1) ok = ECDSA_verify(0, digest, static_cast<int>(digestLength), sig.data, static_cast<int>(sig.length), key);
  if (ok != 1) ERR_clear_error();
  return Boolean(env, ok == 1);
}

// ---------------------------------------------------------------------------------------
// ecSigner(curve, pkcs8Der): signer — a JS object owning an EC_KEY with the private key.

// DER ECDSA-Sig-Value for P-384: SEQUENCE of two INTEGERs of up to 49 bytes = 104 bytes.
constexpr size_t kMaxSignature = 128;

const napi_type_tag kSignerTag = {0x5e57a7c0e5ec5157ULL, 0x9a1b2c3d4e5f6071ULL};

void FreeSigner(napi_env, void* data, void*) { EC_KEY_free(static_cast<EC_KEY*>(data)); }

napi_value EcSigner(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  char curve[16];
  Bytes der;
  if (argc != 2 || !GetName(env, argv[0], curve, sizeof curve) || !GetBytes(env, argv[1], &der)) {
    return Throw(env, "ecSigner(curve, pkcs8Der)");
  }
  const int nid = CurveNid(curve);
  if (nid == NID_undef) return Throw(env, "ecSigner: unsupported curve");

  // Once per CA: decode PKCS#8 (the provider decoder is fine here) and take the EC_KEY out.
  const unsigned char* p = der.data;
  EVP_PKEY* pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.length));
  EC_KEY* key = pkey != nullptr && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC ? EVP_PKEY_get1_EC_KEY(pkey) : nullptr;
  EVP_PKEY_free(pkey);
  const bool usable = key != nullptr && EC_GROUP_get_curve_name(EC_KEY_get0_group(key)) == nid &&
                      EC_KEY_get0_public_key(key) != nullptr && EC_KEY_check_key(key) == 1;
  if (!usable) {
    EC_KEY_free(key);
    ERR_clear_error();
    return Throw(env, "ecSigner: not a valid EC private key on that curve");
  }

  napi_value signer;
  if (napi_create_object(env, &signer) != napi_ok || napi_type_tag_object(env, signer, &kSignerTag) != napi_ok ||
      napi_wrap(env, signer, key, FreeSigner, nullptr, nullptr) != napi_ok) {
    EC_KEY_free(key);
    return nullptr;
  }
  return signer;
}

// ---------------------------------------------------------------------------------------
// ecdsaSign(signer, hash, data): Buffer holding the DER ECDSA-Sig-Value.

napi_value EcdsaSign(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  bool isSigner = false;
  void* wrapped = nullptr;
  char hash[16];
  Bytes data;
  if (argc != 3 || napi_check_object_type_tag(env, argv[0], &kSignerTag, &isSigner) != napi_ok || !isSigner ||
      napi_unwrap(env, argv[0], &wrapped) != napi_ok || !GetName(env, argv[1], hash, sizeof hash) ||
      !GetBytes(env, argv[2], &data)) {
    return Throw(env, "ecdsaSign(signer, hash, data)");
  }
  auto* key = static_cast<EC_KEY*>(wrapped);
  unsigned char digest[EVP_MAX_MD_SIZE];
  const size_t digestLength = Digest(hash, data, digest);
  if (digestLength == 0) return Throw(env, "ecdsaSign: unsupported hash");

  // ECDSA_sign draws the nonce from OpenSSL's private DRBG and uses the constant-time
  // scalar multiplication and inversion of the curve's method (ecp_nistz256 for P-256).
  unsigned char sig[kMaxSignature];
  unsigned int sigLength = 0;
  if (ECDSA_size(key) > static_cast<int>(sizeof sig) ||
      ECDSA_sign(0, digest, static_cast<int>(digestLength), sig, &sigLength, key) != 1) {
    ERR_clear_error();
    napi_throw_error(env, nullptr, "ecdsaSign: OpenSSL ECDSA_sign failed");
    return nullptr;
  }
  napi_value out;
  CHECK_NAPI(napi_create_buffer_copy(env, sigLength, sig, nullptr, &out));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------

NAPI_MODULE_INIT() {
  auto* inst = new Instance();
  inst->p256 = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  inst->p384 = EC_KEY_new_by_curve_name(NID_secp384r1);
  if (inst->p256 == nullptr || inst->p384 == nullptr ||
      napi_set_instance_data(env, inst, FreeInstance, nullptr) != napi_ok) {
    FreeInstance(env, inst, nullptr);
    ERR_clear_error();
    napi_throw_error(env, nullptr, "estuary-crypto: OpenSSL EC initialisation failed");
    return nullptr;
  }
  const napi_property_descriptor functions[] = {
      {"ecPointValid", nullptr, EcPointValid, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"ecdsaVerify", nullptr, EcdsaVerify, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"ecSigner", nullptr, EcSigner, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"ecdsaSign", nullptr, EcdsaSign, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
