// HandLocator: each tracked person's two hands in 3-D (store frame) from the pose keypoints
// every camera gave for that person this frameset.
//
// Input: keypoints (N, C, 17, 3) — for each of N tracked people and each of C cameras, the 17
// COCO keypoints (u, v pixels; confidence, 0 = not seen) of the detection associated with
// that track (all-zero confidence where the camera has none); the tracks' floor points (N, 2).
// Output per (person, hand): position (3), isotropic sigma (metres), source, views used.
// Example: a wrist seen by cam1 and cam2 at pixels that agree to 2 px RMS is triangulated
// (source Triangulated, views 2, sigma ≈ pixel_sigma × range / focal / √2 ≈ 2 cm at 5 m).
//
// The sources, tried in order (the first that succeeds wins):
//   Triangulated    the wrist in >= 2 views whose RMS reprojection residual is within
//                   max_residual_px; with >= 3 views a failing set is retried without each
//                   view in turn (one wrong pairing is thrown out). Confident wrists first;
//                   where they give no point, with the hidden (low-confidence) wrists too, at
//                   hidden_pixel_sigma;
//   WristRayElbow   one wrist view (the most confident, hidden ones included) and a
//                   triangulated elbow: the point on the wrist's ray at forearm length from
//                   the elbow (the one nearer a straight arm);
//   ArmExtrapolated no wrist view (a wrist inside a shelf is hidden from most cameras) but a
//                   triangulated shoulder and elbow: a forearm of forearm_ratio · |elbow −
//                   shoulder| from the elbow, bent elbow_flexion upwards off the upper arm's
//                   line (in the vertical plane through it);
//   FaceRay         one view only: the wrist's ray (a seen wrist, or a hidden one extrapolated
//                   along the arm in that image) met with the nearest open face in front of
//                   the person: its point nearest to a prior at that face (on the face plane
//                   for a seen wrist, hidden_depth behind it for a hidden one). A seen wrist
//                   whose ray looks into the face (|cos| > max_facing_cosine) is left out.
// Every estimate farther than max_hand_distance on the floor from its track is dropped.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "walkout/geometry/camera_model.hpp"
#include "walkout/interact/shelf_model.hpp"

