#include "walkout/detect/box_ops.hpp"

#include "walkout/common/boxes.hpp"

namespace walkout::detect {

void box_iou_matrix(const float* a, std::size_t n, const float* b, std::size_t m, float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < m; ++j) out[i * m + j] = boxes::iou_xyxy(a + 4 * i, b + 4 * j);
  }
}

void xyxy_to_cxcywh(const float* in, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    float tmp[4];
    boxes::xyxy_to_cxcywh(in + 4 * i, tmp);
    for (int k = 0; k < 4; ++k) out[4 * i + k] = tmp[k];
  }
}

void cxcywh_to_xyxy(const float* in, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    float tmp[4];
    boxes::cxcywh_to_xyxy(in + 4 * i, tmp);
    for (int k = 0; k < 4; ++k) out[4 * i + k] = tmp[k];
  }
}

}  // namespace walkout::detect
