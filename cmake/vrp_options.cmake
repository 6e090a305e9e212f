# Warnings and sanitizers for the project's own targets (not for third-party headers).
add_library(vrp_options INTERFACE)
add_library(vrp::options ALIAS vrp_options)
target_compile_options(vrp_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                             -Wno-sign-conversion)
if(VRP_WERROR)
  target_compile_options(vrp_options INTERFACE -Werror)
endif()

# libFuzzer (clang only). Every target gets the coverage instrumentation (fuzzer-no-link); only
# the fuzz executables link libFuzzer's main, through vrp::fuzz_engine (tests/fuzz). Fuzzing runs
# under ASan+UBSan: the fuzz preset sets VRP_SANITIZE, and an empty one means address;undefined.
if(VRP_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VRP_BUILD_FUZZ needs clang with libFuzzer, found ${CMAKE_CXX_COMPILER_ID} "
                        "(use the 'fuzz' preset or -DCMAKE_CXX_COMPILER=clang++)")
  endif()
  if(NOT VRP_SANITIZE)
    set(VRP_SANITIZE "address;undefined")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_library(vrp_fuzz_engine INTERFACE)
  add_library(vrp::fuzz_engine ALIAS vrp_fuzz_engine)
  target_link_options(vrp_fuzz_engine INTERFACE -fsanitize=fuzzer)
endif()

if(VRP_SANITIZE)
  set(_vrp_san "")
  foreach(s IN LISTS VRP_SANITIZE)
    if(NOT s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "VRP_SANITIZE: unknown sanitizer '${s}' (allowed: address, undefined, thread, leak)")
    endif()
    list(APPEND _vrp_san "${s}")
  endforeach()
  list(JOIN _vrp_san "," _vrp_san_csv)
  add_compile_options(-fsanitize=${_vrp_san_csv} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_vrp_san_csv})
endif()
