// Greedy non-maximum suppression: the step after every detector that keeps one box per object.
//
// Inputs: n boxes (xyxy, float32, any units), their scores, and optionally a class id per box.
// Output: indices of the kept boxes, by descending score; equal scores keep the lower index
// first, so the result does not depend on the sort algorithm. Boxes are visited in that order
// and a box is kept unless its IoU with a box already kept (of the same class, unless no
// classes are given) is strictly above the threshold. A degenerate box (zero or negative width
// or height) has IoU 0 with everything (walkout/common/boxes.hpp), so it is kept if its score
// qualifies and never suppresses anything. NaN scores are never kept.
//
// Example: boxes [[0,0,10,10],[1,1,11,11],[50,50,60,60]], scores [0.9,0.8,0.7], threshold 0.5
// -> [0, 2] (box 1 has IoU 0.68 with box 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace walkout::detect {

struct NmsOptions {
  // A box is dropped when its IoU with an already kept box is strictly greater than this, in
  // [0, 1]. Lowering it removes more duplicates but merges people who stand close together;
  // raising it keeps neighbours apart but lets duplicate boxes of one person through.
  float iou_threshold = 0.45f;
  // Only boxes whose score is strictly greater than this take part; -inf lets every box (but
  // NaN) in. Raising it makes NMS faster and drops weak detections before they can suppress.
  float score_threshold = -std::numeric_limits<float>::infinity();
  // Stop after this many kept boxes (the highest scoring ones); 0 means no limit.
  std::size_t max_det = 0;

  // Throws std::invalid_argument naming the field when a value is out of range.
  void check() const;
};

// boxes: n*4 floats (xyxy); scores: n floats; classes: n class ids, or nullptr for class-agnostic
// suppression. Throws std::invalid_argument for n >= 2^32 (indices are sorted as 32-bit).
std::vector<std::int64_t> nms(const float* boxes, const float* scores, const std::int64_t* classes,
                              std::size_t n, const NmsOptions& options);

}  // namespace walkout::detect
