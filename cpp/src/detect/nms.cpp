#include "walkout/detect/nms.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "walkout/common/boxes.hpp"
#include "walkout/detect/dispatch.hpp"

namespace walkout::detect {

void NmsOptions::check() const {
  if (!(iou_threshold >= 0.0f && iou_threshold <= 1.0f)) {
    throw std::invalid_argument("iou_threshold: expected a value in [0, 1], got " +
                                std::to_string(iou_threshold));
  }
  if (std::isnan(score_threshold)) {
    throw std::invalid_argument("score_threshold: expected a number, got NaN");
  }
}

namespace {

// Sort key that orders float scores descending as unsigned integers: flip the float bits into
// an ascending integer order (negative floats reversed), then invert. -0 is folded into +0 so
// that the two compare equal, as they do as floats (and in the numpy twin's stable argsort).
inline std::uint32_t descending_key(float score) {
  score += 0.0f;
  std::uint32_t u;
  std::memcpy(&u, &score, sizeof u);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return ~u;
}

// Stable LSD radix sort of (key, index) pairs by key, 8 bits a pass. Stability is what makes
// equal scores come out by ascending index. A pass in which every key has the same byte is
// skipped: scores above a threshold share their top bits, so typically 2 or 3 passes run.
// Radix beats std::stable_sort by ~4x for the few thousand candidates a detector leaves.
void radix_sort_pairs(std::vector<std::uint32_t>& keys, std::vector<std::uint32_t>& index) {
  const std::size_t n = keys.size();
  std::vector<std::uint32_t> keys_tmp(n), index_tmp(n);
  for (int shift = 0; shift < 32; shift += 8) {
    std::array<std::size_t, 256> count{};
    for (std::size_t i = 0; i < n; ++i) ++count[(keys[i] >> shift) & 0xFFu];
    if (count[(keys[0] >> shift) & 0xFFu] == n) continue;  // all keys share this byte
    std::size_t sum = 0;
    for (auto& c : count) {
      const std::size_t here = c;
      c = sum;
      sum += here;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t slot = count[(keys[i] >> shift) & 0xFFu]++;
      keys_tmp[slot] = keys[i];
      index_tmp[slot] = index[i];
    }
    keys.swap(keys_tmp);
    index.swap(index_tmp);
  }
}

// The boxes kept so far for one class, as separate arrays so that the overlap test below runs
// over them in SIMD lanes.
struct KeptBoxes {
  std::vector<float> x1, y1, x2, y2, area;
  void add(const float* b, float a) {
    x1.push_back(b[0]);
    y1.push_back(b[1]);
    x2.push_back(b[2]);
    y2.push_back(b[3]);
    area.push_back(a);
  }
};

// True when box b (with area b_area) has IoU > threshold with any of the m kept boxes.
//
// Written without branches so that the compiler vectorises it (a conditional division is never
// if-converted without -ffast-math, and that scalar loop was 8x slower): the intersection uses
// max(iw, 0) * max(ih, 0), equal to boxes::iou_xyxy's "0 unless both positive" for finite
// boxes, and IoU > threshold is tested as inter > threshold * union: no division (which was
// half the loop's time), and where the union is 0 the intersection is 0 too and 0 > 0 is
// false, the same answer as iou_xyxy's 0. The two forms can only disagree when the IoU is
// within a rounding of the threshold; the numpy twin uses this same form, in the same order,
// so kept sets match bit for bit. Blocks of 16 keep the vector loop while still leaving early
// once a block hits.
WALKOUT_HOT_CLONES
bool overlaps_any(const KeptBoxes& kept, const float* b, float b_area, float threshold) {
  if (threshold >= 1.0f) return false;  // IoU <= 1 always (the union is never below the
                                        // intersection, also after rounding)
  const std::size_t m = kept.x1.size();
  const float* x1 = kept.x1.data();
  const float* y1 = kept.y1.data();
  const float* x2 = kept.x2.data();
  const float* y2 = kept.y2.data();
  const float* area = kept.area.data();
  const float bx1 = b[0], by1 = b[1], bx2 = b[2], by2 = b[3];
  constexpr std::size_t kBlock = 16;
  for (std::size_t start = 0; start < m; start += kBlock) {
    const std::size_t end = std::min(m, start + kBlock);
    int hit = 0;
    for (std::size_t k = start; k < end; ++k) {
      const float iw = std::min(x2[k], bx2) - std::max(x1[k], bx1);
      const float ih = std::min(y2[k], by2) - std::max(y1[k], by1);
      const float inter = std::max(iw, 0.0f) * std::max(ih, 0.0f);
      const float uni = area[k] + b_area - inter;
      hit |= inter > threshold * uni ? 1 : 0;
    }
    if (hit) return true;
  }
  return false;
}

// Maps each candidate's class id to a dense slot 0..k-1. Class ids of real models are small,
// so a direct table is used when their range allows, a hash map otherwise.
std::vector<std::uint32_t> class_slots(const std::int64_t* classes,
                                       const std::vector<std::uint32_t>& order,
                                       std::size_t& num_slots) {
  std::vector<std::uint32_t> slot(order.size());
  num_slots = 0;
  if (classes == nullptr) {
    if (!order.empty()) num_slots = 1;
    return slot;
  }
  std::int64_t lo = 0, hi = -1;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::int64_t c = classes[order[i]];
    if (i == 0 || c < lo) lo = c;
    if (i == 0 || c > hi) hi = c;
  }
  constexpr std::int64_t kDirectRange = 1 << 16;
  // Unsigned difference: hi - lo of two arbitrary int64 ids could overflow as signed.
  const std::uint64_t range = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  if (!order.empty() && range < static_cast<std::uint64_t>(kDirectRange)) {
    std::vector<std::int32_t> table(static_cast<std::size_t>(range + 1), -1);
    for (std::size_t i = 0; i < order.size(); ++i) {
      auto& t = table[static_cast<std::size_t>(static_cast<std::uint64_t>(classes[order[i]]) -
                                              static_cast<std::uint64_t>(lo))];
      if (t < 0) t = static_cast<std::int32_t>(num_slots++);
      slot[i] = static_cast<std::uint32_t>(t);
    }
  } else {
    std::unordered_map<std::int64_t, std::uint32_t> table;
    for (std::size_t i = 0; i < order.size(); ++i) {
      auto it = table.emplace(classes[order[i]], static_cast<std::uint32_t>(table.size())).first;
      slot[i] = it->second;
    }
    num_slots = table.size();
  }
  return slot;
}

}  // namespace

