{
  "targets": [
    {
      "target_name": "blake3_subtree",
      "sources": ["src/subtree.c", "blake3/blake3_dispatch.c", "blake3/blake3_portable.c"],
      "cflags_c": ["-O3"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3"] },
      "conditions": [
        ["target_arch == 'x64' and OS != 'win'", {
          "sources": [
            "blake3/blake3_sse2_x86-64_unix.S",
            "blake3/blake3_sse41_x86-64_unix.S",
            "blake3/blake3_avx2_x86-64_unix.S",
            "blake3/blake3_avx512_x86-64_unix.S"
          ]
        }],
        ["target_arch == 'x64' and OS == 'win'", {
          "sources": ["blake3/blake3_sse2.c", "blake3/blake3_sse41.c", "blake3/blake3_avx2.c", "blake3/blake3_avx512.c"]
        }],
        ["target_arch == 'arm64'", {
          "sources": ["blake3/blake3_neon.c"],
          "defines": ["BLAKE3_USE_NEON=1"]
        }],
        ["target_arch != 'x64' and target_arch != 'arm64'", {
          "defines": ["BLAKE3_NO_SSE2", "BLAKE3_NO_SSE41", "BLAKE3_NO_AVX2", "BLAKE3_NO_AVX512"]
        }]
      ]
    }
  ]
}
