// BoxTracker: multi-object tracking of boxes in one camera's image plane, motion only.
//
// Inputs per frame: detections as xyxy boxes (pixels) with scores, and the frame time t
// (seconds, any monotonic epoch). Output: every live track (tentative, confirmed, lost) with
// its ID, box (Kalman estimate, xyxy), state and the detection row that updated it (-1 none).
//
// Per frame, after predicting every track to t (batched constant-velocity Kalman, kalman.hpp):
//  1. confirmed + lost tracks vs high-score detections: cost 1 - IoU (times the score, as
//     ByteTrack's fuse_score), minus OC-SORT's velocity-direction consistency bonus, gated
//     by IoU;
//  2. (ByteTrack) the confirmed and lost tracks still unmatched vs the low-score detections,
//     IoU only;
//  3. (OC-SORT observation-centric recovery) tracks still unmatched vs high-score detections
//     left, by IoU with each track's *last observed* box rather than its prediction;
//  4. tentative tracks vs high-score detections left;
//  5. detections left at or above new_track_score start tentative tracks, and so do those
//     at or above occluded_birth_score that lie partly behind a nearer person seen this
//     frame (how a person half hidden in a crowd is detected).
// Score split (issue #22): births need new_track_score (or the occluded-birth rule), a track
// is confirmed only after a detection at or above confirm_score, and low-score detections
// extend a track only within low_extend_s of its last high-score one. Output policy: tracks
// confirmed and matched this frame, plus lost ones for output_lost_s (`reported`).
// A track matched after misses is re-filtered along a straight virtual path from its last
// observation (OC-SORT's observation-centric re-update), so coasting errors do not persist.
//
// Example: BoxTracker t; t.update(boxes, scores, n, true, 0.0); ... t.tracks().
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "walkout/track/kalman.hpp"
#include "walkout/track/lifecycle.hpp"

namespace walkout::track {

struct BoxTrackerParams {
  // Frame rate assumed when update() gets no t. Only the default time step depends on it.
  double fps = 30.0;
  // Detections at or above enter the first association and may start tracks. Raising it
  // keeps doubtful detections out of the first pass (fewer false tracks, more fragmentation);
  // lowering it lets them compete with good ones.
  double high_score = 0.6;
  // Detections below are dropped; between low_score and high_score they only extend confirmed
  // tracks (ByteTrack's second pass). Lowering it recovers more occluded people and risks
  // extending tracks onto background.
  double low_score = 0.1;
  // A detection left unmatched starts a (tentative) track only at or above this; below
  // high_score that includes low-score detections, so a person who enters half hidden is
  // tracked from the start. Raising it cuts false tracks and delays new people; min_hits
  // still filters one-frame false positives. 0.7 (ByteTrack's choice) keeps MOT15's
  // marginal detections from starting tracks; 0.3 wins on crowds whose occluded people are
  // detected with low scores (benchmarks/results/track_trackers.md shows both).
  double new_track_score = 0.7;
  // A detection below new_track_score but at or above this still starts a track when it lies
  // partly behind a person matched this frame who stands nearer the camera (their box's
  // bottom edge lower in the image): a person entering or standing half hidden in a crowd is
  // detected with a low score, and only then. A low-score box with no such occluder (a
  // misplaced or background box) still starts nothing. Lowering it tracks hidden people
  // sooner and risks tracks on duplicate boxes around a person; at new_track_score or above
  // it is off.
  double occluded_birth_score = 0.2;
  // Share of a detection's area that a nearer matched person's box must cover for the
  // occluded-birth rule.
  double occluded_birth_cover = 0.2;
  // A tentative track is confirmed (and reported) only once one of its detections scored at
  // or above this, besides min_hits hits: tracks born or fed by low-score detections alone
  // (clutter that fires every frame, partial-body duplicates beside a person, births behind
  // a nearer person that never come out) never reach the output. Raising it drops more
  // doubtful tracks and delays people who stay partly hidden; at low_score it is off (every
  // track that min_hits confirms is reported, the behaviour before issue #22).
  double confirm_score = 0.6;
  // Seconds since a track's last high-score (>= high_score) detection during which
  // low-score detections may still extend it (second pass). A person behind another is
  // low-score for a while; a track that has lived on low-score boxes longer than this has
  // most likely latched onto background clutter. Raising it keeps people through longer
  // partial occlusions; lowering it frees tracks from clutter sooner. inf is off.
  double low_extend_s = 1.0;
  // Output policy: a lost track is reported (its predicted box) for this many seconds after
  // its last observation, so a one- or two-frame miss does not cut the output track. Raising
  // it fills short gaps (more recall) and reports boxes where nobody is once a person has
  // really left or turned; 0 reports only tracks matched this frame.
  double output_lost_s = 0.07;
  // Minimum IoU between prediction and detection in the first pass. Lowering it follows fast
  // or jumpy motion; raising it swaps fewer identities between people who pass close.
  double match_iou = 0.3;
  // Minimum IoU for low-score detections (second pass). Raising it protects tracks from
  // background detections; lowering it keeps people through partial occlusion, where the
  // visible part's box shifts against the prediction. 0.6 (was 0.3) on the tuning sequences
  // with a low-score false-positive stream: 0.3 let duplicates and clutter beside a person
  // take over tracks (sim10 seed 3 IDF1 54.8 -> 70.2, sim30 seed 5 34.5 -> 42.7,
  // TUD-Stadtmitte unchanged; benchmarks/results/track_trackers.md).
  double low_match_iou = 0.6;
  // Minimum IoU between a tentative track and a detection.
  double tentative_match_iou = 0.3;
  // Minimum IoU between a track's last observed box and a detection (recovery pass).
  double recovery_iou = 0.3;
  // Weight of OC-SORT's direction-consistency term (0 disables it). Raising it prefers
  // detections that continue each track's heading (helps at crossings, hurts people who turn).
  double direction_weight = 0.2;
  // Time span (seconds) over which a track's heading is measured. Longer is steadier under
  // jitter but slower to notice a turn.
  double direction_span_s = 0.1;
  // Multiply IoU by the detection score in the first pass (ByteTrack's fuse_score).
  bool fuse_score = true;
  // Consecutive hits that confirm a tentative track. Raising it suppresses flickering false
  // positives and delays (and loses the first frames of) real people.
  int min_hits = 2;
  // Seconds a lost track is kept for re-identification by motion. Longer recovers people
  // after longer occlusions and risks giving an old ID to a newcomer.
  double lost_buffer_s = 1.0;
  // Re-filter along a virtual path after a gap (OC-SORT ORU).
  bool observation_reupdate = true;
  BoxNoise noise;