std::vector<std::int64_t> nms(const float* boxes, const float* scores, const std::int64_t* classes,
                              std::size_t n, const NmsOptions& options) {
  options.check();
  if (n >= (std::size_t{1} << 32)) {
    throw std::invalid_argument("boxes: at most 2^32 - 1 boxes, got " + std::to_string(n));
  }
  // Candidates: score strictly above the threshold (NaN fails every comparison, so it is out).
  std::vector<std::uint32_t> keys, order;
  keys.reserve(n);
  order.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (scores[i] > options.score_threshold) {
      keys.push_back(descending_key(scores[i]));
      order.push_back(static_cast<std::uint32_t>(i));
    }
  }
  std::vector<std::int64_t> kept_index;
  if (order.empty()) return kept_index;
  radix_sort_pairs(keys, order);

  std::size_t num_slots = 0;
  const std::vector<std::uint32_t> slot = class_slots(classes, order, num_slots);
  std::vector<KeptBoxes> kept(num_slots);
  const std::size_t limit = options.max_det == 0 ? order.size() : options.max_det;
  for (std::size_t i = 0; i < order.size() && kept_index.size() < limit; ++i) {
    const float* b = boxes + 4 * static_cast<std::size_t>(order[i]);
    const float b_area = boxes::area_xyxy(b);
    KeptBoxes& same_class = kept[slot[i]];
    if (overlaps_any(same_class, b, b_area, options.iou_threshold)) continue;
    same_class.add(b, b_area);
    kept_index.push_back(order[i]);
  }
  return kept_index;
}

}  // namespace walkout::detect
