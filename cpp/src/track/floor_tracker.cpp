// FloorTracker: see floor_tracker.hpp for the algorithm and the parameters' trade-offs.
#include "walkout/track/floor_tracker.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "walkout/common/params.hpp"

namespace walkout::track {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

void FloorTrackerParams::check() const {
  require(std::isfinite(fps) && fps > 0, "fps", "a positive frame rate");
  require(low_score >= 0 && low_score <= 1, "low_score", "a score in [0, 1]");
  require(high_score >= low_score && high_score <= 1, "high_score", "a score in [low_score, 1]");
  require(new_track_score >= 0 && new_track_score <= 1, "new_track_score", "a score in [0, 1]");
  require(gate_probability > 0 && gate_probability < 1, "gate_probability", "a probability in (0, 1)");
  require(low_gate_probability > 0 && low_gate_probability < 1, "low_gate_probability",
          "a probability in (0, 1)");
  require(min_hits >= 1, "min_hits", "an integer >= 1");
  require(std::isfinite(lost_buffer_s) && lost_buffer_s >= 0, "lost_buffer_s", "seconds >= 0");
  require(std::isfinite(model_error_std) && model_error_std >= 0, "model_error_std", "metres >= 0");
  require(birth_gate_probability >= 0 && birth_gate_probability < 1, "birth_gate_probability",
          "a probability in [0, 1)");
  require(lost_velocity_decay_s > 0, "lost_velocity_decay_s", "seconds > 0 (inf: no decay)");
  require(lost_stand_speed >= 0, "lost_stand_speed", "m/s >= 0 (inf: every lost track)");
  require(lost_max_std_m > 0, "lost_max_std_m", "metres > 0 (inf: no cap)");
  require(std::isfinite(noise.acceleration) && noise.acceleration > 0, "acceleration_std", "m/s^2 > 0");
  require(std::isfinite(noise.measurement) && noise.measurement > 0, "measurement_std", "metres > 0");
  require(std::isfinite(noise.initial_velocity) && noise.initial_velocity > 0, "initial_velocity_std",
          "m/s > 0");
}

FloorTracker::FloorTracker(const FloorTrackerParams& params) : p_(params), clock_(params.fps) {
  p_.check();
  gate_ = chi2_quantile(p_.gate_probability, M);
  low_gate_ = chi2_quantile(p_.low_gate_probability, M);
  birth_gate_ = p_.birth_gate_probability > 0 ? chi2_quantile(p_.birth_gate_probability, M) : -1.0;
}

void FloorTracker::reset() {
  clock_.reset();
  id_counter_.reset();
  mean_.clear(); cov_.clear(); ids_.clear(); state_.clear(); hits_.clear(); misses_.clear();
  last_seen_.clear(); det_of_.clear(); score_of_.clear();
  out_ = FloorTracks{};
}

void FloorTracker::start_track(const double* z, const double* R, float score, double t,
                               bool confirmed, int det) {
  ids_.push_back(id_counter_.next());
  state_.push_back(confirmed ? TrackState::Confirmed : TrackState::Tentative);
  hits_.push_back(1);
  misses_.push_back(0);
  last_seen_.push_back(t);
  det_of_.push_back(det);
  score_of_.push_back(score);
  const std::size_t k = ids_.size() - 1;
  mean_.resize((k + 1) * D, 0.0);
  cov_.resize((k + 1) * D * D, 0.0);
  double* x = &mean_[k * D];
  double* P = &cov_[k * D * D];
  x[0] = z[0];
  x[1] = z[1];
  // Position uncertainty is the measurement's own; velocity is unknown up to a walking pace.
  P[0 * D + 0] = R[0];
  P[0 * D + 1] = R[1];
  P[1 * D + 0] = R[2];
  P[1 * D + 1] = R[3];
  const double v2 = p_.noise.initial_velocity * p_.noise.initial_velocity;
  P[2 * D + 2] = v2;
  P[3 * D + 3] = v2;
}

void FloorTracker::predict_all(double dt) {
  double qa[M], qb[M], qc[M];
  kalman::floor_process_noise(dt, p_.noise, qa, qb, qc);
  // A lost track's velocity decays with time constant tau (integrated Ornstein-Uhlenbeck):
  // v' = a v, p' = p + b v, a = exp(-dt / tau), b = tau (1 - a). The process noise stays the
  // white-noise-acceleration Q (an upper bound on the OU one: the decay only shrinks it).
  const double tau = p_.lost_velocity_decay_s;
  const double a = std::isinf(tau) ? 1.0 : std::exp(-dt / tau);
  const double b = std::isinf(tau) ? dt : -tau * std::expm1(-dt / tau);
  for (std::size_t k = 0; k < ids_.size(); ++k) {
    double* x = &mean_[k * D];
    double* P = &cov_[k * D * D];
    // Walkers coast at constant velocity (a shopper walking out through the exit, or on past
    // a queue, keeps going); only a track slower than lost_stand_speed -- standing at a
    // shelf, queueing -- takes the decaying, near-stationary model.
    const bool standing = std::hypot(x[2], x[3]) < p_.lost_stand_speed;
    if (state_[k] != TrackState::Lost || !standing) {
      kalman::cv_predict<M>(x, P, dt, qa, qb, qc);
      if (state_[k] == TrackState::Lost) cap_position(P);
      continue;
    }
    for (int i = 0; i < M; ++i) { x[i] += b * x[M + i]; x[M + i] *= a; }
    // P = F P F^T, F = [[I, b I], [0, a I]]: rows first (F P), then columns.
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < D; ++c) P[r * D + c] += b * P[(M + r) * D + c];
    for (int r = M; r < D; ++r)
      for (int c = 0; c < D; ++c) P[r * D + c] *= a;
    for (int r = 0; r < D; ++r) {
      for (int c = 0; c < M; ++c) P[r * D + c] += b * P[r * D + M + c];
      for (int c = M; c < D; ++c) P[r * D + c] *= a;
    }
    for (int i = 0; i < M; ++i) {
      P[i * D + i] += qa[i];
      P[i * D + M + i] += qb[i];
      P[(M + i) * D + i] += qb[i];
      P[(M + i) * D + M + i] += qc[i];
    }
    cap_position(P);
  }
}