  void check() const;
};

// One frame's output, rows sorted by ID.
struct BoxTracks {
  std::vector<std::int64_t> ids;
  std::vector<float> boxes;  // N x 4 xyxy
  std::vector<std::int8_t> states;
  std::vector<std::int64_t> det_index;
  std::vector<float> scores;  // score of the detection that last updated the track
  // 1 where the output policy reports the track this frame: confirmed and matched, or lost
  // for at most output_lost_s (then `boxes` is its prediction).
  std::vector<std::int8_t> reported;
};

class BoxTracker {
 public:
  explicit BoxTracker(const BoxTrackerParams& params);
  // boxes: n x 4 xyxy, scores: n. has_t false = one period after the last frame.
  const BoxTracks& update(const float* boxes, const float* scores, std::size_t n, bool has_t,
                          double t);
  void reset();
  const BoxTracks& tracks() const { return out_; }
  const BoxTrackerParams& params() const { return p_; }
  std::size_t size() const { return ids_.size(); }

 private:
  static constexpr int M = 4, D = 8, kHistory = 8;
  struct Obs {
    double t;
    double cxcywh[4];
  };

  void predict_all(double dt);
  void update_track(int k, const double* z, double t);
  void start_track(const double* z, float score, double t, bool confirmed, int det);
  void remove_dead(double now);
  void fill_output();
  void track_box(int k, double* xyxy) const;
  bool heading(int k, double* dir, const double** anchor) const;

  BoxTrackerParams p_;
  FrameClock clock_;
  IdCounter id_counter_;
  // Track storage, one row per track (structure of arrays).
  std::vector<double> mean_, cov_;                // N x D, N x D x D
  std::vector<double> saved_mean_, saved_cov_;    // filter state at the last observation
  std::vector<std::int64_t> ids_;
  std::vector<TrackState> state_;
  std::vector<int> hits_, misses_;
  std::vector<double> last_seen_;                 // time of the last observation
  std::vector<std::array<Obs, kHistory>> history_;  // ring of recent observations
  std::vector<int> history_len_;
  std::vector<std::int64_t> det_of_;
  std::vector<float> score_of_;
  std::vector<float> best_score_;   // highest score of the detections that updated the track
  std::vector<double> last_high_;   // time of the last high-score detection (-inf: none)
  std::vector<double> scratch_;
  BoxTracks out_;
};

}  // namespace walkout::track
