/**
 * Loaded with `node --require` into jsfuzz's processes (scripts/fuzz.mjs) before jsfuzz installs its coverage hook:
 * the dependencies required here are then already in the module cache and are not instrumented. Coverage then
 * counts our code (lib/) only, which is what should guide the fuzzer, and the worker starts in seconds instead of
 * the minute that instrumenting Fastify's and node-forge's ~200 files took.
 */
import 'fastify'
import 'fastify-plugin'
import 'node-forge'
import 'pako'
