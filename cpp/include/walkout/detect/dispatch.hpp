// WALKOUT_HOT_CLONES: compile a hot loop twice, for the portable x86-64 baseline (SSE2) and for
// AVX2, and pick one at load time (GCC/Clang function multiversioning through an ifunc). The
// wheel stays runnable on every x86-64 edge box (CMakeLists.txt forbids -march=native) while
// boxes that have AVX2 run the loops 8 floats wide instead of 4.
//
// Results are bit-identical between the clones: the loops use only IEEE add, multiply, divide,
// min and max and integer arithmetic, and "avx2" does not enable FMA, so the compiler cannot
// contract a*b+c into one rounding on one clone and not the other.
#pragma once

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(WALKOUT_NO_CLONES)
#define WALKOUT_HOT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define WALKOUT_HOT_CLONES
#endif