void FloorTracker::cap_position(double* P) const {
  // Cap the position std per axis by scaling that row and column (S P S with S diagonal
  // keeps P positive definite): the gate stops growing at the cap.
  const double cap2 = p_.lost_max_std_m * p_.lost_max_std_m;
  for (int i = 0; i < M; ++i) {
    if (!(P[i * D + i] > cap2)) continue;
    const double s = std::sqrt(cap2 / P[i * D + i]);
    for (int c = 0; c < D; ++c) P[i * D + c] *= s;
    for (int r = 0; r < D; ++r) P[r * D + i] *= s;
  }
}

void FloorTracker::remove_dead(double now) {
  std::size_t w = 0;
  for (std::size_t k = 0; k < ids_.size(); ++k) {
    const bool dead = (state_[k] == TrackState::Tentative && misses_[k] > 0) ||
                      (state_[k] == TrackState::Lost && now - last_seen_[k] > p_.lost_buffer_s);
    if (dead) continue;
    if (w != k) {
      std::copy_n(&mean_[k * D], D, &mean_[w * D]);
      std::copy_n(&cov_[k * D * D], D * D, &cov_[w * D * D]);
      ids_[w] = ids_[k]; state_[w] = state_[k]; hits_[w] = hits_[k]; misses_[w] = misses_[k];
      last_seen_[w] = last_seen_[k]; det_of_[w] = det_of_[k]; score_of_[w] = score_of_[k];
    }
    ++w;
  }
  mean_.resize(w * D); cov_.resize(w * D * D); ids_.resize(w); state_.resize(w);
  hits_.resize(w); misses_.resize(w); last_seen_.resize(w); det_of_.resize(w); score_of_.resize(w);
}

void FloorTracker::fill_output() {
  const std::size_t n = ids_.size();  // appended in ID order, compaction keeps it
  out_.ids.assign(ids_.begin(), ids_.end());
  out_.points.resize(n * 2); out_.velocities.resize(n * 2); out_.covariances.resize(n * 4);
  out_.states.resize(n); out_.det_index.assign(det_of_.begin(), det_of_.end());
  out_.scores.assign(score_of_.begin(), score_of_.end());
  for (std::size_t k = 0; k < n; ++k) {
    const double* x = &mean_[k * D];
    const double* P = &cov_[k * D * D];
    out_.points[k * 2] = x[0]; out_.points[k * 2 + 1] = x[1];
    out_.velocities[k * 2] = x[2]; out_.velocities[k * 2 + 1] = x[3];
    out_.covariances[k * 4 + 0] = P[0]; out_.covariances[k * 4 + 1] = P[1];
    out_.covariances[k * 4 + 2] = P[D]; out_.covariances[k * 4 + 3] = P[D + 1];
    out_.states[k] = static_cast<std::int8_t>(state_[k]);
  }
}

FloorTracks FloorTracker::predicted(bool has_t, double t) const {
  FloorTracker ahead = *this;  // a few dozen tracks: copying is cheaper than a second code path
  ahead.predict_all(ahead.clock_.advance(has_t, t));
  std::size_t w = 0;
  for (std::size_t k = 0; k < ahead.ids_.size(); ++k) {
    if (ahead.state_[k] != TrackState::Confirmed) continue;
    std::copy_n(&ahead.mean_[k * D], D, &ahead.mean_[w * D]);
    std::copy_n(&ahead.cov_[k * D * D], D * D, &ahead.cov_[w * D * D]);
    ahead.ids_[w] = ahead.ids_[k]; ahead.state_[w] = ahead.state_[k];
    ahead.det_of_[w] = -1; ahead.score_of_[w] = ahead.score_of_[k];
    ++w;
  }
  ahead.mean_.resize(w * D); ahead.cov_.resize(w * D * D); ahead.ids_.resize(w);
  ahead.state_.resize(w); ahead.det_of_.resize(w); ahead.score_of_.resize(w);
  ahead.fill_output();
  return ahead.out_;
}

