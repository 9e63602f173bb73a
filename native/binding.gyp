{
  # The addon links wolfSSL statically and hides every symbol but the N-API
  # entry point, so nothing of wolfSSL (or of mimalloc's override exports)
  # can interpose on, or be interposed by, the OpenSSL that Node carries.
  "variables": {
    "wolfssl_prefix%": "<(module_root_dir)/.wolfssl/prefix",
    # build-addon.sh replaces this with -lwolfssl and an rpath when the
    # WOLFSSL_PREFIX install has only a shared library.
    "wolfssl_libs%": "<(module_root_dir)/.wolfssl/prefix/lib/libwolfssl.a"
  },
  "targets": [
    {
      "target_name": "wolfguard",
      "sources": [
        "src/addon.cc",
        "src/alloc.cc",
        "src/context.cc",
        "src/connection.cc",
        "src/dtls-legacy.cc",
        "src/wolfcrypt.cc",
        "src/passwd.cc",
        "src/privileges.cc",
        "src/fips.cc",
        "src/sockets.cc",
        "src/plane.cc",
        "src/tun.cc",
        "src/tun-coalesce.cc",
        "src/tun-steering.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(wolfssl_prefix)/include"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # wolfSSL headers must see the same feature macros the library was
        # built with; options.h carries them.
        "WOLFSSL_USE_OPTIONS_H"
      ],
      "cflags": ["-fvisibility=hidden", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-fvisibility=hidden", "-fvisibility-inlines-hidden", "-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "ldflags": [
        "-Wl,--exclude-libs,ALL",
        "-Wl,-z,now",
        "-Wl,--no-undefined-version"
      ],
      "libraries": [
        "<(wolfssl_libs)",
        "-lmimalloc",
        "-lcrypt",
        "-lm",
        "-lpthread"
      ]
    }
  ]
}
