#pragma once

// Replaces the global operator new/delete of a test executable so that a test can count the
// allocations made by the calling thread (thread_local, so other threads do not interfere). The
// replacements forward to malloc/free. Replacement functions cannot be inline: include this header
// from exactly ONE .cpp file of an executable.

#include <cstdint>
#include <cstdlib>
#include <new>

namespace vrp::test {
inline thread_local std::uint64_t thread_allocations = 0;

// Allocations the calling thread made while running f.
template <class F>
std::uint64_t allocations_in(F&& f) {
  const std::uint64_t before = thread_allocations;
  f();
  return thread_allocations - before;
}
}  // namespace vrp::test

// g++ 12 inlines these deletes into code whose `new` it takes for the built-in one and warns of a
// mismatch; both sides are the replacements below (malloc/free).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  ++vrp::test::thread_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
// simdjson allocates its buffers with the nothrow forms: count them too (and keep new/delete pairs
// consistent for ASan).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++vrp::test::thread_allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
