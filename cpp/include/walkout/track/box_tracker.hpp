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
// A track matched after misses is re-filtered along a straight virtual path from its last
// observation (OC-SORT's observation-centric re-update), so coasting errors do not persist.
//
// Example: BoxTracker t; t.update(boxes, scores, n, true, 0.0); ... t.tracks().
#pragma once

#include <array>
#include <cstdint>
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
  // Minimum IoU between prediction and detection in the first pass. Lowering it follows fast
  // or jumpy motion; raising it swaps fewer identities between people who pass close.
  double match_iou = 0.3;
  // Minimum IoU for low-score detections (second pass). Raising it protects tracks from
  // background detections; lowering it keeps people through partial occlusion, where the
  // visible part's box shifts against the prediction.
  double low_match_iou = 0.3;
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
  std::vector<double> scratch_;
  BoxTracks out_;
};

}  // namespace walkout::track
