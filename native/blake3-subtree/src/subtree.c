// N-API binding: the chaining value of one BLAKE3 subtree at a given chunk counter (the
// non-root node the spec's §5.1 merges), computed by the official BLAKE3 C implementation
// with its SIMD paths. The npm BLAKE3 bindings only finalize whole inputs as the root, so a
// large input cannot be split across threads with them.
//
// blake3.c is included, not linked, so this file can call its internal subtree functions
// (the same ones blake3_hasher_update uses); nothing in it is changed.
#include <node_api.h>
#include <stdio.h>
#include <uv.h>
#include <stdlib.h>
#include <string.h>

#include "../blake3/blake3.c"

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

// Arguments of both entry points, checked: the bytes, the first chunk's counter, the key words and flags.
typedef struct {
  const uint8_t *data;
  size_t len;
  uint64_t counter;
  uint32_t key_words[8];
  uint8_t flags;
} subtree_args;

static bool read_args(napi_env env, napi_callback_info info, napi_value *data_value, subtree_args *a) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_range_error(env, NULL, "chainingValue(data, firstChunk, key) takes three arguments");
    return false;
  }
  bool is_typed = false;
  napi_is_typedarray(env, argv[0], &is_typed);
  napi_typedarray_type type = napi_int8_array;
  void *data = NULL;
  if (is_typed) napi_get_typedarray_info(env, argv[0], &type, &a->len, &data, NULL, NULL);
  if (!is_typed || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "data must be a Uint8Array");
    return false;
  }
  a->data = (const uint8_t *)data;
  *data_value = argv[0];

  double first = -1;
  if (napi_get_value_double(env, argv[1], &first) != napi_ok || !(first >= 0) || first > 9007199254740991.0 || first != (double)(uint64_t)first) {
    napi_throw_range_error(env, NULL, "firstChunk must be a non-negative integer");
    return false;
  }
  a->counter = (uint64_t)first;

  napi_valuetype key_type;
  napi_typeof(env, argv[2], &key_type);
  if (key_type == napi_null || key_type == napi_undefined) {
    memcpy(a->key_words, IV, BLAKE3_KEY_LEN);
    a->flags = 0;
    return true;
  }
  napi_is_typedarray(env, argv[2], &is_typed);
  size_t key_len = 0;
  void *key = NULL;
  if (is_typed) napi_get_typedarray_info(env, argv[2], &type, &key_len, &key, NULL, NULL);
  if (!is_typed || type != napi_uint8_array || key_len != BLAKE3_KEY_LEN) {
    napi_throw_range_error(env, NULL, "key must be a 32-byte Uint8Array or null");
    return false;
  }
  load_key_words((const uint8_t *)key, a->key_words);
  a->flags = KEYED_HASH;
  return true;
}

// chainingValue(data: Uint8Array, firstChunk: number, key: Uint8Array | null): Buffer — on this thread.
static napi_value chaining_value(napi_env env, napi_callback_info info) {
  napi_value data_value;
  subtree_args a;
  if (!read_args(env, info, &data_value, &a)) return NULL;
  napi_value result;
  void *out = NULL;
  if (napi_create_buffer(env, BLAKE3_OUT_LEN, &out, &result) != napi_ok) return NULL;
  subtree_cv(a.data, a.len, a.key_words, a.counter, a.flags, (uint8_t *)out);
  return result;
}

// ---- Many segments on native threads ----------------------------------------------------------
// A file (read with positional reads) or a byte array is cut into segments of `segment` bytes (a
// power-of-two number of chunks; the last holds the rest); `threads` threads (libuv's portable
// threads: this call's pool thread and threads − 1 more) take segments from one counter and write
// each segment's chaining value to its slot. The caller merges them (rootFromSegments).

typedef struct {
  uv_file fd;               // -1 for a byte array
  const uint8_t *bytes;     // the byte array, when fd is -1
  char *path;               // for error messages
  uint64_t length;          // bytes to hash, from offset 0
  uint64_t segment;         // bytes per segment
  size_t count;             // segments
  size_t next;              // the next segment to take (under lock)
  uv_mutex_t lock;
  uint32_t key_words[8];
  uint8_t flags;
  unsigned threads;
  uint8_t *cvs;             // count × 32 bytes
  int error;                // first libuv error (negative), or 1 for a file that became shorter
  napi_ref data_ref;        // keeps a byte array alive
  napi_async_work work;
  napi_deferred deferred;
} split_job;

