// What every walkout tracker shares: the track lifecycle, the per-instance ID counter, the
// frame clock, and "assign these tracks to those detections under this cost".
//
// Lifecycle (ByteTrack's, with OC-SORT's recovery on top in the box tracker):
//   new detection -> Tentative --(min_hits consecutive hits)--> Confirmed
//   Tentative --(one miss)--> removed (most false positives live one frame)
//   Confirmed --(a miss)--> Lost --(a hit)--> Confirmed
//   Lost for longer than lost_buffer_s -> removed (its ID is never handed out again)
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "walkout/track/assignment.hpp"

namespace walkout::track {

enum class TrackState : std::int8_t { Tentative = 0, Confirmed = 1, Lost = 2 };

// IDs belong to one tracker instance (ByteTrack's original shares one counter across the
// process, so two cameras' trackers interleave IDs); they start at 1 and are never reused.
class IdCounter {
 public:
  std::int64_t next() { return ++last_; }
  void reset() { last_ = 0; }

 private:
  std::int64_t last_ = 0;
};

// Frame clock: t in float seconds on any monotonic epoch; a missing t is one period after
// the last frame (the first frame without t is at 0).
class FrameClock {
 public:
  explicit FrameClock(double fps) : period_(1.0 / fps) {}
  // Returns dt since the previous frame (0 on the first frame) and advances.
  double advance(bool has_t, double t) {
    if (has_t && !std::isfinite(t)) throw std::invalid_argument("t: expected a finite time in seconds");
    const double now = has_t ? t : (started_ ? last_ + period_ : 0.0);
    if (started_ && !(now > last_))
      throw std::invalid_argument("t: expected a time after the previous frame's (" +
                                  std::to_string(last_) + " s), got " + std::to_string(now));
    const double dt = started_ ? now - last_ : 0.0;
    last_ = now;
    first_ = !started_;
    started_ = true;
    return dt;
  }
  double now() const { return last_; }
  bool first_frame() const { return first_; }
  double period() const { return period_; }
  void reset() { started_ = false; first_ = false; last_ = 0.0; }

 private:
  double period_;
  double last_ = 0.0;
  bool started_ = false;
  bool first_ = false;
};

// Solves the assignment between `rows` (track slots) and `cols` (detection indices) with
// cost(row, col) (+inf = forbidden) and returns the matched (row, col) pairs. Pairs above
// `cost_limit` are left unmatched.
template <class CostFn>
std::vector<std::pair<int, int>> assign(const std::vector<int>& rows, const std::vector<int>& cols,
                                        CostFn cost, double cost_limit,
                                        std::vector<double>& scratch) {
  std::vector<std::pair<int, int>> out;
  if (rows.empty() || cols.empty()) return out;
  scratch.resize(rows.size() * cols.size());
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < cols.size(); ++c)
      scratch[r * cols.size() + c] = cost(rows[r], cols[c]);
  const AssignmentResult res = linear_assignment(scratch.data(), rows.size(), cols.size(), true, cost_limit);
  out.reserve(res.rows.size());
  for (std::size_t k = 0; k < res.rows.size(); ++k) {
    const double c = scratch[static_cast<std::size_t>(res.rows[k]) * cols.size() + static_cast<std::size_t>(res.cols[k])];
    if (std::isfinite(c)) out.emplace_back(rows[static_cast<std::size_t>(res.rows[k])], cols[static_cast<std::size_t>(res.cols[k])]);
  }
  return out;
}

}  // namespace walkout::track