namespace walkout::interact {

enum class HandSource : int { None = 0, Triangulated = 1, WristRayElbow = 2, ArmExtrapolated = 3, FaceRay = 4 };

struct HandLocatorParams {
  // Wrists at or above this confidence are *confident* (taken for seen); those below are
  // hidden wrists (min_hidden_wrist_confidence), used only where the confident ones give no
  // point. Raising it moves doubtful wrists to the hidden tier (larger sigma, later in the
  // order); lowering it lets hidden wrists pass as seen. 0.5, chosen on the oracle tuning
  // seeds 11-15 (0.3 / 0.4 / 0.5: precision 0.971 / 0.974 / 0.978, recall 0.982 / 0.987 /
  // 0.984). On the shipped model it takes 75 % of the hidden wrists as hidden (50 % at 0.3)
  // and 23 % of the seen ones (4 % at 0.3), which costs those weight, not use.
  double min_wrist_confidence = 0.5;
  // Shoulders and elbows at or above this confidence are used. Pose models still place
  // hidden joints, with low confidence; raising it ignores those, lowering it trusts them.
  double min_arm_confidence = 0.02;
  // RMS reprojection error (pixels) above which a triangulation is taken for a wrong pairing
  // of views. Raising it keeps more noisy but right triangulations and lets wrong pairings
  // through; lowering it rejects both.
  double max_residual_px = 15.0;
  // Keypoint noise (pixels, one standard deviation) used to turn a view's range into a 3-D
  // sigma; a triangulation whose RMS residual exceeds it is scaled up by residual /
  // pixel_sigma (views that disagree more give a less certain point: hidden joints carry
  // several times the noise of seen ones). Raising it widens slot probabilities and lowers
  // reach confidences.
  double pixel_sigma = 4.0;
  // Forearm over upper-arm length: 0.146 H / 0.186 H in Drillis & Contini's segment table
  // (1966), as used by Winter, Biomechanics and Motor Control of Human Movement.
  double forearm_ratio = 0.785;
  // Radians the forearm is taken to bend upwards off the upper arm's line when the wrist is
  // not seen: a reaching arm drops its elbow below the shoulder-wrist line, so a straight
  // extension lands low (on the simulator's oracle runs by 9-12 cm, one slot row in five).
  // 0 is a straight arm. Raising it lifts and deepens the arm-model wrist.
  double elbow_flexion = 0.5;
  // Sigma added (in quadrature) to positions that depend on the arm model, metres.
  double arm_sigma = 0.05;
  // Farthest (metres, on the floor) a hand may be from its track's floor point: an estimate
  // beyond it is a keypoint of someone else or a wrong association and is dropped. Raising
  // it keeps long reaches of a person tracked off-centre; lowering it drops more of them.
  double max_hand_distance = 1.0;
  // Farthest a person's floor point may be in front of a face plane for the one-view
  // fallback, metres: no one reaches into a shelf from further. Raising it gives one-view
  // hands to people further back (more of them wrong: a hand at their side, not reaching).
  double max_face_distance = 1.0;
  // Prior depth behind the face (metres) of a one-view *hidden* wrist: the shelf is what hides
  // it. Must exceed the engine's enter_depth for such reaches to count; raising it gives
  // more reaches from views looking into the face, and more false ones from hands hidden
  // just in front of a shelf.
  double hidden_depth = 0.10;
  // Height (metres) of the one-view prior: mid-shelf, where hands reach.
  double prior_height = 1.1;
  // A one-view *seen* wrist is used only when its ray is this close to parallel to the face
  // (|cos| to the face normal at most this): then the ray itself measures the depth. Raising
  // it admits views that look into the face, whose depth comes from the prior (0) and ends or
  // splits reaches other frames measured.
  double max_facing_cosine = 0.5;
  // A one-view hand further than this (metres) from its prior is dropped: the wrist is
  // nowhere near the shelf (hanging, or a wrong keypoint). Raising it keeps more far guesses.
  double max_prior_distance = 0.8;
  // Sigma (metres) added in quadrature to a one-view hand: its depth along the ray is a
  // prior, not a measurement. Raising it widens slot probabilities and lowers confidences.
  double single_view_sigma = 0.08;
  // The one-view fallback is used only for a person at most this many cameras see (any
  // keypoint): where more see the person, one view of an arm is more often an arm hidden by
  // the body than a hand hidden inside a shelf. Raising it finds more reaches in sparse
  // coverage and adds false ones where cameras overlap.
  int max_person_views = 1;
  // Whether a one-view *hidden* wrist (extrapolated along the arm in that image) is placed
  // hidden_depth behind the face. On, it finds reaches only one camera sees (the shelf hides
  // the hand inside it), and turns some arms hidden by the body into reaches. Off by default:
  // with the store's 8 overlapping cameras it cost precision 0.95 -> 0.77 on the tuning
  // seeds 11-13; an edge box that covers its shelves with fewer cameras turns it on (the edge
  // pipeline: recall 0.43 -> 0.54 on benchmarks/bench_edge.py's edge-a run).
  bool hidden_single_view = false;
  // Farthest (metres) a measured wrist (triangulated or one-view) may be from its own
  // shoulder, when that shoulder triangulates: shoulder to wrist is 0.33 H (Drillis &
  // Contini), 0.63 m for a 1.9 m adult, plus triangulation error. Beyond it the wrist is a
  // neighbour's keypoint in this person's detections (crowds) or two near-parallel rays that
  // agree on a wrong depth: a triangulated one gives way to the arm fallbacks, a one-view one
  // is dropped. Lowering it rejects more of those and, below an arm's length, real hands.
  // On the oracle tuning seeds 11-15: 0.6 / 0.65 / 0.7 / 0.8 / 0.9 / off gave precision
  // 0.964 / 0.973 / 0.971 / 0.962 / 0.958 / 0.945 and recall 0.951 / 0.953 / 0.958 / 0.960 /
  // 0.962 / 0.962.
  double max_arm_reach = 0.7;
  // Wrists below min_wrist_confidence but at or above this are *hidden* wrists: pose models
  // place a wrist they cannot see (inside a shelf, behind a body) at low confidence and a
  // larger error (the shipped model: median 8.1 px against 6.2 px seen, confidences 0.02 /
  // 0.29 / 0.61 at the 10th / 50th / 90th percentile; benchmarks/results/oracle_keypoints.md).
  // They are used only where the confident wrists give no point: triangulated together with
  // the confident ones, then as the one ray of the wrist-ray + elbow fallback, both before
  // the arm model. Raising it to min_wrist_confidence or above turns them off (the arm model
  // decides); lowering it admits wrists the model barely believes in.
  double min_hidden_wrist_confidence = 0.02;
  // Keypoint noise (pixels, one standard deviation) of points that use hidden wrists: their
  // sigma comes from it instead of pixel_sigma, and their residual check is max_residual_px
  // scaled by hidden_pixel_sigma / pixel_sigma. 7 px: the shipped model's hidden wrists
  // (8.1 px median error / 1.177, the median radius of a unit 2-D Gaussian). Raising it
  // weighs hidden-wrist hands less in the engine and lets more disagreeing views pass.
  double hidden_pixel_sigma = 7.0;
};

struct HandEstimate {
  double xyz[3] = {0, 0, 0};
  double sigma = 0;
  HandSource source = HandSource::None;
  int views = 0;
};

class HandLocator {
 public:
  // Throws std::invalid_argument naming a bad parameter or fewer than one camera.
  HandLocator(std::vector<geometry::CameraModel> cameras, ShelfModel shelves, HandLocatorParams params);

  std::size_t camera_count() const { return cameras_.size(); }
  const HandLocatorParams& params() const { return params_; }

  // keypoints: (n, C, 17, 3) row-major; track_xy: (n, 2); out: (n, 2) estimates, left first.
  void locate(const double* keypoints, const double* track_xy, std::size_t n, HandEstimate* out) const;

 private:
  struct Point3 {
    bool ok = false;
    double xyz[3] = {0, 0, 0};
    double sigma = 0;
    int views = 0;
  };
  // Triangulates one joint from the views in `pixels` (C × 2, NaN = unused), with the
  // leave-one-out retry; ok = false when fewer than two views agree.
  // `noise_px`: the keypoints' pixel noise (sigma, and the residual check scaled by it).
  Point3 triangulate_joint(const double* pixels, double noise_px) const;
  double view_sigma(const double xyz[3], const double* pixels, double noise_px) const;
  // The FaceRay fallback for hand `side` of person p; false when no view passes.
  bool single_view(const double* keypoints, std::size_t p, int side, const double* track_xy,
                   HandEstimate* out) const;

  std::vector<geometry::CameraModel> cameras_;
  std::vector<std::array<double, 3>> centres_;
  ShelfModel shelves_;
  HandLocatorParams params_;
};

}  // namespace walkout::interact
