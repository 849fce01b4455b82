// FloorTracker: multi-person tracking on the store floor (metres), the tracker the edge box
// runs on fused floor observations (fusion.hpp).
//
// Inputs per frame: points (x, y) in metres, optionally a 2x2 covariance per point (m^2, from
// the camera geometry: far from a camera means less precise) and a score per point, and the
// frame time t in seconds. Output: every live track with its ID, position, velocity, state
// and the input row that updated it (-1 if none).
//
// Per frame, after predicting every track to t (constant-velocity Kalman, white-noise
// acceleration), with cost = squared Mahalanobis distance + ln|S| (the negative
// log-likelihood up to a constant, so a vague track does not win every contest) and a gate
// at the chi-square quantile of gate_probability for 2 degrees of freedom:
//  1. confirmed + lost tracks vs high-score points;
//  2. (ByteTrack) confirmed and lost tracks still unmatched vs low-score points, tighter
//     gate (lost ones too: see BoxTracker);
//  3. tentative tracks vs high-score points left;
//  4. high-score points left above new_track_score start tentative tracks.
// Re-identification across gaps (people standing 3-4 deep at a shelf, or queueing at the
// entrance, are hidden from every camera for seconds): while a track is lost its velocity
// decays if it was slow (integrated Ornstein-Uhlenbeck: a shopper hidden while standing at
// a shelf or in a queue stays there, and a coasting prediction would drift out of reach;
// walkers coast at constant velocity), and its position covariance
// -- hence its gate, which grows with the time lost -- is capped at lost_max_std_m. Lost
// tracks keep their place in the first pass, ahead of tentative tracks and new ones.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "walkout/track/kalman.hpp"
#include "walkout/track/lifecycle.hpp"

namespace walkout::track {

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();

struct FloorTrackerParams {
  // Frame rate assumed when update() gets no t.
  double fps = 15.0;
  // Points at or above enter the first association and may start tracks (see BoxTracker).
  double high_score = 0.5;
  // Points below are dropped; between low_score and high_score they only extend confirmed
  // tracks. Lowering it keeps people through partial occlusion and risks ghost extensions.
  double low_score = 0.1;
  // An unmatched point starts a track only above this score.
  double new_track_score = 0.6;
  // Probability mass of a track's predicted measurement inside the gate (first and third
  // passes). Raising it tolerates bigger surprises (sudden stops, bad calibration) and lets
  // neighbours compete for each other's points; lowering it splits tracks more readily.
  double gate_probability = 0.999;
  // Gate for low-score points (second pass); tighter since they are less trustworthy.
  double low_gate_probability = 0.99;
  // Consecutive hits that confirm a tentative track.
  int min_hits = 2;
  // Seconds a lost track waits to be found again. Longer bridges longer occlusions (a
  // shopper behind a shelf end) at the risk of handing an old ID to a newcomer nearby.
  double lost_buffer_s = 1.5;
  // Time constant (seconds) of the velocity's decay while a track is lost: after it the
  // prediction has moved about velocity x lost_velocity_decay_s in all and then stands.
  // Raising it (infinity = constant velocity) follows people who keep walking behind
  // others; lowering it keeps the prediction where people stopped (at a shelf, in a queue)
  // instead of drifting out of their gate.
  double lost_velocity_decay_s = 0.5;
  // A lost track slower than this (m/s) takes the decaying model above; faster ones coast
  // at constant velocity (people walking on behind others, or out through the exit, where a
  // prediction parked at the door could hand the leaver's ID to the next person there).
  // Lowering it treats fewer walkers as about to stop. Default inf (every lost track
  // decays): 0.5 m/s lost identity and receipts on the tuning runs (docs/rooms/track.md).
  double lost_stand_speed = kInfinity;
  // Cap (metres) on a lost track's position std, so its gate (which grows with the time
  // lost) stops growing. Raising it re-finds people further from where they vanished and
  // lets a long-lost track claim a newcomer; lowering it starts new IDs sooner.
  double lost_max_std_m = 0.6;
  // Std (metres) of error every point has beyond its own covariance, added to it as
  // model_error_std^2 I: calibration error and foot points from occluded ankles or box
  // bottoms, which a covariance from pixel noise alone understates (fused duplicates of one
  // person lie 0.3-0.8 m apart on the edge benchmark's runs while their covariances say
  // centimetres). Raising it gates wider (fewer tracks broken by a jump, more swaps between
  // neighbours); 0 trusts the covariances as given.
  double model_error_std = 0.1;
  // A point left unmatched inside this gate (chi-square probability, 2 dof) of a confirmed
  // track updated this frame starts no track: it is most likely a second view of that person
  // that fusion did not join (the edge benchmark's runs have about one such duplicate per
  // frameset, 0.3-0.8 m from the first). Raising it suppresses more duplicate IDs and delays
  // a second person standing that close (queues, 3-4 deep at a shelf) until they step apart;
  // 0 turns it off.
  double birth_gate_probability = 0.0;
  // Acceleration 0.3 m/s^2 here (FloorNoise's own default is 0.5): with the model error and
  // the velocity decay above it gave the best identity and receipts on the tuning runs
  // (docs/rooms/track.md); 0.5 and up swapped more neighbours in crowds.
  FloorNoise noise{0.3, 0.15, 1.5};

  void check() const;
};

struct FloorTracks {
  std::vector<std::int64_t> ids;
  std::vector<double> points;      // N x 2
  std::vector<double> velocities;  // N x 2, m/s
  std::vector<double> covariances; // N x 2 x 2, position covariance
  std::vector<std::int8_t> states;
  std::vector<std::int64_t> det_index;
  std::vector<float> scores;
};

class FloorTracker {
 public:
  explicit FloorTracker(const FloorTrackerParams& params);
  // points: n x 2; covs: n x 2 x 2 or null (default noise); scores: n or null (all 1).
  const FloorTracks& update(const double* points, const double* covs, const float* scores,
                            std::size_t n, bool has_t, double t);
  void reset();
  // The confirmed tracks predicted to time t (has_t false: one period after the last frame),
  // without changing the tracker: the priors of multi-view fusion (fuse_views). Same
  // prediction and the same check of t as update(); det_index is -1, velocities predicted.
  FloorTracks predicted(bool has_t, double t) const;
  const FloorTracks& tracks() const { return out_; }
  const FloorTrackerParams& params() const { return p_; }

 private:
  static constexpr int M = 2, D = 4;
  void start_track(const double* z, const double* R, float score, double t, bool confirmed, int det);
  void predict_all(double dt);
  void cap_position(double* P) const;
  void remove_dead(double now);
  void fill_output();

  FloorTrackerParams p_;
  FrameClock clock_;
  IdCounter id_counter_;
  double gate_, low_gate_, birth_gate_;
  std::vector<double> mean_, cov_;  // N x 4, N x 4 x 4
  std::vector<std::int64_t> ids_;
  std::vector<TrackState> state_;
  std::vector<int> hits_, misses_;
  std::vector<double> last_seen_;
  std::vector<std::int64_t> det_of_;
  std::vector<float> score_of_;
  std::vector<double> scratch_;
  FloorTracks out_;
};

}  // namespace walkout::track