static bool take_segment(split_job *job, size_t *i) {
  uv_mutex_lock(&job->lock);
  bool ok = job->error == 0 && job->next < job->count;
  if (ok) *i = job->next++;
  uv_mutex_unlock(&job->lock);
  return ok;
}

static void fail(split_job *job, int error) {
  uv_mutex_lock(&job->lock);
  if (job->error == 0) job->error = error;
  uv_mutex_unlock(&job->lock);
}

static void split_thread(void *p) {
  split_job *job = (split_job *)p;
  uint8_t *buf = NULL;
  if (job->fd >= 0) {
    buf = (uint8_t *)malloc((size_t)job->segment);
    if (!buf) {
      fail(job, UV_ENOMEM);
      return;
    }
  }
  size_t i;
  while (take_segment(job, &i)) {
    uint64_t offset = (uint64_t)i * job->segment;
    size_t len = (size_t)(job->length - offset < job->segment ? job->length - offset : job->segment);
    const uint8_t *input = job->bytes ? job->bytes + offset : buf;
    if (job->fd >= 0) {
      size_t got = 0;
      while (got < len) {
        uv_fs_t req;
        uv_buf_t b = uv_buf_init((char *)buf + got, (unsigned int)(len - got));
        int n = uv_fs_read(NULL, &req, job->fd, &b, 1, (int64_t)(offset + got), NULL);
        uv_fs_req_cleanup(&req);
        if (n <= 0) {
          fail(job, n < 0 ? n : 1);
          break;
        }
        got += (size_t)n;
      }
      if (got < len) break;
    }
    subtree_cv(input, len, job->key_words, offset / BLAKE3_CHUNK_LEN, job->flags, job->cvs + i * BLAKE3_OUT_LEN);
  }
  free(buf);
}

static void split_execute(napi_env env, void *p) {
  (void)env;
  split_job *job = (split_job *)p;
  if (job->path) {
    uv_fs_t req;
    int fd = uv_fs_open(NULL, &req, job->path, UV_FS_O_RDONLY, 0, NULL);
    uv_fs_req_cleanup(&req);
    if (fd < 0) {
      job->error = fd;
      return;
    }
    job->fd = fd;
  }
  uv_thread_t others[256];
  unsigned started = 0;
  for (unsigned t = 1; t < job->threads && t <= 256; t++) {
    if (uv_thread_create(&others[started], split_thread, job) == 0) started++;
  }
  split_thread(job);
  for (unsigned t = 0; t < started; t++) uv_thread_join(&others[t]);
  if (job->path) {
    uv_fs_t req;
    uv_fs_close(NULL, &req, job->fd, NULL);
    uv_fs_req_cleanup(&req);
  }
}

static void split_complete(napi_env env, napi_status status, void *p) {
  split_job *job = (split_job *)p;
  napi_value value;
  void *out = NULL;
  if (status == napi_ok && job->error == 0 && napi_create_buffer_copy(env, job->count * BLAKE3_OUT_LEN, job->cvs, &out, &value) == napi_ok) {
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    char msg[512];
    const char *what = job->path ? job->path : "bytes";
    if (job->error == 1) snprintf(msg, sizeof msg, "%s became shorter while it was being hashed", what);
    else if (job->error < 0) snprintf(msg, sizeof msg, "%s: %s", what, uv_strerror(job->error));
    else snprintf(msg, sizeof msg, "hashing %s was cancelled", what);
    napi_value m, err, code;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, NULL, m, &err);
    if (job->error < 0) {
      napi_create_string_utf8(env, uv_err_name(job->error), NAPI_AUTO_LENGTH, &code);
      napi_set_named_property(env, err, "code", code);
    }
    napi_reject_deferred(env, job->deferred, err);
  }
  if (job->data_ref) napi_delete_reference(env, job->data_ref);
  napi_delete_async_work(env, job->work);
  uv_mutex_destroy(&job->lock);
  free(job->path);
  free(job->cvs);
  free(job);
}

