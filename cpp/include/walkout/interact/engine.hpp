// InteractionEngine: tracked people and their 3-D hands in, reach and dwell events out.
//
// Inputs per update (one frameset, time t in float seconds on any monotonic epoch):
//   tracks: ids (N) and floor points (N, 2), every track the tracker currently holds alive;
//   hands:  track id, side (0 left, 1 right), position (3), isotropic sigma (metres) per row.
// Outputs: the reach and dwell events that *closed* during this update.
// Example: a right hand that passes 5 cm behind a face at t = 1.00 s, stays 0.4 s and comes
// back out yields, once it has been out for min_outside_s, one ReachEvent with start and end
// the first and last frames in (≈ 1.00 and 1.40) and the slot it spent its (depth-weighted) time in.
//
// Per (track, hand) a state machine (reach_machine below):
//   Outside  -> Entering  when the hand's effective depth behind the nearest face reaches
//                         enter_depth and the track stands in front of that face (at most
//                         max_behind_face behind its plane);
//   Entering -> Inside    once it has stayed at or above exit_depth for min_inside_s, over
//                         two samples or more (one sample is a spike, whatever the
//                         interpolation says);
//   Entering -> Outside   (nothing emitted) if it drops below exit_depth earlier;
//   Inside   -> Leaving   when it drops below exit_depth;
//   Leaving  -> Inside    if it comes back to exit_depth within min_outside_s (one reach);
//   Leaving  -> Outside   emitting the reach once it has been out for min_outside_s.
// With hand_motion_std > 0 each hand's samples first pass a random-walk Kalman filter (each
// weighed by its sigma), and the machine sees the filtered position and its sigma.
// Two thresholds (enter > exit) and two minimum times are the hysteresis: jitter around the
// face never reaches enter_depth, and a short dip inside never outlasts min_outside_s.
// Every decision compares crossing times interpolated linearly between samples, so whether a
// reach happens does not depend on the frame rate. The reported start and end are the first
// and last samples in: never outside the true interval, within one frame period of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "walkout/interact/shelf_model.hpp"

namespace walkout::interact {

// The defaults are the values the edge pipeline runs and the reach figures of
// docs/rooms/interact.md were measured with, tuned on the simulator's oracle seeds 11-15 and
// 31-45 (benchmarks/bench_interact_oracle.py): a wrist inside a shelf is hidden from most
// cameras, so the hand is often an arm-model guess or unseen for most of a reach (hence
// hand_lost_s 1 s and min_outside_s 0.5 s), and the true wrist goes only 7-12 cm past the
// face (hence enter_depth 3 cm, exit_depth 0). Bound once as walkout._core.InteractEngineParams;
// the Python face and the numpy twin read their defaults from it.
struct EngineParams {
  // Effective depth behind a face (metres) at which a reach starts. Raising it ignores hands
  // hovering at the face and more pose noise but misses shallow grabs of front-row items;
  // lowering it catches those and lets noise start reaches (enter_depth - exit_depth should
  // stay above the hand's depth noise).
  double enter_depth = 0.03;
  // Effective depth below which the hand counts as out again. Must be below enter_depth; the
  // gap is the spatial hysteresis. Raising it (towards enter_depth) ends reaches sooner and
  // lets jitter split them (min_outside_s still merges short dips); lowering it holds reaches
  // open while the hand lingers at the face.
  double exit_depth = 0.0;
  // Seconds a hand must stay in before a reach counts. Raising it rejects brushes and noise
  // spikes but drops quick grabs; lowering it keeps quick grabs and lets spikes through.
  double min_inside_s = 0.175;
  // Seconds a hand must stay out before its reach closes; a return sooner continues the same
  // reach. Raising it merges genuinely separate quick reaches and delays events; lowering
  // it splits one reach whose depth dips briefly (noise, occlusion of the wrist).
  double min_outside_s = 0.5;
  // Seconds without a sample of a hand after which its open reach closes as lost (with
  // lost_confidence). Raising it bridges longer occlusions of the wrist but holds events
  // back; lowering it closes reaches early while the wrist is briefly unseen.
  double hand_lost_s = 1.0;
  // How far a hand wanders, metres per √second: the process noise of the per-hand filter that
  // smooths positions before the state machine (a random walk: variance hand_motion_std² · dt
  // per step, each sample weighed by its own sigma). Raising it follows fast hands sooner and
  // passes more noise through (a noisy arm-model position can start or split a reach);
  // lowering it averages noise away but lags a quick reach. 0 turns smoothing off.
  double hand_motion_std = 0.3;
  // Metres within which a reach of another track, at the same face and within hand_lost_s
  // in time, is the same hand seen through a duplicate or successor track (the tracker split
  // one person), and one of the same hand after that hand's reach closed as lost is the same
  // reach broken in two (the wrist hidden too long): the later one is dropped. Raising it also drops real reaches of two people
  // side by side at one face; lowering it lets track splits double-count. 0 turns it off.
  double duplicate_radius = 0.4;
  // Metres the track's floor point may stand behind a face's plane (on the shelf's side of it)
  // when a reach through that face starts. A hand goes through a face from in front of it;
  // a person beside a shelf's closed end (a cross aisle) holds their idle hand a few
  // centimetres off the end panel, and wrist noise puts it inside the box, deep behind the
  // front plane: without this check, a reach. Raising it lets such hands start reaches;
  // lowering it (below the track's floor noise, ~0.1-0.2 m, behind a reacher's true stance
  // 0.3-0.4 m in front) drops real reaches. Infinity turns the check off.
  double max_behind_face = 0.25;
  // Confidence factor of a reach closed because its track or hand was lost mid-reach.
  double lost_confidence = 0.5;
  // Slot probabilities below this are left out of an event (the rest still sum to <= 1).
  double slot_prob_min = 0.02;
  // Seconds a track must be out of an engagement zone before its dwell closes. Raising it
  // keeps one dwell through short steps out; lowering it splits dwells at the zone's edge.
  double dwell_exit_s = 1.0;
  // Shortest dwell that is emitted, seconds. Raising it keeps passers-by out of analytics;
  // lowering it reports brief stops too.
  double min_dwell_s = 1.0;

