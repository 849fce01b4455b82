#include "letterbox_kernels.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(WALKOUT_NO_CLONES)
#define WALKOUT_HAVE_AVX2_KERNELS 1
#include <immintrin.h>
#endif

namespace walkout::detect::kernels {

namespace {

void point_row_scalar(const std::uint8_t* src, const ColumnTaps& cols, int begin, int n,
                      const int* channel_of_plane, bool divide, float* const planes[3]) {
  for (int x = begin; x < n; ++x) {
    const std::uint8_t* px = src + cols.first_offset[static_cast<std::size_t>(x)];
    for (int c = 0; c < 3; ++c) planes[c][x] = model_value(px[channel_of_plane[c]], divide);
  }
}

void horizontal_row_scalar(const std::uint8_t* src, const ColumnTaps& cols, int begin, int n,
                           std::int32_t* const h[3]) {
  for (int x = begin; x < n; ++x) {
    const auto i = static_cast<std::size_t>(x);
    const std::uint8_t* a = src + cols.first_offset[i];
    const std::uint8_t* b = src + cols.second_offset[i];
    for (int c = 0; c < 3; ++c) h[c][x] = a[c] * cols.w_first[i] + b[c] * cols.w_second[i];
  }
}

#if defined(WALKOUT_HAVE_AVX2_KERNELS)
// v / 255 for whole numbers v in [0, 255], bit-identical to the IEEE division (checked for all
// 256 values by tests/test_detect_letterbox.py): q = v * (1/255) is off by at most one ulp,
// r = v - q * 255 is exact with an FMA, and q + r * (1/255) rounds to the correctly rounded
// quotient. Three multiply-adds cost a third of one vdivps on the edge CPUs we measured.
__attribute__((target("avx2,fma"))) inline __m256 divide_by_255(__m256 v) {
  const __m256 inv = _mm256_set1_ps(1.0f / 255.0f);
  const __m256 q = _mm256_mul_ps(v, inv);
  const __m256 r = _mm256_fnmadd_ps(q, _mm256_set1_ps(255.0f), v);
  return _mm256_fmadd_ps(r, inv, q);
}

// Loads the source pixel of each column as one 32-bit word (B, G, R, next byte), scalar. On the
// Zen 4 edge CPU this plain load-and-store loop is ~2x faster than vpgatherdd, whose throughput
// there is one gather per several cycles; the channel split below then runs on contiguous words.
inline void load_pixel_words(const std::uint8_t* src, const std::int32_t* offset, int n,
                             std::uint32_t* words) {
  for (int i = 0; i < n; ++i) std::memcpy(&words[i], src + offset[i], sizeof(std::uint32_t));
}

// Channel c of 8 pixel words as floats (model_value).
__attribute__((target("avx2,fma"))) inline __m256 channel_values(__m256i words, int c, bool divide) {
  const __m256i byte = _mm256_set1_epi32(0xFF);
  __m256 v = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(words, 8 * c), byte));
  return divide ? divide_by_255(v) : v;
}

// Point sampling, 8 output pixels per step, in chunks of kChunk columns of pixel words.
__attribute__((target("avx2,fma"))) void point_row_avx2(const std::uint8_t* src,
                                                         const ColumnTaps& cols, int n,
                                                         const int* channel_of_plane, bool divide,
                                                         float* const planes[3]) {
  constexpr int kChunk = 256;
  alignas(32) std::uint32_t words[kChunk];
  const int end = n < cols.gather_safe ? n : cols.gather_safe;
  const int c0 = channel_of_plane[0], c1 = channel_of_plane[1], c2 = channel_of_plane[2];
  int x = 0;
  while (x + 8 <= end) {
    const int chunk = std::min(kChunk, (end - x) / 8 * 8);
    load_pixel_words(src, cols.first_offset.data() + x, chunk, words);
    for (int i = 0; i < chunk; i += 8) {
      const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(words + i));
      _mm256_storeu_ps(planes[0] + x + i, channel_values(w, c0, divide));
      _mm256_storeu_ps(planes[1] + x + i, channel_values(w, c1, divide));
      _mm256_storeu_ps(planes[2] + x + i, channel_values(w, c2, divide));
    }
    x += chunk;
  }
  point_row_scalar(src, cols, x, n, channel_of_plane, divide, planes);
}