static bool get_uint(napi_env env, napi_value v, double max, uint64_t *out) {
  double d = -1;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > max || d != (double)(uint64_t)d) return false;
  *out = (uint64_t)d;
  return true;
}

// chainingValues(source: string | Uint8Array, length, segmentBytes, threads, key): Promise<Buffer>
// — the chaining values (32 bytes each) of the segments of the first `length` bytes of a file (by
// path) or of a byte array, hashed on `threads` native threads. Needs at least two segments.
static napi_value chaining_values(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_range_error(env, NULL, "chainingValues(source, length, segmentBytes, threads, key) takes five arguments");
    return NULL;
  }
  uint64_t length, segment, threads;
  if (!get_uint(env, argv[1], 9007199254740991.0, &length) || !get_uint(env, argv[2], 1099511627776.0, &segment) || !get_uint(env, argv[3], 256, &threads) ||
      threads < 1 || segment < BLAKE3_CHUNK_LEN || (segment & (segment - 1)) != 0 || length <= segment) {
    napi_throw_range_error(env, NULL, "chainingValues needs a length above one segment, a power-of-two segment of at least 1024 bytes and 1 to 256 threads");
    return NULL;
  }
  split_job *job = (split_job *)calloc(1, sizeof(split_job));
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->fd = -1;
  napi_valuetype source_type;
  napi_typeof(env, argv[0], &source_type);
  if (source_type == napi_string) {
    size_t n = 0;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &n);
    job->path = (char *)malloc(n + 1);
    if (job->path) napi_get_value_string_utf8(env, argv[0], job->path, n + 1, &n);
  } else {
    bool is_typed = false;
    napi_is_typedarray(env, argv[0], &is_typed);
    napi_typedarray_type type = napi_int8_array;
    size_t len = 0;
    void *data = NULL;
    if (is_typed) napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL);
    if (!is_typed || type != napi_uint8_array || len < length) {
      free(job);
      napi_throw_type_error(env, NULL, "source must be a path or a Uint8Array of at least `length` bytes");
      return NULL;
    }
    job->bytes = (const uint8_t *)data;
    napi_create_reference(env, argv[0], 1, &job->data_ref);
  }
  napi_valuetype key_type;
  napi_typeof(env, argv[4], &key_type);
  if (key_type == napi_null || key_type == napi_undefined) {
    memcpy(job->key_words, IV, BLAKE3_KEY_LEN);
  } else {
    bool is_typed = false;
    napi_is_typedarray(env, argv[4], &is_typed);
    napi_typedarray_type type = napi_int8_array;
    size_t key_len = 0;
    void *key = NULL;
    if (is_typed) napi_get_typedarray_info(env, argv[4], &type, &key_len, &key, NULL, NULL);
    if (!is_typed || type != napi_uint8_array || key_len != BLAKE3_KEY_LEN) {
      if (job->data_ref) napi_delete_reference(env, job->data_ref);
      free(job->path);
      free(job);
      napi_throw_range_error(env, NULL, "key must be a 32-byte Uint8Array or null");
      return NULL;
    }
    load_key_words((const uint8_t *)key, job->key_words);
    job->flags = KEYED_HASH;
  }
  job->length = length;
  job->segment = segment;
  job->count = (size_t)((length + segment - 1) / segment);
  job->threads = (unsigned)threads;
  job->cvs = (uint8_t *)malloc(job->count * BLAKE3_OUT_LEN);
  napi_value promise, name;
  napi_create_string_utf8(env, "blake3-split", NAPI_AUTO_LENGTH, &name);
  if (!job->cvs || (source_type == napi_string && !job->path) || uv_mutex_init(&job->lock) != 0 || napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, name, split_execute, split_complete, job, &job->work) != napi_ok || napi_queue_async_work(env, job->work) != napi_ok) {
    napi_throw_error(env, NULL, "could not start hashing (out of memory?)");
    return NULL; // leaks this job: only when the process is out of memory or N-API is failing
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "chainingValue", NAPI_AUTO_LENGTH, chaining_value, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "chainingValue", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "chainingValues", NAPI_AUTO_LENGTH, chaining_values, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "chainingValues", fn) != napi_ok) return NULL;
  return exports;
}
