// Array versions of the box helpers in walkout/common/boxes.hpp, shared by detection and the
// tracker (IoU cost matrices): all boxes float32, row-major, 4 values per box.
#pragma once

#include <cstddef>

namespace walkout::detect {

// out[i*m + j] = IoU(a[i], b[j]) for n boxes a and m boxes b (xyxy). Degenerate boxes give 0.
void box_iou_matrix(const float* a, std::size_t n, const float* b, std::size_t m, float* out);

// n boxes from (x1, y1, x2, y2) to (cx, cy, w, h) and back. in and out may be the same array.
void xyxy_to_cxcywh(const float* in, std::size_t n, float* out);
void cxcywh_to_xyxy(const float* in, std::size_t n, float* out);

}  // namespace walkout::detect
