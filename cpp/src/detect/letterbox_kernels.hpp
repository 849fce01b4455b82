// Row kernels of the letterbox (private to cpp/src/detect/): the only loops that touch every
// output value. Each has a portable scalar version and, on x86-64 CPUs that have it, an AVX2
// version chosen at run time; both give bit-identical results (integer arithmetic, one IEEE
// conversion and one IEEE division per value).
#pragma once

#include <cstdint>
#include <vector>

namespace walkout::detect::kernels {

// Per output column of a resized row: byte offsets (3 * pixel index) of the two source pixels
// it blends, and their weights in 1/2048. `gather_safe` is how many leading columns may be read
// 4 bytes at a time (whole 32-bit words) without reading past the row's last byte: the AVX2
// kernels load a pixel as one word and drop the 4th byte.
struct ColumnTaps {
  std::vector<std::int32_t> first_offset;
  std::vector<std::int32_t> second_offset;
  std::vector<std::int32_t> w_first;
  std::vector<std::int32_t> w_second;
  int gather_safe = 0;
};

// The model value of a grey level: v / 255 (float32 division, as numpy does) or v itself.
inline float model_value(int v, bool divide) {
  return divide ? static_cast<float>(v) / 255.0f : static_cast<float>(v);
}

// "avx2" or "portable": which row kernels this process runs.
const char* kernel_isa();

// Point-sampled row: planes[c][x] = model_value(src[first_offset[x] + channel_of_plane[c]]).
void point_row(const std::uint8_t* src, const ColumnTaps& cols, int n, const int* channel_of_plane,
               bool divide, float* const planes[3]);

// OpenCV's HResizeLinear of one source row into three planar rows, one per source channel:
// h[c][x] = S[first + c] * w_first + S[second + c] * w_second.
void horizontal_row(const std::uint8_t* src, const ColumnTaps& cols, int n, std::int32_t* const h[3]);

// OpenCV's VResizeLinear (FixedPtCast, 22 bits) of two horizontal rows, then model_value:
// v = (((w_top * (top >> 4)) >> 16) + ((w_bottom * (bottom >> 4)) >> 16) + 2) >> 2.
void vertical_row(const std::int32_t* top, const std::int32_t* bottom, int w_top, int w_bottom,
                  int n, bool divide, float* out);

}  // namespace walkout::detect::kernels
