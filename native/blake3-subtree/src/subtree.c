// N-API binding: the chaining value of one BLAKE3 subtree at a given chunk counter (the
// non-root node the spec's §5.1 merges), computed by the official BLAKE3 C implementation
// with its SIMD paths. The npm BLAKE3 bindings only finalize whole inputs as the root, so a
// large input cannot be split across threads with them.
//
// blake3.c is included, not linked, so this file can call its internal subtree functions
// (the same ones blake3_hasher_update uses); nothing in it is changed.
#include <node_api.h>
#include <string.h>

#include "../blake3/blake3.c"

#define THROW(env, msg)                          \
  do {                                           \
    napi_throw_range_error((env), NULL, (msg));  \
    return NULL;                                 \
  } while (0)

// Chaining value (non-root) of `input` as the subtree whose first chunk is `chunk_counter`.
static void subtree_cv(const uint8_t *input, size_t len, const uint32_t key[8], uint64_t chunk_counter, uint8_t flags,
                       uint8_t out[BLAKE3_OUT_LEN]) {
  if (len <= BLAKE3_CHUNK_LEN) {
    blake3_chunk_state chunk;
    chunk_state_init(&chunk, key, flags);
    chunk.chunk_counter = chunk_counter;
    chunk_state_update(&chunk, input, len);
    output_t o = chunk_state_output(&chunk);
    output_chaining_value(&o, out);
    return;
  }
  uint8_t parent_block[BLAKE3_BLOCK_LEN];
  compress_subtree_to_parent_node(input, len, key, chunk_counter, flags, parent_block, false);
  output_t o = parent_output(parent_block, key, flags);
  output_chaining_value(&o, out);
}

// chainingValue(data: Uint8Array, firstChunk: number, key: Uint8Array | null): Buffer
static napi_value chaining_value(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) THROW(env, "chainingValue(data, firstChunk, key) takes three arguments");

  bool is_typed = false;
  napi_is_typedarray(env, argv[0], &is_typed);
  if (!is_typed) THROW(env, "data must be a Uint8Array");
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL);
  if (type != napi_uint8_array) THROW(env, "data must be a Uint8Array");

  double first = -1;
  if (napi_get_value_double(env, argv[1], &first) != napi_ok || !(first >= 0) || first > 9007199254740991.0 || first != (double)(uint64_t)first)
    THROW(env, "firstChunk must be a non-negative integer");

  uint32_t key_words[8];
  uint8_t flags = 0;
  napi_valuetype key_type;
  napi_typeof(env, argv[2], &key_type);
  if (key_type == napi_null || key_type == napi_undefined) {
    memcpy(key_words, IV, BLAKE3_KEY_LEN);
  } else {
    napi_is_typedarray(env, argv[2], &is_typed);
    size_t key_len = 0;
    void *key = NULL;
    if (is_typed) napi_get_typedarray_info(env, argv[2], &type, &key_len, &key, NULL, NULL);
    if (!is_typed || type != napi_uint8_array || key_len != BLAKE3_KEY_LEN) THROW(env, "key must be a 32-byte Uint8Array or null");
    load_key_words((const uint8_t *)key, key_words);
    flags = KEYED_HASH;
  }

  napi_value result;
  void *out = NULL;
  if (napi_create_buffer(env, BLAKE3_OUT_LEN, &out, &result) != napi_ok) return NULL;
  subtree_cv((const uint8_t *)data, len, key_words, (uint64_t)first, flags, (uint8_t *)out);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "chainingValue", NAPI_AUTO_LENGTH, chaining_value, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "chainingValue", fn) != napi_ok) return NULL;
  return exports;
}