__attribute__((target("avx2,fma"))) void horizontal_row_avx2(const std::uint8_t* src,
                                                              const ColumnTaps& cols, int n,
                                                              std::int32_t* const h[3]) {
  constexpr int kChunk = 256;
  alignas(32) std::uint32_t first[kChunk];
  alignas(32) std::uint32_t second[kChunk];
  const __m256i byte = _mm256_set1_epi32(0xFF);
  const int end = n < cols.gather_safe ? n : cols.gather_safe;
  int x = 0;
  while (x + 8 <= end) {
    const int chunk = std::min(kChunk, (end - x) / 8 * 8);
    load_pixel_words(src, cols.first_offset.data() + x, chunk, first);
    load_pixel_words(src, cols.second_offset.data() + x, chunk, second);
    for (int i = 0; i < chunk; i += 8) {
      const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(first + i));
      const __m256i b = _mm256_load_si256(reinterpret_cast<const __m256i*>(second + i));
      const __m256i wa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cols.w_first.data() + x + i));
      const __m256i wb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cols.w_second.data() + x + i));
      for (int c = 0; c < 3; ++c) {
        const __m256i ac = _mm256_and_si256(_mm256_srli_epi32(a, 8 * c), byte);
        const __m256i bc = _mm256_and_si256(_mm256_srli_epi32(b, 8 * c), byte);
        const __m256i sum = _mm256_add_epi32(_mm256_mullo_epi32(ac, wa), _mm256_mullo_epi32(bc, wb));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(h[c] + x + i), sum);
      }
    }
    x += chunk;
  }
  horizontal_row_scalar(src, cols, x, n, h);
}

__attribute__((target("avx2,fma"))) void vertical_row_avx2(const std::int32_t* top,
                                                            const std::int32_t* bottom, int w_top,
                                                            int w_bottom, int n, bool divide,
                                                            float* out) {
  const __m256i wt = _mm256_set1_epi32(w_top);
  const __m256i wb = _mm256_set1_epi32(w_bottom);
  const __m256i two = _mm256_set1_epi32(2);
  int x = 0;
  for (; x + 8 <= n; x += 8) {
    const __m256i t = _mm256_srai_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(top + x)), 4);
    const __m256i b = _mm256_srai_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bottom + x)), 4);
    const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(_mm256_srai_epi32(_mm256_mullo_epi32(wt, t), 16),
                                                          _mm256_srai_epi32(_mm256_mullo_epi32(wb, b), 16)),
                                         two);
    __m256 v = _mm256_cvtepi32_ps(_mm256_srai_epi32(sum, 2));
    if (divide) v = divide_by_255(v);
    _mm256_storeu_ps(out + x, v);
  }
  for (; x < n; ++x) {
    const int v = (((w_top * (top[x] >> 4)) >> 16) + ((w_bottom * (bottom[x] >> 4)) >> 16) + 2) >> 2;
    out[x] = model_value(v, divide);
  }
}

// The AVX2 kernels also use FMA (divide_by_255); every AVX2 CPU so far has both. Setting
// WALKOUT_PORTABLE_KERNELS in the environment forces the portable ones (tests compare both).
// __builtin_cpu_init first: this runs as a static initialiser of the module, possibly before
// libgcc's own CPU detection has run.
const bool kHasAvx2 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         std::getenv("WALKOUT_PORTABLE_KERNELS") == nullptr;
}();
#endif

// Portable version (auto-vectorised for the SSE2 baseline): contiguous int32 in, float32 out.
void vertical_row_impl(const std::int32_t* top, const std::int32_t* bottom, int w_top,
                       int w_bottom, int n, bool divide, float* out) {
  if (divide) {
    for (int x = 0; x < n; ++x) {
      const int v = (((w_top * (top[x] >> 4)) >> 16) + ((w_bottom * (bottom[x] >> 4)) >> 16) + 2) >> 2;
      out[x] = static_cast<float>(v) / 255.0f;
    }
  } else {
    for (int x = 0; x < n; ++x) {
      const int v = (((w_top * (top[x] >> 4)) >> 16) + ((w_bottom * (bottom[x] >> 4)) >> 16) + 2) >> 2;
      out[x] = static_cast<float>(v);
    }
  }
}

}  // namespace

const char* kernel_isa() {
#if defined(WALKOUT_HAVE_AVX2_KERNELS)
  if (kHasAvx2) return "avx2";
#endif
  return "portable";
}

void point_row(const std::uint8_t* src, const ColumnTaps& cols, int n, const int* channel_of_plane,
               bool divide, float* const planes[3]) {
#if defined(WALKOUT_HAVE_AVX2_KERNELS)
  if (kHasAvx2) return point_row_avx2(src, cols, n, channel_of_plane, divide, planes);
#endif
  point_row_scalar(src, cols, 0, n, channel_of_plane, divide, planes);
}

void horizontal_row(const std::uint8_t* src, const ColumnTaps& cols, int n, std::int32_t* const h[3]) {
#if defined(WALKOUT_HAVE_AVX2_KERNELS)
  if (kHasAvx2) return horizontal_row_avx2(src, cols, n, h);
#endif
  horizontal_row_scalar(src, cols, 0, n, h);
}

void vertical_row(const std::int32_t* top, const std::int32_t* bottom, int w_top, int w_bottom,
                  int n, bool divide, float* out) {
#if defined(WALKOUT_HAVE_AVX2_KERNELS)
  if (kHasAvx2) return vertical_row_avx2(top, bottom, w_top, w_bottom, n, divide, out);
#endif
  vertical_row_impl(top, bottom, w_top, w_bottom, n, divide, out);
}

}  // namespace walkout::detect::kernels
