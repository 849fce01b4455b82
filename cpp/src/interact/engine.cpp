// The reach state machine and dwell bookkeeping; see walkout/interact/engine.hpp.
#include "walkout/interact/engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace walkout::interact {

namespace {

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Time at which the segment (t0, d0) -> (t1, d1) crosses `level`, clamped to [t0, t1]. Linear
// interpolation is exact for a hand moving at constant velocity between samples, and it is
// what makes the start and end of a reach independent of the frame rate.
double crossing(double t0, double d0, double t1, double d1, double level) {
  if (d1 == d0) return t1;
  const double s = std::clamp((level - d0) / (d1 - d0), 0.0, 1.0);
  return t0 + s * (t1 - t0);
}

void need(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

// A sample weighs its time (seconds since the previous one) times its effective depth over
// its variance: the slot where the hand spent the most "deep time" wins, and a triangulated
// wrist outweighs an arm-model guess. The floors keep a reach seen in one sample, or only at
// the face, from summing to zero weight, and an exact position from weighing infinitely.
constexpr double kMinWeightTime = 1e-6;
constexpr double kMinWeightDepth = 1e-3;
constexpr double kMinSigma = 1e-3;
constexpr double kMinWeightSigma = 1e-2;
// Far-tail slot probabilities (erfc of a dozen sigmas) are reported as absent, not as 1e-300.
constexpr double kMinSlotProb = 1e-12;

// One order for every caller, so that the numpy twin and the tests can compare lists.
void sort_events(UpdateResult& out) {
  std::sort(out.reaches.begin(), out.reaches.end(), [](const ReachEvent& a, const ReachEvent& b) {
    if (a.track != b.track) return a.track < b.track;
    if (a.hand != b.hand) return a.hand < b.hand;
    return a.start < b.start;
  });
  std::sort(out.dwells.begin(), out.dwells.end(), [](const DwellEvent& a, const DwellEvent& b) {
    if (a.track != b.track) return a.track < b.track;
    if (a.zone != b.zone) return a.zone < b.zone;
    return a.enter < b.enter;
  });
}

}  // namespace

void EngineParams::check() const {
  auto finite_nonneg = [](double v, const char* name) {
    need(std::isfinite(v) && v >= 0.0, std::string(name) + ": expected a finite value >= 0");
  };
  need(std::isfinite(enter_depth), "enter_depth: expected a finite value in metres");
  need(std::isfinite(exit_depth) && exit_depth < enter_depth,
       "exit_depth: expected a finite value below enter_depth");
  finite_nonneg(min_inside_s, "min_inside_s");
  finite_nonneg(hand_motion_std, "hand_motion_std");
  finite_nonneg(duplicate_radius, "duplicate_radius");
  need(!std::isnan(max_behind_face) && max_behind_face != -std::numeric_limits<double>::infinity(),
       "max_behind_face: expected a value in metres (infinity turns the check off)");
  finite_nonneg(min_outside_s, "min_outside_s");
  need(std::isfinite(hand_lost_s) && hand_lost_s > 0.0,
       "hand_lost_s: expected a finite value > 0 seconds");
  need(lost_confidence >= 0.0 && lost_confidence <= 1.0, "lost_confidence: expected a value in [0, 1]");
  need(slot_prob_min >= 0.0 && slot_prob_min <= 1.0, "slot_prob_min: expected a value in [0, 1]");
  finite_nonneg(dwell_exit_s, "dwell_exit_s");
  finite_nonneg(min_dwell_s, "min_dwell_s");
}

InteractionEngine::InteractionEngine(ShelfModel shelves, EngineParams params)
    : shelves_(std::move(shelves)), params_(params) {
  params_.check();
  std::size_t widest = 1;
  for (const Face& f : shelves_.faces())
    widest = std::max(widest, static_cast<std::size_t>(f.rows) * static_cast<std::size_t>(f.cols));
  scratch_.resize(widest);
}

std::size_t InteractionEngine::open_reaches() const {
  std::size_t n = 0;
  for (const auto& [id, s] : tracks_)
    for (const HandState& h : s.hands) n += h.phase != Phase::Outside;
  return n;
}

void InteractionEngine::accumulate(HandState& h, const FaceCoords& c, const double p[3],
                                   double weight_s, double sigma) {
  const Face& f = shelves_.faces()[static_cast<std::size_t>(h.face)];
  const double sd = std::max(sigma, kMinWeightSigma);
  const double w = (std::clamp(weight_s, 0.0, params_.hand_lost_s) + kMinWeightTime) *
                   std::max(c.effective, kMinWeightDepth) / (sd * sd);
  shelves_.slot_probabilities(h.face, c.u, c.v, sigma, scratch_.data());
  const std::size_t cells = static_cast<std::size_t>(f.rows) * static_cast<std::size_t>(f.cols);
  for (std::size_t i = 0; i < cells; ++i) h.slot_weight[i] += w * scratch_[i];
  for (int k = 0; k < 3; ++k) h.pos_sum[k] += w * p[k];
  h.pos_weight += w;
  if (c.depth > h.max_depth) {
    h.max_depth = c.depth;
    h.sigma_at_max = sigma;
  }
}

void InteractionEngine::start_if_deep(HandState& h, const double xy[2], double t,
                                      const double p[3], double sigma) {
  FaceCoords c;
  const int face = shelves_.nearest_face(p, &c);
  if (face < 0 || c.effective < params_.enter_depth) return;
  {
    // A reach goes through a face from in front of it: a track standing behind the face's
    // plane (beside the shelf's end) cannot reach through it, whatever its hand's noise says.
    const Face& f = shelves_.faces()[static_cast<std::size_t>(face)];
    const double in_front = (xy[0] - f.ox) * f.nx + (xy[1] - f.oy) * f.ny;
    if (in_front < -params_.max_behind_face) return;
  }
  double start = t;
  if (h.has_prev) {
    const FaceCoords before = shelves_.face_coords(face, h.prev_p);
    if (before.effective < params_.enter_depth)
      start = crossing(h.prev_t, before.effective, t, c.effective, params_.enter_depth);
  }
  const Face& f = shelves_.faces()[static_cast<std::size_t>(face)];
  h.face = face;
  h.start = start;
  h.first_in = h.last_in = t;
  h.phase = Phase::Entering;
  h.max_depth = -std::numeric_limits<double>::infinity();
  h.sigma_at_max = sigma;
  h.slot_weight.assign(static_cast<std::size_t>(f.rows) * static_cast<std::size_t>(f.cols), 0.0);
  std::fill(h.pos_sum, h.pos_sum + 3, 0.0);
  h.pos_weight = 0.0;
  accumulate(h, c, p, t - start, sigma);
}

void InteractionEngine::emit(std::int64_t track, int side, HandState& h, double end, bool lost,
                             UpdateResult& out) {
  // `end` is the interpolated time used for decisions; the event reports sample times.
  const Face& f = shelves_.faces()[static_cast<std::size_t>(h.face)];
  double mean[3];
  for (int k = 0; k < 3; ++k) mean[k] = h.pos_sum[k] / h.pos_weight;
  if (params_.duplicate_radius > 0.0) {
    // Forget what is too old to matter, then look for the same hand under another track.
    const double horizon = h.first_in - params_.hand_lost_s;
    recent_.erase(std::remove_if(recent_.begin(), recent_.end(),
                                 [&](const Recent& r) { return r.end < horizon - params_.hand_lost_s; }),
                  recent_.end());
    for (const Recent& r : recent_) {
      const double gap = std::max(r.start, h.first_in) - std::min(r.end, h.last_in);
      const double d = std::sqrt((r.mean[0] - mean[0]) * (r.mean[0] - mean[0]) +
                                 (r.mean[1] - mean[1]) * (r.mean[1] - mean[1]) +
                                 (r.mean[2] - mean[2]) * (r.mean[2] - mean[2]));
      // Another track (a split person), or this very hand again after a reach closed as lost
      // (the wrist was hidden too long: the same reach broken in two). A reach that ended
      // normally is never merged with the next one of its own hand.
      const bool other = r.track != track || (r.hand == side && r.lost);
      if (other && r.face == h.face && gap <= params_.hand_lost_s &&
          d <= params_.duplicate_radius) {
        h.phase = Phase::Outside;  // a duplicate: the reach was already reported
        h.face = -1;
        return;
      }
    }
    recent_.push_back({track, side, h.face, lost, h.first_in, h.last_in, {mean[0], mean[1], mean[2]}});
  }
  ReachEvent e;
  e.track = track;
  e.hand = side;
  e.shelf = f.shelf;
  e.face = h.face;
  e.start = h.first_in;
  e.end = h.last_in;
  e.max_depth = h.max_depth;
  e.lost = lost;
  double total = 0.0;
  std::size_t best = 0;
  for (std::size_t i = 0; i < h.slot_weight.size(); ++i) {
    total += h.slot_weight[i];
    if (h.slot_weight[i] > h.slot_weight[best]) best = i;  // ties keep the lower slot
  }
  e.slot = f.first_slot + static_cast<int>(best);
  for (std::size_t i = 0; i < h.slot_weight.size(); ++i) {
    const double p = total > 0.0 ? h.slot_weight[i] / total : (i == best ? 1.0 : 0.0);
    if (p >= params_.slot_prob_min && p > kMinSlotProb)
      e.slot_probs.emplace_back(f.first_slot + static_cast<int>(i), p);
  }
  std::sort(e.slot_probs.begin(), e.slot_probs.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  // Confidence: how surely the deepest sample was behind the face given the hand's
  // uncertainty, times how clearly the reach outlasted min_inside_s, times the lost penalty.
  const double c_depth = normal_cdf(h.max_depth / std::max(h.sigma_at_max, kMinSigma));
  const double c_time =
      params_.min_inside_s > 0.0 ? std::min(1.0, (end - h.start) / (2.0 * params_.min_inside_s))
                                 : 1.0;
  e.confidence = std::clamp(c_depth * c_time * (lost ? params_.lost_confidence : 1.0), 0.0, 1.0);
  out.reaches.push_back(std::move(e));
  h.phase = Phase::Outside;
  h.face = -1;
}

void InteractionEngine::step_hand(std::int64_t track, int side, HandState& h,
                                  const double xy[2], double t, const double* raw,
                                  double raw_sigma, UpdateResult& out) {
  // A sample after a gap longer than hand_lost_s starts afresh: the old one is stale.
  if (h.has_prev && t - h.prev_t > params_.hand_lost_s) {
    expire_hand(track, side, h, t, out);
    h.has_prev = false;
  }
  double p[3] = {raw[0], raw[1], raw[2]};
  double sigma = raw_sigma;
  if (params_.hand_motion_std > 0.0) {
    // Random-walk Kalman filter, isotropic so one variance serves all three axes.
    const double r = raw_sigma * raw_sigma;
    if (!h.filt || t - h.filt_t > params_.hand_lost_s) {
      std::copy(raw, raw + 3, h.filt_x);
      h.filt_var = r;
      h.filt = true;
    } else {
      const double prior = h.filt_var + params_.hand_motion_std * params_.hand_motion_std * (t - h.filt_t);
      const double gain = prior + r > 0.0 ? prior / (prior + r) : 1.0;
      for (int k = 0; k < 3; ++k) h.filt_x[k] += gain * (raw[k] - h.filt_x[k]);
      h.filt_var = (1.0 - gain) * prior;
    }
    h.filt_t = t;
    std::copy(h.filt_x, h.filt_x + 3, p);
    sigma = std::sqrt(h.filt_var);
  }
  const double dt = h.has_prev ? t - h.prev_t : 0.0;
  switch (h.phase) {
    case Phase::Outside:
      start_if_deep(h, xy, t, p, sigma);
      break;
    case Phase::Entering:
    case Phase::Inside: {
      const FaceCoords c = shelves_.face_coords(h.face, p);
      if (c.effective < params_.exit_depth) {
        const FaceCoords before = shelves_.face_coords(h.face, h.prev_p);
        const double out_t = crossing(h.prev_t, before.effective, t, c.effective, params_.exit_depth);
        if (h.phase == Phase::Entering &&
            (out_t - h.start < params_.min_inside_s || h.last_in == h.first_in)) {
          h.phase = Phase::Outside;  // too brief: a brush or a noise spike, nothing emitted
          h.face = -1;
          start_if_deep(h, xy, t, p, sigma);
        } else {
          h.phase = Phase::Leaving;
          h.leave = out_t;
        }
      } else {
        accumulate(h, c, p, dt, sigma);
        h.last_in = t;
        if (h.phase == Phase::Entering && t - h.start >= params_.min_inside_s && t > h.first_in)
          h.phase = Phase::Inside;
      }
      break;
    }
    case Phase::Leaving: {
      const FaceCoords c = shelves_.face_coords(h.face, p);
      if (c.effective >= params_.exit_depth) {
        const FaceCoords before = shelves_.face_coords(h.face, h.prev_p);
        const double back_t = crossing(h.prev_t, before.effective, t, c.effective, params_.exit_depth);
        if (back_t - h.leave < params_.min_outside_s) {
          h.phase = Phase::Inside;  // back within min_outside_s: the same reach goes on
          accumulate(h, c, p, dt, sigma);
          h.last_in = t;
        } else {
          emit(track, side, h, h.leave, false, out);
          start_if_deep(h, xy, t, p, sigma);
        }
      } else if (t - h.leave >= params_.min_outside_s) {
        emit(track, side, h, h.leave, false, out);
        start_if_deep(h, xy, t, p, sigma);
      }
      break;
    }
  }
  h.has_prev = true;
  h.prev_t = t;
  std::copy(p, p + 3, h.prev_p);
}

// Called for a hand without a sample this frame (and before a sample that follows a gap).
void InteractionEngine::expire_hand(std::int64_t track, int side, HandState& h, double t,
                                    UpdateResult& out) {
  if (h.phase == Phase::Leaving && t - h.leave >= params_.min_outside_s) {
    emit(track, side, h, h.leave, false, out);
    return;
  }
  if (!h.has_prev || t - h.prev_t <= params_.hand_lost_s) return;
  if (h.phase == Phase::Inside) {
    emit(track, side, h, h.prev_t, true, out);
  } else if (h.phase == Phase::Leaving) {
    emit(track, side, h, h.leave, false, out);
  } else {
    h.phase = Phase::Outside;  // Entering: never confirmed
    h.face = -1;
  }
}

void InteractionEngine::close_track(std::int64_t id, TrackState& s, UpdateResult& out) {
  for (int side = 0; side < 2; ++side) {
    HandState& h = s.hands[side];
    if (h.phase == Phase::Inside) emit(id, side, h, h.prev_t, true, out);
    else if (h.phase == Phase::Leaving) emit(id, side, h, h.leave, false, out);
    h.phase = Phase::Outside;
  }
  for (std::size_t z = 0; z < s.zones.size(); ++z) {
    DwellState& d = s.zones[z];
    if (d.active && d.last_in - d.enter >= params_.min_dwell_s)
      out.dwells.push_back({id, shelves_.zone_shelf(z), static_cast<int>(z), d.enter, d.last_in});
    d.active = false;
  }
}

UpdateResult InteractionEngine::update(double t, const std::int64_t* track_ids,
                                       const double* track_xy, std::size_t n_tracks,
                                       const std::int64_t* hand_track, const int* hand_side,
                                       const double* hand_xyz, const double* hand_sigma,
                                       std::size_t n_hands) {
  // Validate the whole frame first so that a bad one changes nothing.
  need(std::isfinite(t), "t: expected a finite time in seconds");
  need(!has_t_ || t >= last_t_, "t: expected non-decreasing times, got " + std::to_string(t) +
                                    " after " + std::to_string(last_t_));
  std::unordered_set<std::int64_t> ids;
  ids.reserve(n_tracks * 2);
  for (std::size_t i = 0; i < n_tracks; ++i) {
    need(ids.insert(track_ids[i]).second,
         "track_ids: expected unique ids, " + std::to_string(track_ids[i]) + " repeats");
    need(std::isfinite(track_xy[2 * i]) && std::isfinite(track_xy[2 * i + 1]),
         "track_xy: expected finite floor points (row " + std::to_string(i) + ")");
  }
  std::unordered_set<std::int64_t> seen_hands;
  seen_hands.reserve(n_hands * 2);
  for (std::size_t k = 0; k < n_hands; ++k) {
    const std::string row = " (row " + std::to_string(k) + ")";
    need(ids.count(hand_track[k]) > 0,
         "hand_track: track " + std::to_string(hand_track[k]) + " is not in track_ids" + row);
    need(hand_side[k] == 0 || hand_side[k] == 1, "hand_side: expected 0 (left) or 1 (right)" + row);
    need(seen_hands.insert(hand_track[k] * 2 + hand_side[k]).second,
         "hand_side: the same (track, side) appears twice" + row);
    need(std::isfinite(hand_xyz[3 * k]) && std::isfinite(hand_xyz[3 * k + 1]) &&
             std::isfinite(hand_xyz[3 * k + 2]),
         "hand_xyz: expected finite positions" + row);
    need(std::isfinite(hand_sigma[k]) && hand_sigma[k] >= 0.0,
         "hand_sigma: expected finite values >= 0 metres" + row);
  }
  has_t_ = true;
  last_t_ = t;

  UpdateResult out;
  // Tracks the tracker no longer reports: close their reaches (as lost) and dwells.
  for (auto it = tracks_.begin(); it != tracks_.end();) {
    if (ids.count(it->first)) {
      ++it;
      continue;
    }
    close_track(it->first, it->second, out);
    it = tracks_.erase(it);
  }
  for (std::size_t i = 0; i < n_tracks; ++i) {
    TrackState& s = tracks_[track_ids[i]];
    s.zones.resize(shelves_.zone_count());
    s.last_seen = t;
    const double x = track_xy[2 * i], y = track_xy[2 * i + 1];
    s.xy[0] = x;
    s.xy[1] = y;
    for (std::size_t z = 0; z < s.zones.size(); ++z) {
      DwellState& d = s.zones[z];
      if (shelves_.zone_contains(z, x, y)) {
        if (!d.active) {
          d.active = true;
          d.enter = t;
        }
        d.last_in = t;
      } else if (d.active && t - d.last_in >= params_.dwell_exit_s) {
        if (d.last_in - d.enter >= params_.min_dwell_s)
          out.dwells.push_back({track_ids[i], shelves_.zone_shelf(z), static_cast<int>(z), d.enter, d.last_in});
        d.active = false;
      }
    }
  }
  std::unordered_set<std::int64_t>& sampled = seen_hands;  // (track * 2 + side) of this frame
  for (std::size_t k = 0; k < n_hands; ++k) {
    TrackState& s = tracks_[hand_track[k]];
    step_hand(hand_track[k], hand_side[k], s.hands[hand_side[k]], s.xy, t, hand_xyz + 3 * k,
              hand_sigma[k], out);
  }
  for (auto& [id, s] : tracks_)
    for (int side = 0; side < 2; ++side)
      if (!sampled.count(id * 2 + side)) expire_hand(id, side, s.hands[side], t, out);

  sort_events(out);
  return out;
}

UpdateResult InteractionEngine::close_all() {
  UpdateResult out;
  for (auto& [id, s] : tracks_) close_track(id, s, out);
  tracks_.clear();
  sort_events(out);
  return out;
}

}  // namespace walkout::interact