const FloorTracks& FloorTracker::update(const double* points, const double* covs,
                                        const float* scores, std::size_t n, bool has_t,
                                        double t_in) {
  const double dt = clock_.advance(has_t, t_in);
  const double t = clock_.now();
  const std::size_t nt = ids_.size();
  predict_all(dt);
  std::fill(det_of_.begin(), det_of_.end(), -1);

  // Measurement covariances: given, or the default isotropic noise.
  std::vector<double> R(n * 4);
  const double r0 = p_.noise.measurement * p_.noise.measurement;
  const double e2 = p_.model_error_std * p_.model_error_std;
  std::vector<int> high, low;
  for (std::size_t j = 0; j < n; ++j) {
    double* r = &R[j * 4];
    if (covs) std::copy_n(&covs[j * 4], 4, r); else { r[0] = r0; r[1] = 0; r[2] = 0; r[3] = r0; }
    const float s = scores ? scores[j] : 1.0f;
    const bool valid = std::isfinite(points[j * 2]) && std::isfinite(points[j * 2 + 1]) &&
                       std::isfinite(s) && r[0] > 0 && r[3] > 0 && r[0] * r[3] - r[1] * r[2] > 0;
    r[0] += e2;  // after the check: a covariance that is not positive definite stays refused
    r[3] += e2;
    if (!valid || s < p_.low_score) continue;
    (s >= p_.high_score ? high : low).push_back(static_cast<int>(j));
  }
  auto score = [&](int j) { return scores ? scores[j] : 1.0f; };

  std::vector<char> track_done(nt, 0), det_done(n, 0);
  auto take = [&](int k, int j) {
    kalman::cv_update<M>(&mean_[k * D], &cov_[k * D * D], &points[j * 2], &R[j * 4]);
    last_seen_[k] = t; ++hits_[k]; misses_[k] = 0;
    det_of_[k] = j; score_of_[k] = score(j);
    track_done[k] = 1; det_done[j] = 1;
  };
  auto nll_cost = [&](double gate) {
    return [&, gate](int k, int j) {
      double log_det = 0.0;
      const double d2 = kalman::mahalanobis_sq<M>(&mean_[k * D], &cov_[k * D * D], &points[j * 2],
                                                  &R[j * 4], &log_det);
      return d2 <= gate ? d2 + log_det : kInf;
    };
  };
  // Costs can be negative (ln|S| < 0 for centimetre-level covariances); any finite one is a
  // candidate, so the limit is simply above every gated cost.
  auto limit = [](double gate) { return gate + 1e6; };

  std::vector<int> pool;
  for (std::size_t k = 0; k < nt; ++k)
    if (state_[k] != TrackState::Tentative) pool.push_back(static_cast<int>(k));
  for (auto [k, j] : assign(pool, high, nll_cost(gate_), limit(gate_), scratch_)) take(k, j);

  std::vector<int> rows;
  // Lost tracks too, as in BoxTracker: a shopper stepping out from behind a shelf end is
  // first seen partly covered, with a low score.
  for (int k : pool) if (!track_done[k]) rows.push_back(k);
  for (auto [k, j] : assign(rows, low, nll_cost(low_gate_), limit(low_gate_), scratch_)) take(k, j);

  std::vector<int> high_left;
  for (int j : high) if (!det_done[j]) high_left.push_back(j);
  rows.clear();
  for (std::size_t k = 0; k < nt; ++k)
    if (state_[k] == TrackState::Tentative) rows.push_back(static_cast<int>(k));
  for (auto [k, j] : assign(rows, high_left, nll_cost(gate_), limit(gate_), scratch_)) take(k, j);

  for (std::size_t k = 0; k < nt; ++k) {
    if (track_done[k]) {
      if (state_[k] != TrackState::Tentative || hits_[k] >= p_.min_hits) state_[k] = TrackState::Confirmed;
    } else {
      ++misses_[k];
      if (state_[k] == TrackState::Confirmed) state_[k] = TrackState::Lost;
    }
  }
  remove_dead(t);

  const bool confirm_now = clock_.first_frame() || p_.min_hits <= 1;
  const std::size_t alive = ids_.size();
  // Is point j inside the birth gate of a confirmed track updated this frame (a second view of
  // that person)?
  auto duplicate = [&](int j) {
    for (std::size_t k = 0; k < alive; ++k) {
      if (state_[k] != TrackState::Confirmed || det_of_[k] < 0) continue;
      const double d2 = kalman::mahalanobis_sq<M>(&mean_[k * D], &cov_[k * D * D], &points[j * 2], &R[j * 4]);
      if (d2 <= birth_gate_) return true;
    }
    return false;
  };
  for (int j : high) {
    if (det_done[j] || score(j) < p_.new_track_score) continue;
    if (birth_gate_ > 0 && duplicate(j)) continue;
    start_track(&points[j * 2], &R[j * 4], score(j), t, confirm_now, j);
  }
  fill_output();
  return out_;
}

}  // namespace walkout::track
