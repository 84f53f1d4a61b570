{
  "targets": [
    {
      "target_name": "fastify_spdy_aead",
      "sources": ["native/aead.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