  // Throws std::invalid_argument naming the first bad field.
  void check() const;
};

struct ReachEvent {
  std::int64_t track = 0;
  int hand = 0;   // 0 left, 1 right
  int shelf = 0;  // index into the shelf list
  int face = 0;   // index into ShelfModel::faces()
  int slot = 0;   // dense slot index (Face::first_slot + row * cols + col)
  // Seconds: the first sample at or beyond enter_depth and the last one at or beyond
  // exit_depth. Sample times rather than interpolated ones, so that with exit_depth >= 0 the
  // interval always lies inside the time the hand was truly through the face.
  double start = 0, end = 0;
  double max_depth = 0;       // deepest point behind the face plane, metres
  double confidence = 0;      // in [0, 1]
  bool lost = false;          // closed because the track or the hand was lost
  std::vector<std::pair<int, double>> slot_probs;  // (slot, probability), most likely first
};

struct DwellEvent {
  std::int64_t track = 0;
  int shelf = 0;
  int zone = 0;  // index of the engagement polygon
  double enter = 0, leave = 0;  // first and last time seen inside, seconds
};

struct UpdateResult {
  std::vector<ReachEvent> reaches;  // sorted by (track, hand, start)
  std::vector<DwellEvent> dwells;   // sorted by (track, zone, enter)
};

class InteractionEngine {
 public:
  InteractionEngine(ShelfModel shelves, EngineParams params);

  // Validates everything before changing any state (a bad frame leaves the engine as it was);
  // throws std::invalid_argument naming the argument: t not finite or before the previous t,
  // a hand whose track is not in `track_ids`, a side other than 0/1, a (track, side) given
  // twice, a non-finite position, a negative or non-finite sigma, repeated track ids.
  UpdateResult update(double t, const std::int64_t* track_ids, const double* track_xy,
                      std::size_t n_tracks, const std::int64_t* hand_track, const int* hand_side,
                      const double* hand_xyz, const double* hand_sigma, std::size_t n_hands);

  // Closes every open reach (as lost) and dwell, e.g. at the end of a recording.
  UpdateResult close_all();

  const ShelfModel& shelves() const { return shelves_; }
  const EngineParams& params() const { return params_; }
  std::size_t open_reaches() const;  // hands in Entering, Inside or Leaving
  std::size_t track_count() const { return tracks_.size(); }

 private:
  enum class Phase { Outside, Entering, Inside, Leaving };

  struct HandState {
    Phase phase = Phase::Outside;
    bool has_prev = false;
    double prev_t = 0, prev_p[3] = {0, 0, 0};
    int face = -1;
    // Interpolated crossings (decisions) and the first and last samples in (reported).
    double start = 0, leave = 0, first_in = 0, last_in = 0;
    double max_depth = 0, sigma_at_max = 0;
    std::vector<double> slot_weight;  // rows*cols of `face`, depth×time weighted mass
    double pos_sum[3] = {0, 0, 0}, pos_weight = 0;  // weighted mean hand position
    // The smoothing filter: position, isotropic variance, time of its last sample.
    bool filt = false;
    double filt_t = 0, filt_x[3] = {0, 0, 0}, filt_var = 0;
  };

  struct DwellState {
    bool active = false;
    double enter = 0, last_in = 0;
  };

  struct TrackState {
    HandState hands[2];
    std::vector<DwellState> zones;
    double last_seen = 0;
    double xy[2] = {0, 0};  // the floor point of the latest update
  };

  void step_hand(std::int64_t track, int side, HandState& h, const double xy[2], double t,
                 const double* raw, double raw_sigma, UpdateResult& out);
  void start_if_deep(HandState& h, const double xy[2], double t, const double p[3],
                     double sigma);
  void accumulate(HandState& h, const FaceCoords& c, const double p[3], double weight_s,
                  double sigma);
  void emit(std::int64_t track, int side, HandState& h, double end, bool lost, UpdateResult& out);
  void close_track(std::int64_t id, TrackState& s, UpdateResult& out);
  void expire_hand(std::int64_t track, int side, HandState& h, double t, UpdateResult& out);

  ShelfModel shelves_;
  EngineParams params_;
  std::map<std::int64_t, TrackState> tracks_;  // ordered: events come out in track order
  struct Recent {  // an emitted reach, for duplicate_radius
    std::int64_t track;
    int hand;
    int face;
    bool lost;
    double start, end, mean[3];
  };
  std::vector<Recent> recent_;
  bool has_t_ = false;
  double last_t_ = 0;
  std::vector<double> scratch_;
};

}  // namespace walkout::interact
