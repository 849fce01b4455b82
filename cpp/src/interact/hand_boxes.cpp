// Hand boxes to the nearest arm; see walkout/interact/hand_boxes.hpp.
#include "walkout/interact/hand_boxes.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <tuple>
#include <vector>

namespace walkout::interact {

void assign_hand_boxes(const double* boxes, std::size_t k, const double* keypoints, std::size_t n,
                       const HandBoxParams& params, std::int64_t* person_out, std::int32_t* side_out) {
  if (!(params.max_distance_px > 0) || !std::isfinite(params.max_distance_px))
    throw std::invalid_argument("max_distance_px: expected a finite value > 0 pixels");
  if (!(params.min_confidence >= 0 && params.min_confidence <= 1))
    throw std::invalid_argument("min_confidence: expected a value in [0, 1]");
  if (!std::isfinite(params.hand_offset))
    throw std::invalid_argument("hand_offset: expected a finite value");
  // Each arm's predicted hand centre (NaN when its wrist is unseen).
  std::vector<double> arm(4 * n, std::nan(""));
  for (std::size_t p = 0; p < n; ++p) {
    for (int side = 0; side < 2; ++side) {
      const double* w = keypoints + (p * 17 + static_cast<std::size_t>(9 + side)) * 3;
      const double* e = keypoints + (p * 17 + static_cast<std::size_t>(7 + side)) * 3;
      if (!(w[2] >= params.min_confidence && w[2] > 0)) continue;
      const bool elbow = e[2] >= params.min_confidence && e[2] > 0;
      double* a = &arm[4 * p + 2 * static_cast<std::size_t>(side)];
      a[0] = w[0] + (elbow ? params.hand_offset * (w[0] - e[0]) : 0.0);
      a[1] = w[1] + (elbow ? params.hand_offset * (w[1] - e[1]) : 0.0);
    }
  }
  std::vector<std::tuple<double, std::size_t, std::size_t, int>> pairs;  // distance, box, person, side
  for (std::size_t b = 0; b < k; ++b) {
    person_out[b] = -1;
    side_out[b] = -1;
    const double cx = 0.5 * (boxes[4 * b] + boxes[4 * b + 2]), cy = 0.5 * (boxes[4 * b + 1] + boxes[4 * b + 3]);
    for (std::size_t p = 0; p < n; ++p)
      for (int side = 0; side < 2; ++side) {
        const double* a = &arm[4 * p + 2 * static_cast<std::size_t>(side)];
        if (std::isnan(a[0])) continue;
        const double d = std::hypot(cx - a[0], cy - a[1]);
        if (d <= params.max_distance_px) pairs.emplace_back(d, b, p, side);
      }
  }
  std::sort(pairs.begin(), pairs.end());  // distance, then box, person, side: the tie-breaks
  std::vector<char> arm_used(2 * n, 0);
  for (const auto& [d, b, p, side] : pairs) {
    (void)d;
    if (person_out[b] >= 0 || arm_used[2 * p + static_cast<std::size_t>(side)]) continue;
    person_out[b] = static_cast<std::int64_t>(p);
    side_out[b] = side;
    arm_used[2 * p + static_cast<std::size_t>(side)] = 1;
  }
}

}  // namespace walkout::interact
